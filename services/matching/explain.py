"""Why: for a proposal (each rule checked, each priority term), for a need left unmatched (why
not), and the staff reports built from the same reasons. Pure: reads a Pool, returns dicts."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from services.matching.eligibility import failed
from services.matching.model import Need, Offering
from services.matching.pool import Pool
from services.matching.priority import total, waiting_days

# Why an open need has no proposal, in the order they are tested.
UNMATCHED_REASONS = (
    "already_served",            # the household receives this category now, from some source
    "no_offering_in_area",       # no live offering of this category reaches the household's area
    "no_capacity",               # there are, but every unit is promised
    "not_eligible",              # there are, with units, but the household meets none's rules
    "declined_by_all",           # the eligible ones all declined (or let expire) this need before
    "waiting_for_round",         # an eligible offering has units: the next round proposes it
)
SHOWN_OFFERINGS = 20


def explain_match(pool: Pool, match_id: str, today: date) -> dict[str, Any] | None:
    proposal = pool.proposals.get(match_id)
    if proposal is None:
        return None
    need = pool.needs.get(proposal.need_id)
    offering = pool.offerings.get(proposal.offering_id)
    body: dict[str, Any] = {
        "match_id": match_id, "state": proposal.state, "need_id": proposal.need_id, "offering_id": proposal.offering_id,
        "household_id": proposal.household_id, "proposed_at": proposal.proposed_at, "expires_at": proposal.expires_at,
        "closed_at": proposal.closed_at, "reason_code": proposal.reason_code, "reason": proposal.reason,
        "priority_at_proposal": proposal.priority,
    }
    if need is None or offering is None:
        return body | {"rules": [], "priority_terms": {}, "note": "the need or offering is no longer known"}
    # The rules as they stand for this pair today; the proposal's own units are not counted against it.
    checks = pool.checks(need, offering, today)
    rules = []
    for check in checks:
        passed = check.passed
        if check.rule == "capacity" and proposal.state in ("proposed", "accepted", "in_progress"):
            passed, detail = True, f"this proposal holds {proposal.quantity} of the offering's units"
        elif check.rule == "not_declined" and proposal.state in ("declined", "expired", "failed"):
            passed, detail = True, "this is the proposal that was refused"
        else:
            detail = check.detail
        rules.append({"rule": check.rule, "passed": passed, "detail": detail})
    found = pool.priority_terms(need, offering, today)
    return body | {"rules": rules, "priority_terms": found, "priority_now": total(found)}


def explain_need(pool: Pool, need_id: str, today: date) -> dict[str, Any] | None:
    need = pool.needs.get(need_id)
    if need is None:
        return None
    household = pool.households.get(need.household_id)
    body: dict[str, Any] = {
        "need_id": need_id, "household_id": need.household_id, "category": need.category, "urgency": need.urgency,
        "status": need.status, "waiting_days": waiting_days(need, today),
        "district": household.district if household else None, "subdistrict": household.subdistrict if household else None,
        "history": [
            {"match_id": p.match_id, "offering_id": p.offering_id, "state": p.state, "reason_code": p.reason_code}
            for p in sorted((p for p in pool.proposals.values() if p.need_id == need_id), key=lambda p: p.proposed_at)
        ],
    }
    if need.status != "open":
        return body | {"reason": f"need_{need.status}"}
    match_id = pool.open_by_need.get(need_id)
    if match_id is not None:
        return body | {"reason": "proposed", "match_id": match_id}
    reason, offerings = why_unmatched(pool, need, today)
    return body | {"reason": reason, "offerings_considered": offerings[:SHOWN_OFFERINGS], "offerings_count": len(offerings)}


class AreaIndex:
    """The live offerings of each category by where they reach: citywide, by district, by
    subdistrict. Built once per report or timer tick, so a need's reason looks only at the
    offerings that reach its household."""

    def __init__(self, pool: Pool, today: date) -> None:
        self.city: dict[str, list[Offering]] = defaultdict(list)
        self.district: dict[tuple[str, str], list[Offering]] = defaultdict(list)
        self.subdistrict: dict[tuple[str, str], list[Offering]] = defaultdict(list)
        for offering in pool.live_offerings(today):
            area = offering.record.service_area
            if not area.districts and not area.subdistricts:
                self.city[offering.category].append(offering)
            for d in area.districts:
                self.district[(offering.category, d)].append(offering)
            for s in area.subdistricts:
                self.subdistrict[(offering.category, s)].append(offering)

    def reaching(self, category: str, district: str | None, subdistrict: str | None) -> list[Offering]:
        found = {o.offering_id: o for o in self.city.get(category, ())}
        if district:
            found |= {o.offering_id: o for o in self.district.get((category, district), ())}
        if subdistrict:
            found |= {o.offering_id: o for o in self.subdistrict.get((category, subdistrict), ())}
        return [found[k] for k in sorted(found)]


def why_unmatched(pool: Pool, need: Need, today: date, index: AreaIndex | None = None) -> tuple[str, list[dict[str, Any]]]:
    """The first reason that holds, and each live offering reaching the household with the rules
    it fails there."""
    household = pool.households.get(need.household_id)
    if household is not None and need.category in household.served_categories:
        return "already_served", []
    index = index or AreaIndex(pool, today)
    reaching = index.reaching(need.category, household.district if household else None, household.subdistrict if household else None)
    if not reaching:
        return "no_offering_in_area", []
    looked = []
    with_units = []
    for offering in reaching:
        if pool.free_units(offering.offering_id) <= 0:
            looked.append({"offering_id": offering.offering_id, "failed": ["capacity"]})
            continue
        rules = failed(pool.checks(need, offering, today))
        looked.append({"offering_id": offering.offering_id, "failed": rules})
        with_units.append(rules)
    if not with_units:
        return "no_capacity", looked
    rules_met = [rules for rules in with_units if not (set(rules) - {"not_declined"})]
    if not rules_met:
        return "not_eligible", looked
    if all("not_declined" in rules for rules in rules_met):
        return "declined_by_all", looked
    return "waiting_for_round", looked


def unmet_report(pool: Pool, today: date, category: str | None = None, district: str | None = None) -> dict[str, Any]:
    """Open needs without a proposal, by category x district: how many, why, how long waited."""
    cells: dict[tuple[str, str], dict[str, Any]] = defaultdict(lambda: {"count": 0, "reasons": Counter(), "waiting": []})
    index = AreaIndex(pool, today)
    for need in pool.open_unproposed():
        household = pool.households.get(need.household_id)
        where = (household.district if household else None) or "unknown"
        if (category and need.category != category) or (district and where != district):
            continue
        reason, _ = why_unmatched(pool, need, today, index)
        cell = cells[(need.category, where)]
        cell["count"] += 1
        cell["reasons"][reason] += 1
        cell["waiting"].append(waiting_days(need, today))
    rows = []
    for (cat, where), cell in sorted(cells.items()):
        waited = sorted(cell["waiting"])
        rows.append({
            "category": cat, "district": where, "open_needs": cell["count"],
            "reasons": {r: cell["reasons"].get(r, 0) for r in UNMATCHED_REASONS},
            "waiting_days": {"mean": round(sum(waited) / len(waited), 1), "median": waited[len(waited) // 2], "max": waited[-1]},
        })
    return {"as_of": today.isoformat(), "reasons": list(UNMATCHED_REASONS), "cells": rows, "total": sum(r["open_needs"] for r in rows)}


def fairness_report(pool: Pool, now: datetime, days: int) -> dict[str, Any]:
    """Per district: its share of the open needs against its share of the units proposed in the
    last `days` days. A ratio well under 1 means the district gets less than its need."""
    since = now - timedelta(days=days)
    need_count: Counter[str] = Counter()
    for need in pool.needs.values():
        if need.status == "open":
            household = pool.households.get(need.household_id)
            need_count[(household.district if household else None) or "unknown"] += 1
    units: Counter[str] = Counter()
    for proposal in pool.proposals.values():
        if proposal.proposed_at >= since:
            household = pool.households.get(proposal.household_id)
            units[(household.district if household else None) or "unknown"] += proposal.quantity
    all_needs, all_units = sum(need_count.values()), sum(units.values())
    rows = []
    for where in sorted(set(need_count) | set(units)):
        need_share = need_count[where] / all_needs if all_needs else 0.0
        unit_share = units[where] / all_units if all_units else 0.0
        rows.append({
            "district": where, "open_needs": need_count[where], "share_of_open_needs": round(need_share, 4),
            "units_proposed": units[where], "share_of_units_proposed": round(unit_share, 4),
            "ratio": round(unit_share / need_share, 3) if need_share else None,
        })
    return {"since": since.isoformat(), "days": days, "open_needs": all_needs, "units_proposed": all_units, "districts": rows}
