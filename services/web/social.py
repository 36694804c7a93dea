"""The social forces' use cases over the charity service and matching: organisations awaiting
approval, offerings and match outcomes, the unmet-needs report, the dashboard's social section,
and a household's matches. What the pages and the JSON routes both call; each takes the person
signed in first and checks what they may see or do.

Who sees what: these pages need Permission.SOCIAL (administrators and reviewers). A department
viewer is scoped to its department's programmes, and the charity programmes (CHARITY_*) belong to
no department, so it gets a 403 page here, no section on the dashboard, and never an
organisation's contact data. Contact names and phones are masked on every page and export."""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contracts.catalogue import Category
from kit.logs import get_logger
from kit.pages import N_
from services.web.accounts import FieldError, Permission, StaffMember
from services.web.figures import DashboardFigures
from services.web.review import NotFound, require
from services.web.tables import Column, Table
from services.web.upstream import UpstreamDown, UpstreamRefused, Upstreams

log = get_logger(__name__)
CATEGORIES = tuple(c.value for c in Category)
OFFERING_STATUSES = ("open", "stale", "closed", "withdrawn")
DISTRICT = re.compile(r"^\d{6}$")
REPORT_DISTRICT = re.compile(r"^[0-9A-Za-z]{1,16}$")
DECLINE_REASONS = {
    "no_capacity": N_("Declined: no capacity"), "outside_area": N_("Declined: outside its area"),
    "not_eligible": N_("Declined: not eligible"), "unreachable": N_("Declined: unreachable"), "other": N_("Declined: other reason"),
}
UNMATCHED_REASONS = {  # matching's reasons, in its order
    "already_served": N_("Already served"), "no_offering_in_area": N_("No offering in the area"),
    "no_capacity": N_("No units left"), "not_eligible": N_("Eligible for none"), "declined_by_all": N_("Declined by all"),
    "waiting_for_round": N_("Waiting for the next round"),
}
MAX_ROWS = 1000  # the charity service's longest page


# --- masking -----------------------------------------------------------------------------------


def mask_phone(phone: str | None) -> str:
    """Keep the first three and last four digits: 138****5678."""
    digits = phone or ""
    if len(digits) < 8:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_name(name: str | None) -> str:
    """The first character only: 李** (a person's name is personal data)."""
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


# --- organisations awaiting approval -----------------------------------------------------------


def organisations_table(organisations: list[dict[str, Any]]) -> Table:
    return Table("organisations", [
        Column("organisation_id", N_("Organisation")), Column("name", N_("Organisation name")), Column("kind", N_("Kind")),
        Column("credit_code", N_("Credit code")), Column("districts", N_("Districts served")),
        Column("contact_name", N_("Contact (masked)")), Column("contact_phone", N_("Contact phone (masked)")),
        Column("registered_at", N_("Registered")),
    ], [o | {"contact_name": mask_name(o.get("contact_name")), "contact_phone": mask_phone(o.get("contact_phone")),
             "districts": o.get("districts") or [N_("citywide")],
             "registered_at": str(o.get("registered_at") or "")[:16].replace("T", " ")} for o in organisations])


async def pending_organisations(staff: StaffMember, upstreams: Upstreams) -> Table:
    require(staff, Permission.SOCIAL)
    require(staff, Permission.DECIDE)
    found = await upstreams.charity.get("/organisations", staff.username, {"status": "pending", "limit": MAX_ROWS})
    return organisations_table(sorted(found, key=lambda o: o["registered_at"]))


@dataclass
class OrganisationDecision:
    decision: str = ""
    reason: str = ""

    def check(self) -> list[FieldError]:
        if self.decision not in ("approve", "refuse"):
            return [FieldError("decision", N_("Choose approve or refuse"))]
        reason = self.reason.strip()
        if self.decision == "refuse" and not 3 <= len(reason) <= 500:
            return [FieldError("reason", N_("Say why in 3 to 500 characters; the organisation sees it"))]
        if len(reason) > 500:
            return [FieldError("reason", N_("At most 500 characters"))]
        return []


