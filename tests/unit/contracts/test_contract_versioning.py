"""The versioning rule, shown on a breaking change to `benefit.granted`.

Version 2 (defined here only, as a worked example) generalises amounts to any currency: it renames
`amount_fen` to `amount_minor` (minor units) and adds a required `currency`. Version 3 then turns
the single `need_id` into a list. Each version is its own model registered beside the old ones;
what was written as v1 keeps parsing as v1, and upcasters lift it step by step to the newest.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import orjson
import pytest
from pydantic import Field, ValidationError

from contracts.department import DEPARTMENT_EVENTS, BenefitGranted, HouseholdReported
from contracts.envelope import (
    CODE_PATTERN,
    Event,
    EventData,
    EventRegistry,
    UnknownEventType,
)


class BenefitGrantedDataV2(EventData):
    benefit_id: str = Field(pattern=CODE_PATTERN)
    programme: str = Field(max_length=32)
    resident_id: str | None = Field(default=None, max_length=32)
    amount_minor: int | None = Field(default=None, description="Minor units of `currency`")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")
    in_kind: str | None = Field(default=None, max_length=200)
    period_start: date
    period_end: date | None = None
    need_id: str | None = Field(default=None, pattern=CODE_PATTERN)


class BenefitGrantedV2(Event):
    type: Literal["benefit.granted"] = "benefit.granted"
    schema_version: Literal[2] = 2
    data: BenefitGrantedDataV2


class BenefitGrantedDataV3(EventData):
    benefit_id: str = Field(pattern=CODE_PATTERN)
    programme: str = Field(max_length=32)
    resident_id: str | None = Field(default=None, max_length=32)
    amount_minor: int | None = None
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    in_kind: str | None = Field(default=None, max_length=200)
    period_start: date
    period_end: date | None = None
    need_ids: list[str] = Field(default_factory=list)


class BenefitGrantedV3(Event):
    type: Literal["benefit.granted"] = "benefit.granted"
    schema_version: Literal[3] = 3
    data: BenefitGrantedDataV3


def v1_to_v2(event: Event) -> Event:
    assert isinstance(event, BenefitGranted)
    data = event.data.model_dump(exclude={"amount_fen"})
    upgraded = {**event.model_dump(exclude={"type", "schema_version", "data"}), "data": {**data, "amount_minor": event.data.amount_fen, "currency": "CNY"}}
    return BenefitGrantedV2.model_validate(upgraded)


def v2_to_v3(event: Event) -> Event:
    assert isinstance(event, BenefitGrantedV2)
    data = event.data.model_dump(exclude={"need_id"})
    need_ids = [event.data.need_id] if event.data.need_id else []
    return BenefitGrantedV3.model_validate({**event.model_dump(exclude={"type", "schema_version", "data"}), "data": {**data, "need_ids": need_ids}})


@pytest.fixture
def registry_v2() -> EventRegistry:
    """Every v1 department model plus BenefitGranted v2, with the v1 -> v2 upcaster."""
    registry = EventRegistry(*DEPARTMENT_EVENTS.models(), BenefitGrantedV2)
    registry.register_upcaster(BenefitGranted, v1_to_v2)
    return registry


@pytest.fixture
def written_by_v1(example_of) -> tuple[BenefitGranted, bytes]:
    """A v1 event as a department system of last year wrote it to Kafka."""
    event = example_of(BenefitGranted)
    return event, event.to_bytes()


def test_both_versions_are_registered_side_by_side(registry_v2: EventRegistry) -> None:
    assert registry_v2.model_for("benefit.granted", 1) is BenefitGranted
    assert registry_v2.model_for("benefit.granted", 2) is BenefitGrantedV2
    assert len(registry_v2.models()) == len(DEPARTMENT_EVENTS.models()) + 1


def test_v1_json_still_parses_as_v1(registry_v2: EventRegistry, written_by_v1) -> None:
    original, raw = written_by_v1
    parsed = registry_v2.parse(raw)
    assert type(parsed) is BenefitGranted
    assert parsed == original


def test_upcaster_lifts_v1_to_v2_on_parse_latest(registry_v2: EventRegistry, written_by_v1) -> None:
    original, raw = written_by_v1
    latest = registry_v2.parse_latest(raw)

    assert type(latest) is BenefitGrantedV2
    assert latest.schema_version == 2
    assert latest.data.amount_minor == original.data.amount_fen
    assert latest.data.currency == "CNY"
    # the envelope is the same event: id, time, subject and flow are kept
    for name in ("event_id", "occurred_at", "source", "household_id", "correlation_id"):
        assert getattr(latest, name) == getattr(original, name)
    assert latest.data.benefit_id == original.data.benefit_id
    assert latest.data.period_start == original.data.period_start


def test_v2_json_parses_as_v2_and_is_already_latest(registry_v2: EventRegistry, written_by_v1) -> None:
    v2 = registry_v2.parse_latest(written_by_v1[1])
    raw = v2.to_bytes()
    assert registry_v2.parse(raw) == v2
    assert registry_v2.parse_latest(raw) == v2


def test_other_events_are_untouched_by_the_upcaster(registry_v2: EventRegistry, example_of) -> None:
    reported = example_of(HouseholdReported)
    assert registry_v2.parse_latest(reported.to_bytes()) == reported


def test_a_v1_body_labelled_v2_is_refused(registry_v2: EventRegistry, written_by_v1) -> None:
    body = orjson.loads(written_by_v1[1]) | {"schema_version": 2}
    with pytest.raises(ValidationError) as error:
        registry_v2.parse(body)
    problems = {(e["loc"][-1], e["type"]) for e in error.value.errors()}
    assert ("currency", "missing") in problems
    assert ("amount_fen", "extra_forbidden") in problems


def test_a_v2_body_labelled_v1_is_refused(registry_v2: EventRegistry, written_by_v1) -> None:
    body = orjson.loads(registry_v2.parse_latest(written_by_v1[1]).to_bytes()) | {"schema_version": 1}
    with pytest.raises(ValidationError):
        registry_v2.parse(body)


def test_a_consumer_that_only_knows_v1_refuses_v2_explicitly(registry_v2: EventRegistry, written_by_v1) -> None:
    raw = registry_v2.parse_latest(written_by_v1[1]).to_bytes()
    with pytest.raises(UnknownEventType, match="benefit.granted.*2"):
        DEPARTMENT_EVENTS.parse(raw)


def test_upcasters_chain_through_every_version(written_by_v1) -> None:
    registry = EventRegistry(*DEPARTMENT_EVENTS.models(), BenefitGrantedV2, BenefitGrantedV3)
    registry.register_upcaster(BenefitGrantedV2, v2_to_v3)
    registry.register_upcaster(BenefitGranted, v1_to_v2)
    original, raw = written_by_v1

    latest = registry.parse_latest(raw)

    assert type(latest) is BenefitGrantedV3
    assert latest.data.need_ids == [original.data.need_id]
    assert latest.data.currency == "CNY"
    assert latest.event_id == original.event_id


def test_a_version_cannot_be_registered_twice() -> None:
    registry = EventRegistry(BenefitGranted, BenefitGrantedV2)
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(BenefitGrantedV2)


def test_the_production_registries_do_not_contain_the_examples() -> None:
    # the example versions above live in this test only
    with pytest.raises(UnknownEventType):
        DEPARTMENT_EVENTS.model_for("benefit.granted", 2)
