"""Deliveries reach matching on hub.matches, their effects on other topics (the ledger's household
state, the organisation's offering record), read in either order: matching acts the same."""

from __future__ import annotations

import copy
import itertools
from datetime import timedelta
from typing import Any

import pytest

from contracts.hub import HouseholdMerged, MatchCancelled
from services.matching.explain import why_unmatched
from services.matching.pool import Pool
from tests.matching_events import (
    NOW,
    accepted,
    fulfilled,
    household_state,
    need_recorded,
    offering_changed,
    offering_published,
)
from tests.unit.matching.test_matching_loop import feed, new_pool, outgoing, run_round

LATER = NOW + timedelta(minutes=5)
TOMORROW = NOW + timedelta(days=1)


def delivered_n1(pool: Pool, state_first: bool) -> None:
    """Need n1 of h1 proposed, accepted and delivered; the ledger's state from before it knew of
    the delivery (n1 open, no charity food) read before or after the fulfilment."""
    feed(pool, need_recorded("CA:n1", "h1"), offering_published("o1", units=5))
    if state_first:
        feed(pool, household_state("h1", open_needs=("CA:n1",)))
    (p1,) = run_round(pool)
    feed(pool, accepted("h1", p1.data.match_id, "o1", "CA:n1"), fulfilled("h1", p1.data.match_id, "o1", "CA:n1", at=LATER))
    if not state_first:
        feed(pool, household_state("h1", open_needs=("CA:n1",)))
    assert pool.needs["CA:n1"].status == "met"


def second_need_proposed(pool: Pool) -> bool:
    feed(pool, need_recorded("CA:n2", "h1"))
    return [p.data.need_id for p in run_round(pool)] == ["CA:n2"]


@pytest.mark.parametrize("state_first", [True, False], ids=["state-then-fulfilment", "fulfilment-then-old-state"])
def test_a_delivery_serves_the_household_before_the_ledger_shows_it(state_first: bool) -> None:
    pool = new_pool()
    delivered_n1(pool, state_first)
    assert not second_need_proposed(pool)
    assert why_unmatched(pool, pool.needs["CA:n2"], NOW.date())[0] == "already_served"
    feed(pool, household_state("h1", open_needs=("CA:n1", "CA:n2")))  # still from before the ledger applied it
    assert run_round(pool) == [] and [d.need_id for d in pool.households["h1"].deliveries] == ["CA:n1"]


@pytest.mark.parametrize("state_first", [True, False])
def test_the_ledgers_state_listing_the_programme_takes_over(state_first: bool) -> None:
    pool = new_pool()
    delivered_n1(pool, state_first)
    feed(pool, household_state("h1", programmes=("CHARITY_FOOD",), at=LATER))
    assert pool.households["h1"].deliveries == []
    assert not second_need_proposed(pool)  # served now by what the ledger says
    feed(pool, household_state("h1", open_needs=("CA:n2",), at=TOMORROW))  # the ledger holds a charity delivery on its day
    assert [p.data.need_id for p in run_round(pool)] == ["CA:n2"]


def test_a_state_no_longer_listing_the_need_after_listing_it_shows_the_delivery() -> None:
    """Delivered on an earlier day: the ledger lists no programme for it, only the need met."""
    pool = new_pool()
    feed(pool, need_recorded("CA:n1", "h1"), household_state("h1", open_needs=("CA:n1",)), offering_published("o1", units=5))
    (p1,) = run_round(pool)
    feed(pool, fulfilled("h1", p1.data.match_id, "o1", "CA:n1", delivered_on=NOW.date() - timedelta(days=1), at=LATER))
    feed(pool, household_state("h1", open_needs=("CA:n1",)))  # older than the delivery: it still counts
    assert not second_need_proposed(pool)
    feed(pool, household_state("h1", open_needs=("CA:n2",), at=LATER))
    assert pool.households["h1"].deliveries == []
    assert [p.data.need_id for p in run_round(pool)] == ["CA:n2"]


