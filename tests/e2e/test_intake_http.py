"""Intake's HTTP way in, against a running intake process: keys, scope, every 4xx, batches, and
staff resolving an identity review after which the held events flow on in order."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import httpx
import orjson

from bench.intake_events import EventFactory, resident_id

CA = {"X-API-Key": "dev-ca-key"}
STAFF = {"X-API-Key": "dev-staff-key"}


def post(url: str, body: Any, headers: dict[str, str] = CA) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return httpx.post(f"{url}/events", content=content, headers={**headers, "content-type": "application/json"}, timeout=30)


def test_keys_scope_and_every_4xx(start_service) -> None:
    url = start_service("intake").url
    f = EventFactory("CA", seed=5)
    household = f.household_reported()

    assert post(url, household, headers={}).status_code == 401
    assert post(url, household, headers={"X-API-Key": "no-such-key"}).status_code == 401
    assert post(url, household, headers=STAFF).status_code == 403

    other = f.benefit_granted()
    other["source"] = "HRSS"
    refused = post(url, [household, other])
    assert refused.status_code == 403 and refused.json()["detail"]["items"] == [1]
    medical = f.benefit_granted()
    medical["data"]["programme"] = "MEDICAL"
    refused = post(url, medical)
    assert refused.status_code == 403 and refused.json()["detail"]["code"] == "scope.programme"

    assert post(url, b"{not json").status_code == 400
    assert post(url, []).status_code == 400
    assert post(url, 42).status_code == 400
    assert post(url, [household] * 1001).status_code == 413
    huge = f.need_assessed()
    huge["data"]["description"] = "x" * 70_000
    assert post(url, huge).status_code == 413

    bad = f.need_assessed()
    bad["data"]["urgency"] = 9
    rejected = post(url, bad)
    assert rejected.status_code == 422
    assert rejected.json()["status"] == "rejected"
    assert [r["code"] for r in rejected.json()["reasons"]] == ["field.invalid"]

    accepted = post(url, household)
    assert accepted.status_code == 202 and accepted.json()["status"] == "accepted"
    again = post(url, household)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"

    unknown = f.benefit_granted()
    unknown["household_id"] = "never-reported"
    batch = post(url, [f.benefit_granted(f.households[0]), bad, unknown, household])
    assert batch.status_code == 200
    summary = batch.json()
    assert [r["status"] for r in summary["results"]] == ["accepted", "rejected", "rejected", "duplicate"]
    assert summary["results"][2]["reasons"][0]["code"] == "household.unknown"
    assert (summary["accepted"], summary["rejected"], summary["duplicate"]) == (1, 2, 1)

    assert httpx.get(f"{url}/identity-reviews", headers=CA).status_code == 403
    missing = httpx.post(f"{url}/identity-reviews/nope/resolve", json={"decision": "new_person"}, headers=STAFF)
    assert missing.status_code == 404
    invalid = httpx.post(f"{url}/identity-reviews/nope/resolve", json={"decision": "maybe"}, headers=STAFF)
    assert invalid.status_code == 422

    metrics = httpx.get(f"{url}/metrics").text
    assert 'intake_events_accepted_total{channel="http",department="CA"} 2.0' in metrics
    assert 'intake_rejection_reasons_total{reason="household.unknown"} 1.0' in metrics


def namesake(f: EventFactory, ref: str, number: str | None) -> dict[str, Any]:
    event = f.household_reported()
    event["household_id"] = ref
    event["data"]["district"] = "310115"
    event["data"]["address"] = "浦东新区张杨路1234弄5号601室"
    event["data"]["members"] = [{"resident_id": number, "name": "李明", "birth_date": "1990-05-01", "relation": "head"}]
    return event


def test_staff_resolve_a_review_and_held_events_flow_on_in_order(start_service) -> None:
    url = start_service("intake").url
    f = EventFactory("CA", seed=6)
    rng = random.Random(1)
    born = date(1990, 5, 1)
    twins = [resident_id(rng, born, male=True), resident_id(rng, born, male=True)]
    known = post(url, [namesake(f, "twin-a", twins[0]), namesake(f, "twin-b", twins[1])]).json()
    assert known["accepted"] == 2

    unclear = namesake(f, "h-unclear", None)
    grant = f.benefit_granted()
    grant["household_id"] = "h-unclear"
    grant["data"]["resident_id"] = None
    held = post(url, [unclear, grant]).json()["results"]
    assert [r["status"] for r in held] == ["pending", "pending"]
    record_id = held[0]["review_ids"][0]

    reviews = httpx.get(f"{url}/identity-reviews", headers=STAFF).json()
    assert [r["record_id"] for r in reviews] == [record_id]
    candidates = reviews[0]["candidates"]
    assert len(candidates) == 2 and all(c["display_name"] == "李*" for c in candidates)

    wrong = httpx.post(f"{url}/identity-reviews/{record_id}/resolve", json={"decision": "same_person", "person_key": "p_nobody"}, headers=STAFF)
    assert wrong.status_code == 422
    chosen = candidates[1]["person_key"]
    forged = httpx.post(f"{url}/identity-reviews/{record_id}/resolve", json={"decision": "new_person"},
                        headers={**STAFF, "X-Acting-User": "Rita Smith"})
    assert forged.status_code == 422 and forged.json()["detail"][0]["loc"] == ["header", "X-Acting-User"]
    resolved = httpx.post(f"{url}/identity-reviews/{record_id}/resolve", json={"decision": "same_person", "person_key": chosen},
                          headers={**STAFF, "X-Acting-User": "rita"})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["resolved_by"] == "rita (reviewer-1)"  # the person acting through the staff key, recorded
    released = resolved.json()["released"]
    assert [(r["status"], r["event_id"]) for r in released] == [("accepted", unclear["event_id"]), ("accepted", grant["event_id"])]
    again = httpx.post(f"{url}/identity-reviews/{record_id}/resolve", json={"decision": "new_person"}, headers=STAFF)
    assert again.status_code == 409 and "rita (reviewer-1)" in again.json()["detail"]
    assert httpx.get(f"{url}/identity-reviews", headers=STAFF).json() == []

    after = f.need_assessed()
    after["household_id"] = "h-unclear"
    assert post(url, after).json()["status"] == "accepted", "the household is no longer held"
