"""The household ledger: changes in any order, redelivery, and the alerts its conflicts raise."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ledger.domain import (
    Benefit,
    BenefitChange,
    Conflict,
    HouseholdLedger,
    LedgerError,
    _conflict_order,
)
from services.ledger.policy import Severity, StackingPolicy, load_policy

POLICY: StackingPolicy = load_policy()
HOUSEHOLD = "H1"
MORNING = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def at(hours: int) -> datetime:
    return MORNING + timedelta(hours=hours)


def benefit(benefit_id: str, programme: str, start: date, **fields: Any) -> Benefit:
    values: dict[str, Any] = {
        "benefit_id": benefit_id,
        "household_id": HOUSEHOLD,
        "programme": programme,
        "source": "CA",
        "source_kind": "department",
        "period_start": start,
        "event_id": f"grant-{benefit_id}",
        "occurred_at": MORNING,
    }
    return Benefit(**(values | fields))


def ledger(**records: Any) -> HouseholdLedger:
    return HouseholdLedger(HOUSEHOLD, POLICY, **records)


def diff_alerts(open_before: Any, conflicts_now: Any) -> tuple[list[Conflict], list[str]]:
    """What to raise and what to close, by exact conflict (the alerts module joins them further)."""
    before = set(open_before)
    now = {conflict.conflict_key: conflict for conflict in conflicts_now}
    raised = sorted((conflict for key, conflict in now.items() if key not in before), key=_conflict_order)
    return raised, sorted(before - now.keys())


def change(book: HouseholdLedger, benefit_id: str, *, event_id: str, occurred_at: datetime | None = None,
           **updates: Any) -> list[Conflict]:
    return book.apply(BenefitChange(event_id=event_id, household_id=HOUSEHOLD, benefit_id=benefit_id, updates=updates,
                                    occurred_at=occurred_at))


def end(book: HouseholdLedger, benefit_id: str, ended_on: date, *, event_id: str, occurred_at: datetime | None = None) -> list[Conflict]:
    return book.apply(BenefitChange.ending(event_id=event_id, household_id=HOUSEHOLD, benefit_id=benefit_id,
                                           ended_on=ended_on, occurred_at=occurred_at))


def records(book: HouseholdLedger) -> dict[str, Any]:
    """What the batch stores of a ledger: its grant and change records, as plain JSON values."""
    return {"grants": [g.to_dict() for g in book.grants], "changes": [c.to_dict() for c in book.changes]}


def from_records(stored: dict[str, Any]) -> HouseholdLedger:
    return ledger(grants=[Benefit.from_dict(g) for g in stored["grants"]],
                  changes=[BenefitChange.from_dict(c) for c in stored["changes"]])


DIBAO = benefit("CA:dibao-1", "DIBAO", date(2026, 1, 1), amount_fen=107_000)
EXTREME = benefit("CA:extreme-1", "EXTREME_POVERTY", date(2026, 3, 1), person_key="p1", amount_fen=140_000)


# --- out of order -----------------------------------------------------------------------------


def test_an_end_before_its_grant_waits_and_applies_when_the_grant_arrives() -> None:
    book = ledger()

    end(book, DIBAO.benefit_id, date(2026, 2, 28), event_id="end-1", occurred_at=at(2))

    assert book.benefits == []
    assert [change.event_id for change in book.pending] == ["end-1"]

    book.grant(DIBAO)

    ended = book.benefit(DIBAO.benefit_id)
    assert ended is not None
    assert (ended.status, ended.period_end, ended.event_id) == ("ended", date(2026, 2, 28), "end-1")
    assert book.pending == []


def test_a_change_before_its_grant_waits_and_applies_when_the_grant_arrives() -> None:
    book = ledger()

    change(book, DIBAO.benefit_id, event_id="rise-1", occurred_at=at(1), amount_fen=114_000)
    book.grant(DIBAO)

    changed = book.benefit(DIBAO.benefit_id)
    assert changed is not None
    assert (changed.amount_fen, changed.status, changed.event_id) == (114_000, "active", "rise-1")


def test_a_pending_change_applies_even_if_stamped_before_the_grant() -> None:
    # Department clocks differ: a change is always on top of the grant it changes.
    book = ledger()

    change(book, DIBAO.benefit_id, event_id="rise-1", occurred_at=MORNING - timedelta(days=1), amount_fen=1)
    book.grant(DIBAO)

    assert book.benefits[0].amount_fen == 1


def test_two_changes_of_one_field_keep_the_later_one_whatever_the_arrival_order() -> None:
    in_order, reversed_order = ledger(grants=[DIBAO]), ledger(grants=[DIBAO])

    change(in_order, DIBAO.benefit_id, event_id="c1", occurred_at=at(1), amount_fen=110_000)
    change(in_order, DIBAO.benefit_id, event_id="c2", occurred_at=at(2), amount_fen=120_000)
    change(reversed_order, DIBAO.benefit_id, event_id="c2", occurred_at=at(2), amount_fen=120_000)
    change(reversed_order, DIBAO.benefit_id, event_id="c1", occurred_at=at(1), amount_fen=110_000)

    assert in_order.benefits == reversed_order.benefits
    assert in_order.benefits[0].amount_fen == 120_000
    assert in_order.benefits[0].event_id == "c2"


def test_a_late_change_of_another_field_is_not_lost_under_a_newer_one() -> None:
    book = ledger(grants=[DIBAO])

    end(book, DIBAO.benefit_id, date(2026, 6, 30), event_id="end", occurred_at=at(5))
    change(book, DIBAO.benefit_id, event_id="rise", occurred_at=at(1), amount_fen=114_000)

    now = book.benefits[0]
    assert (now.amount_fen, now.status, now.period_end) == (114_000, "ended", date(2026, 6, 30))


def test_a_restated_grant_replaces_the_first_and_changes_stay_on_top() -> None:
    book = ledger(grants=[DIBAO])
    change(book, DIBAO.benefit_id, event_id="end-date", occurred_at=at(1), period_end=date(2026, 12, 31))

    restated = benefit(
        DIBAO.benefit_id, "DIBAO", date(2026, 2, 1), amount_fen=99_000, event_id="regrant", occurred_at=at(3)
    )
    book.grant(restated)

    now = book.benefits[0]
    assert (now.period_start, now.amount_fen, now.period_end) == (date(2026, 2, 1), 99_000, date(2026, 12, 31))
    assert [grant.event_id for grant in book.grants] == ["grant-CA:dibao-1", "regrant"]


def test_change_sets_only_the_fields_given() -> None:
    book = ledger(grants=[DIBAO])

    change(book, DIBAO.benefit_id, event_id="c", occurred_at=at(1), need_id="need-7", in_kind=None)

    now = book.benefits[0]
    assert (now.need_id, now.amount_fen, now.period_end, now.in_kind) == ("need-7", 107_000, None, None)


# --- redelivery --------------------------------------------------------------------------------


def test_redelivered_events_change_nothing() -> None:
    book = ledger()
    book.grant(DIBAO)
    change(book, DIBAO.benefit_id, event_id="c1", occurred_at=at(1), amount_fen=110_000)
    end(book, DIBAO.benefit_id, date(2026, 6, 30), event_id="e1", occurred_at=at(2))
    before = records(book)

    book.grant(DIBAO)
    change(book, DIBAO.benefit_id, event_id="c1", occurred_at=at(1), amount_fen=110_000)
    end(book, DIBAO.benefit_id, date(2026, 6, 30), event_id="e1", occurred_at=at(2))

    assert records(book) == before


def test_an_event_id_seen_before_is_ignored_even_with_other_content() -> None:
    book = ledger(grants=[DIBAO])
    change(book, DIBAO.benefit_id, event_id="c1", occurred_at=at(1), amount_fen=110_000)

    change(book, DIBAO.benefit_id, event_id="c1", occurred_at=at(1), amount_fen=1)

    assert book.benefits[0].amount_fen == 110_000


# --- conflicts and alerts -------------------------------------------------------------------------


def test_each_change_returns_the_conflicts_then_open() -> None:
    book = ledger()

    assert book.grant(DIBAO) == []
    [conflict] = book.grant(EXTREME)

    assert conflict.rule_id == "R-EXCL-DIBAO-EXTREME"
    assert book.conflicts() == [conflict]


def test_an_alert_is_raised_once_and_closed_when_the_conflict_goes() -> None:
    book = ledger(grants=[DIBAO])
    open_alerts: set[str] = set()

    raised, resolved = diff_alerts(open_alerts, book.grant(EXTREME))
    assert [c.rule_id for c in raised] == ["R-EXCL-DIBAO-EXTREME"] and resolved == []
    open_alerts |= {c.conflict_key for c in raised}

    # The conflict is found again on the next change: no second alert.
    raised, resolved = diff_alerts(
        open_alerts, change(book, EXTREME.benefit_id, event_id="c1", occurred_at=at(1), amount_fen=140_500)
    )
    assert raised == [] and resolved == []

    # Civil affairs ends dibao the day before extreme-poverty support began: the conflict is gone.
    raised, resolved = diff_alerts(
        open_alerts, end(book, DIBAO.benefit_id, date(2026, 2, 28), event_id="e1", occurred_at=at(2))
    )
    assert raised == []
    assert resolved == ["R-EXCL-DIBAO-EXTREME|CA:dibao-1|CA:extreme-1"]


def test_diff_alerts_sorts_and_deduplicates() -> None:
    low = Conflict(rule_id="R-B", severity=Severity.LOW, household_id=HOUSEHOLD, benefit_ids=("x",), description="")
    high = Conflict(rule_id="R-A", severity=Severity.HIGH, household_id=HOUSEHOLD, benefit_ids=("y",), description="")

    raised, resolved = diff_alerts(["R-Z|gone", "R-B|x", "R-Y|gone"], [low, high, high])

    assert raised == [high]
    assert resolved == ["R-Y|gone", "R-Z|gone"]


def test_the_ledger_runs_the_pre_grant_check_on_its_own_benefits() -> None:
    book = ledger(grants=[DIBAO])

    assert [c.rule_id for c in book.check_grant(EXTREME)] == ["R-EXCL-DIBAO-EXTREME"]
    assert book.benefits == [DIBAO]  # a check grants nothing


# --- refusals -------------------------------------------------------------------------------------


def test_a_record_for_another_household_is_refused() -> None:
    with pytest.raises(LedgerError, match="household H2"):
        ledger().grant(benefit("b", "DIBAO", date(2026, 1, 1), household_id="H2"))


def test_a_change_of_a_field_that_cannot_change_is_refused() -> None:
    with pytest.raises(LedgerError, match="'programme' is not a field a change may set"):
        BenefitChange(event_id="c", household_id=HOUSEHOLD, benefit_id="b", updates={"programme": "DIBAO"})


def test_a_change_to_an_impossible_value_is_refused_before_it_is_kept() -> None:
    book = ledger()

    with pytest.raises(LedgerError, match="amount_fen"):
        change(book, "b", event_id="c", amount_fen=-5)
    assert book.pending == []


# --- storing ----------------------------------------------------------------------------------------


def test_the_ledger_round_trips_through_plain_json() -> None:
    book = ledger()
    end(book, "CA:later", date(2026, 5, 31), event_id="pending-end", occurred_at=at(3))
    book.grant(DIBAO)
    book.grant(EXTREME)
    change(book, DIBAO.benefit_id, event_id="c1", occurred_at=at(1), period_end=date(2026, 12, 31))

    stored = json.loads(json.dumps(records(book)))
    loaded = from_records(stored)

    assert loaded.benefits == book.benefits
    assert loaded.pending == book.pending
    assert loaded.conflicts() == book.conflicts()
    assert records(loaded) == records(book)


def test_benefit_and_change_rows_round_trip() -> None:
    change = BenefitChange.ending(
        event_id="e", household_id=HOUSEHOLD, benefit_id="b", ended_on=date(2026, 1, 31), occurred_at=at(0)
    )

    assert Benefit.from_dict(EXTREME.to_dict()) == EXTREME
    assert BenefitChange.from_dict(change.to_dict()) == change
    assert change.to_dict()["updates"] == {"period_end": "2026-01-31", "status": "ended"}


# --- any arrival order, same ledger -------------------------------------------------------------

BENEFIT_IDS = ("b1", "b2", "b3")
PROGRAMME_CODES = ("DIBAO", "EXTREME_POVERTY", "TEMPORARY", "CHARITY_MONEY", "CHARITY_FOOD", "GRAIN_OIL")
days = st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 4, 30))
# A few hours only, often none: ties between events are common and must still order the same way.
stamps = st.one_of(st.none(), st.integers(min_value=0, max_value=3).map(at))
people = st.sampled_from([None, "p1", "p2"])
amounts = st.one_of(st.none(), st.integers(min_value=0, max_value=1_400_000))


@st.composite
def grants(draw: st.DrawFn, number: int) -> Benefit:
    return Benefit(
        benefit_id=draw(st.sampled_from(BENEFIT_IDS)),
        household_id=HOUSEHOLD,
        programme=draw(st.sampled_from(PROGRAMME_CODES)),
        source=draw(st.sampled_from(["CA", "charity-a", "charity-b"])),
        source_kind="department",
        period_start=draw(days),
        period_end=draw(st.one_of(st.none(), days)),
        person_key=draw(people),
        amount_fen=draw(amounts),
        event_id=f"ev-{number}",
        occurred_at=draw(stamps),
    )


@st.composite
def changes(draw: st.DrawFn, number: int) -> BenefitChange:
    updates = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "amount_fen": amounts,
                "period_start": days,
                "period_end": st.one_of(st.none(), days),
                "person_key": people,
            },
        )
    )
    return BenefitChange(
        event_id=f"ev-{number}",
        household_id=HOUSEHOLD,
        benefit_id=draw(st.sampled_from(BENEFIT_IDS)),
        updates=updates,
        occurred_at=draw(stamps),
    )


@st.composite
def ends(draw: st.DrawFn, number: int) -> BenefitChange:
    return BenefitChange.ending(
        event_id=f"ev-{number}",
        household_id=HOUSEHOLD,
        benefit_id=draw(st.sampled_from(BENEFIT_IDS)),
        ended_on=draw(days),
        occurred_at=draw(stamps),
    )


@st.composite
def histories(draw: st.DrawFn) -> list[Benefit | BenefitChange]:
    count = draw(st.integers(min_value=1, max_value=12))
    events = [draw(st.one_of(grants(n), changes(n), ends(n))) for n in range(count)]
    redelivered = draw(st.lists(st.sampled_from(events), max_size=4))
    return events + redelivered


def replay(events: list[Benefit | BenefitChange]) -> tuple[HouseholdLedger, set[str]]:
    """Apply events one by one as the handler would, keeping the open alerts as it would."""
    book, open_alerts = ledger(), set[str]()
    for event in events:
        conflicts = book.grant(event) if isinstance(event, Benefit) else book.apply(event)
        raised, resolved = diff_alerts(open_alerts, conflicts)
        open_alerts = (open_alerts | {c.conflict_key for c in raised}) - set(resolved)
    return book, open_alerts


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_arrival_order_gives_the_same_benefits_and_conflicts(data: st.DataObject) -> None:
    events = data.draw(histories(), label="events")
    arrival = data.draw(st.permutations(events), label="arrival")

    expected, _ = replay(events)
    actual, open_alerts = replay(arrival)

    assert actual.benefits == expected.benefits
    assert actual.pending == expected.pending
    assert actual.conflicts() == expected.conflicts()
    assert open_alerts == {conflict.conflict_key for conflict in actual.conflicts()}
    assert from_records(records(actual)).benefits == actual.benefits