async def decide_organisation(staff: StaffMember, upstreams: Upstreams, organisation_id: str,
                              form: OrganisationDecision) -> tuple[dict[str, Any] | None, list[FieldError]]:
    """Approve or refuse a pending organisation. The charity service records the person (sent in
    X-Acting-User) with the web front's key in the organisation's `decided_by`."""
    require(staff, Permission.SOCIAL)
    require(staff, Permission.DECIDE)
    errors = form.check()
    if errors:
        return None, errors
    try:
        decided = await upstreams.charity.post(f"/organisations/{organisation_id}/{form.decision}", staff.username,
                                               {"reason": form.reason.strip()})
    except UpstreamRefused as refused:
        if refused.status == 404:
            raise NotFound(organisation_id) from None
        if refused.status == 409:
            return None, [FieldError("decision", N_("This organisation was already decided"))]
        if refused.status == 422:
            return None, [FieldError("reason", N_("Say why in 3 to 500 characters; the organisation sees it"))]
        raise
    log.info("organisation decided", organisation_id=organisation_id, decision=form.decision, by=staff.username)
    return decided, []


# --- offerings and match outcomes --------------------------------------------------------------


@dataclass
class OfferingFilters:
    category: str = ""
    district: str = ""
    status: str = ""

    def check(self) -> list[FieldError]:
        errors = []
        if self.category and self.category not in CATEGORIES:
            errors.append(FieldError("category", N_("Choose a category")))
        if self.district and not DISTRICT.match(self.district):
            errors.append(FieldError("district", N_("A district code: six digits")))
        if self.status and self.status not in OFFERING_STATUSES:
            errors.append(FieldError("status", N_("Choose a status")))
        return errors


def offerings_table(offerings: list[dict[str, Any]]) -> Table:
    return Table("offerings", [
        Column("offering_id", N_("Offering")), Column("organisation_id", N_("Organisation")), Column("title", N_("Title")),
        Column("category", N_("Category")), Column("kind", N_("Kind")), Column("unit", N_("Unit")),
        Column("quantity_total", N_("Units in all"), True), Column("quantity_remaining", N_("Units not yet delivered"), True),
        Column("value_yuan_per_unit", N_("Value per unit (CNY)"), True), Column("districts", N_("Districts served")),
        Column("valid_from", N_("From")), Column("valid_until", N_("To")), Column("status", N_("Status")),
        Column("closed_reason", N_("Why closed")),
    ], [o | {
        "value_yuan_per_unit": o["value_fen_per_unit"] / 100 if o.get("value_fen_per_unit") is not None else None,
        "districts": (o.get("service_area") or {}).get("districts") or [N_("citywide")],
    } for o in offerings])


async def offerings(staff: StaffMember, upstreams: Upstreams, filters: OfferingFilters, page: int = 0,
                    page_size: int = 100) -> tuple[Table, bool, list[FieldError]]:
    """A page of offerings (every organisation's), and whether there are more."""
    require(staff, Permission.SOCIAL)
    errors = filters.check()
    if errors:
        return offerings_table([]), False, errors
    found = await upstreams.charity.get("/offerings", staff.username, {
        "category": filters.category, "district": filters.district, "status": filters.status,
        "limit": min(page_size + 1, MAX_ROWS), "offset": page * page_size,
    })
    return offerings_table(found[:page_size]), len(found) > page_size, []


