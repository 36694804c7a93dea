"""Social forces in the statistics: what organisations offer, what is matched and delivered, and
what it is worth, by district x category x month and per organisation; and why matches are
declined (a rising `no_capacity` count shows capacity on record that is stale).

Offerings count in each district they serve ("citywide" when they name none) and in the month
they were published; matches count in the need's district, in the month proposed (matched) and
in the month delivered (delivered, value).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from services.charity.repository import MatchEntry, Offering, Organisation

MATCHED_STATES = frozenset({"accepted", "in-progress", "completed", "failed"})
CITYWIDE = "citywide"


def _month(moment: Any) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def _value(offering: Offering | None, quantity: int) -> int:
    """What `quantity` units of an offering are worth in fen (0 when the offering states no value)."""
    return (offering.value_fen_per_unit or 0) * quantity if offering is not None else 0


def _cell() -> dict[str, Any]:
    return {"organisations": set(), "offerings": 0, "capacity_offered": 0, "value_offered_fen": 0, "matched": 0, "value_matched_fen": 0,
            "delivered": 0, "value_delivered_fen": 0}


def social_forces(
    organisations: Iterable[Organisation], offerings: Iterable[Offering], matches: Iterable[MatchEntry],
    first_month: str | None = None, last_month: str | None = None,
) -> dict[str, Any]:
    def within(month: str) -> bool:
        return (first_month is None or month >= first_month) and (last_month is None or month <= last_month)

    offerings, matches, organisations = list(offerings), list(matches), list(organisations)
    cells: dict[tuple[str, str, str], dict[str, Any]] = defaultdict(_cell)
    per_org: dict[str, dict[str, Any]] = defaultdict(lambda: _cell() | {"declines": Counter()})
    counted: list[Offering] = []
    for offering in offerings:
        month = _month(offering.created_at)
        if not within(month):
            continue
        counted.append(offering)
        for district in offering.districts or sorted({s[:6] for s in offering.subdistricts}) or [CITYWIDE]:
            cell = cells[(district, offering.category, month)]
            cell["organisations"].add(offering.organisation_id)
            cell["offerings"] += 1
            cell["capacity_offered"] += offering.quantity_total
            cell["value_offered_fen"] += _value(offering, offering.quantity_total)
        mine = per_org[offering.organisation_id]
        mine["offerings"] += 1
        mine["capacity_offered"] += offering.quantity_total
        mine["value_offered_fen"] += _value(offering, offering.quantity_total)
    unit_values = {o.offering_id: o for o in offerings}
    declines: Counter[str] = Counter()
    for match in matches:
        proposed = _month(match.proposed_at)
        if match.state in MATCHED_STATES and within(proposed):
            cell = cells[(match.district, match.category, proposed)]
            cell["organisations"].add(match.organisation_id)
            cell["matched"] += match.quantity
            cell["value_matched_fen"] += _value(unit_values.get(match.offering_id), match.quantity)
            per_org[match.organisation_id]["matched"] += match.quantity
            per_org[match.organisation_id]["value_matched_fen"] += _value(unit_values.get(match.offering_id), match.quantity)
        if match.state == "rejected" and within(proposed):
            declines[match.reason_code or "other"] += 1
            per_org[match.organisation_id]["declines"][match.reason_code or "other"] += 1
        if match.state == "completed" and match.delivered_on is not None and within(_month(match.delivered_on)):
            cell = cells[(match.district, match.category, _month(match.delivered_on))]
            cell["organisations"].add(match.organisation_id)
            cell["delivered"] += match.delivered_quantity or 0
            cell["value_delivered_fen"] += match.amount_fen or 0
            per_org[match.organisation_id]["delivered"] += match.delivered_quantity or 0
            per_org[match.organisation_id]["value_delivered_fen"] += match.amount_fen or 0
    names = {o.organisation_id: o for o in organisations}
    outcomes = match_outcomes(matches, names, within)
    rows = [
        {"district": d, "category": c, "month": m, **cell, "organisations": len(cell["organisations"])}
        for (d, c, m), cell in sorted(cells.items())
    ]
    by_org = [
        {
            "organisation_id": org_id, "name": names[org_id].name if org_id in names else "", "kind": names[org_id].kind if org_id in names else "",
            **{k: v for k, v in cell.items() if k not in ("organisations", "declines")},
            "declines_by_reason": dict(sorted(cell["declines"].items())),
        }
        for org_id, cell in sorted(per_org.items())
    ]
    totals = {
        "organisations": Counter(o.status for o in organisations),
        "offerings": len(counted),  # once each, though a row counts it in every district it serves
        "capacity_offered": sum(o.quantity_total for o in counted),
        "value_offered_fen": sum(_value(o, o.quantity_total) for o in counted),
        "matched": sum(r["matched"] for r in rows),
        "value_matched_fen": sum(r["value_matched_fen"] for r in rows),
        "delivered": sum(r["delivered"] for r in rows),
        "value_delivered_fen": sum(r["value_delivered_fen"] for r in rows),
        "declines_by_reason": dict(sorted(declines.items())),
    }
    return {"totals": totals, "rows": rows, "organisations": by_org, "outcomes": outcomes}


# A match's state, as the outcome staff count it (FHIR Task states, in `matches.py`).
OUTCOMES = {"requested": "proposed", "accepted": "accepted", "in-progress": "accepted", "completed": "fulfilled",
            "rejected": "declined", "failed": "failed", "cancelled": "cancelled", "expired": "expired"}


def match_outcomes(matches: Iterable[MatchEntry], names: dict[str, Organisation], within: Any) -> list[dict[str, Any]]:
    """Per organisation x category, the proposals of the period (by the month proposed) by where
    they stand now: `proposed` counts every proposal; `open` those not yet answered; declines by reason."""
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    for match in matches:
        if not within(_month(match.proposed_at)):
            continue
        cell = cells.setdefault((match.organisation_id, match.category), {
            "proposed": 0, "open": 0, "accepted": 0, "declined": 0, "fulfilled": 0, "failed": 0, "cancelled": 0, "expired": 0,
            "declines_by_reason": Counter(),
        })
        cell["proposed"] += 1
        outcome = OUTCOMES.get(match.state, "open")
        cell["open" if outcome == "proposed" else outcome] += 1
        if outcome == "declined":
            cell["declines_by_reason"][match.reason_code or "other"] += 1
    return [
        {"organisation_id": org_id, "name": names[org_id].name if org_id in names else "", "category": category,
         **{k: v for k, v in cell.items() if k != "declines_by_reason"}, "declines_by_reason": dict(sorted(cell["declines_by_reason"].items()))}
        for (org_id, category), cell in sorted(cells.items())
    ]
