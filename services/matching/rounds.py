"""A round in three steps: `prepare` takes the pool's work into arrays (on the event loop),
`plan_round` (candidates.py) chooses in a worker process, `chosen` maps the choice back to ids
for `Pool.commit_round`. Pure; the handler times and commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from services.matching.candidates import RoundInput, RoundPlan, need_arrays, offering_arrays
from services.matching.model import Need, Offering
from services.matching.pool import Candidate, Pool


@dataclass
class PreparedRound:
    needs: list[Need]
    offerings: list[Offering]
    input: RoundInput


def prepare(pool: Pool, now: datetime, per_need: int) -> PreparedRound | None:
    """The needs the pool has gathered and the live offerings of their categories with units
    not yet promised. None if there is nothing to do (the needs come back when units free up)."""
    today = now.date()
    needs = pool.take_round_work()
    if not needs:
        return None
    categories = {n.category for n in needs}
    offerings = [o for o in pool.live_offerings(today) if o.category in categories and pool.free_units(o.offering_id) > 0]
    if not offerings:
        return None
    free = {o.offering_id: pool.free_units(o.offering_id) for o in offerings}
    weights = pool.weights
    return PreparedRound(
        needs, offerings,
        RoundInput(
            needs=need_arrays(needs, pool.households, weights, today),
            offerings=offering_arrays(offerings, free),
            declined=_refused(pool, needs, offerings),
            nearness_points=(weights.nearness.citywide, weights.nearness.same_district, weights.nearness.same_subdistrict),
            per_need=per_need,
        ),
    )


def chosen(prepared: PreparedRound, plan: RoundPlan) -> list[Candidate]:
    return [
        Candidate(prepared.needs[i].need_id, prepared.offerings[j].offering_id, int(p))
        for i, j, p in zip(plan.need.tolist(), plan.offering.tolist(), plan.priority.tolist(), strict=True)
    ]


def _refused(pool: Pool, needs: list[Need], offerings: list[Offering]) -> np.ndarray:  # type: ignore[type-arg]
    need_index = {n.need_id: i for i, n in enumerate(needs)}
    offering_index = {o.offering_id: j for j, o in enumerate(offerings)}
    keys = [need_index[n] * len(offerings) + offering_index[o] for n, o in pool.refused if n in need_index and o in offering_index]
    return np.array(sorted(keys), dtype=np.int64)
