"""Every registered event survives the wire: model -> bytes -> registry -> the same model."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.department import DEPARTMENT_EVENTS, HouseholdReported
from contracts.envelope import Event
from contracts.hub import HUB_EVENTS, HouseholdRecorded

REGISTRIES = {"department": DEPARTMENT_EVENTS, "hub": HUB_EVENTS}
ALL = [(origin, model) for origin, registry in REGISTRIES.items() for model in registry.models()]
IDS = [f"{model.TYPE}.v{model.VERSION}" for _, model in ALL]


def test_every_event_has_an_example(example_data) -> None:
    registered = {(model.TYPE, model.VERSION) for _, model in ALL}
    assert registered == set(example_data), "add an example to tests/unit/contracts/conftest.py"


def test_type_and_version_pairs_are_unique_across_registries() -> None:
    pairs = [(model.TYPE, model.VERSION) for _, model in ALL]
    assert len(pairs) == len(set(pairs))


@pytest.mark.parametrize(("origin", "model"), ALL, ids=IDS)
def test_round_trip_through_bytes(origin: str, model: type[Event], example_of) -> None:
    event = example_of(model)
    raw = event.to_bytes()

    parsed = REGISTRIES[origin].parse(raw)

    assert type(parsed) is model
    assert parsed == event
    assert parsed.to_bytes() == raw  # stable encoding: re-serialising changes nothing


@pytest.mark.parametrize(("origin", "model"), ALL, ids=IDS)
def test_round_trip_through_str_and_dict(origin: str, model: type[Event], example_of) -> None:
    event = example_of(model)
    registry = REGISTRIES[origin]

    assert registry.parse(event.to_bytes().decode()) == event
    assert registry.parse(orjson.loads(event.to_bytes())) == event
    latest = registry.parse_latest(event.to_bytes())
    if model.VERSION == max(m.VERSION for m in registry.models() if m.TYPE == model.TYPE):
        assert latest == event  # already the newest: nothing to lift
    else:
        assert latest.TYPE == model.TYPE and latest.VERSION > model.VERSION  # an old version is lifted
        assert latest.event_id == event.event_id and latest.household_id == event.household_id


@pytest.mark.parametrize(("origin", "model"), ALL, ids=IDS)
def test_wire_form_carries_type_and_version(origin: str, model: type[Event], example_of) -> None:
    body = orjson.loads(example_of(model).to_bytes())
    assert body["type"] == model.TYPE
    assert body["schema_version"] == model.VERSION
    assert set(body) == {"event_id", "type", "schema_version", "occurred_at", "source", "household_id", "correlation_id", "data"}


@pytest.mark.parametrize(("origin", "model"), ALL, ids=IDS)
def test_events_are_immutable(origin: str, model: type[Event], example_of) -> None:
    event = example_of(model)
    with pytest.raises(ValueError):
        event.source = "HRSS"  # type: ignore[misc]


def test_caused_event_keeps_the_correlation_id(example_of) -> None:
    recorded = example_of(HouseholdRecorded, correlation_id="flow-9")
    follow_on = recorded.caused(HouseholdRecorded, source="intake", data=recorded.data)
    assert follow_on.correlation_id == "flow-9"
    assert follow_on.event_id != recorded.event_id


_text = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=64)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=_text, address=st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=200))
def test_any_unicode_text_round_trips(name: str, address: str, example_of) -> None:
    base = example_of(HouseholdReported)
    data = base.data.model_copy(update={"address": address, "members": [base.data.members[0].model_copy(update={"name": name})]})
    event = base.model_copy(update={"data": data})
    assert DEPARTMENT_EVENTS.parse(event.to_bytes()) == event