def outcomes_table(outcomes: list[dict[str, Any]]) -> Table:
    return Table("match_outcomes", [
        Column("name", N_("Organisation")), Column("organisation_id", N_("Organisation id")), Column("category", N_("Category")),
        Column("proposed", N_("Proposed"), True), Column("open", N_("Not yet answered"), True),
        Column("accepted", N_("Accepted"), True), Column("declined", N_("Declined"), True),
        *[Column(f"declined_{r}", label, True) for r, label in DECLINE_REASONS.items()],
        Column("fulfilled", N_("Fulfilled"), True), Column("failed", N_("Failed"), True),
        Column("cancelled", N_("Cancelled"), True), Column("expired", N_("Expired"), True),
    ], [o | {f"declined_{r}": o.get("declines_by_reason", {}).get(r, 0) for r in DECLINE_REASONS} for o in outcomes])


async def match_outcomes(staff: StaffMember, upstreams: Upstreams, first: str, last: str) -> Table:
    """Proposals of the months by where they stand now, per organisation and category."""
    require(staff, Permission.SOCIAL)
    report = await upstreams.charity.get("/stats/social-forces", staff.username, {"from": first, "to": last})
    return outcomes_table(report.get("outcomes", []))


# --- the unmet-needs report --------------------------------------------------------------------


@dataclass
class UnmetNeeds:
    as_of: str
    total: int
    cells: Table
    by_category: list[tuple[str, int]]
    by_district: list[tuple[str, int]]
    fairness: Table | None  # None: matching did not give it
    fairness_days: int = 30


def unmet_table(cells: list[dict[str, Any]]) -> Table:
    return Table("unmet_needs", [
        Column("category", N_("Category")), Column("district", N_("District")), Column("open_needs", N_("Open needs without a proposal"), True),
        *[Column(f"reason_{r}", label, True) for r, label in UNMATCHED_REASONS.items()],
        Column("waiting_mean", N_("Days waiting, mean"), True), Column("waiting_median", N_("median"), True),
        Column("waiting_max", N_("longest"), True),
    ], [{
        "category": c["category"], "district": c["district"], "open_needs": c["open_needs"],
        **{f"reason_{r}": c.get("reasons", {}).get(r, 0) for r in UNMATCHED_REASONS},
        "waiting_mean": float(c["waiting_days"]["mean"]), "waiting_median": c["waiting_days"]["median"],
        "waiting_max": c["waiting_days"]["max"],
    } for c in cells])


def fairness_table(districts: list[dict[str, Any]]) -> Table:
    return Table("fairness", [
        Column("district", N_("District")), Column("open_needs", N_("Open needs"), True),
        Column("share_of_open_needs", N_("Share of open needs, per cent"), True), Column("units_proposed", N_("Units proposed"), True),
        Column("share_of_units_proposed", N_("Share of units proposed, per cent"), True),
        Column("ratio", N_("Ratio (under 1: less than its need)"), True),
    ], [d | {"share_of_open_needs": round(100 * d["share_of_open_needs"], 1),
             "share_of_units_proposed": round(100 * d["share_of_units_proposed"], 1),
             "ratio": float(d["ratio"]) if d.get("ratio") is not None else None} for d in districts])


def unmet_filter_errors(category: str, district: str) -> list[FieldError]:
    errors = []
    if category and category not in CATEGORIES:
        errors.append(FieldError("category", N_("Choose a category")))
    if district and not REPORT_DISTRICT.match(district):
        errors.append(FieldError("district", N_("A district code: six digits")))
    return errors


async def unmet_needs(staff: StaffMember, upstreams: Upstreams, category: str = "", district: str = "",
                      days: int = 30) -> tuple[UnmetNeeds | None, list[FieldError]]:
    require(staff, Permission.SOCIAL)
    errors = unmet_filter_errors(category, district)
    if errors:
        return None, errors
    report, fairness = await asyncio.gather(
        upstreams.matching.get("/reports/unmet-needs", staff.username, {"category": category, "district": district}),
        _or_none(upstreams.matching.get("/reports/fairness", staff.username, {"days": days})),
    )
    cells = unmet_table(report["cells"])
    return UnmetNeeds(report["as_of"], report["total"], cells, totals_of(cells.rows, "category", "open_needs"),
                      totals_of(cells.rows, "district", "open_needs"),
                      fairness_table(fairness["districts"]) if fairness else None, days), []


