"""Bad input is refused with an error a consumer can turn into a rejection, never a crash.

`EventRegistry.parse` promises three errors, all ValueErrors: UnknownEventType (no such
type/version, or not an object), pydantic's ValidationError (the shape is wrong), and orjson's
JSONDecodeError (not JSON at all). Anything else escaping would crash a consumer."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from contracts.department import DEPARTMENT_EVENTS, BenefitGranted, HouseholdReported
from contracts.envelope import UnknownEventType
from contracts.hub import HUB_EVENTS

EXPECTED = (UnknownEventType, ValidationError, orjson.JSONDecodeError)


def refuse(raw: Any, registry=DEPARTMENT_EVENTS) -> Exception:
    try:
        registry.parse(raw)
    except EXPECTED as error:
        assert isinstance(error, ValueError)
        assert str(error)  # says why
        return error
    raise AssertionError(f"accepted: {raw!r}")


@pytest.fixture
def body(example_of) -> dict[str, Any]:
    return orjson.loads(example_of(BenefitGranted).to_bytes())


# --- unknown type or version -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "version"),
    [("benefit.granted", 2), ("benefit.granted", 0), ("benefit.granted", -1), ("no.such.event", 1), ("", 1), (None, 1)],
)
def test_unknown_type_or_version(body, event_type, version) -> None:
    error = refuse(body | {"type": event_type, "schema_version": version})
    assert isinstance(error, UnknownEventType)


@pytest.mark.parametrize("version", ["1", 1.0, True, None, [1], {"v": 1}])
def test_version_must_be_an_integer(body, version) -> None:
    assert isinstance(refuse(body | {"schema_version": version}), UnknownEventType)


def test_missing_type_and_version(body) -> None:
    assert isinstance(refuse({k: v for k, v in body.items() if k != "type"}), UnknownEventType)
    assert isinstance(refuse({k: v for k, v in body.items() if k != "schema_version"}), UnknownEventType)


def test_an_event_of_the_other_registry_is_unknown(example_of) -> None:
    from contracts.hub import BenefitRecorded

    assert isinstance(refuse(example_of(BenefitRecorded).to_bytes(), DEPARTMENT_EVENTS), UnknownEventType)
    assert isinstance(refuse(example_of(BenefitGranted).to_bytes(), HUB_EVENTS), UnknownEventType)


# --- not an object, not JSON ------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"[]", b"[{}]", b"1", b"1.5", b'"benefit.granted"', b"null", b"true"])
def test_non_object_json(raw: bytes) -> None:
    assert isinstance(refuse(raw), UnknownEventType)


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"{'type': 1}", b"\xff\xfe", b'{"type": "benefit.granted",}', b"NaN", b"[" * 2000, b"1" * 400],
    ids=["empty", "truncated", "single-quotes", "not-utf8", "trailing-comma", "nan", "too-deep", "huge-int"],
)
def test_bad_json(raw: bytes) -> None:
    error = refuse(raw)
    assert isinstance(error, orjson.JSONDecodeError | UnknownEventType)


def test_bad_json_as_text() -> None:
    assert isinstance(refuse("{not json"), orjson.JSONDecodeError)


# --- wrong shape -------------------------------------------------------------------------------


def test_extra_envelope_field(body) -> None:
    error = refuse(body | {"priority": "high"})
    assert isinstance(error, ValidationError)
    assert error.errors()[0]["type"] == "extra_forbidden"


def test_extra_data_field(body) -> None:
    error = refuse(body | {"data": body["data"] | {"resident_name": "张伟"}})
    assert isinstance(error, ValidationError)
    assert error.errors()[0]["loc"] == ("data", "resident_name")


def test_extra_field_in_a_nested_model(example_of) -> None:
    body = orjson.loads(example_of(HouseholdReported).to_bytes())
    body["data"]["members"][0]["phone"] = "13800000000"
    assert isinstance(refuse(body), ValidationError)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"source": None}, "string_type"),
        ({"source": "bad source!"}, "string_pattern_mismatch"),
        ({"event_id": ""}, "string_pattern_mismatch"),
        ({"household_id": "x" * 65}, "string_too_long"),
        ({"occurred_at": "2026-04-01T08:30:00"}, "timezone_aware"),
        ({"occurred_at": "yesterday"}, "datetime_from_date_parsing"),
        ({"data": None}, "model_type"),
        ({"data": []}, "model_type"),
    ],
)
def test_bad_envelope_values(body, change, problem) -> None:
    error = refuse(body | change)
    assert isinstance(error, ValidationError)
    assert problem in {e["type"] for e in error.errors()}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"benefit_id": None}, "string_type"),
        ({"benefit_id": "has space"}, "string_pattern_mismatch"),
        ({"programme": "P" * 33}, "string_too_long"),
        ({"amount_fen": "a lot"}, "int_parsing"),
        ({"period_start": "2026-13-01"}, "date_from_datetime_parsing"),
    ],
)
def test_bad_data_values(body, change, problem) -> None:
    error = refuse(body | {"data": body["data"] | change})
    assert isinstance(error, ValidationError)
    assert problem in {e["type"] for e in error.errors()}


def test_missing_required_data_field(body) -> None:
    data = {k: v for k, v in body["data"].items() if k != "period_start"}
    error = refuse(body | {"data": data})
    assert isinstance(error, ValidationError)
    assert error.errors()[0]["type"] == "missing"


def test_household_needs_at_least_one_member(example_of) -> None:
    body = orjson.loads(example_of(HouseholdReported).to_bytes())
    body["data"]["members"] = []
    assert isinstance(refuse(body), ValidationError)


def test_refused_bytes_fuzz() -> None:
    """Arbitrary byte strings never escape as anything but the three expected errors."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None)
    @given(st.one_of(st.binary(max_size=64), st.from_regex(rb'\A\{"type": ?"[a-z.]{0,20}", ?"schema_version": ?-?\d{1,3}\}\Z')))
    def check(raw: bytes) -> None:
        try:
            DEPARTMENT_EVENTS.parse(raw)
        except EXPECTED:
            pass

    check()
