"""Candidate pairs for a round, in arrays: the eligibility rules and priority of eligibility.py and
priority.py applied to whole groups at once. Pure: plain values in, numpy out.

The work is split by category (an offering serves one) and by the household's district: within
one (category, district) group a matrix of needs x offerings that may reach the district
(citywide ones, those naming the district, those naming one of the group's subdistricts) is
checked rule by rule with array operations.

Each need keeps at most `per_need` candidates: the nearest first, and among equally near ones a
window that starts at a place of the need's own (its index, scrambled) and goes round the list,
so that the needs of one group are spread over all its offerings rather than all queueing for
the same few. The solve is exact over the candidates kept; with no limit (per_need=0) they are
all kept.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from numpy.typing import NDArray

from contracts.catalogue import Category, ColourStatus, HouseholdCategory
from services.matching.model import COLOUR_STEPS, Household, Need, Offering
from services.matching.priority import PriorityWeights
from services.matching.solver import IntArray, Pairs

CATEGORIES = [c.value for c in Category]
HOUSEHOLD_CATEGORIES = [c.value for c in HouseholdCategory]
COLOURS = [c.value for c in ColourStatus]
UNKNOWN_HOUSEHOLD_CATEGORY = 1 << len(HOUSEHOLD_CATEGORIES)
UNKNOWN_COLOUR = 1 << len(COLOURS)


def _age_mask(low: int, high: int) -> tuple[int, int]:
    """Bits low..high (inclusive) of a 128-bit set of ages, as two 64-bit halves."""
    bits = 0
    for age in range(max(0, low), min(127, high) + 1):
        bits |= 1 << age
    return bits & 0xFFFF_FFFF_FFFF_FFFF, bits >> 64


@dataclass
class NeedArrays:
    ids: list[str]
    households: list[str]
    category: IntArray
    district: list[str | None]
    subdistrict: list[str | None]
    household_category: IntArray  # one bit
    colour: IntArray  # one bit
    ages_low: NDArray[np.uint64]
    ages_high: NDArray[np.uint64]
    disabled: NDArray[np.bool_]
    registered: NDArray[np.bool_]
    served: IntArray  # bit per category received now
    base_priority: IntArray

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class OfferingArrays:
    ids: list[str]
    category: IntArray
    household_categories: IntArray
    colours: IntArray
    ages_low: NDArray[np.uint64]
    ages_high: NDArray[np.uint64]
    any_age: NDArray[np.bool_]
    disability: NDArray[np.bool_]
    residence: NDArray[np.bool_]
    districts: list[list[str]]
    subdistricts: list[list[str]]
    free: IntArray

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class RoundInput:
    needs: NeedArrays
    offerings: OfferingArrays
    declined: IntArray  # need index * len(offerings) + offering index
    nearness_points: tuple[int, int, int]  # citywide, same district, same subdistrict
    per_need: int = 8


@dataclass
class RoundPlan:
    candidates: int
    need: IntArray
    offering: IntArray
    priority: IntArray
    seconds: dict[str, float] = field(default_factory=dict)


def need_arrays(needs: list[Need], households: dict[str, Household], weights: PriorityWeights, today: date) -> NeedArrays:
    """Needs in the order given (callers give them in the order they were recorded). The need's
    own priority terms are `priority.need_terms`, here for all needs at once (tested equal)."""
    n = len(needs)
    category_of = {c: i for i, c in enumerate(CATEGORIES)}
    household_category_of = {c: 1 << i for i, c in enumerate(HOUSEHOLD_CATEGORIES)}
    colour_of = {c: 1 << i for i, c in enumerate(COLOURS)}
    category = np.empty(n, dtype=np.int64)
    household_category = np.full(n, UNKNOWN_HOUSEHOLD_CATEGORY, dtype=np.int64)
    colour = np.full(n, UNKNOWN_COLOUR, dtype=np.int64)
    colour_steps = np.zeros(n, dtype=np.int64)
    ages_low = np.zeros(n, dtype=np.uint64)
    ages_high = np.zeros(n, dtype=np.uint64)
    disabled = np.zeros(n, dtype=bool)
    registered = np.zeros(n, dtype=bool)
    served = np.zeros(n, dtype=np.int64)
    received = np.zeros(n, dtype=np.int64)
    urgency = np.empty(n, dtype=np.int64)
    assessed = np.empty(n, dtype=np.int64)
    district: list[str | None] = [None] * n
    subdistrict: list[str | None] = [None] * n
    served_bits: dict[frozenset[str], int] = {}
    for i, need in enumerate(needs):
        category[i] = category_of[need.category]
        urgency[i] = need.urgency
        assessed[i] = need.assessed_on.toordinal()
        h = households.get(need.household_id)
        if h is None:
            continue
        household_category[i] = household_category_of.get(h.category, UNKNOWN_HOUSEHOLD_CATEGORY)  # type: ignore[arg-type]
        colour[i] = colour_of.get(h.colour, UNKNOWN_COLOUR)  # type: ignore[arg-type]
        colour_steps[i] = COLOUR_STEPS.get(h.colour or "green", 0)
        received[i] = h.received.get(need.category, 0)
        if h.birth_years:
            bits = 0
            for age in h.ages(today.year):
                bits |= 1 << min(age, 127)
            ages_low[i], ages_high[i] = bits & 0xFFFF_FFFF_FFFF_FFFF, bits >> 64
        categories = h.served_categories
        if categories:
            bits = served_bits.get(categories)
            if bits is None:
                bits = served_bits[categories] = sum(1 << category_of[c] for c in categories)
            served[i] = bits
            disabled[i] = h.disabled
        registered[i] = h.registered_residence
        district[i], subdistrict[i] = h.district, h.subdistrict
    w = weights
    waited = np.clip(today.toordinal() - assessed, 0, w.waiting.max_days)
    base = (
        urgency * w.urgency.points_per_level
        + colour_steps * w.colour.points_per_step
        + waited * w.waiting.points_per_day
        + (w.received.max_counted - np.minimum(received, w.received.max_counted)) * w.received.points_per_step
    )
    return NeedArrays(
        [n.need_id for n in needs], [n.household_id for n in needs], category, district, subdistrict,
        household_category, colour, ages_low, ages_high, disabled, registered, served, base.astype(np.int64),
    )


def offering_code(o: Offering) -> tuple:  # type: ignore[type-arg]
    """What a round needs of an offering's record, as plain values; kept on the offering."""
    if o.code is None:
        rules = o.record.eligibility
        allowed = [c.value for c in rules.household_categories]
        colours = [c.value for c in rules.colours]
        any_age = rules.min_age is None and rules.max_age is None
        low, high = (0, 0) if any_age else _age_mask(rules.min_age or 0, rules.max_age if rules.max_age is not None else 127)
        o.code = (
            CATEGORIES.index(o.category),
            sum(1 << HOUSEHOLD_CATEGORIES.index(c) for c in allowed) if allowed else (UNKNOWN_HOUSEHOLD_CATEGORY << 1) - 1,
            sum(1 << COLOURS.index(c) for c in colours) if colours else (UNKNOWN_COLOUR << 1) - 1,
            low, high, any_age, rules.disability_required, rules.registered_residence_required,
            list(o.record.service_area.districts), list(o.record.service_area.subdistricts),
        )
    return o.code