def totals_of(rows: list[dict[str, Any]], key: str, value: str) -> list[tuple[str, int]]:
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[row[key]] += row[value]
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))


async def _or_none(call: Any) -> Any:
    """A secondary figure: the page shows it when the service gives it, and says so when not."""
    try:
        return await call
    except (UpstreamDown, UpstreamRefused) as error:
        log.info("secondary figure not read", error=type(error).__name__)
        return None


# --- the dashboard's social section ------------------------------------------------------------


@dataclass
class SocialSection:
    totals: dict[str, Any] | None  # None: the charity service is not answering and nothing is kept
    by_category: Table
    by_district: Table
    unmet_by_category: Table
    unmet_by_district: Table
    unmet_total: int | None  # None: matching not answering
    charity_as_of: datetime | None = None
    unmet_as_of: datetime | None = None
    tables: list[Table] = field(default_factory=list)


def social_forces_table(name: str, key: str, label: str, rows: list[dict[str, Any]]) -> Table:
    """Units and value offered, matched and delivered, summed over the months by `key` (category or district)."""
    cells: dict[str, dict[str, Any]] = {}
    for row in rows:
        cell = cells.setdefault(row[key], {key: row[key], "capacity_offered": 0, "value_offered": 0.0, "matched": 0,
                                           "value_matched": 0.0, "delivered": 0, "value_delivered": 0.0})
        for units in ("capacity_offered", "matched", "delivered"):
            cell[units] += row.get(units, 0)
        for value in ("offered", "matched", "delivered"):
            cell[f"value_{value}"] += row.get(f"value_{value}_fen", 0) / 100
    return Table(name, [
        Column(key, label),
        Column("capacity_offered", N_("Units offered"), True), Column("value_offered", N_("Value offered (CNY)"), True),
        Column("matched", N_("Units matched"), True), Column("value_matched", N_("Value matched (CNY)"), True),
        Column("delivered", N_("Units delivered"), True), Column("value_delivered", N_("Value delivered (CNY)"), True),
    ], [cells[k] for k in sorted(cells)])


def unmet_totals_table(name: str, key: str, label: str, totals: list[tuple[str, int]]) -> Table:
    return Table(name, [Column(key, label), Column("open_needs", N_("Open needs without a proposal"), True)],
                 [{key: k, "open_needs": n} for k, n in totals])


async def social_section(staff: StaffMember, figures: DashboardFigures, first: str, last: str) -> SocialSection | None:
    """Social forces' offered, matched and delivered units and value over the months, and the unmet
    needs now; None for a person who may not see them (a department viewer)."""
    if not staff.may(Permission.SOCIAL) or figures.social is None or figures.unmet is None:
        return None
    (charity, charity_as_of), (unmet, unmet_as_of) = await asyncio.gather(
        figures.social.current({"from": first, "to": last}), figures.unmet.current({}))
    totals = None
    if charity is not None:
        totals = charity["totals"] | {f"value_{v}_yuan": charity["totals"].get(f"value_{v}_fen", 0) / 100
                                      for v in ("offered", "matched", "delivered")}
    cells = unmet_table(unmet["cells"]).rows if unmet is not None else []
    rows = charity["rows"] if charity else []
    section = SocialSection(
        totals, social_forces_table("social_forces_by_category", "category", N_("Category"), rows),
        social_forces_table("social_forces_by_district", "district", N_("District"), rows),
        unmet_totals_table("unmet_by_category", "category", N_("Category"), totals_of(cells, "category", "open_needs")),
        unmet_totals_table("unmet_by_district", "district", N_("District"), totals_of(cells, "district", "open_needs")),
        unmet["total"] if unmet is not None else None, charity_as_of, unmet_as_of,
    )
    section.tables = [section.by_category, section.by_district, section.unmet_by_category, section.unmet_by_district]
    return section
