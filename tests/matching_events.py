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
