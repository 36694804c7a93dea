"""Synthetic canonical events for the ledger's benchmarks and tests, with Shanghai's proportions
(seed 000): most households in dibao, some low-income, a few in extreme-poverty support; benefits
from several departments and charities, changes and ends, and a small share of grants that break
the stacking policy so that alerts are raised and some are resolved again.

Events of one household keep their order; households are interleaved so that a batch touches
many households, as it would when a whole city's departments publish at once. Ids have the shapes
intake gives them (a hashed household id, a hashed canonical event id, hashed person keys), so that
the database's indexes take them in the same scattered order and at the same length as in service.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from datetime import date, timedelta

from contracts.catalogue import DISTRICTS
from contracts.envelope import Event
from contracts.hub import (
    BenefitAmended,
    BenefitRecorded,
    BenefitStopped,
    HouseholdRecorded,
    MatchFulfilled,
    NeedRecorded,
)

DIBAO_FEN = 107_000
CATEGORY_WEIGHTS = {"dibao": 70, "low_income": 20, "extreme_poverty": 3, "expenditure_poverty": 4, "marginal": 3}
SURNAMES = "王李张刘陈杨黄赵周吴"
START = date(2026, 1, 1)


def household_id(number: int, prefix: str = "hh") -> str:
    """Shaped as intake's household ids: "hh-" and 24 hex digits."""
    return f"{prefix}-{_digest(f'{prefix}{number}')[:24]}"


def canonical_id(hid: str, index: int) -> str:
    """Shaped as intake's canonical event ids."""
    return "canonical-" + _digest(f"{hid}-e{index}")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def household_events(rng: random.Random, number: int, count: int, conflict_share: float, prefix: str = "hh") -> list[Event]:
    """`count` events about one household, in the order a city would send them."""
    hid = household_id(number, prefix)
    category = rng.choices(list(CATEGORY_WEIGHTS), weights=list(CATEGORY_WEIGHTS.values()))[0]
    persons = ["p_" + _digest(f"{hid}#{i}") for i in range(rng.randint(1, 3))]
    income = int(DIBAO_FEN * rng.uniform(0.3, 1.6))
    events: list[Event] = [HouseholdRecorded(
        event_id=canonical_id(hid, 0), source="intake", household_id=hid,
        data={
            "department": "CA", "department_household_ref": f"CA-{number}", "district": rng.choice(list(DISTRICTS)),
            "subdistrict": f"street-{number % 200}", "category": category, "colour": rng.choice(["red", "orange", "yellow", "green"]),
            "monthly_income_per_capita_fen": income,
            "members": [{"person_key": p, "display_name": f"{rng.choice(SURNAMES)}*", "relation": "self" if i == 0 else "other"} for i, p in enumerate(persons)],
        },
    )]
    granted: list[str] = []
    conflicted = rng.random() < conflict_share
    for index in range(1, count):
        events.append(_next_event(rng, hid, index, category, persons, granted, conflicted))
    return events


def _next_event(rng: random.Random, hid: str, index: int, category: str, persons: list[str], granted: list[str], conflicted: bool) -> Event:
    event_id = canonical_id(hid, index)
    start = START + timedelta(days=rng.randint(0, 300))
    if index == 1:
        return NeedRecorded(event_id=event_id, source="intake", household_id=hid, data={
            "need_id": f"CA:{hid}-n1", "department": "CA", "category": "food", "description": "needs food support",
            "urgency": rng.randint(1, 5), "assessed_on": start, "person_key": persons[0]})
    if index == 2:
        programme = {"dibao": "DIBAO", "extreme_poverty": "EXTREME_POVERTY", "expenditure_poverty": "EXPENDITURE_POVERTY"}.get(category, "MEDICAL")
        return _grant(event_id, hid, f"CA:{hid}-b{index}", programme, persons[0], START, granted)
    if index == 3 and conflicted:
        programme = "EXTREME_POVERTY" if category == "dibao" else "DIBAO"
        return _grant(event_id, hid, f"CA:{hid}-b{index}", programme, persons[0], start, granted, source="CA")
    if granted and rng.random() < 0.3:
        target = rng.choice(granted)
        if rng.random() < 0.5:
            return BenefitStopped(event_id=event_id, source="intake", household_id=hid,
                                  data={"benefit_id": target, "ended_on": start, "reason": "circumstances changed"})
        return BenefitAmended(event_id=event_id, source="intake", household_id=hid,
                              data={"benefit_id": target, "effective_on": start, "amount_fen": rng.randint(50_000, 150_000)})
    if rng.random() < 0.2:
        return MatchFulfilled(event_id=event_id, source="charity", household_id=hid, data={
            "match_id": f"{hid}-m{index}", "offering_id": "off-1", "need_id": f"CA:{hid}-n1", "charity_id": "charity-1",
            "programme": "CHARITY_FOOD", "quantity": 1, "in_kind": "food parcel", "delivered_on": start})
    programme = rng.choice(["MEDICAL", "EDUCATION", "EMPLOYMENT", "GRAIN_OIL", "COMMUNITY_AID"])
    return _grant(event_id, hid, f"X:{hid}-b{index}", programme, rng.choice(persons), start, granted)


def _grant(event_id: str, hid: str, benefit_id: str, programme: str, person: str, start: date, granted: list[str], source: str = "HEALTH") -> BenefitRecorded:
    granted.append(benefit_id)
    return BenefitRecorded(event_id=event_id, source="intake", household_id=hid, data={
        "benefit_id": benefit_id, "programme": programme, "source": source, "person_key": person,
        "amount_fen": DIBAO_FEN if programme == "DIBAO" else 50_000, "period_start": start,
        "period_end": None if programme in ("DIBAO", "EXTREME_POVERTY", "EXPENDITURE_POVERTY") else start + timedelta(days=30)})


def city_events(events: int, households: int, seed: int = 7, conflict_share: float = 0.02, prefix: str = "hh") -> Iterator[Event]:
    """`events` events over `households` households, interleaved household by household."""
    rng = random.Random(seed)
    per_household = max(1, events // households)
    window = 2000  # households in flight at once
    for first in range(0, households, window):
        streams = [household_events(rng, n, per_household, conflict_share, prefix) for n in range(first, min(first + window, households))]
        for index in range(per_household):
            for stream in streams:
                if index < len(stream):
                    yield stream[index]
