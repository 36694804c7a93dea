"""Canonical events turned into the ledger's domain records (benefits, changes, profiles,
people, needs), and a household's benefits rebuilt from the records it stored."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from contracts.envelope import Event
from contracts.hub import (
    BenefitAmended,
    BenefitRecorded,
    BenefitStopped,
    HouseholdRecorded,
    MatchFulfilled,
    NeedClosed,
    NeedRecorded,
)
from services.ledger.domain import Benefit, BenefitChange, HouseholdLedger
from services.ledger.households import CLOSED, OPEN, Need, Person, Profile
from services.ledger.policy import StackingPolicy


def benefit_of(event: BenefitRecorded | MatchFulfilled) -> Benefit:
    household_id = event.household_id or ""
    if isinstance(event, MatchFulfilled):
        data = event.data
        return Benefit(
            benefit_id=f"M:{data.match_id}",
            household_id=household_id,
            programme=data.programme,
            source=data.charity_id,
            source_kind="charity",
            amount_fen=data.amount_fen,
            in_kind=data.in_kind,
            period_start=data.delivered_on,
            period_end=data.delivered_on,
            need_id=data.need_id,
            event_id=event.event_id,
            occurred_at=event.occurred_at,
        )
    grant = event.data
    return Benefit(
        benefit_id=grant.benefit_id,
        household_id=household_id,
        programme=grant.programme,
        source=grant.source,
        source_kind=grant.source_kind,
        person_key=grant.person_key,
        amount_fen=grant.amount_fen,
        in_kind=grant.in_kind,
        period_start=grant.period_start,
        period_end=grant.period_end,
        need_id=grant.need_id,
        event_id=event.event_id,
        occurred_at=event.occurred_at,
    )


def change_of(event: BenefitAmended | BenefitStopped) -> BenefitChange:
    household_id = event.household_id or ""
    if isinstance(event, BenefitStopped):
        return BenefitChange.ending(
            event_id=event.event_id,
            household_id=household_id,
            benefit_id=event.data.benefit_id,
            ended_on=event.data.ended_on,
            occurred_at=event.occurred_at,
        )
    # An amendment names only what changes: a field left empty keeps its value.
    wanted = {"amount_fen": event.data.amount_fen, "in_kind": event.data.in_kind, "period_end": event.data.period_end}
    return BenefitChange(
        event_id=event.event_id,
        household_id=household_id,
        benefit_id=event.data.benefit_id,
        updates={name: value for name, value in wanted.items() if value is not None},
        occurred_at=event.occurred_at,
    )


def profile_of(event: HouseholdRecorded) -> Profile:
    data = event.data
    return Profile(
        district=data.district,
        subdistrict=data.subdistrict,
        category=data.category.value if data.category else None,
        colour=data.colour.value if data.colour else None,
        income_fen=data.monthly_income_per_capita_fen,
        as_of=event.occurred_at,
        event_id=event.event_id,
    )


def people_of(event: HouseholdRecorded) -> list[Person]:
    return [
        Person(m.person_key, m.display_name, m.masked_resident_id, m.birth_year, m.sex, m.relation)
        for m in event.data.members
    ]


def need_of(event: NeedRecorded) -> Need:
    data = event.data
    return Need(
        need_id=data.need_id,
        household_id=event.household_id or "",
        department=data.department,
        category=data.category.value,
        description=data.description,
        urgency=data.urgency,
        assessed_on=data.assessed_on,
        person_key=data.person_key,
        status=OPEN,
        event_id=event.event_id,
    )


def closed_need_of(event: NeedClosed) -> Need:
    """What a closure tells of its need (all of it, if the need itself has not arrived yet)."""
    return Need(
        need_id=event.data.need_id,
        household_id=event.household_id or "",
        department=event.data.department,
        category="other",
        description="",
        urgency=1,
        assessed_on=event.occurred_at.date(),
        person_key=None,
        status=CLOSED,
        event_id=event.event_id,
    )


def summary_of(event: Event) -> dict[str, Any]:
    """What the timeline shows of a non-benefit event; nothing personal beyond masked values."""
    if isinstance(event, HouseholdRecorded):
        data = event.data
        return {
            "kind": "household",
            "department": data.department,
            "district": data.district,
            "category": data.category,
            "colour": data.colour,
            "members": len(data.members),
        }
    if isinstance(event, NeedRecorded):
        data = event.data
        return {"kind": "need", "need_id": data.need_id, "category": data.category, "urgency": data.urgency}
    if isinstance(event, NeedClosed):
        return {"kind": "need closed", "need_id": event.data.need_id, "department": event.data.department}
    return {"kind": event.type}


def ledger_from_records(household_id: str, records: Iterable[dict[str, Any]], policy: StackingPolicy) -> HouseholdLedger:
    """A household's ledger from its stored grant and change records (`ledger_event.record`)."""
    grants: list[Benefit] = []
    changes: list[BenefitChange] = []
    for row in records:
        record = row["record"]
        if record.get("kind") == "grant":
            grant = Benefit.from_dict(record["benefit"])
            grants.append(grant if grant.household_id == household_id else replace(grant, household_id=household_id))
        elif record.get("kind") == "change":
            change = BenefitChange.from_dict(record["change"])
            changes.append(change if change.household_id == household_id else replace(change, household_id=household_id))
    # A record kept under another household id came with a household merged into this one.
    return HouseholdLedger(household_id, policy, grants=grants, changes=changes)
