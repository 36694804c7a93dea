"""Intake, ledger and matching as processes on the real broker; the test plays the organisation.
A department reports a household and assesses a need -> matching proposes the offering -> the
organisation accepts and delivers -> the ledger shows the charity benefit, the need is met in the
ledger and closed in matching, and the household is not proposed food again."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TypeVar

import httpx

from bench.ledger_tools import read_until
from contracts.department import HouseholdReported, NeedAssessed
from contracts.hub import HouseholdStateV2, MatchProposedV2
from contracts.topics import HOUSEHOLD_STATE, MATCHES, OFFERINGS, department_topic
from tests.conftest import wait_all_healthy
from tests.matching_events import accepted, fulfilled, offering_published, publish

STAFF = {"X-API-Key": "dev-staff-key"}
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
T = TypeVar("T")


def reported() -> HouseholdReported:
    return HouseholdReported(event_id="CA-hh-1", occurred_at=NOW, source="CA", household_id="CA-H1", data={
        "district": "310104", "subdistrict": "310104-01", "address": "徐汇区漕溪北路1号", "category": "dibao", "colour": "orange",
        "members": [{"resident_id": "310104198001010025", "name": "王芳", "birth_date": date(1980, 1, 1), "sex": "F", "relation": "head"}],
    })


def assessed(need: str) -> NeedAssessed:
    return NeedAssessed(event_id=f"CA-{need}", occurred_at=NOW, source="CA", household_id="CA-H1", data={
        "need_id": need, "category": "food", "description": "食品", "urgency": 4, "assessed_on": date(2026, 12, 1)})


async def test_delivery_reaches_the_ledger_and_closes_the_need(start_service, hub) -> None:
    intake, ledger = start_service("intake", wait=False), start_service("ledger", wait=False)
    matching = start_service("matching", wait=False, HUB_MATCHING_ROUND_WINDOW_SECONDS="0.1")
    wait_all_healthy(intake, ledger, matching)
    await publish(hub, department_topic("CA"), [reported(), assessed("n1")])
    await publish(hub, OFFERINGS, [offering_published("o1", units=5, charity_id="charity-1")])
    (proposal,) = [e for e in await read_until(hub, MATCHES, lambda es: any(isinstance(e, MatchProposedV2) for e in es), timeout=30)
                   if isinstance(e, MatchProposedV2)]
    household, need = proposal.household_id, proposal.data.need_id
    assert need == "CA:n1" and proposal.data.district == "310104"

    # Delivered today: the ledger holds a charity delivery on its day only.
    today = datetime.now(UTC).date()
    await publish(hub, MATCHES, [accepted(household, proposal.data.match_id, "o1", need),
                                 fulfilled(household, proposal.data.match_id, "o1", need, charity_id="charity-1", delivered_on=today)])

    def delivered(events: list) -> bool:  # type: ignore[type-arg]
        states = [e for e in events if isinstance(e, HouseholdStateV2) and e.household_id == household]
        return bool(states) and "CHARITY_FOOD" in states[-1].data.programmes

    assert delivered(await read_until(hub, HOUSEHOLD_STATE, delivered, timeout=30))
    with httpx.Client(headers=STAFF, timeout=10) as client:
        view = client.get(f"{ledger.url}/review/households/{household}").json()
        (benefit,) = [b for b in view["benefits"] if b["programme"] == "CHARITY_FOOD"]
        assert benefit["need_id"] == need and benefit["source"] == "charity-1"
        assert [n["status"] for n in view["needs"] if n["need_id"] == need] == ["met"]
        why = wait_for(lambda: client.get(f"{matching.url}/needs/{need}/explanation").json(), lambda why: why["status"] == "met")
        assert why["history"][0]["state"] == "fulfilled"

        # A second food need of the same household: it now receives food, so it is never proposed,
        # whether or not matching has read the ledger's state that shows it (another topic).
        await publish(hub, department_topic("CA"), [assessed("n2")])
        wait_for(lambda: client.get(f"{matching.url}/needs/CA:n2/explanation"), lambda r: r.status_code == 200)
        rounds = wait_for(lambda: client.get(f"{matching.url}/rounds/last").json(), lambda r: not r["running"] and r["waiting"] == 0)
        why = client.get(f"{matching.url}/needs/CA:n2/explanation").json()
        assert (why["reason"], why["history"]) == ("already_served", []), rounds
    made = [e for e in await read_until(hub, MATCHES, lambda es: False, timeout=1) if isinstance(e, MatchProposedV2)]
    assert [p.data.need_id for p in made] == ["CA:n1"]


def wait_for(read: Callable[[], T], done: Callable[[T], bool], timeout: float = 20) -> T:
    """Read until `done` holds of what was read; the last reading in the failure."""
    deadline = time.monotonic() + timeout
    while not done(found := read()):
        assert time.monotonic() < deadline, found
        time.sleep(0.1)
    return found
