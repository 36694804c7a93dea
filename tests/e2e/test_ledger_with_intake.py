"""Intake and ledger as processes on the real broker: civil affairs and the disabled persons'
federation each report the same person and grant a benefit the policy forbids together ->
exactly one alert, within a second of the second grant entering intake, visible in the review
API and in the pre-grant check."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import httpx

from bench.ledger_tools import producer as make_producer
from bench.ledger_tools import read_until
from contracts.department import BenefitGranted, HouseholdReported
from contracts.envelope import Event
from contracts.hub import DuplicateServiceAlertRaised, HouseholdStateV2
from contracts.topics import ALERTS, HOUSEHOLD_STATE, department_topic
from kit.settings import HubSettings
from tests.conftest import wait_all_healthy

RESIDENT_ID = "310104198001010025"  # valid check character; a woman born 1980-01-01
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def reported(department: str, ref: str) -> HouseholdReported:
    return HouseholdReported(event_id=f"{department}-hh-1", occurred_at=NOW, source=department, household_id=ref, data={
        "district": "310104", "address": "徐汇区漕溪北路1号", "category": "extreme_poverty", "colour": "orange",
        "monthly_income_per_capita_fen": 50_000,
        "members": [{"resident_id": RESIDENT_ID, "name": "王芳", "birth_date": date(1980, 1, 1), "sex": "F", "relation": "head"}],
    })


def granted(department: str, ref: str, benefit: str, programme: str) -> BenefitGranted:
    return BenefitGranted(event_id=f"{department}-{benefit}", occurred_at=NOW, source=department, household_id=ref, data={
        "benefit_id": benefit, "programme": programme, "resident_id": RESIDENT_ID, "amount_fen": 140_000,
        "period_start": date(2026, 3, 1)})


async def send(hub: HubSettings, department: str, events: list[Event]) -> None:
    producer = make_producer(hub)
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(hub.topic_name(department_topic(department)), event.to_bytes(), key=(event.household_id or "").encode())
    finally:
        await producer.stop()


def applied(url: str) -> float:
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith('ledger_events_total{outcome="applied"}'):
            return float(line.split()[-1])
    return 0.0


def wait_until_applied(url: str, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while applied(url) < count:
        assert time.monotonic() < deadline, f"the ledger applied {applied(url)} events, not {count}"
        time.sleep(0.1)


def raised(events: list[Event]) -> list[DuplicateServiceAlertRaised]:
    return [e for e in events if isinstance(e, DuplicateServiceAlertRaised)]


async def test_two_departments_through_intake_raise_exactly_one_alert(start_service, hub) -> None:
    intake, ledger = start_service("intake", wait=False), start_service("ledger", wait=False)
    wait_all_healthy(intake, ledger)
    await send(hub, "CA", [reported("CA", "CA-H1"), granted("CA", "CA-H1", "es-1", "EXTREME_POVERTY")])
    await send(hub, "DPF", [reported("DPF", "DPF-77")])
    wait_until_applied(ledger.url, 3)

    entered = time.monotonic()
    await send(hub, "DPF", [granted("DPF", "DPF-77", "sd-1", "SEVERE_DISABILITY")])
    alerts = await read_until(hub, ALERTS, lambda events: bool(raised(events)), timeout=20)
    latency = time.monotonic() - entered
    assert raised(alerts), "no alert"
    # "Within seconds", on any machine CI lands on; the latency target (p99 < 500 ms) is
    # measured by bench.ledger_latency, not by a timed test.
    assert latency < 10.0, f"alert {latency:.3f}s after the second grant entered intake"

    # The departments send everything again: still one alert.
    await send(hub, "CA", [reported("CA", "CA-H1"), granted("CA", "CA-H1", "es-1", "EXTREME_POVERTY")])
    await send(hub, "DPF", [reported("DPF", "DPF-77"), granted("DPF", "DPF-77", "sd-1", "SEVERE_DISABILITY")])
    time.sleep(1.5)
    assert applied(ledger.url) == 4  # the redelivered events changed nothing
    (alert,) = raised(await read_until(hub, ALERTS, lambda events: False, timeout=2))
    assert {(b.programme, b.source) for b in alert.data.benefits} == {("EXTREME_POVERTY", "CA"), ("SEVERE_DISABILITY", "DPF")}
    states = [e for e in await read_until(hub, HOUSEHOLD_STATE, lambda events: False, timeout=1) if isinstance(e, HouseholdStateV2)]
    assert {e.household_id for e in states} == {alert.household_id}
    assert states[-1].data.programmes == ["EXTREME_POVERTY", "SEVERE_DISABILITY"]

    with httpx.Client(base_url=ledger.url, timeout=10) as client:
        listed = client.get("/review/alerts", params={"programme": "SEVERE_DISABILITY"}, headers={"X-API-Key": "dev-staff-key"}).json()
        assert [a["alert_id"] for a in listed["alerts"]] == [alert.data.alert_id]
        check = client.post("/pre-grant-check", headers={"X-API-Key": "dev-ca-key"}, json={
            "resident_id": RESIDENT_ID, "programme": "EXTREME_POVERTY", "period_start": "2026-04-01"}).json()
        assert check["allowed"] is False and check["household_id"] == alert.household_id