def test_a_need_the_ledger_never_listed_stops_counting_with_a_state_of_a_later_day() -> None:
    pool = new_pool()
    delivered_n1(pool, state_first=False)
    pool.needs["CA:n1"].seen_open_in_state = False  # the ledger had not the need when the delivery came
    feed(pool, household_state("h1", at=LATER))
    assert len(pool.households["h1"].deliveries) == 1  # the same day: it may still come
    feed(pool, household_state("h1", at=TOMORROW))
    assert pool.households["h1"].deliveries == []


def test_a_delivery_cancels_the_households_unanswered_proposal_in_that_category() -> None:
    pool = new_pool()
    feed(pool, need_recorded("CA:n1", "h1"), need_recorded("CA:n2", "h1"), household_state("h1"), offering_published("o1", units=5))
    p1, p2 = sorted(run_round(pool), key=lambda p: p.data.need_id)
    feed(pool, accepted("h1", p1.data.match_id, "o1", "CA:n1"))
    outgoing(pool)
    feed(pool, fulfilled("h1", p1.data.match_id, "o1", "CA:n1", at=LATER))
    (cancelled,) = [e for e in outgoing(pool) if isinstance(e, MatchCancelled)]
    assert (cancelled.data.match_id, cancelled.data.reason_code) == (p2.data.match_id, "household_served")


def test_a_merged_household_brings_its_deliveries_to_the_survivor() -> None:
    pool = new_pool()
    delivered_n1(pool, state_first=True)
    feed(pool, household_state("h2"), HouseholdMerged(source="intake", household_id="h2", data={
        "surviving_household_id": "h2", "merged_household_ids": ["h1"], "reason": "person_merged"}))
    assert [d.need_id for d in pool.households["h2"].deliveries] == ["CA:n1"]
    feed(pool, need_recorded("CA:n3", "h2"))
    assert run_round(pool) == []


# --- the offering's record and the fulfilment, in either order ----------------------------------


def three_proposed() -> tuple[Pool, list[Any]]:
    pool = new_pool()
    for i in range(3):
        feed(pool, household_state(f"h{i}"), need_recorded(f"CA:n{i}", f"h{i}"))
    feed(pool, offering_published("o1", units=3))
    proposals = sorted(run_round(pool), key=lambda p: p.data.need_id)
    (first, *_) = proposals
    feed(pool, accepted("h0", first.data.match_id, "o1", "CA:n0"))
    outgoing(pool)
    return pool, proposals


def snapshot(pool: Pool) -> dict[str, Any]:
    return {
        "offerings": {k: o.record for k, o in pool.offerings.items()},
        "held": {k: v for k, v in pool.held.items() if v},
        "delivered": {k: v for k, v in pool.delivered.items() if v},
        "free": pool.free_units("o1"),
        "proposals": sorted((p.need_id, p.state, p.reason_code, p.delivered) for p in pool.proposals.values()),
        "needs": {k: n.status for k, n in pool.needs.items()},
        "households": pool.households,
    }


@pytest.mark.parametrize("record_at", [LATER, LATER + timedelta(seconds=1)], ids=["same-time", "record-after"])
def test_a_delivery_and_the_offerings_new_remaining_give_the_same_pool_in_either_order(record_at: Any) -> None:
    """The organisation delivers one of three promised units: its record says 2 left. Read before
    the fulfilment, that is not a capacity cut: the delivered unit is no longer held."""
    pool, proposals = three_proposed()
    other = copy.deepcopy(pool)
    match = proposals[0].data.match_id
    delivery, record = fulfilled("h0", match, "o1", "CA:n0", at=LATER), offering_changed("o1", units=3, remaining=2, at=record_at)
    feed(pool, delivery, record)
    feed(other, record)
    assert other.free_units("o1") == 0 and outgoing(other) == []
    feed(other, delivery)
    assert outgoing(other) == [] and outgoing(pool) == []
    assert snapshot(other) == snapshot(pool)
    assert pool.free_units("o1") == 0 and pool.held["o1"] == 2 and pool.delivered["o1"] == 1


