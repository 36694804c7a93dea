"""The ledger as its own process on the real broker: two departments grant benefits the policy
forbids together to one person -> exactly one alert, on the alerts topic, in the review API and
in the pre-grant check; a reviewer decides it; charities are kept out; bad input gets a 4xx."""

from __future__ import annotations

import time
from datetime import date

import httpx
import pytest

from bench.ledger_tools import publish, read_until
from contracts.hub import (
    BenefitRecorded,
    DuplicateServiceAlertDecided,
    DuplicateServiceAlertRaised,
    HouseholdRecorded,
    HouseholdStateV2,
)
from contracts.topics import ALERTS, CANONICAL, HOUSEHOLD_STATE
from services.ledger.identity import person_key

SECRET = b"development-only-secret-change-me"  # HubSettings' default, which the service uses here
RESIDENT_ID = "11010519491231002X"
PERSON = person_key(RESIDENT_ID, SECRET)
HOUSEHOLD = "hh-e2e-1"
CA, DPF, STAFF, CHARITY = "dev-ca-key", "dev-dpf-key", "dev-staff-key", "dev-charity-key"


def household() -> HouseholdRecorded:
    return HouseholdRecorded(source="intake", household_id=HOUSEHOLD, data={
        "department": "CA", "department_household_ref": "CA-1", "district": "310104", "category": "extreme_poverty",
        "colour": "orange", "monthly_income_per_capita_fen": 60_000,
        "members": [{"person_key": PERSON, "display_name": "王*", "masked_resident_id": "110105********002X"}],
    })


def grant(benefit_id: str, programme: str, source: str) -> BenefitRecorded:
    return BenefitRecorded(source="intake", household_id=HOUSEHOLD, data={
        "benefit_id": benefit_id, "programme": programme, "source": source, "person_key": PERSON,
        "amount_fen": 140_000, "period_start": date(2026, 3, 1),
    })


def counted(url: str, outcome: str) -> float:
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith(f'ledger_events_total{{outcome="{outcome}"}}'):
            return float(line.split()[-1])
    return 0.0


