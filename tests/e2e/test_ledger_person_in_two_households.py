"""Intake and ledger as processes on the real broker: civil affairs reports a woman as the head of
her own household, the disabled persons' federation reports her as the mother in her son's
household, and each grants her a benefit the policy forbids together. Whichever department
reports first, exactly one alert, and the pre-grant check by her resident ID refuses the grant
and names every household it looked at, the same way each time."""

from __future__ import annotations

import time
from datetime import date

import httpx
import pytest

from bench.ledger_tools import read_until
from contracts.department import BenefitGranted, HouseholdReported
from contracts.envelope import Event
from contracts.hub import DuplicateServiceAlertRaised
from contracts.topics import ALERTS
from tests.conftest import wait_all_healthy
from tests.e2e.test_ledger_with_intake import NOW, RESIDENT_ID, send, wait_until_applied

SON_ID = "310104195503030030"


def own_household() -> HouseholdReported:
    return HouseholdReported(event_id="CA-hh-own", occurred_at=NOW, source="CA", household_id="CA-OWN", data={
        "district": "310104", "address": "徐汇区漕溪北路1号", "category": "extreme_poverty", "colour": "orange",
        "monthly_income_per_capita_fen": 50_000,
        "members": [{"resident_id": RESIDENT_ID, "name": "王芳", "birth_date": date(1980, 1, 1), "sex": "F", "relation": "head"}],
    })


def sons_household() -> HouseholdReported:
    return HouseholdReported(event_id="DPF-hh-son", occurred_at=NOW, source="DPF", household_id="DPF-SON", data={
        "district": "310104", "address": "徐汇区田林路9号", "category": "dibao", "colour": "yellow",
        "monthly_income_per_capita_fen": 90_000,
        "members": [
            {"resident_id": SON_ID, "name": "李强", "birth_date": date(1955, 3, 3), "sex": "M", "relation": "head"},
            {"resident_id": RESIDENT_ID, "name": "王芳", "birth_date": date(1980, 1, 1), "sex": "F", "relation": "parent"},
        ],
    })


def granted(department: str, ref: str, benefit: str, programme: str) -> BenefitGranted:
    return BenefitGranted(event_id=f"{department}-{benefit}", occurred_at=NOW, source=department, household_id=ref, data={
        "benefit_id": benefit, "programme": programme, "resident_id": RESIDENT_ID, "amount_fen": 140_000,
        "period_start": date(2026, 3, 1)})


CA_EVENTS: list[Event] = [own_household(), granted("CA", "CA-OWN", "es-1", "EXTREME_POVERTY")]
DPF_EVENTS: list[Event] = [sons_household(), granted("DPF", "DPF-SON", "sd-1", "SEVERE_DISABILITY")]


def raised(events: list[Event]) -> list[DuplicateServiceAlertRaised]:
    return [e for e in events if isinstance(e, DuplicateServiceAlertRaised)]


@pytest.mark.parametrize("first", ["CA", "DPF"])
async def test_a_person_in_two_households_gives_one_alert_and_a_refusal_whichever_reports_first(start_service, hub, first: str) -> None:
    intake, ledger = start_service("intake", wait=False), start_service("ledger", wait=False)
    wait_all_healthy(intake, ledger)
    batches = [CA_EVENTS, DPF_EVENTS] if first == "CA" else [DPF_EVENTS, CA_EVENTS]
    for events in batches:
        await send(hub, events[0].source, events)
        time.sleep(0.5)  # one department after the other, as in the field
    wait_until_applied(ledger.url, 4)

    alerts = raised(await read_until(hub, ALERTS, lambda events: bool(raised(events)), timeout=20))
    time.sleep(1.5)
    alerts = raised(await read_until(hub, ALERTS, lambda events: False, timeout=2))
    assert [a.data.rule_id for a in alerts] == ["R-EXCL-EXTREME-DISABILITY"]
    assert {b.programme for b in alerts[0].data.benefits} == {"EXTREME_POVERTY", "SEVERE_DISABILITY"}

    with httpx.Client(base_url=ledger.url, timeout=10) as client:
        answers = [
            client.post("/pre-grant-check", headers={"X-API-Key": "dev-dpf-key"}, json={
                "resident_id": RESIDENT_ID, "programme": "SEVERE_DISABILITY", "period_start": "2026-04-01"}).json()
            for _ in range(3)
        ]
    assert all(answer == answers[0] for answer in answers)  # the same question, the same answer
    answer = answers[0]
    assert answer["allowed"] is False
    assert [c["rule_id"] for c in answer["conflicts"]] == ["R-EXCL-EXTREME-DISABILITY"]
    # Reported first by CA: two hub households (she heads her own); by DPF first: intake puts
    # CA's household, headed by her, into the one she is already in.
    assert len(answer["households_checked"]) == (2 if first == "CA" else 1)
    assert answer["household_id"] == answer["households_checked"][0] == sorted(answer["households_checked"])[0]