def test_a_later_record_before_the_fulfilment_still_counts_the_delivery() -> None:
    pool, proposals = three_proposed()
    feed(pool, offering_changed("o1", units=3, remaining=2, at=LATER),
         offering_changed("o1", units=3, remaining=2, at=LATER + timedelta(minutes=1)))  # e.g. its title edited
    assert outgoing(pool) == [] and pool.free_units("o1") == 0
    feed(pool, fulfilled("h0", proposals[0].data.match_id, "o1", "CA:n0", at=LATER))
    assert pool.delivered["o1"] == 1 and pool.held["o1"] == 2 and pool.free_units("o1") == 0


def test_a_delivery_and_a_cut_together_cancel_only_what_the_cut_takes() -> None:
    pool, proposals = three_proposed()
    feed(pool, offering_changed("o1", units=2, remaining=1, at=LATER))  # one delivered, one unit fewer in all
    (cancelled,) = [e for e in outgoing(pool) if isinstance(e, MatchCancelled)]
    # One round proposed both unanswered ones at the same moment: the newest is the larger match id.
    newest_unanswered = max(p.data.match_id for p in proposals[1:])
    assert (cancelled.data.match_id, cancelled.data.reason) == (newest_unanswered, "capacity_reduced")
    feed(pool, fulfilled("h0", proposals[0].data.match_id, "o1", "CA:n0", at=LATER))
    assert pool.free_units("o1") == 0 and pool.held["o1"] == 1


def test_units_the_record_counts_delivered_beyond_the_fulfilments_read_are_not_free() -> None:
    pool, proposals = three_proposed()
    for p in proposals[1:]:
        feed(pool, fulfilled(p.household_id or "", p.data.match_id, "o1", p.data.need_id, at=LATER - timedelta(minutes=1)))
    feed(pool, offering_changed("o1", units=5, remaining=1, at=LATER))  # four delivered, two read; one unit still held
    assert pool.delivered["o1"] == 2 and pool.held["o1"] == 1 and pool.free_units("o1") == 1


def _two_deliveries_in_some_order(order: tuple[str, ...]) -> tuple[Pool, list[int]]:
    """Of three units promised, the organisation delivers A, then B: their fulfilments and its two
    records (the first counting A, the second both) read in the given order."""
    pool, proposals = three_proposed()
    a, b = proposals[0].data, proposals[1].data
    events = {
        "FA": fulfilled("h0", a.match_id, "o1", a.need_id, at=LATER),
        "FB": fulfilled("h1", b.match_id, "o1", b.need_id, at=LATER + timedelta(seconds=2)),
        "RA": offering_changed("o1", units=3, remaining=2, at=LATER + timedelta(seconds=1)),
        "RB": offering_changed("o1", units=3, remaining=1, at=LATER + timedelta(seconds=3)),
    }
    free = []
    for name in order:
        feed(pool, events[name])
        free.append(pool.free_units("o1"))
    return pool, free


def test_two_deliveries_and_two_records_read_in_any_order_give_one_pool() -> None:
    """Fulfilments come on hub.matches (by household: B's may come first), the records in their
    order on hub.offerings. Whatever the interleaving, no unit is ever free (the third is held)
    and the pool ends the same."""
    orders = [o for o in itertools.permutations(("FA", "FB", "RA", "RB")) if o.index("RA") < o.index("RB")]
    ends = []
    for order in orders:
        pool, free = _two_deliveries_in_some_order(order)
        assert free == [0, 0, 0, 0], order
        assert outgoing(pool) == [], order
        ends.append(snapshot(pool))
    assert len(orders) == 12 and all(end == ends[0] for end in ends)
    assert ends[0]["delivered"] == {"o1": 2} and ends[0]["held"] == {"o1": 1}
