"""A synthetic pool for matching's benchmarks: households, open needs and offerings over Shanghai's
16 districts and the catalogue's 9 categories (the issue speaks of 12; the catalogue has 9, and
all 9 are used). Seeded: the same arguments give the same pool."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from contracts.catalogue import DISTRICTS, Category, ColourStatus, HouseholdCategory
from contracts.hub import OfferingDataV2
from services.matching.model import Household, Need, Offering

TODAY = date(2026, 12, 2)
DISTRICT_CODES = sorted(DISTRICTS)
CATEGORIES = list(Category)
SUBDISTRICTS_PER_DISTRICT = 12
HELD = ["DIBAO", "MEDICAL", "EDUCATION", "GRAIN_OIL", "SEVERE_DISABILITY", "RENTAL_HOUSING", "EMPLOYMENT"]


def subdistrict(district: str, number: int) -> str:
    return f"{district}-{number:02d}"


def households(count: int, rng: random.Random) -> dict[str, Household]:
    found = {}
    for i in range(count):
        district = rng.choice(DISTRICT_CODES)
        held = [p for p in HELD if rng.random() < 0.12]
        found[f"h{i:07d}"] = Household(
            household_id=f"h{i:07d}",
            district=district,
            subdistrict=subdistrict(district, rng.randrange(SUBDISTRICTS_PER_DISTRICT)),
            category=rng.choice(list(HouseholdCategory)).value,
            colour=rng.choice(list(ColourStatus)).value,
            birth_years=[rng.randint(1935, 2024) for _ in range(rng.randint(1, 5))],
            size=3,
            programmes=held,
            received={c.value: rng.randint(0, 4) for c in CATEGORIES if rng.random() < 0.3},
        )
    return found


def needs(count: int, households: dict[str, Household], rng: random.Random, waited_days: int = 300) -> list[Need]:
    ids = sorted(households)
    found = []
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(count):
        assessed = TODAY - timedelta(days=rng.randint(0, waited_days))
        found.append(
            Need(
                need_id=f"CA:n{i:07d}", household_id=ids[i % len(ids)], category=rng.choice(CATEGORIES).value,
                urgency=rng.randint(1, 5), assessed_on=assessed, recorded_at=start + timedelta(seconds=i),
            )
        )
    return found


def offerings(count: int, total_units: int, rng: random.Random) -> list[Offering]:
    found = []
    per = total_units // count
    extra = total_units - per * count
    now = datetime(2026, 12, 1, tzinfo=UTC)
    for i in range(count):
        area = rng.random()
        district = rng.choice(DISTRICT_CODES)
        if area < 0.15:
            service_area = {}
        elif area < 0.75:
            service_area = {"districts": [district]}
        else:
            service_area = {"subdistricts": [subdistrict(district, n) for n in rng.sample(range(SUBDISTRICTS_PER_DISTRICT), 3)]}
        eligibility: dict[str, object] = {}
        if rng.random() < 0.3:
            eligibility["household_categories"] = rng.sample([c.value for c in HouseholdCategory], 3)
        if rng.random() < 0.15:
            eligibility["min_age"] = 60
        if rng.random() < 0.1:
            eligibility["colours"] = ["red", "orange"]
        units = per + (1 if i < extra else 0)
        category = rng.choice(CATEGORIES)
        record = OfferingDataV2(
            offering_id=f"o{i:06d}", charity_id=f"c{i % 400:04d}", title="offer", category=category,
            programme="CHARITY_GOODS", kind="goods", unit="parcel", quantity_total=units, quantity_remaining=units,
            eligibility=eligibility, service_area=service_area, valid_from=date(2026, 1, 1), valid_until=date(2027, 6, 30),
            capacity_confirmed_at=now,
        )
        found.append(Offering(record.offering_id, record, now))
    return found


def pool(
    needs_count: int, offerings_count: int, units: int, seed: int = 7, waited_days: int = 300
) -> tuple[dict[str, Household], list[Need], list[Offering]]:
    rng = random.Random(seed)
    homes = households(max(1, needs_count * 7 // 10), rng)
    return homes, needs(needs_count, homes, rng, waited_days), offerings(offerings_count, units, rng)
