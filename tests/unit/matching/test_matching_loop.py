"""The pool and the closed loop, without Kafka or a database: events in, rounds run inline
(the same functions the worker process runs), proposals and outgoing events checked."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contracts.hub import MatchCancelled, MatchExpired, MatchProposedV2, NeedOverdue
from services.matching.candidates import plan_round
from services.matching.pool import ImpossibleTransition, Pool, UnknownProposal
from services.matching.priority import load_weights
from services.matching.rounds import chosen, prepare
from tests.matching_events import (
    NOW,
    accepted,
    declined,
    failed,
    fulfilled,
    household_recorded,
    household_state,
    need_closed,
    need_recorded,
    offering_changed,
    offering_published,
    offering_withdrawn,
    started,
)


def new_pool() -> Pool:
    return Pool(load_weights(), timedelta(hours=72))


def feed(pool: Pool, *events) -> None:  # type: ignore[no-untyped-def]
    for event in events:
        pool.apply(event, NOW)


def run_round(pool: Pool, now=NOW) -> list[MatchProposedV2]:  # type: ignore[no-untyped-def]
    prepared = prepare(pool, now, per_need=8)
    if prepared is not None:
        pool.commit_round(chosen(prepared, plan_round(prepared.input)), now)
    return [e for e in pool.take_changes().events if isinstance(e, MatchProposedV2)]


def outgoing(pool: Pool) -> list:  # type: ignore[type-arg]
    return pool.take_changes().events


def household(pool: Pool, hid: str, **fields) -> None:  # type: ignore[no-untyped-def]
    feed(pool, household_recorded(hid, **{k: v for k, v in fields.items() if k in ("district", "subdistrict", "category", "colour", "birth_years")}))


def test_a_need_and_an_offering_make_one_proposal_with_a_deadline() -> None:
    pool = new_pool()
    household(pool, "h1")
    feed(pool, need_recorded("CA:n1", "h1"), offering_published("o1", units=5))
    (proposal,) = run_round(pool)
    assert (proposal.data.need_id, proposal.data.offering_id, proposal.household_id) == ("CA:n1", "o1", "h1")
    assert proposal.data.expires_at == NOW + timedelta(hours=72)
    assert proposal.data.district == "310104" and proposal.data.household_size == 1
    assert run_round(pool) == []  # never twice for the same need while a proposal is open
    assert pool.free_units("o1") == 4  # the proposal holds its unit at once


def test_decline_repools_the_need_elsewhere_and_never_back_to_the_decliner() -> None:
    pool = new_pool()
    household(pool, "h1")
    feed(pool, need_recorded("CA:n1", "h1"), offering_published("o1", units=1, area={"subdistricts": ["310104-01"]}))
    feed(pool, offering_published("o2", units=1))
    (first,) = run_round(pool)
    assert first.data.offering_id == "o1"  # the nearer one
    feed(pool, declined("h1", first.data.match_id, "o1", "CA:n1"))
    assert pool.free_units("o1") == 1
    (second,) = run_round(pool)
    assert second.data.offering_id == "o2"
    feed(pool, declined("h1", second.data.match_id, "o2", "CA:n1"))
    assert run_round(pool) == []  # both declined it: nothing left to propose


def test_no_answer_by_the_deadline_expires_and_repools() -> None:
    pool = new_pool()
    household(pool, "h1")
    feed(pool, need_recorded("CA:n1", "h1"), offering_published("o1", units=1), offering_published("o2", units=1))
    (first,) = run_round(pool)
    assert pool.expire(NOW + timedelta(hours=71)) == 0
    assert pool.expire(NOW + timedelta(hours=72, seconds=1)) == 1
    (expired,) = [e for e in outgoing(pool) if isinstance(e, MatchExpired)]
    assert expired.data.match_id == first.data.match_id
    (again,) = run_round(pool, NOW + timedelta(hours=73))
    assert again.data.offering_id != first.data.offering_id


def test_failed_delivery_repools_and_fulfilment_closes_the_need() -> None:
    pool = new_pool()
    household(pool, "h1")
    feed(pool, need_recorded("CA:n1", "h1"), offering_published("o1", units=2), offering_published("o2", units=2))
    (p1,) = run_round(pool)
    feed(pool, accepted("h1", p1.data.match_id, p1.data.offering_id, "CA:n1"), started("h1", p1.data.match_id, p1.data.offering_id, "CA:n1"))
    assert pool.proposals[p1.data.match_id].state == "in_progress"
    feed(pool, failed("h1", p1.data.match_id, p1.data.offering_id, "CA:n1"))
    (p2,) = run_round(pool)
    assert p2.data.offering_id != p1.data.offering_id
    feed(pool, accepted("h1", p2.data.match_id, p2.data.offering_id, "CA:n1"))
    pool.apply(fulfilled("h1", p2.data.match_id, p2.data.offering_id, "CA:n1", at=NOW + timedelta(minutes=1)), NOW)
    assert pool.needs["CA:n1"].status == "met"
    assert pool.proposals[p2.data.match_id].state == "fulfilled"
    assert pool.free_units(p2.data.offering_id) == 1  # counted gone before the charity's record says so
    assert run_round(pool) == []


@pytest.mark.parametrize(
    ("event", "code"),
    [(lambda: offering_withdrawn("o1"), "offering_withdrawn"), (lambda: offering_changed("o1", units=3, status="stale"), "offering_stale"),
     (lambda: offering_changed("o1", units=3, status="closed"), "offering_closed")],
)
def test_an_offering_gone_cancels_its_proposals_with_a_reason_and_repools(event, code) -> None:  # type: ignore[no-untyped-def]
    pool = new_pool()
    household(pool, "h1")
    feed(pool, need_recorded("CA:n1", "h1"), offering_published("o1", units=3))
    (p1,) = run_round(pool)
    feed(pool, event())
    (cancelled,) = [e for e in outgoing(pool) if isinstance(e, MatchCancelled)]
    assert (cancelled.data.match_id, cancelled.data.reason_code) == (p1.data.match_id, code)
    assert "CA:n1" in pool.waiting
    feed(pool, offering_published("o2", units=1))
    (p2,) = run_round(pool)
    assert p2.data.offering_id == "o2"


def test_a_need_closed_cancels_its_open_proposal() -> None:
    pool = new_pool()
    household(pool, "h1")
    feed(pool, need_recorded("CA:n1", "h1"), offering_published("o1", units=3))
    (p1,) = run_round(pool)
    feed(pool, need_closed("CA:n1", "h1"))
    (cancelled,) = [e for e in outgoing(pool) if isinstance(e, MatchCancelled)]
    assert cancelled.data.reason_code == "need_closed"
    assert pool.free_units("o1") == 3 and pool.needs["CA:n1"].status == "closed"


def test_household_state_no_longer_listing_a_need_closes_it() -> None:
    pool = new_pool()
    feed(pool, need_recorded("CA:n1", "h1"), household_state("h1", open_needs=()))
    assert pool.needs["CA:n1"].status == "open"  # never listed yet: the ledger may not have it
    feed(pool, household_state("h1", open_needs=("CA:n1",)), household_state("h1", open_needs=()))
    assert pool.needs["CA:n1"].status == "met"


def test_a_household_already_served_in_the_category_is_never_proposed() -> None:
    pool = new_pool()
    feed(pool, household_state("h1", programmes=("GRAIN_OIL",)), need_recorded("CA:n1", "h1", category="food"))
    feed(pool, household_state("h2"), need_recorded("CA:n2", "h2", category="food"), offering_published("o1", units=5))
    proposals = run_round(pool)
    assert [p.household_id for p in proposals] == ["h2"]


def test_a_household_newly_served_loses_its_unanswered_proposal() -> None:
    pool = new_pool()
    feed(pool, household_state("h1"), need_recorded("CA:n1", "h1", category="food"), offering_published("o1", units=5))
    (p1,) = run_round(pool)
    feed(pool, household_state("h1", programmes=("CHARITY_FOOD",)))
    (cancelled,) = [e for e in outgoing(pool) if isinstance(e, MatchCancelled)]
    assert cancelled.data.reason_code == "household_served"


def test_a_delivery_overtaken_by_the_ledgers_state_is_recorded_fulfilled_not_cancelled() -> None:
    """The ledger's state (need met, food now received) can reach matching before the
    organisation's answers do: the cancellation crossed the delivery, which stands."""
    pool = new_pool()
    feed(pool, need_recorded("CA:n1", "h1", category="food"), household_state("h1", open_needs=("CA:n1",)), offering_published("o1", units=5))
    (p1,) = run_round(pool)
    match = p1.data.match_id
    feed(pool, household_state("h1", programmes=("CHARITY_FOOD",), open_needs=()))
    assert pool.proposals[match].state == "cancelled" and pool.needs["CA:n1"].status == "met"
    outgoing(pool)
    with pytest.raises(ImpossibleTransition):
        feed(pool, accepted("h1", match, "o1", "CA:n1"))  # logged and skipped by the handler
    feed(pool, fulfilled("h1", match, "o1", "CA:n1"))
    assert (pool.proposals[match].state, pool.proposals[match].reason_code) == ("fulfilled", "fulfil")
    assert pool.needs["CA:n1"].status == "met" and outgoing(pool) == []


