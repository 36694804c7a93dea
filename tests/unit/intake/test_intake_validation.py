"""Every validation rule gives its stable reason code; a good event passes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import pytest

from bench.intake_events import INVALID_WAYS, EventFactory, bad_checksum
from services.intake.validation import Invalid, Limits, Valid, validate

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def factory() -> EventFactory:
    made = EventFactory("CA", seed=3, now=NOW)
    made.household_reported()
    return made


def codes(raw: bytes, department: str = "CA", limits: Limits = Limits()) -> list[str]:
    verdict = validate(raw, department, NOW, limits)
    assert isinstance(verdict, Invalid), "expected a rejection"
    return [str(p.code) for p in verdict.problems]


def changed(make: Callable[[EventFactory], dict[str, Any]], change: Callable[[dict[str, Any]], None]) -> bytes:
    event = make(factory())
    change(event)
    return orjson.dumps(event)


@pytest.mark.parametrize("make", [EventFactory.household_reported, EventFactory.benefit_granted,
                                  EventFactory.need_assessed, EventFactory.benefit_changed])
def test_good_events_pass(make: Callable[[EventFactory], dict[str, Any]]) -> None:
    verdict = validate(orjson.dumps(make(factory())), "CA", NOW)
    assert isinstance(verdict, Valid), verdict


@pytest.mark.parametrize("way", range(len(INVALID_WAYS)))
def test_the_ten_ways_of_the_integration_test(way: int) -> None:
    raw, code = factory().invalid(way)
    assert code in codes(raw)


def set_in(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(event: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = event
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value

    return change


def remove(path: str) -> Callable[[dict[str, Any]], None]:
    def change(event: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = event
        for part in parents:
            target = target[part]
        del target[last]

    return change


GRANT, REPORT, NEED, CHANGE = (EventFactory.benefit_granted, EventFactory.household_reported,
                               EventFactory.need_assessed, EventFactory.benefit_changed)
FUTURE = (NOW + timedelta(days=3)).date().isoformat()


@pytest.mark.parametrize(
    ("make", "change", "code"),
    [
        (GRANT, set_in("type", "benefit.invented"), "event.unknown_type"),
        (GRANT, set_in("schema_version", 9), "event.unknown_type"),
        (GRANT, remove("data.period_start"), "field.missing"),
        (GRANT, set_in("data.colour", "red"), "field.unknown"),
        (GRANT, set_in("data.amount_fen", "many"), "field.invalid"),
        (GRANT, set_in("data.amount_fen", 12.5), "field.invalid"),
        (GRANT, set_in("data.in_kind", "米" * 201), "text.too_long"),
        (GRANT, set_in("source", "POLICE"), "department.unknown"),
        (GRANT, set_in("source", "HRSS"), "department.topic_mismatch"),
        (GRANT, set_in("household_id", None), "household.ref_missing"),
        (GRANT, set_in("occurred_at", (NOW + timedelta(hours=2)).isoformat()), "date.in_future"),
        (GRANT, set_in("data.programme", "FREE_LUNCH"), "programme.unknown"),
        (GRANT, set_in("data.programme", "MEDICAL"), "programme.not_of_department"),
        (GRANT, set_in("data.amount_fen", -1), "amount.negative"),
        (GRANT, set_in("data.amount_fen", 100_000_001), "amount.too_large"),
        (GRANT, set_in("data.amount_fen", None), "benefit.value_missing"),
        (GRANT, set_in("data.period_end", "2020-01-01"), "period.end_before_start"),
        (GRANT, set_in("data.period_start", "2028-01-01"), "date.in_future"),
        (GRANT, set_in("data.resident_id", "31011519800512123"), "resident_id.length"),
        (GRANT, set_in("data.benefit_id", "B" * 62), "id.too_long"),
        (NEED, set_in("data.need_id", "N" * 64), "id.too_long"),
        (GRANT, set_in("data.resident_id", "3101151980051212A4"), "resident_id.format"),
        (REPORT, set_in("data.district", "110101"), "district.unknown"),
        (REPORT, set_in("data.monthly_income_per_capita_fen", -5), "amount.negative"),
        (REPORT, set_in("data.members.0.birth_date", FUTURE), "date.in_future"),
        (REPORT, set_in("data.members", []), "field.invalid"),
        (REPORT, set_in("data.address", "路" * 201), "text.too_long"),
        (NEED, set_in("data.assessed_on", FUTURE), "date.in_future"),
        (NEED, set_in("data.urgency", 6), "field.invalid"),
        (NEED, set_in("data.need_id", "has space"), "field.invalid"),
        (CHANGE, set_in("data.amount_fen", -3), "amount.negative"),
        (CHANGE, set_in("data.period_end", "2026-01-01"), "period.end_before_start"),
    ],
)
def test_each_rule_has_its_reason_code(make, change, code: str) -> None:  # type: ignore[no-untyped-def]
    assert code in codes(changed(make, change))


def test_a_members_checksum_failure_is_a_flaw_naming_the_field_not_a_rejection() -> None:
    event = factory().household_reported()
    event["data"]["members"][0]["resident_id"] = bad_checksum(event["data"]["members"][0]["resident_id"])
    verdict = validate(orjson.dumps(event), "CA", NOW)
    assert isinstance(verdict, Valid)
    assert [(p.code, p.field) for p in verdict.flaws] == [("resident_id.checksum", "data.members[0].resident_id")]


def test_a_birth_date_disagreeing_with_a_members_number_is_a_flaw() -> None:
    event = factory().household_reported()
    member = event["data"]["members"][0]
    born = date.fromisoformat(member["birth_date"])
    member["birth_date"] = (born + timedelta(days=1)).isoformat()
    verdict = validate(orjson.dumps(event), "CA", NOW)
    assert isinstance(verdict, Valid)
    assert [p.code for p in verdict.flaws] == ["resident_id.birth_date_mismatch"]


def test_a_damaged_number_with_another_problem_is_rejected_with_both() -> None:
    event = factory().household_reported()
    event["data"]["members"][0]["resident_id"] = bad_checksum(event["data"]["members"][0]["resident_id"])
    event["data"]["district"] = "999999"
    assert set(codes(orjson.dumps(event))) >= {"resident_id.checksum", "district.unknown"}


def test_a_grants_failed_check_character_is_left_to_repair_among_the_household() -> None:
    event = factory().benefit_granted()
    event["data"]["resident_id"] = bad_checksum(event["data"]["resident_id"])
    verdict = validate(orjson.dumps(event), "CA", NOW)
    assert isinstance(verdict, Valid) and [(p.code, p.field) for p in verdict.flaws] == [("resident_id.checksum", "data.resident_id")]


def test_a_grants_number_of_the_wrong_length_is_rejected() -> None:
    event = factory().benefit_granted()
    event["data"]["resident_id"] = event["data"]["resident_id"][:15]
    assert codes(orjson.dumps(event)) == ["resident_id.length"]


def test_the_same_number_twice_in_a_household() -> None:
    event = factory().household_reported()
    members = event["data"]["members"]
    members.append({**members[0], "relation": "other"})
    assert "members.duplicate_resident_id" in codes(orjson.dumps(event))


def test_payload_limits_and_shapes() -> None:
    small = Limits(max_event_bytes=100)
    big = orjson.dumps(factory().benefit_granted())
    verdict = validate(big, "CA", NOW, small)
    assert isinstance(verdict, Invalid) and verdict.too_large
    assert codes(big, limits=small) == ["payload.too_large"]
    assert codes(b"[1, 2]") == ["payload.not_object"]
    assert codes(b"\xff\xfe") == ["payload.not_json"]


def test_every_problem_has_a_message() -> None:
    for way in range(len(INVALID_WAYS)):
        verdict = validate(factory().invalid(way)[0], "CA", NOW)
        assert isinstance(verdict, Invalid)
        assert all(p.message for p in verdict.problems)
