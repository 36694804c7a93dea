"""Property-based bad events into intake's HTTP API: events built from the contracts' own models
(every department event type, every field of its envelope and data) and then broken by Hypothesis
(a field dropped, given a value of another type, made too long, an unknown field added, the
whole body replaced by other JSON). No answer is a 5xx, and every refusal says why."""

from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.department import DEPARTMENT_EVENTS, BenefitChanged, BenefitEnded, BenefitGranted, HouseholdReported, NeedAssessed, NeedWithdrawn
from tests.faults.conftest import SCALE, figures

pytestmark = [pytest.mark.faults, pytest.mark.timeout(1800)]
NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
RESIDENT_ID = "310104198001010025"


def valid_events() -> list[dict[str, Any]]:
    """One valid event of each department type, made through the contract's models."""
    envelope = {"occurred_at": NOW, "source": "CA", "household_id": "CA-HH-PROP"}
    made = [
        HouseholdReported(event_id="prop-hh", **envelope, data={"district": "310104", "address": "徐汇区漕溪北路1号", "category": "dibao",
                          "colour": "red", "members": [{"resident_id": RESIDENT_ID, "name": "王芳", "birth_date": date(1980, 1, 1),
                                                        "sex": "F", "relation": "head"}]}),
        NeedAssessed(event_id="prop-need", **envelope, data={"need_id": "n-1", "category": "medical", "description": "住院",
                     "urgency": 4, "assessed_on": date(2026, 10, 1)}),
        NeedWithdrawn(event_id="prop-withdrawn", **envelope, data={"need_id": "n-1", "reason": "已解决"}),
        BenefitGranted(event_id="prop-grant", **envelope, data={"benefit_id": "b-1", "programme": "TEMPORARY", "amount_fen": 100_000,
                       "period_start": date(2026, 10, 1), "period_end": date(2026, 10, 1)}),
        BenefitChanged(event_id="prop-change", **envelope, data={"benefit_id": "b-1", "effective_on": date(2026, 10, 5), "amount_fen": 50_000}),
        BenefitEnded(event_id="prop-end", **envelope, data={"benefit_id": "b-1", "ended_on": date(2026, 10, 6)}),
    ]
    assert {type(e) for e in made} == set(DEPARTMENT_EVENTS.models())
    return [orjson.loads(e.to_bytes()) for e in made]


VALID = valid_events()
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += paths(inner, (*prefix, index))
    return found


@st.composite
def bad_events(draw: st.DrawFn) -> Any:
    event = copy.deepcopy(draw(st.sampled_from(VALID)))
    how = draw(st.sampled_from(["drop", "retype", "long", "unknown", "replace", "several"]))
    if how == "replace":
        return draw(json_values)
    for _ in range(draw(st.integers(1, 4)) if how == "several" else 1):
        path = draw(st.sampled_from(paths(event)))
        parent = event
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        action = draw(st.sampled_from(["drop", "retype", "long", "unknown"])) if how == "several" else how
        if action == "drop" and isinstance(parent, dict):
            parent.pop(last, None)
        elif action == "long":
            parent[last] = draw(st.text(min_size=1, max_size=3)) * draw(st.integers(100, 30_000))
        elif action == "unknown" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=12))] = draw(json_values)
        else:
            parent[last] = draw(json_values)
    return event


def has_reason(answer: dict[str, Any]) -> bool:
    detail = answer.get("detail")
    return bool(answer.get("reasons")) or bool(detail)


def test_bad_events_into_intake_get_no_5xx_and_every_refusal_has_a_reason(hub_processes, sent_in) -> None:  # type: ignore[no-untyped-def]
    sent_in.resident_ids.add(RESIDENT_ID)
    sent_in.names.add("王芳")
    processes = hub_processes("badevents").start("intake")
    tally: Counter[str] = Counter()
    client = httpx.Client(base_url=processes["intake"].url, headers={"X-API-Key": "dev-ca-key"}, timeout=30)

    @settings(max_examples=SCALE.bad_inputs, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(body=bad_events(), batch=st.booleans())
    def post(body: Any, batch: bool) -> None:
        payload = json.dumps([body] if batch else body, ensure_ascii=False).encode()  # big integers too
        response = client.post("/events", content=payload, headers={"Content-Type": "application/json"})
        tally["tried"] += 1
        tally["5xx"] += response.status_code >= 500
        assert response.status_code < 500, (response.status_code, response.text[:500])
        answer = response.json()
        results = answer.get("results", [answer]) if response.status_code == 200 and batch else [answer]
        if response.status_code >= 400:
            tally["refused"] += 1
            assert has_reason(answer), answer
            tally["refused with a reason"] += 1
            return
        for result in results:
            tally[result.get("status", "?")] += 1
            if result.get("status") == "rejected":
                tally["refused"] += 1
                assert result.get("reasons"), result
                tally["refused with a reason"] += 1

    try:
        post()
    finally:
        client.close()
        figures("property-based bad events into intake (HTTP)", bad_inputs_tried=tally["tried"], refusals=tally["refused"],
                refusals_with_a_reason=tally["refused with a reason"], accepted_anyway=tally["accepted"] + tally["pending"] + tally["duplicate"],
                five_xx_seen=tally["5xx"])
    assert processes["intake"].alive()
    assert tally["refused"] == tally["refused with a reason"] > 0
