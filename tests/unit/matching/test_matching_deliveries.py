"""Deliveries reach matching on hub.matches, their effects on other topics (the ledger's household
state, the organisation's offering record), read in either order: matching acts the same."""

from __future__ import annotations

import copy
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
        "offerings": {k: (o.record, o.delivered_unread) for k, o in pool.offerings.items()},
        "held": {k: v for k, v in pool.held.items() if v},
        "free": pool.free_units("o1"),
        "proposals": {k: (p.state, p.reason_code) for k, p in pool.proposals.items()},
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
    assert pool.free_units("o1") == 0 and pool.held["o1"] == 2 and pool.offerings["o1"].delivered_unread == 0


def test_a_later_record_before_the_fulfilment_still_counts_the_delivery() -> None:
    pool, proposals = three_proposed()
    feed(pool, offering_changed("o1", units=3, remaining=2, at=LATER),
         offering_changed("o1", units=3, remaining=2, at=LATER + timedelta(minutes=1)))  # e.g. its title edited
    assert outgoing(pool) == [] and pool.offerings["o1"].delivered_unread == 1
    feed(pool, fulfilled("h0", proposals[0].data.match_id, "o1", "CA:n0", at=LATER))
    assert pool.offerings["o1"].delivered_unread == 0 and pool.free_units("o1") == 0


def test_a_delivery_and_a_cut_together_cancel_only_what_the_cut_takes() -> None:
    pool, proposals = three_proposed()
    feed(pool, offering_changed("o1", units=2, remaining=1, at=LATER))  # one delivered, one unit fewer in all
    (cancelled,) = [e for e in outgoing(pool) if isinstance(e, MatchCancelled)]
    # One round proposed both unanswered ones at the same moment: the newest is the larger match id.
    newest_unanswered = max(p.data.match_id for p in proposals[1:])
    assert (cancelled.data.match_id, cancelled.data.reason) == (newest_unanswered, "capacity_reduced")
    feed(pool, fulfilled("h0", proposals[0].data.match_id, "o1", "CA:n0", at=LATER))
    assert pool.free_units("o1") == 0 and pool.held["o1"] == 1


def test_delivered_units_never_free_more_than_open_proposals_hold() -> None:
    pool, proposals = three_proposed()
    for p in proposals[1:]:
        feed(pool, fulfilled(p.household_id or "", p.data.match_id, "o1", p.data.need_id, at=LATER - timedelta(minutes=1)))
    feed(pool, offering_changed("o1", units=5, remaining=1, at=LATER))  # four delivered, two unread; one unit still held
    assert pool.offerings["o1"].delivered_unread == 1 and pool.free_units("o1") == 1
