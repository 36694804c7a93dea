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


def _cell() -> dict[str, Any]:
    return {"organisations": set(), "offerings": 0, "capacity_offered": 0, "matched": 0, "delivered": 0, "value_delivered_fen": 0}


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
        mine = per_org[offering.organisation_id]
        mine["offerings"] += 1
        mine["capacity_offered"] += offering.quantity_total
    declines: Counter[str] = Counter()
    for match in matches:
        proposed = _month(match.proposed_at)
        if match.state in MATCHED_STATES and within(proposed):
            cell = cells[(match.district, match.category, proposed)]
            cell["organisations"].add(match.organisation_id)
            cell["matched"] += match.quantity
            per_org[match.organisation_id]["matched"] += match.quantity
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
        "matched": sum(r["matched"] for r in rows),
        "delivered": sum(r["delivered"] for r in rows),
        "value_delivered_fen": sum(r["value_delivered_fen"] for r in rows),
        "declines_by_reason": dict(sorted(declines.items())),
    }
    return {"totals": totals, "rows": rows, "organisations": by_org}
