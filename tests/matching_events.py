"""Events that matching reads, built the way intake, the ledger and the charity service publish
them: for matching's unit, end-to-end tests and benchmarks."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from contracts.envelope import new_id
from contracts.hub import (
    HouseholdRecorded,
    HouseholdStateV2,
    MatchAccepted,
    MatchDeclinedV2,
    MatchFailed,
    MatchFulfilled,
    MatchStarted,
    NeedClosed,
    NeedRecorded,
    OfferingChangedV2,
    OfferingPublishedV2,
    OfferingWithdrawn,
)

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def household_recorded(household_id: str, district: str = "310104", subdistrict: str | None = "310104-01",
                       category: str | None = "dibao", colour: str | None = "yellow", birth_years: tuple[int, ...] = (1980,),
                       at: datetime = NOW) -> HouseholdRecorded:
    return HouseholdRecorded(
        source="intake", household_id=household_id, occurred_at=at,
        data={
            "department": "CA", "department_household_ref": f"ref-{household_id}", "district": district, "subdistrict": subdistrict,
            "category": category, "colour": colour,
            "members": [{"person_key": f"{household_id}-p{i}", "display_name": "张*", "birth_year": y} for i, y in enumerate(birth_years)],
        },
    )


def household_state(household_id: str, programmes: tuple[str, ...] = (), open_needs: tuple[str, ...] = (),
                    received: dict[str, int] | None = None, district: str = "310104", subdistrict: str | None = "310104-01",
                    category: str | None = "dibao", colour: str | None = "yellow", at: datetime = NOW) -> HouseholdStateV2:
    return HouseholdStateV2(
        source="ledger", household_id=household_id, occurred_at=at,
        data={
            "district": district, "subdistrict": subdistrict, "category": category, "colour": colour,
            "programmes": list(programmes), "open_needs": list(open_needs), "person_count": 1, "as_of": at,
            "received_this_year": [{"category": c, "benefits": n, "amount_fen": 0} for c, n in (received or {}).items()],
        },
    )


def need_recorded(need_id: str, household_id: str, category: str = "food", urgency: int = 3,
                  assessed_on: date = date(2026, 12, 1), at: datetime = NOW) -> NeedRecorded:
    return NeedRecorded(
        source="intake", household_id=household_id, occurred_at=at,
        data={"need_id": need_id, "department": "CA", "category": category, "description": "需要食品", "urgency": urgency,
              "assessed_on": assessed_on},
    )


def need_closed(need_id: str, household_id: str, at: datetime = NOW) -> NeedClosed:
    return NeedClosed(source="intake", household_id=household_id, occurred_at=at,
                      data={"need_id": need_id, "department": "CA", "reason": "withdrawn"})


def offering_record(offering_id: str, units: int = 5, category: str = "food", remaining: int | None = None,
                    status: str = "open", eligibility: dict[str, Any] | None = None, area: dict[str, Any] | None = None,
                    valid_from: date = date(2026, 1, 1), valid_until: date = date(2027, 12, 31), charity_id: str = "charity-1") -> dict[str, Any]:
    return {
        "offering_id": offering_id, "charity_id": charity_id, "title": "Food parcels", "category": category,
        "programme": "CHARITY_FOOD", "kind": "goods", "unit": "parcel", "quantity_total": units,
        "quantity_remaining": units if remaining is None else remaining, "eligibility": eligibility or {},
        "service_area": area or {}, "valid_from": valid_from, "valid_until": valid_until, "status": status,
        "capacity_confirmed_at": NOW,
    }


def offering_published(offering_id: str, at: datetime = NOW, **fields: Any) -> OfferingPublishedV2:
    return OfferingPublishedV2(source="charity", household_id=None, occurred_at=at, data=offering_record(offering_id, **fields))


def offering_changed(offering_id: str, at: datetime = NOW, **fields: Any) -> OfferingChangedV2:
    return OfferingChangedV2(source="charity", household_id=None, occurred_at=at, data=offering_record(offering_id, **fields))


def offering_withdrawn(offering_id: str, at: datetime = NOW, charity_id: str = "charity-1") -> OfferingWithdrawn:
    return OfferingWithdrawn(source="charity", occurred_at=at, data={"offering_id": offering_id, "charity_id": charity_id, "reason": ""})


def _outcome(match_id: str, offering_id: str, need_id: str) -> dict[str, Any]:
    return {"match_id": match_id, "offering_id": offering_id, "need_id": need_id}


def accepted(household_id: str, match_id: str, offering_id: str, need_id: str, at: datetime = NOW) -> MatchAccepted:
    return MatchAccepted(source="charity", household_id=household_id, occurred_at=at, data=_outcome(match_id, offering_id, need_id))


def started(household_id: str, match_id: str, offering_id: str, need_id: str, at: datetime = NOW) -> MatchStarted:
    return MatchStarted(source="charity", household_id=household_id, occurred_at=at, data=_outcome(match_id, offering_id, need_id))


def failed(household_id: str, match_id: str, offering_id: str, need_id: str, at: datetime = NOW) -> MatchFailed:
    return MatchFailed(source="charity", household_id=household_id, occurred_at=at, data=_outcome(match_id, offering_id, need_id))


def declined(household_id: str, match_id: str, offering_id: str, need_id: str, code: str = "unreachable", at: datetime = NOW) -> MatchDeclinedV2:
    return MatchDeclinedV2(source="charity", household_id=household_id, occurred_at=at,
                           data=_outcome(match_id, offering_id, need_id) | {"reason_code": code})


def fulfilled(household_id: str, match_id: str, offering_id: str, need_id: str, charity_id: str = "charity-1",
              delivered_on: date = date(2026, 12, 2), at: datetime = NOW) -> MatchFulfilled:
    return MatchFulfilled(
        source="charity", household_id=household_id, occurred_at=at, event_id=new_id(),
        data=_outcome(match_id, offering_id, need_id) | {"charity_id": charity_id, "programme": "CHARITY_FOOD", "quantity": 1,
                                                         "in_kind": "food parcel", "delivered_on": delivered_on},
    )


# --- over the real broker -------------------------------------------------------------------


async def publish(hub: Any, topic: Any, events: list[Any]) -> None:
    """Publish as the real producers key them: offerings by offering id, the rest by household."""
    from bench.ledger_tools import producer
    from kit.broker import ensure_topics, event_headers

    await ensure_topics(hub, [topic])
    sender = producer(hub)
    await sender.start()
    try:
        for event in events:
            key = event.household_id or getattr(event.data, "offering_id", None)
            headers = [(k, v.encode()) for k, v in event_headers(event).items()]
            await sender.send_and_wait(hub.topic_name(topic), event.to_bytes(), key=key.encode() if key else None, headers=headers)
    finally:
        await sender.stop()


def metric(url: str, name: str, labels: str = "") -> float:
    import httpx

    prefix = f"{name}{{{labels}}}" if labels else name
    for line in httpx.get(f"{url}/metrics", timeout=5).text.splitlines():
        if line.startswith(prefix + " "):
            return float(line.split()[-1])
    return 0.0


def wait_applied(url: str, count: int, timeout: float = 30) -> None:
    import time

    deadline = time.monotonic() + timeout
    applied = 'outcome="applied"'
    while (seen := metric(url, "matching_events_total", applied)) < count:
        assert time.monotonic() < deadline, f"matching applied {seen} events, not {count}"
        time.sleep(0.1)