def offering_arrays(offerings: list[Offering], free: dict[str, int]) -> OfferingArrays:
    codes = [offering_code(o) for o in offerings]
    column = list(zip(*codes, strict=True)) if codes else [()] * 10
    return OfferingArrays(
        ids=[o.offering_id for o in offerings],
        category=np.array(column[0], dtype=np.int64),
        household_categories=np.array(column[1], dtype=np.int64),
        colours=np.array(column[2], dtype=np.int64),
        ages_low=np.array(column[3], dtype=np.uint64),
        ages_high=np.array(column[4], dtype=np.uint64),
        any_age=np.array(column[5], dtype=bool),
        disability=np.array(column[6], dtype=bool),
        residence=np.array(column[7], dtype=bool),
        districts=list(column[8]),
        subdistricts=list(column[9]),
        free=np.array([free.get(o.offering_id, 0) for o in offerings], dtype=np.int64),
    )


def generate(round_input: RoundInput) -> Pairs:
    needs, offerings = round_input.needs, round_input.offerings
    citywide_points, district_points, subdistrict_points = round_input.nearness_points
    city: dict[int, list[int]] = defaultdict(list)
    by_district: dict[tuple[int, str], list[int]] = defaultdict(list)
    by_subdistrict: dict[tuple[int, str], list[int]] = defaultdict(list)
    for j in range(len(offerings)):
        if offerings.free[j] <= 0:
            continue
        c = int(offerings.category[j])
        if not offerings.districts[j] and not offerings.subdistricts[j]:
            city[c].append(j)
        for d in offerings.districts[j]:
            by_district[(c, d)].append(j)
        for s in offerings.subdistricts[j]:
            by_subdistrict[(c, s)].append(j)
    groups: dict[tuple[int, str | None], list[int]] = defaultdict(list)
    not_served = (needs.served & (1 << needs.category)) == 0
    for i in np.flatnonzero(not_served).tolist():
        groups[(int(needs.category[i]), needs.district[i])].append(i)
    chunks_need: list[IntArray] = []
    chunks_offering: list[IntArray] = []
    chunks_priority: list[IntArray] = []
    for (c, d), rows_list in groups.items():
        rows = np.array(rows_list, dtype=np.int64)
        subs = {needs.subdistrict[i] for i in rows_list} - {None}
        columns = sorted(
            set(city.get(c, ()))
            | set(by_district.get((c, d), ()) if d is not None else ())
            | {j for s in subs for j in by_subdistrict.get((c, s), ())}
        )
        if not columns:
            continue
        cols = np.array(columns, dtype=np.int64)
        nearness = _nearness(needs, offerings, rows, cols, d, citywide_points, district_points, subdistrict_points)
        ok = nearness >= 0
        ok &= (needs.household_category[rows][:, None] & offerings.household_categories[cols][None, :]) != 0
        ok &= (needs.colour[rows][:, None] & offerings.colours[cols][None, :]) != 0
        ok &= offerings.any_age[cols][None, :] | ((needs.ages_low[rows][:, None] & offerings.ages_low[cols][None, :]) != 0) | (
            (needs.ages_high[rows][:, None] & offerings.ages_high[cols][None, :]) != 0
        )
        ok &= needs.disabled[rows][:, None] | ~offerings.disability[cols][None, :]
        ok &= needs.registered[rows][:, None] | ~offerings.residence[cols][None, :]
        r, k = _keep(ok, nearness, rows, round_input.per_need)
        chunks_need.append(rows[r])
        chunks_offering.append(cols[k])
        chunks_priority.append(needs.base_priority[rows[r]] + nearness[r, k])
    if not chunks_need:
        nothing = np.zeros(0, dtype=np.int64)
        return Pairs(nothing, nothing, nothing)
    need, offering, priority = np.concatenate(chunks_need), np.concatenate(chunks_offering), np.concatenate(chunks_priority)
    if round_input.declined.shape[0]:
        keep = ~np.isin(need * len(offerings) + offering, round_input.declined)
        need, offering, priority = need[keep], offering[keep], priority[keep]
    return Pairs(need, offering, priority)