def wait_for_count(url: str, outcome: str, count: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while counted(url, outcome) < count:
        assert time.monotonic() < deadline, f"{outcome}: {counted(url, outcome)}, expected {count}"
        time.sleep(0.1)


def raised(events: list) -> list[DuplicateServiceAlertRaised]:
    return [e for e in events if isinstance(e, DuplicateServiceAlertRaised)]


async def test_two_departments_overlapping_grants_raise_exactly_one_alert(start_service, hub) -> None:
    ledger = start_service("ledger")
    reported = household()
    support, allowance = grant("CA:es-1", "EXTREME_POVERTY", "CA"), grant("DPF:sd-1", "SEVERE_DISABILITY", "DPF")
    await publish(hub, CANONICAL, [reported, support])
    await read_until(hub, HOUSEHOLD_STATE, lambda events: len(events) >= 1, timeout=20)

    sent_at = time.monotonic()
    await publish(hub, CANONICAL, [allowance])
    alerts = await read_until(hub, ALERTS, lambda events: bool(raised(events)), timeout=20)
    alert_latency = time.monotonic() - sent_at
    assert len(raised(alerts)) == 1
    assert alert_latency < 1.0, f"alert took {alert_latency:.3f}s"

    # Redelivery of every event changes nothing: still exactly one alert.
    await publish(hub, CANONICAL, [reported, support, allowance])
    wait_for_count(ledger.url, "duplicates", 3)
    states = await read_until(hub, HOUSEHOLD_STATE, lambda events: False, timeout=1)
    alerts = await read_until(hub, ALERTS, lambda events: False, timeout=1)
    (alert,) = raised(alerts)
    assert alert.data.rule_id == "R-EXCL-EXTREME-DISABILITY"
    assert {(b.programme, b.source) for b in alert.data.benefits} == {("EXTREME_POVERTY", "CA"), ("SEVERE_DISABILITY", "DPF")}
    assert isinstance(states[-1], HouseholdStateV2)
    assert states[-1].data.programmes == ["EXTREME_POVERTY", "SEVERE_DISABILITY"]
    assert len(states) == 2  # one per batch that changed the household; duplicates change nothing

    with httpx.Client(base_url=ledger.url, timeout=10) as client:
        listed = client.get("/review/alerts", params={"status": "open", "district": "310104"}, headers={"X-API-Key": STAFF})
        assert listed.status_code == 200, listed.text
        assert [a["alert_id"] for a in listed.json()["alerts"]] == [alert.data.alert_id]

        check = client.post("/pre-grant-check", headers={"X-API-Key": DPF}, json={
            "resident_id": RESIDENT_ID, "programme": "SEVERE_DISABILITY", "period_start": "2026-04-01", "amount_fen": 140_000})
        assert check.status_code == 200, check.text
        assert check.json()["allowed"] is False and check.json()["household_id"] == HOUSEHOLD
        assert check.json()["conflicts"][0]["rule_id"] == "R-EXCL-EXTREME-DISABILITY"
        clean = client.post("/pre-grant-check", headers={"X-API-Key": CA}, json={
            "household_id": HOUSEHOLD, "programme": "TEMPORARY", "period_start": "2026-04-01", "amount_fen": 50_000})
        assert clean.json()["allowed"] is True, clean.text

        assert client.get("/review/alerts", headers={"X-API-Key": CHARITY}).status_code == 403
        assert client.get("/review/alerts").status_code == 401

        decided = client.post(f"/review/alerts/{alert.data.alert_id}/decision", headers={"X-API-Key": STAFF},
                              json={"decision": "confirmed_duplicate", "note": "DPF allowance stopped; March recovered"})
        assert decided.status_code == 200, decided.text
        assert decided.json()["status"] == "confirmed_duplicate" and decided.json()["decided_by"] == "reviewer-1"
        again = client.post(f"/review/alerts/{alert.data.alert_id}/decision", headers={"X-API-Key": STAFF},
                            json={"decision": "justified", "note": "changed my mind"})
        assert again.status_code == 409

        view = client.get(f"/review/households/{HOUSEHOLD}", headers={"X-API-Key": STAFF}).json()
        assert {b["benefit_id"] for b in view["benefits"]} == {"CA:es-1", "DPF:sd-1"}
        assert [e["type"] for e in view["timeline"]].count("benefit.recorded") == 2
        assert view["members"][0]["display_name"] == "王*"

        trail = client.get("/review/audit", params={"target_id": alert.data.alert_id}, headers={"X-API-Key": STAFF}).json()
        assert [e["action"] for e in trail["entries"]] == ["decide_alert"]
        assert trail["entries"][0]["actor"] == "reviewer-1"

        stats = client.get("/stats/alerts", headers={"X-API-Key": STAFF}).json()
        assert stats["total_open"] == 0  # decided
        table = client.get("/stats/benefits", params={"from": "2026-03", "to": "2026-04"}, headers={"X-API-Key": STAFF}).json()
        assert {(r["month"], r["programme"], r["households"]) for r in table["rows"]} >= {("2026-03", "EXTREME_POVERTY", 1)}

    decisions = await read_until(hub, ALERTS, lambda events: any(isinstance(e, DuplicateServiceAlertDecided) for e in events), timeout=10)
    assert [e.data.decided_by for e in decisions if isinstance(e, DuplicateServiceAlertDecided)] == ["reviewer-1"]


BAD_REQUESTS = [
    ("post", "/pre-grant-check", CA, {"programme": "DIBAO", "period_start": "2026-01-01"}, 422),  # no subject
    ("post", "/pre-grant-check", CA, {"household_id": "h", "resident_id": RESIDENT_ID, "programme": "DIBAO", "period_start": "2026-01-01"}, 422),
    ("post", "/pre-grant-check", CA, {"resident_id": "12345", "programme": "DIBAO", "period_start": "2026-01-01"}, 422),
    ("post", "/pre-grant-check", CA, {"household_id": "h", "programme": "NOPE", "period_start": "2026-01-01"}, 422),
    ("post", "/pre-grant-check", CA, {"household_id": "h", "programme": "DIBAO", "period_start": "yesterday"}, 422),
    ("post", "/pre-grant-check", CA, {"household_id": "h", "programme": "DIBAO", "period_start": "2026-02-01", "period_end": "2026-01-01"}, 422),
    ("post", "/pre-grant-check", CA, {"household_id": "h", "programme": "DIBAO", "period_start": "2026-01-01", "amount_fen": -1}, 422),
    ("post", "/pre-grant-check", CA, {"household_id": "h", "programme": "MEDICAL", "period_start": "2026-01-01"}, 403),
    ("post", "/pre-grant-check", CA, {"household_id": "nobody", "programme": "DIBAO", "period_start": "2026-01-01"}, 404),
    ("post", "/pre-grant-check", CHARITY, {"household_id": "h", "programme": "DIBAO", "period_start": "2026-01-01"}, 403),
    ("post", "/pre-grant-check", None, {"household_id": "h", "programme": "DIBAO", "period_start": "2026-01-01"}, 401),
    ("post", "/pre-grant-check", CA, "not json", 422),
    ("get", "/review/alerts?severity=urgent", STAFF, None, 422),
    ("get", "/review/alerts?status=lost", STAFF, None, 422),
    ("get", "/review/alerts?limit=0", STAFF, None, 422),
    ("get", "/review/alerts?min_age_days=-1", STAFF, None, 422),
    ("get", "/review/alerts", CA, None, 403),
    ("get", "/review/alerts/A-nothing", STAFF, None, 404),
    ("get", "/review/alerts/bad%20id", STAFF, None, 422),
    ("post", "/review/alerts/A-nothing/decision", STAFF, {"decision": "justified", "note": "fine"}, 404),
    ("post", "/review/alerts/A-nothing/decision", STAFF, {"decision": "maybe", "note": "fine"}, 422),
    ("post", "/review/alerts/A-nothing/decision", STAFF, {"decision": "justified", "note": ""}, 422),
    ("post", "/review/alerts/A-nothing/decision", CHARITY, {"decision": "justified", "note": "fine"}, 403),
    ("get", "/review/households/nobody", STAFF, None, 404),
    ("get", "/review/households/nobody", CHARITY, None, 403),
    ("get", "/review/audit?limit=100000", STAFF, None, 422),
    ("get", "/stats/benefits", STAFF, None, 422),
    ("get", "/stats/benefits?from=2026-13", STAFF, None, 422),
    ("get", "/stats/benefits?from=2026-05&to=2026-01", STAFF, None, 422),
    ("get", "/stats/cliff?month=May", STAFF, None, 422),
    ("get", "/stats/cliff?month=2026-05&step_fen=0", STAFF, None, 422),
    ("get", "/stats/alerts", CHARITY, None, 403),
]


def test_bad_input_to_every_endpoint_gets_a_4xx_with_a_message(start_service) -> None:
    ledger = start_service("ledger")
    with httpx.Client(base_url=ledger.url, timeout=10) as client:
        for method, path, key, body, expected in BAD_REQUESTS:
            headers = {"X-API-Key": key} if key else {}
            if isinstance(body, str):
                response = client.request(method, path, headers={**headers, "Content-Type": "application/json"}, content=body)
            else:
                response = client.request(method, path, headers=headers, json=body)
            assert response.status_code == expected, (method, path, body, response.text)
            assert response.json().get("detail"), (method, path, response.text)
        ok = client.get("/stats/cliff", params={"month": "2026-05"}, headers={"X-API-Key": STAFF})
        assert ok.status_code == 200 and ok.json()["bands"] == []


@pytest.mark.parametrize("policy_text", ["version = 'x'\n[[exclusive]]\nid = 'nope'\n"])
def test_an_invalid_policy_file_stops_the_service_with_a_clear_message(start_service, tmp_path, policy_text: str) -> None:
    bad = tmp_path / "policy.toml"
    bad.write_text(policy_text)
    ledger = start_service("ledger", wait=False, HUB_LEDGER_POLICY_FILE=str(bad))
    assert ledger.process is not None
    assert ledger.process.wait(timeout=30) == 2
    output = ledger.log_path.read_text()
    assert "ledger: cannot start: stacking policy" in output and str(bad) in output