def test_a_delivery_overtaken_by_its_offering_closing_is_fulfilled_and_a_later_proposal_cancelled() -> None:
    pool = new_pool()
    feed(pool, household_state("h1"), need_recorded("CA:n1", "h1", category="food"), offering_published("o1", units=1))
    (p1,) = run_round(pool)
    feed(pool, offering_changed("o1", units=1, remaining=0, status="closed", at=NOW + timedelta(minutes=1)))
    assert pool.proposals[p1.data.match_id].state == "cancelled"
    feed(pool, offering_published("o2", units=1))
    (p2,) = run_round(pool)
    assert p2.data.need_id == "CA:n1"
    feed(pool, fulfilled("h1", p1.data.match_id, "o1", "CA:n1"))
    assert pool.proposals[p1.data.match_id].state == "fulfilled" and pool.needs["CA:n1"].status == "met"
    (cancelled,) = [e for e in outgoing(pool) if isinstance(e, MatchCancelled)]
    assert (cancelled.data.match_id, cancelled.data.reason_code) == (p2.data.match_id, "need_met")
    assert pool.free_units("o2") == 1


def test_capacity_three_and_five_needs_propose_the_three_of_highest_priority() -> None:
    pool = new_pool()
    urgencies = {"CA:n1": 2, "CA:n2": 5, "CA:n3": 1, "CA:n4": 4, "CA:n5": 3}
    for i, (need_id, urgency) in enumerate(urgencies.items()):
        feed(pool, household_state(f"h{i}"), need_recorded(need_id, f"h{i}", urgency=urgency))
    feed(pool, offering_published("o1", units=3))
    proposals = run_round(pool)
    assert sorted(p.data.need_id for p in proposals) == ["CA:n2", "CA:n4", "CA:n5"]
    assert pool.free_units("o1") == 0


