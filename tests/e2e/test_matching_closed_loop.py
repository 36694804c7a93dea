"""The closed loop with every service a process on the real broker, and the test only a client:
departments post to intake, organisations register, list offerings and answer through the
charity API, staff approve and read the ledger and matching. Nothing is put on a hub topic by
the test. Each scenario lives in its own district (offerings serve one district), so one set of
processes carries them all:

- 310104: a need and an offering -> one proposal in that organisation's inbox only; a decline
  -> the next best household, never the declined one again; accept and delivery -> the ledger
  shows the charity benefit and the need is met and closed;
- 310105: capacity 3 and five needs of urgency 1..5 -> exactly the three most urgent;
- 310106: a household holding grain-and-oil aid (food) -> never proposed a food parcel.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from services.intake.resident_id import check_character
from tests.conftest import wait_all_healthy
from tests.integration.charity_support import STAFF, offering, registration

CA = {"X-API-Key": "dev-ca-key"}
FAST = {"HUB_MATCHING_ROUND_WINDOW_SECONDS": "0.1", "HUB_MATCHING_TIMER_SECONDS": "1"}
TODAY = date.today()


def eventually(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)


def resident_id(district: str, n: int) -> str:
    first17 = f"{district}19700101{n:03d}"
    return first17 + check_character(first17)


def department_events(ref: str, district: str, n: int, urgency: int, grain_oil: bool = False) -> list[dict[str, Any]]:
    """What civil affairs posts for one household: the household, optionally a grain-and-oil grant
    (food, from the department), and a food need of this urgency."""
    at = datetime.now(UTC).isoformat()
    events: list[dict[str, Any]] = [{
        "schema_version": 1, "source": "CA", "household_id": ref, "event_id": f"{ref}-reported", "type": "household.reported",
        "occurred_at": at, "data": {
            "district": district, "subdistrict": f"{district}-01", "address": "某路1号", "category": "dibao", "colour": "yellow",
            "members": [{"resident_id": resident_id(district, n), "name": "王芳", "birth_date": "1970-01-01", "sex": "M" if n % 2 else "F",
                         "relation": "head"}],
        },
    }]
    if grain_oil:
        events.append({
            "schema_version": 1, "source": "CA", "household_id": ref, "event_id": f"{ref}-grain", "type": "benefit.granted",
            "occurred_at": at, "data": {"benefit_id": f"GO-{ref}", "programme": "GRAIN_OIL", "in_kind": "rice and oil",
                                        "period_start": str(TODAY - timedelta(days=30)), "period_end": str(TODAY + timedelta(days=300))},
        })
    events.append({
        "schema_version": 1, "source": "CA", "household_id": ref, "event_id": f"{ref}-need", "type": "need.assessed",
        "occurred_at": at, "data": {"need_id": f"N-{ref}", "category": "food", "description": "食品", "urgency": urgency,
                                    "assessed_on": str(TODAY)},
    })
    return events


def need_of(ref: str) -> str:
    return f"CA:N-{ref}"


class Organisation:
    def __init__(self, charity: httpx.Client, n: int) -> None:
        registered = charity.post("/organisations", json=registration(n, districts=["310104", "310105", "310106"]))
        assert registered.status_code == 201, registered.text
        self.organisation_id = registered.json()["organisation"]["organisation_id"]
        self.key = {"X-API-Key": registered.json()["key"]["api_key"]}
        self.charity = charity
        assert charity.post(f"/organisations/{self.organisation_id}/approve", headers=STAFF).status_code == 200

    def offer(self, district: str, units: int, **changes: Any) -> str:
        answer = self.charity.post("/offerings", headers=self.key, json=offering(
            quantity_total=units, service_area={"districts": [district]}, **changes))
        assert answer.status_code == 201, answer.text
        return str(answer.json()["offering_id"])

    def inbox(self, offering_id: str | None = None) -> list[dict[str, Any]]:
        answer = self.charity.get("/inbox", headers=self.key, params={"limit": 100})
        assert answer.status_code == 200, answer.text
        return [m for m in answer.json() if offering_id is None or m["offering_id"] == offering_id]

    def answer(self, match_id: str, action: str, **body: Any) -> dict[str, Any]:
        answered = self.charity.post(f"/inbox/{match_id}/{action}", headers=self.key, json=body or None)
        assert answered.status_code == 200, answered.text
        return dict(answered.json())


def test_offerings_reach_the_right_households_and_every_answer_closes_its_loop(start_service) -> None:
    intake, ledger = start_service("intake", wait=False), start_service("ledger", wait=False)
    charity_service, matching = start_service("charity", wait=False), start_service("matching", wait=False, **FAST)
    wait_all_healthy(intake, ledger, charity_service, matching)
    urgency_of = {"C1": 2, "C2": 5, "C3": 1, "C4": 4, "C5": 3}  # capacity 3 -> C2, C4, C5

    with (httpx.Client(base_url=intake.url, timeout=30) as intake_api, httpx.Client(base_url=charity_service.url, timeout=30) as charity,
          httpx.Client(base_url=matching.url, headers=STAFF, timeout=30) as staff_matching,
          httpx.Client(base_url=ledger.url, headers=STAFF, timeout=30) as staff_ledger):
        events = department_events("A1", "310104", 1, urgency=5) + department_events("A2", "310104", 2, urgency=3)
        for i, (ref, urgency) in enumerate(urgency_of.items()):
            events += department_events(ref, "310105", 10 + i, urgency=urgency)
        events += department_events("S1", "310106", 20, urgency=5, grain_oil=True) + department_events("S2", "310106", 21, urgency=1)
        posted = intake_api.post("/events", json=events, headers=CA)
        assert posted.status_code in (200, 202, 207), posted.text

        def explained(ref: str) -> dict[str, Any] | None:
            answer = staff_matching.get(f"/needs/{need_of(ref)}/explanation")
            return answer.json() if answer.status_code == 200 else None

        def reason(ref: str) -> str | None:
            why = explained(ref)
            return why["reason"] if why and why.get("district") else None  # known once the ledger's household state arrived

        # Every need pooled with its household before any offering exists; the served one known as served.
        for ref in ["A1", "A2", *urgency_of, "S2"]:
            eventually(lambda ref=ref: reason(ref) == "no_offering_in_area", f"need {ref} pooled without an offering")
        eventually(lambda: reason("S1") == "already_served", "S1 served by grain-and-oil aid")

        first, second = Organisation(charity, 1), Organisation(charity, 2)

        # 1. A need and an offering -> one proposal, to the most urgent household, in its organisation's inbox only.
        parcels = first.offer("310104", units=1)
        other = second.offer("310104", units=5, eligibility={"household_categories": ["extreme_poverty"]})
        (proposed,) = eventually(lambda: first.inbox(parcels), "the first proposal in the first inbox")
        assert (proposed["need_id"], proposed["state"], proposed["district"]) == (need_of("A1"), "requested", "310104")
        assert "household_id" not in proposed
        assert second.inbox() == []
        # A2 waits: the first offering's one unit is promised, the second's do not serve dibao households.
        eventually(lambda: reason("A2") == "not_eligible", "A2 unmatched")
        considered = {o["offering_id"]: o["failed"] for o in explained("A2")["offerings_considered"]}
        assert considered == {parcels: ["capacity"], other: ["household_category"]}

        # 2. Declined as not eligible -> the next best household; the declined one never again to that offering.
        first.answer(proposed["match_id"], "decline", reason_code="not_eligible")
        inbox = eventually(lambda: (got := first.inbox(parcels)) and len(got) == 2 and got, "the next proposal")
        by_need = {m["need_id"]: m for m in inbox}
        assert by_need[need_of("A1")]["state"] == "rejected" and by_need[need_of("A2")]["state"] == "requested"
        assert second.inbox() == []
        next_match = by_need[need_of("A2")]["match_id"]

        # 5. Accepted and delivered -> the ledger holds the charity benefit; the need is met and closed.
        first.answer(next_match, "accept")
        first.answer(next_match, "fulfil", delivered_on=str(TODAY), note="parcel")
        household = explained("A2")["household_id"]

        def charity_food() -> list[dict[str, Any]]:
            view = staff_ledger.get(f"/review/households/{household}").json()
            return [b for b in view.get("benefits", []) if b["programme"] == "CHARITY_FOOD"]

        (benefit,) = eventually(charity_food, "the charity benefit in the ledger")
        assert (benefit["source"], benefit["source_kind"], benefit["need_id"]) == (first.organisation_id, "charity", need_of("A2"))
        view = staff_ledger.get(f"/review/households/{household}").json()
        assert [n["status"] for n in view["needs"] if n["need_id"] == need_of("A2")] == ["met"]
        # The ledger's state may reach matching before the organisation's answers do; both end here.
        def closed_by_delivery() -> bool:
            why = explained("A2")
            return bool(why) and why["status"] == "met" and [h["state"] for h in why["history"]] == ["fulfilled"]

        eventually(closed_by_delivery, "the need met and its proposal fulfilled in matching")
        (declined,) = explained("A1")["history"]  # proposed once, never again
        assert (declined["offering_id"], declined["reason_code"]) == (parcels, "not_eligible")
        assert [m["need_id"] for m in first.inbox(parcels)].count(need_of("A1")) == 1

        # 3. Capacity 3 and five eligible needs of different urgency -> exactly the three most urgent.
        three = first.offer("310105", units=3)
        inbox = eventually(lambda: (got := first.inbox(three)) and len(got) >= 3 and got, "three proposals")
        assert sorted(m["need_id"] for m in inbox) == sorted(need_of(r) for r in ("C2", "C4", "C5"))
        assert sorted(m["urgency"] for m in inbox) == [3, 4, 5] and {m["state"] for m in inbox} == {"requested"}
        for ref in ("C1", "C3"):
            assert eventually(lambda ref=ref: reason(ref) == "no_capacity", f"{ref} left for lack of capacity")

        # 4. A household already served food -> never proposed, even with the higher urgency and free units.
        plenty = first.offer("310106", units=5)
        (served_elsewhere,) = eventually(lambda: first.inbox(plenty), "a proposal in 310106")
        assert served_elsewhere["need_id"] == need_of("S2")
        assert reason("S1") == "already_served"

        # Nothing beyond: the last round has run (S2 proposed), and no inbox holds more than said above.
        assert len(first.inbox(three)) == 3 and len(first.inbox(plenty)) == 1 and second.inbox() == []
        assert len(first.inbox()) == 2 + 3 + 1
