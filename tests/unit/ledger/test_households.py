"""What the ledger keeps besides benefits: profiles merged in time order, members, needs, the
programmes a household holds, alert ids; and canonical events turned into domain records."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from contracts.hub import (
    BenefitAmended,
    BenefitRecorded,
    BenefitStopped,
    MatchFulfilled,
)
from services.ledger.alerts import alert_id
from services.ledger.domain import Benefit
from services.ledger.households import (
    Person,
    Profile,
    holds,
    merge_members,
    met_needs,
    programmes_held,
)
from services.ledger.identity import is_well_formed, normalise_resident_id, person_key
from services.ledger.records import benefit_of, change_of

JAN, FEB = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)


def report(colour: str | None, at: datetime, event_id: str, district: str | None = "310101") -> Profile:
    return Profile(district=district, colour=colour, as_of=at, event_id=event_id)


def test_a_newer_report_wins_whatever_the_arrival_order() -> None:
    old, new = report("green", JAN, "e1"), report("red", FEB, "e2")
    assert Profile().merge(old).merge(new).colour == "red"
    assert Profile().merge(new).merge(old).colour == "red"
    assert Profile().merge(new).merge(old).event_id == "e2"


def test_an_older_report_only_fills_what_the_newer_left_empty() -> None:
    merged = Profile().merge(report(None, FEB, "e2")).merge(report("yellow", JAN, "e1", district="310104"))
    assert (merged.colour, merged.district) == ("yellow", "310101")


def test_a_naive_time_is_read_as_utc() -> None:
    merged = Profile().merge(report("red", datetime(2026, 3, 1), "e3")).merge(report("green", FEB, "e2"))
    assert merged.colour == "red"


def test_members_are_the_union_and_the_newer_report_names_them() -> None:
    known = {"p1": Person("p1", "张*")}
    merged = merge_members(known, [Person("p1", "张*", relation="head"), Person("p2", "李*")], newer=True)
    assert set(merged) == {"p1", "p2"} and merged["p1"].relation == "head"
    older = merge_members(merged, [Person("p1", "王*")], newer=False)
    assert older["p1"].display_name == "张*"


def benefit(programme: str, start: date, end: date | None = None, status: str = "active", need: str | None = None) -> Benefit:
    return Benefit(benefit_id=f"CA:{programme}", household_id="h", programme=programme, source="CA", source_kind="department",
                   period_start=start, period_end=end, status=status, event_id="e", need_id=need)  # type: ignore[arg-type]


def test_programmes_held_on_a_day() -> None:
    benefits = [
        benefit("DIBAO", date(2026, 1, 1)),
        benefit("TEMPORARY", date(2026, 1, 1), date(2026, 1, 31)),
        benefit("MEDICAL", date(2026, 1, 1), date(2026, 3, 1), status="ended"),
        benefit("EDUCATION", date(2026, 6, 1)),
    ]
    assert programmes_held(benefits, date(2026, 2, 1)) == ["DIBAO"]
    assert holds(benefits[1], date(2026, 1, 31)) and not holds(benefits[1], date(2026, 2, 1))


def test_a_need_is_met_by_a_benefit_that_names_it_unless_that_benefit_was_cancelled() -> None:
    met = benefit("CHARITY_FOOD", date(2026, 1, 5), date(2026, 1, 5), need="CA:n1")
    cancelled = benefit("GRAIN_OIL", date(2026, 1, 5), date(2026, 1, 4), need="CA:n2")
    assert met_needs([met, cancelled]) == {"CA:n1"}


def test_alert_ids_are_stable_and_differ_per_household_conflict_and_occurrence() -> None:
    first = alert_id("h1", "R-X|a|b", 0)
    assert first == alert_id("h1", "R-X|a|b", 0)
    assert len({first, alert_id("h2", "R-X|a|b", 0), alert_id("h1", "R-X|a|c", 0), alert_id("h1", "R-X|a|b", 1)}) == 4
    assert first.startswith("A-") and len(first) <= 64


def test_a_charity_delivery_becomes_a_one_day_charity_benefit_for_the_need() -> None:
    delivered = MatchFulfilled(source="charity", household_id="h", data={
        "match_id": "m-9", "offering_id": "o", "need_id": "CA:n1", "charity_id": "ch-3", "programme": "CHARITY_FOOD",
        "quantity": 1, "in_kind": "parcel", "delivered_on": date(2026, 2, 3)})
    made = benefit_of(delivered)
    assert (made.benefit_id, made.source, made.source_kind, made.need_id) == ("M:m-9", "ch-3", "charity", "CA:n1")
    assert made.period_start == made.period_end == date(2026, 2, 3)
    assert made.event_id == delivered.event_id


def test_a_grant_keeps_its_source_amount_period_and_event() -> None:
    granted = BenefitRecorded(source="intake", household_id="h", data={
        "benefit_id": "DPF:1", "programme": "SEVERE_DISABILITY", "source": "DPF", "person_key": "p1", "amount_fen": 140_000,
        "period_start": date(2026, 1, 1)})
    made = benefit_of(granted)
    assert (made.source, made.person_key, made.amount_fen, made.period_end, made.event_id) == ("DPF", "p1", 140_000, None, granted.event_id)


def test_an_amendment_changes_only_what_it_names_and_a_stop_ends_the_benefit() -> None:
    amended = change_of(BenefitAmended(source="intake", household_id="h", data={"benefit_id": "CA:1", "effective_on": date(2026, 4, 1), "amount_fen": 99}))
    assert amended.updates == {"amount_fen": 99}
    stopped = change_of(BenefitStopped(source="intake", household_id="h", data={"benefit_id": "CA:1", "ended_on": date(2026, 4, 30)}))
    assert stopped.updates == {"status": "ended", "period_end": date(2026, 4, 30)}


@pytest.mark.parametrize("raw", ["11010519491231002x", " 110105 1949 1231 002X ", "１１０１０５１９４９１２３１００２Ｘ"])
def test_person_keys_do_not_depend_on_how_the_number_was_typed(raw: str) -> None:
    assert normalise_resident_id(raw) == "11010519491231002X"
    assert is_well_formed(raw)
    assert person_key(raw, b"s") == person_key("11010519491231002X", b"s")
    assert person_key(raw, b"s") != person_key(raw, b"other secret")


def test_person_key_has_intakes_shape() -> None:
    key = person_key("11010519491231002X", b"development-only-secret-change-me")
    assert key == "p_a817764ee6f15716fa319706ce66e451"  # what intake computes for the same number and secret