def _nearness(
    needs: NeedArrays, offerings: OfferingArrays, rows: IntArray, cols: IntArray, district: str | None,
    citywide: int, same_district: int, same_subdistrict: int,
) -> IntArray:
    """Points for nearness per pair, -1 where the offering's area does not reach the household."""
    points = np.full((rows.shape[0], cols.shape[0]), -1, dtype=np.int64)
    row_subdistricts = np.array([needs.subdistrict[i] or "" for i in rows.tolist()], dtype=object)
    for k, j in enumerate(cols.tolist()):
        districts, subdistricts = offerings.districts[j], offerings.subdistricts[j]
        if not districts and not subdistricts:
            points[:, k] = citywide
            continue
        if district is not None and district in districts:
            points[:, k] = same_district
        if subdistricts:
            inside = np.isin(row_subdistricts, subdistricts)
            points[inside, k] = same_subdistrict
    return points


def _keep(ok: NDArray[np.bool_], nearness: IntArray, rows: IntArray, per_need: int) -> tuple[IntArray, IntArray]:
    """(row, column) positions of the candidates kept: eligible, at most `per_need` a row."""
    count = ok.shape[1]
    if per_need <= 0 or count <= per_need:
        return np.nonzero(ok)
    start = (rows * 2654435761) % count  # a place of each need's own in the list
    turn = (np.arange(count)[None, :] - start[:, None]) % count
    key = np.where(ok, nearness * count + (count - 1 - turn), -1)
    best = np.argpartition(-key, per_need - 1, axis=1)[:, :per_need]
    r = np.repeat(np.arange(ok.shape[0]), per_need)
    k = best.ravel()
    kept = key[r, k] >= 0
    return r[kept], k[kept]


def plan_round(round_input: RoundInput) -> RoundPlan:
    """The job a worker process runs: candidates, then the optimal assignment over them."""
    import time

    from services.matching.solver import solve

    started = time.perf_counter()
    pairs = generate(round_input)
    generated = time.perf_counter()
    assignment = solve(pairs, round_input.offerings.free, len(round_input.needs))
    solved = time.perf_counter()
    return RoundPlan(
        candidates=len(pairs), need=assignment.need, offering=assignment.offering, priority=assignment.priority,
        seconds={"candidates": round(generated - started, 3), "solve": round(solved - generated, 3)},
    )
