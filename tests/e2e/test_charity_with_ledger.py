"""End to end over the real broker with the ledger running: approved organisations list
offerings (seen on hub.offerings.v1); a proposal for a household the ledger knows reaches that
organisation's inbox and no other; the organisation accepts and records delivery; the ledger
shows it as a charity benefit of that household, and a second charity's food parcel in the same
week raises the stacking alert the policy names (R-ONCE-FOOD-7D)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date

import httpx

from bench.ledger_tools import publish, read_until
from contracts.hub import DuplicateServiceAlertRaised, HouseholdRecorded, OfferingPublishedV2
from contracts.topics import ALERTS, CANONICAL, HOUSEHOLD_STATE, MATCHES, OFFERINGS
from services.ledger.identity import person_key
from tests.conftest import wait_all_healthy
from tests.integration.charity_support import STAFF, offering, proposal, registration

SECRET = b"development-only-secret-change-me"
HOUSEHOLD = "hh-charity-e2e"


def household() -> HouseholdRecorded:
    return HouseholdRecorded(source="intake", household_id=HOUSEHOLD, data={
        "department": "CA", "department_household_ref": "CA-77", "district": "310104", "category": "dibao",
        "colour": "yellow", "monthly_income_per_capita_fen": 80_000,
        "members": [{"person_key": person_key("11010519491231002X", SECRET), "display_name": "王*"}],
    })


def eventually(check: Callable[[], object], timeout: float = 30, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def approved_organisation(client: httpx.Client, n: int) -> tuple[str, dict[str, str]]:
    registered = client.post("/organisations", json=registration(n))
    assert registered.status_code == 201, registered.text
    organisation_id = registered.json()["organisation"]["organisation_id"]
    assert client.post(f"/organisations/{organisation_id}/approve", headers=STAFF).status_code == 200
    return organisation_id, {"X-API-Key": registered.json()["key"]["api_key"]}


async def test_a_proposal_answered_and_delivered_reaches_the_ledger_with_a_stacking_alert(start_service, hub) -> None:
    ledger, charity = start_service("ledger", wait=False), start_service("charity", wait=False)
    wait_all_healthy(ledger, charity)
    await publish(hub, CANONICAL, [household()])
    await read_until(hub, HOUSEHOLD_STATE, lambda events: len(events) >= 1, timeout=30)

    with httpx.Client(base_url=charity.url, timeout=10) as client:
        first_id, first = approved_organisation(client, 1)
        second_id, second = approved_organisation(client, 2)
        first_offering = client.post("/offerings", json=offering(quantity_total=5), headers=first).json()["offering_id"]
        second_offering = client.post("/offerings", json=offering(quantity_total=5), headers=second).json()["offering_id"]
        published = await read_until(hub, OFFERINGS, lambda got: len(got) >= 2, timeout=30)
        assert {e.data.offering_id for e in published if isinstance(e, OfferingPublishedV2)} == {first_offering, second_offering}

        await publish(hub, MATCHES, [
            proposal(first_offering, first_id, "m-e2e-1", household_id=HOUSEHOLD),
            proposal(second_offering, second_id, "m-e2e-2", household_id=HOUSEHOLD),
        ])
        inbox = eventually(lambda: client.get("/inbox", headers=first).json(), what="the first inbox")
        assert [m["match_id"] for m in inbox] == ["m-e2e-1"]
        assert HOUSEHOLD not in client.get("/inbox", headers=first).text
        assert [m["match_id"] for m in eventually(lambda: client.get("/inbox", headers=second).json())] == ["m-e2e-2"]

        for key, match_id in ((first, "m-e2e-1"), (second, "m-e2e-2")):
            assert client.post(f"/inbox/{match_id}/accept", headers=key).status_code == 200
            delivered = client.post(f"/inbox/{match_id}/fulfil", headers=key, json={"delivered_on": str(date.today()), "note": "parcel"})
            assert delivered.status_code == 200, delivered.text
        assert client.get(f"/offerings/{first_offering}", headers=first).json()["quantity_remaining"] == 4

    alerts = await read_until(hub, ALERTS, lambda got: any(isinstance(e, DuplicateServiceAlertRaised) for e in got), timeout=30)
    (alert,) = [e for e in alerts if isinstance(e, DuplicateServiceAlertRaised)]
    assert alert.household_id == HOUSEHOLD and alert.data.rule_id == "R-ONCE-FOOD-7D"
    assert {b.source for b in alert.data.benefits} == {first_id, second_id}

    with httpx.Client(base_url=ledger.url, timeout=10) as client:
        view = client.get(f"/review/households/{HOUSEHOLD}", headers=STAFF).json()
    benefits = {b["benefit_id"]: b for b in view["benefits"]}
    assert set(benefits) == {"M:m-e2e-1", "M:m-e2e-2"}
    first_benefit = benefits["M:m-e2e-1"]
    assert (first_benefit["programme"], first_benefit["source"], first_benefit["source_kind"]) == ("CHARITY_FOOD", first_id, "charity")
    assert first_benefit["amount_fen"] == 15000
    assert [a["rule_id"] for a in view["alerts"]] == ["R-ONCE-FOOD-7D"]
