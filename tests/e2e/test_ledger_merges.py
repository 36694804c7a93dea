"""The ledger as a process on the real broker follows intake's merges, published here as intake
publishes them (canonical events): a household merge moves what the merged household held and
reveals the conflict between the two; a person merge re-keys the person and reveals theirs; a
need closed leaves the household's open needs."""

from __future__ import annotations

import time

import httpx

from bench.ledger_tools import publish, read_until
from contracts.envelope import Event
from contracts.hub import (
    DuplicateServiceAlertRaised,
    HouseholdStateV2,
    NeedClosed,
    NeedRecorded,
)
from contracts.topics import ALERTS, CANONICAL, HOUSEHOLD_STATE
from tests.e2e.test_ledger_with_intake import wait_until_applied
from tests.integration.test_ledger_persons import (
    EXTREME,
    H1,
    H2,
    OWN,
    P,
    R,
    UNION,
    granted,
    household_merged,
    person_merged,
    reported,
)


def raised(events: list[Event]) -> list[DuplicateServiceAlertRaised]:
    return [e for e in events if isinstance(e, DuplicateServiceAlertRaised)]


async def test_the_ledger_follows_household_and_person_merges_and_closed_needs(start_service, hub) -> None:
    ledger = start_service("ledger")
    twin = "p_provisional"
    need = NeedRecorded(event_id="e-need", occurred_at="2026-01-01T01:00:00Z", source="intake", household_id=H2, data={
        "need_id": "CA:n1", "department": "CA", "category": "food", "description": "food", "urgency": 3, "assessed_on": "2026-01-01"})
    first: list[Event] = [
        OWN, EXTREME, UNION,
        reported(H2, [(R, "head"), (twin, "parent")], "e-relative"),
        granted(H2, "DPF:d1", "SEVERE_DISABILITY", twin),  # the same woman under intake's provisional key
        granted(H2, "CA:ep1", "EXPENDITURE_POVERTY", None),
        need,
    ]
    await publish(hub, CANONICAL, first)
    wait_until_applied(ledger.url, len(first))
    assert not raised(await read_until(hub, ALERTS, lambda events: False, timeout=1))

    await publish(hub, CANONICAL, [person_merged(H1, P, twin)])
    alerts = raised(await read_until(hub, ALERTS, lambda events: len(raised(events)) >= 2, timeout=20))
    # The person merge reveals her two benefits, and two households sharing her: household rules span them.
    assert sorted(a.data.rule_id for a in alerts) == ["R-EXCL-EXTREME-DISABILITY", "R-EXCL-UNION-EXPENDITURE"]
    assert {a.household_id for a in alerts} == {H1}

    closed = NeedClosed(event_id="e-need-closed", occurred_at="2026-01-04T00:00:00Z", source="intake", household_id=H2,
                        data={"need_id": "CA:n1", "department": "CA"})
    await publish(hub, CANONICAL, [household_merged(H1, H2), closed])  # the closure still keyed by the merged id
    wait_until_applied(ledger.url, len(first) + 3)
    time.sleep(1.0)
    assert len(raised(await read_until(hub, ALERTS, lambda events: False, timeout=1))) == 2  # the same conflicts: no new alert

    states = [e for e in await read_until(hub, HOUSEHOLD_STATE, lambda events: False, timeout=1) if isinstance(e, HouseholdStateV2)]
    # Each household's states are in order on its own partition; across partitions there is no order.
    survivor_states = [s for s in states if s.household_id == H1]
    assert survivor_states and survivor_states[-1].data.open_needs == []
    with httpx.Client(base_url=ledger.url, timeout=10) as client:
        view = client.get(f"/review/households/{H1}", headers={"X-API-Key": "dev-staff-key"}).json()
        gone = client.get(f"/review/households/{H2}", headers={"X-API-Key": "dev-staff-key"})
    assert {b["benefit_id"] for b in view["benefits"]} == {"CA:x1", "UNION:u1", "DPF:d1", "CA:ep1"}
    assert [(n["need_id"], n["status"]) for n in view["needs"]] == [("CA:n1", "closed")]
    assert gone.status_code == 404