def test_commit_rechecks_units_so_overlapping_rounds_never_overpromise() -> None:
    pool = new_pool()
    for i in range(4):
        feed(pool, household_state(f"h{i}"), need_recorded(f"CA:n{i}", f"h{i}"))
    feed(pool, offering_published("o1", units=2))
    first = prepare(pool, NOW, 8)
    for i in range(4, 6):  # more needs arrive while the first round is being solved
        feed(pool, household_state(f"h{i}"), need_recorded(f"CA:n{i}", f"h{i}", urgency=5))
    second = prepare(pool, NOW, 8)
    assert first is not None and second is not None
    plan_first, plan_second = plan_round(first.input), plan_round(second.input)
    pool.commit_round(chosen(second, plan_second), NOW)
    pool.commit_round(chosen(first, plan_first), NOW)
    assert len(pool.open_by_offering["o1"]) == 2
    assert pool.free_units("o1") == 0


def test_capacity_lowered_below_promises_cancels_the_newest_unanswered() -> None:
    pool = new_pool()
    for i in range(3):
        feed(pool, household_state(f"h{i}"), need_recorded(f"CA:n{i}", f"h{i}"))
    feed(pool, offering_published("o1", units=3))
    assert len(run_round(pool)) == 3
    feed(pool, offering_changed("o1", units=1, at=NOW + timedelta(minutes=1)))  # as the organisation lowers it: none delivered
    cancelled = [e for e in outgoing(pool) if isinstance(e, MatchCancelled)]
    assert [e.data.reason for e in cancelled] == ["capacity_reduced"] * 2
    assert pool.free_units("o1") == 0


def test_an_answer_to_an_unknown_proposal_raises_for_the_handler_to_skip() -> None:
    pool = new_pool()
    with pytest.raises(UnknownProposal):
        pool.apply(accepted("h1", "nope", "o1", "CA:n1"), NOW)


def test_an_overdue_need_is_warned_about_once() -> None:
    pool = new_pool()
    feed(pool, household_state("h1"), need_recorded("CA:n1", "h1", urgency=5, assessed_on=NOW.date() - timedelta(days=8)))
    feed(pool, household_state("h2"), need_recorded("CA:n2", "h2", urgency=5, assessed_on=NOW.date() - timedelta(days=6)))
    assert pool.overdue(NOW, lambda need: "no_offering_in_area", 100) == 1
    (warning,) = [e for e in outgoing(pool) if isinstance(e, NeedOverdue)]
    assert (warning.data.need_id, warning.data.waiting_days, warning.data.allowed_days) == ("CA:n1", 8, 7)
    assert pool.overdue(NOW, lambda need: "x", 100) == 0


def test_the_pool_rebuilt_from_its_own_events_holds_the_same_proposals() -> None:
    pool = new_pool()
    feed(pool, household_state("h1"), need_recorded("CA:n1", "h1"), offering_published("o1", units=1))
    (proposal,) = run_round(pool)
    rebuilt = new_pool()
    feed(rebuilt, household_state("h1"), proposal, need_recorded("CA:n1", "h1"), offering_published("o1", units=1))
    assert rebuilt.free_units("o1") == 0
    assert run_round(rebuilt) == []


def test_merged_households_bring_their_needs_to_the_survivor() -> None:
    from contracts.hub import HouseholdMerged

    pool = new_pool()
    feed(pool, household_state("h-old"), need_recorded("CA:n1", "h-old", category="food"), offering_published("o1", units=2))
    (proposal,) = run_round(pool)
    feed(pool, household_state("h-new", programmes=("GRAIN_OIL",)))
    feed(pool, HouseholdMerged(source="intake", household_id="h-new",
                               data={"surviving_household_id": "h-new", "merged_household_ids": ["h-old"], "reason": "person_merged"}))
    assert pool.needs["CA:n1"].household_id == "h-new"
    (cancelled,) = [e for e in outgoing(pool) if isinstance(e, MatchCancelled)]
    assert (cancelled.data.match_id, cancelled.data.reason_code) == (proposal.data.match_id, "household_served")
    assert run_round(pool) == []  # the survivor receives food: the need is not proposed again
