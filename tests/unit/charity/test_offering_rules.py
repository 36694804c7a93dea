"""Offering rules: input checks with messages a volunteer understands, capacity against what is
promised, and the status an offering has at a given time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.charity.offerings import CapacityProblem, OfferingChanges, OfferingInput, check_capacity, settle

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def offering(**changes: object) -> dict[str, object]:
    return {"title": "Winter food parcel", "category": "food", "programme": "CHARITY_FOOD", "kind": "goods", "unit": "parcel",
            "quantity_total": 10, "valid_from": "2026-12-01", "valid_until": "2027-01-31"} | changes


def problem(**changes: object) -> tuple[tuple[object, ...], str]:
    with pytest.raises(ValidationError) as caught:
        OfferingInput(**offering(**changes))  # type: ignore[arg-type]
    first = caught.value.errors()[0]
    return first["loc"], first["msg"]


def test_a_good_offering_passes() -> None:
    assert OfferingInput(**offering()).quantity_total == 10  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"quantity_total": -1}, "quantity_total", "greater than or equal to 1"),
        ({"quantity_total": 2_000_000}, "quantity_total", "less than or equal to 1000000"),
        ({"programme": "DIBAO"}, "programme", "CHARITY_FOOD"),
        ({"category": "pets"}, "category", "Input should be"),
        ({"service_area": {"districts": ["999999"]}}, "service_area", "unknown district"),
        ({"service_area": {"subdistricts": ["12"]}}, "service_area", "9 digits"),
        ({"eligibility": {"min_age": 70, "max_age": 60}}, "eligibility", "upside down"),
        ({"valid_until": "2026-11-01"}, None, "before valid_from"),
        ({"value_fen_per_unit": -5}, "value_fen_per_unit", "greater than or equal to 0"),
    ],
)
def test_bad_fields_name_the_field_and_say_why(changes: dict[str, object], field: str | None, words: str) -> None:
    loc, message = problem(**changes)
    if field is not None:
        assert loc[0] == field
    assert words in message


def test_changes_keep_only_what_was_given() -> None:
    assert OfferingChanges(quantity_total=5).given() == {"quantity_total": 5}


def test_capacity_may_not_fall_below_delivered_plus_promised() -> None:
    assert check_capacity(total=10, delivered=3, promised=4) == 7
    with pytest.raises(CapacityProblem, match="at least 7") as caught:
        check_capacity(total=6, delivered=3, promised=4)
    assert caught.value.field == "quantity_total"


def status(remaining: int = 5, valid_until: date = date(2027, 1, 31), confirmed: datetime = NOW, every: int = 14,
           now: datetime = NOW, current: str = "open") -> tuple[str, str | None]:
    return settle(current, None, remaining, valid_until, confirmed, every, now)  # type: ignore[arg-type]


def test_status_over_time() -> None:
    assert status() == ("open", None)
    assert status(remaining=0) == ("closed", "exhausted")
    assert status(now=datetime(2027, 2, 1, tzinfo=UTC)) == ("closed", "expired")
    assert status(now=NOW + timedelta(days=15)) == ("stale", None)
    assert status(now=NOW + timedelta(days=15), current="stale", confirmed=NOW + timedelta(days=15)) == ("open", None)
    assert status(remaining=0, current="withdrawn") == ("withdrawn", None)
