"""The stacking rules over one household's benefits, and the pre-grant check."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from services.ledger.domain import (
    Benefit,
    Conflict,
    LedgerError,
    check_grant,
    find_conflicts,
)
from services.ledger.policy import (
    AmountCapRule,
    CapPeriod,
    ExclusiveRule,
    OncePerPeriodRule,
    Scope,
    Severity,
    StackingPolicy,
    load_policy,
)

JAN_1 = date(2026, 1, 1)


def exclusive(scope: Scope, *programmes: str, rule_id: str = "R-EXCL-T") -> ExclusiveRule:
    return ExclusiveRule(
        id=rule_id,
        severity=Severity.HIGH,
        scope=scope,
        programmes=programmes,
        description="Exclusive.",
        description_zh="互斥。",
    )


def once(window_days: int, *programmes: str, scope: Scope = Scope.HOUSEHOLD) -> OncePerPeriodRule:
    return OncePerPeriodRule(
        id="R-ONCE-T",
        severity=Severity.MEDIUM,
        scope=scope,
        window_days=window_days,
        programmes=programmes,
        description="Once.",
        description_zh="一次。",
    )


def cap(period: CapPeriod, cap_fen: int, *programmes: str, rule_id: str = "R-CAP-T") -> AmountCapRule:
    return AmountCapRule(
        id=rule_id,
        severity=Severity.LOW,
        period=period,
        cap_fen=cap_fen,
        programmes=programmes,
        description="Cap.",
        description_zh="封顶。",
    )


def policy_of(*rules: ExclusiveRule | OncePerPeriodRule | AmountCapRule) -> StackingPolicy:
    return StackingPolicy(
        version="test",
        effective_from=JAN_1,
        exclusive=tuple(r for r in rules if isinstance(r, ExclusiveRule)),
        once_per_period=tuple(r for r in rules if isinstance(r, OncePerPeriodRule)),
        amount_cap=tuple(r for r in rules if isinstance(r, AmountCapRule)),
    )


def benefit(benefit_id: str, programme: str, start: date = JAN_1, **fields: Any) -> Benefit:
    values: dict[str, Any] = {
        "benefit_id": benefit_id,
        "household_id": "H1",
        "programme": programme,
        "source": "CA",
        "source_kind": "department",
        "period_start": start,
        "event_id": f"ev-{benefit_id}",
    }
    return Benefit(**(values | fields))


def ids(conflicts: list[Conflict]) -> list[tuple[str, ...]]:
    return [conflict.benefit_ids for conflict in conflicts]


DIBAO_EXTREME_PERSON = policy_of(exclusive(Scope.PERSON, "DIBAO", "EXTREME_POVERTY"))
DIBAO_EXPENDITURE_HOUSEHOLD = policy_of(exclusive(Scope.HOUSEHOLD, "DIBAO", "EXPENDITURE_POVERTY"))


# --- exclusive -----------------------------------------------------------------------------


def test_overlapping_exclusive_benefits_of_one_person_conflict() -> None:
    dibao = benefit("CA:d1", "DIBAO", JAN_1, person_key="p1")
    extreme = benefit("CA:e1", "EXTREME_POVERTY", date(2026, 3, 1), person_key="p1")

    [conflict] = find_conflicts([extreme, dibao], DIBAO_EXTREME_PERSON)

    assert conflict.rule_id == "R-EXCL-T"
    assert conflict.severity is Severity.HIGH
    assert conflict.household_id == "H1"
    assert conflict.benefit_ids == ("CA:d1", "CA:e1")
    assert conflict.conflict_key == "R-EXCL-T|CA:d1|CA:e1"
    assert "2026-03-01" in conflict.description and "Exclusive." in conflict.description


def test_a_benefit_ended_the_day_before_the_other_started_does_not_conflict() -> None:
    dibao = benefit("d", "DIBAO", JAN_1, period_end=date(2026, 2, 28), status="ended")
    extreme = benefit("e", "EXTREME_POVERTY", date(2026, 3, 1))

    assert find_conflicts([dibao, extreme], DIBAO_EXTREME_PERSON) == []


def test_sharing_one_day_is_an_overlap_because_the_end_day_is_included() -> None:
    dibao = benefit("d", "DIBAO", JAN_1, period_end=date(2026, 3, 1), status="ended")
    extreme = benefit("e", "EXTREME_POVERTY", date(2026, 3, 1))

    assert ids(find_conflicts([dibao, extreme], DIBAO_EXTREME_PERSON)) == [("d", "e")]


def test_an_ended_benefit_still_conflicts_for_the_days_it_ran() -> None:
    dibao = benefit("d", "DIBAO", JAN_1, period_end=date(2026, 6, 30), status="ended")
    extreme = benefit("e", "EXTREME_POVERTY", date(2026, 3, 1))

    assert ids(find_conflicts([dibao, extreme], DIBAO_EXTREME_PERSON)) == [("d", "e")]


def test_open_ended_benefits_run_for_ever() -> None:
    dibao = benefit("d", "DIBAO", date(2018, 4, 1))
    extreme = benefit("e", "EXTREME_POVERTY", date(2030, 1, 1))

    assert ids(find_conflicts([dibao, extreme], DIBAO_EXTREME_PERSON)) == [("d", "e")]


def test_an_open_ended_benefit_starting_after_the_other_ended_does_not_conflict() -> None:
    extreme = benefit("e", "EXTREME_POVERTY", date(2026, 6, 1))
    ended_before = benefit("d", "DIBAO", JAN_1, period_end=date(2026, 5, 31))

    assert find_conflicts([extreme, ended_before], DIBAO_EXTREME_PERSON) == []


def test_a_grant_ended_before_it_began_never_ran_and_never_conflicts() -> None:
    cancelled = benefit("d", "DIBAO", date(2026, 3, 1), period_end=date(2026, 2, 28), status="ended")
    extreme = benefit("e", "EXTREME_POVERTY", JAN_1)

    assert find_conflicts([cancelled, extreme], DIBAO_EXTREME_PERSON) == []


def test_person_scope_different_people_do_not_conflict() -> None:
    dibao = benefit("d", "DIBAO", person_key="p1")
    extreme = benefit("e", "EXTREME_POVERTY", person_key="p2")

    assert find_conflicts([dibao, extreme], DIBAO_EXTREME_PERSON) == []


def test_person_scope_a_household_level_benefit_covers_every_member() -> None:
    household_dibao = benefit("d", "DIBAO", person_key=None)
    extreme = benefit("e", "EXTREME_POVERTY", person_key="p2")

    assert ids(find_conflicts([household_dibao, extreme], DIBAO_EXTREME_PERSON)) == [("d", "e")]


def test_household_scope_conflicts_across_members() -> None:
    dibao = benefit("d", "DIBAO", person_key="p1")
    expenditure = benefit("x", "EXPENDITURE_POVERTY", person_key="p2")

    assert ids(find_conflicts([dibao, expenditure], DIBAO_EXPENDITURE_HOUSEHOLD)) == [("d", "x")]


def test_two_benefits_of_the_same_programme_are_not_an_exclusive_conflict() -> None:
    first = benefit("d1", "DIBAO")
    second = benefit("d2", "DIBAO")

    assert find_conflicts([first, second], DIBAO_EXTREME_PERSON) == []


def test_programmes_outside_the_rule_are_ignored() -> None:
    dibao = benefit("d", "DIBAO")
    medical = benefit("m", "MEDICAL")

    assert find_conflicts([dibao, medical], DIBAO_EXTREME_PERSON) == []


def test_benefits_of_different_households_never_conflict() -> None:
    dibao = benefit("d", "DIBAO", household_id="H1")
    extreme = benefit("e", "EXTREME_POVERTY", household_id="H2")

    assert find_conflicts([dibao, extreme], DIBAO_EXTREME_PERSON) == []


def test_a_rule_of_three_programmes_pairs_every_two_of_them() -> None:
    policy = policy_of(exclusive(Scope.HOUSEHOLD, "DIBAO", "EXTREME_POVERTY", "EXPENDITURE_POVERTY"))
    held = [benefit("a", "DIBAO"), benefit("b", "EXTREME_POVERTY"), benefit("c", "EXPENDITURE_POVERTY")]

    assert ids(find_conflicts(held, policy)) == [("a", "b"), ("a", "c"), ("b", "c")]


# --- once per period ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days_apart", "conflicts"),
    [(0, True), (1, True), (89, True), (90, False), (365, False)],
)
def test_temporary_assistance_window_edges(days_apart: int, conflicts: bool) -> None:
    policy = policy_of(once(90, "TEMPORARY"))
    first = benefit("t1", "TEMPORARY", JAN_1)
    second = benefit("t2", "TEMPORARY", JAN_1 + timedelta(days=days_apart))

    assert bool(find_conflicts([second, first], policy)) is conflicts


def test_food_from_two_charities_and_the_grain_scheme_counts_together() -> None:
    policy = policy_of(once(7, "CHARITY_FOOD", "GRAIN_OIL"))
    parcel_a = benefit("c1", "CHARITY_FOOD", JAN_1, source="charity-a", source_kind="charity")
    parcel_b = benefit("c2", "CHARITY_FOOD", date(2026, 1, 4), source="charity-b", source_kind="charity")
    grain = benefit("g1", "GRAIN_OIL", date(2026, 1, 7))
    next_week = benefit("g2", "GRAIN_OIL", date(2026, 1, 11))

    found = find_conflicts([parcel_a, parcel_b, grain, next_week], policy)

    # c1-g1 are 6 days apart, c1-g2 10, c2-g2 7 (the edge: allowed), g1-g2 4.
    assert ids(found) == [("c1", "c2"), ("c1", "g1"), ("c2", "g1"), ("g1", "g2")]
    assert "6 days apart" in next(c for c in found if c.benefit_ids == ("c1", "g1")).description


def test_an_ended_grant_still_counts_as_granted() -> None:
    policy = policy_of(once(90, "TEMPORARY"))
    first = benefit("t1", "TEMPORARY", JAN_1, period_end=JAN_1, status="ended")
    second = benefit("t2", "TEMPORARY", date(2026, 2, 1))

    assert ids(find_conflicts([first, second], policy)) == [("t1", "t2")]


def test_once_per_period_by_person_lets_two_pupils_each_have_one() -> None:
    policy = policy_of(once(120, "EDUCATION", scope=Scope.PERSON))
    pupil_a = benefit("e1", "EDUCATION", JAN_1, person_key="p1")
    pupil_b = benefit("e2", "EDUCATION", JAN_1, person_key="p2")
    pupil_a_again = benefit("e3", "EDUCATION", date(2026, 3, 1), person_key="p1")

    assert ids(find_conflicts([pupil_a, pupil_b, pupil_a_again], policy)) == [("e1", "e3")]


# --- amount caps ----------------------------------------------------------------------------


CASH_YEAR = cap(CapPeriod.YEAR, 1_284_000, "TEMPORARY", "CHARITY_MONEY")


def test_exactly_the_cap_is_allowed() -> None:
    temporary = benefit("t", "TEMPORARY", date(2026, 2, 1), amount_fen=1_000_000)
    charity = benefit("c", "CHARITY_MONEY", date(2026, 9, 1), amount_fen=284_000, source_kind="charity")

    assert find_conflicts([temporary, charity], policy_of(CASH_YEAR)) == []


def test_one_fen_over_the_cap_lists_every_grant_of_the_period() -> None:
    temporary = benefit("t", "TEMPORARY", date(2026, 2, 1), amount_fen=1_000_000)
    charity = benefit("c", "CHARITY_MONEY", date(2026, 9, 1), amount_fen=284_001, source_kind="charity")
    small = benefit("s", "TEMPORARY", date(2026, 12, 31), amount_fen=0)

    [conflict] = find_conflicts([temporary, charity, small], policy_of(CASH_YEAR))

    assert conflict.benefit_ids == ("c", "s", "t")
    assert "12,840.01 CNY in 2026" in conflict.description
    assert "12,840.00" in conflict.description


def test_calendar_years_are_counted_apart() -> None:
    december = benefit("t1", "TEMPORARY", date(2025, 12, 31), amount_fen=1_000_000)
    january = benefit("t2", "TEMPORARY", date(2026, 1, 1), amount_fen=1_000_000)

    assert find_conflicts([december, january], policy_of(CASH_YEAR)) == []


def test_monthly_cap_counts_calendar_months_where_the_yearly_one_sees_the_sum() -> None:
    monthly = cap(CapPeriod.MONTH, 321_000, "TEMPORARY", "CHARITY_MONEY", rule_id="R-CAP-M")
    yearly = cap(CapPeriod.YEAR, 500_000, "TEMPORARY", "CHARITY_MONEY", rule_id="R-CAP-Y")
    march = benefit("t1", "TEMPORARY", date(2026, 3, 31), amount_fen=300_000)
    april = benefit("t2", "TEMPORARY", date(2026, 4, 1), amount_fen=300_000)

    [conflict] = find_conflicts([march, april], policy_of(monthly, yearly))

    assert conflict.rule_id == "R-CAP-Y"


def test_caps_ignore_in_kind_grants_and_other_programmes() -> None:
    in_kind = benefit("t", "TEMPORARY", JAN_1, in_kind="winter clothes")
    medical = benefit("m", "MEDICAL", JAN_1, amount_fen=5_000_000)
    cash = benefit("c", "CHARITY_MONEY", JAN_1, amount_fen=1_284_000)

    assert find_conflicts([in_kind, medical, cash], policy_of(CASH_YEAR)) == []


# --- conflicts as a whole -------------------------------------------------------------------


def test_the_same_conflict_has_the_same_key_whatever_the_input_order() -> None:
    held = [benefit("z", "DIBAO"), benefit("a", "EXTREME_POVERTY")]

    forwards = find_conflicts(held, DIBAO_EXTREME_PERSON)
    backwards = find_conflicts(list(reversed(held)), DIBAO_EXTREME_PERSON)

    assert forwards == backwards
    assert forwards[0].conflict_key == "R-EXCL-T|a|z"


def test_conflict_sorts_and_deduplicates_its_benefit_ids() -> None:
    conflict = Conflict(
        rule_id="R", severity=Severity.LOW, household_id="H1", benefit_ids=("b", "a", "b"), description=""
    )

    assert conflict.benefit_ids == ("a", "b")
    assert conflict.severity is Severity.LOW
    assert conflict.to_dict()["conflict_key"] == "R|a|b"


def test_conflicts_come_most_severe_first() -> None:
    policy = policy_of(
        exclusive(Scope.HOUSEHOLD, "DIBAO", "EXTREME_POVERTY"),
        cap(CapPeriod.YEAR, 100, "TEMPORARY"),
        once(90, "TEMPORARY"),
    )
    held = [
        benefit("d", "DIBAO"),
        benefit("e", "EXTREME_POVERTY"),
        benefit("t1", "TEMPORARY", amount_fen=100),
        benefit("t2", "TEMPORARY", amount_fen=1),
    ]

    severities = [conflict.severity for conflict in find_conflicts(held, policy)]

    assert severities == [Severity.HIGH, Severity.MEDIUM, Severity.LOW]


def test_shipped_policy_catches_dibao_beside_extreme_poverty_support() -> None:
    household_dibao = benefit("CA:d", "DIBAO", date(2018, 4, 1), amount_fen=107_000)
    extreme = benefit("CA:e", "EXTREME_POVERTY", date(2026, 2, 1), person_key="p1", amount_fen=140_000)

    [conflict] = find_conflicts([household_dibao, extreme], load_policy())

    assert conflict.rule_id == "R-EXCL-DIBAO-EXTREME"
    assert len(conflict.description) <= 500


# --- the pre-grant check ------------------------------------------------------------------------


def test_check_grant_reports_what_the_proposed_grant_would_add() -> None:
    existing = [benefit("d", "DIBAO")]
    proposed = benefit("e", "EXTREME_POVERTY", date(2026, 5, 1))

    assert ids(check_grant(existing, proposed, DIBAO_EXTREME_PERSON)) == [("d", "e")]


def test_check_grant_is_empty_for_a_clean_grant() -> None:
    existing = [benefit("d", "DIBAO", period_end=date(2026, 4, 30))]
    proposed = benefit("e", "EXTREME_POVERTY", date(2026, 5, 1))

    assert check_grant(existing, proposed, DIBAO_EXTREME_PERSON) == []


def test_check_grant_leaves_out_conflicts_that_do_not_involve_the_proposed_grant() -> None:
    policy = policy_of(exclusive(Scope.HOUSEHOLD, "DIBAO", "EXTREME_POVERTY"), once(90, "TEMPORARY"))
    existing = [benefit("d", "DIBAO"), benefit("e", "EXTREME_POVERTY"), benefit("t1", "TEMPORARY")]
    proposed = benefit("t2", "TEMPORARY", date(2026, 2, 1))

    [conflict] = check_grant(existing, proposed, policy)

    assert conflict.benefit_ids == ("t1", "t2")


def test_rechecking_an_existing_grant_reports_only_what_its_change_would_add() -> None:
    policy = policy_of(once(90, "TEMPORARY"), cap(CapPeriod.YEAR, 1_000, "TEMPORARY"))
    existing = [benefit("t1", "TEMPORARY", amount_fen=500), benefit("t2", "TEMPORARY", amount_fen=500)]
    raised_amount = benefit("t2", "TEMPORARY", amount_fen=501)

    assert check_grant(existing, existing[1], policy) == []
    assert [c.rule_id for c in check_grant(existing, raised_amount, policy)] == ["R-CAP-T"]


# --- benefits refuse impossible values ------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"amount_fen": -1},
        {"amount_fen": True},
        {"status": "paused"},
        {"source_kind": "company"},
        {"household_id": ""},
        {"period_end": "2026-01-01"},
        {"person_key": ""},
    ],
)
def test_a_benefit_refuses_impossible_values(fields: dict[str, Any]) -> None:
    with pytest.raises(LedgerError):
        benefit("b", "DIBAO", **fields)
