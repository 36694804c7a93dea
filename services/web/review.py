"""The joint meeting's use cases over the ledger and intake: what the pages and the JSON routes
both call. Each takes the person signed in first and checks what they may see or do."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from contracts.catalogue import PROGRAMMES
from services.web.accounts import FieldError, Permission, StaffMember
from services.web.figures import DashboardFigures
from kit.logs import get_logger
from kit.pages import N_
from services.web.tables import Column, Table
from services.web.upstream import UpstreamDown, UpstreamRefused, Upstreams

log = get_logger(__name__)
ALERT_STATUSES = ("open", "resolved", "confirmed_duplicate", "justified")
AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    (N_("0-7 days"), 0, 7), (N_("8-30 days"), 8, 30), (N_("31-90 days"), 31, 90), (N_("over 90 days"), 91, None),
)
LIST_LIMIT = 1000
PAGE_SIZE = 100
HOUSEHOLD_NEEDS_ASKED = 20  # a household's needs whose matches are read from matching, newest first


class Forbidden(Exception):
    """The person may not see or do this: a 403 page, never data."""


class NotFound(Exception):
    """No such record (or none this person may know of)."""


def require(staff: StaffMember, permission: Permission) -> None:
    if not staff.may(permission):
        raise Forbidden(permission)


# --- the dashboard -----------------------------------------------------------------------------


@dataclass
class Dashboard:
    first: str
    last: str
    benefits: Table
    by_month: Table
    alerts_by_rule: Table
    alerts_by_age: Table
    open_alerts_shown: int
    capped: bool
    figures_as_of: datetime | None = None
    alerts_as_of: datetime | None = None


def benefits_table(rows: list[dict[str, Any]]) -> Table:
    return Table("benefits", [
        Column("month", N_("Month")), Column("district", N_("District")), Column("programme", N_("Programme")),
        Column("households", N_("Households"), True), Column("persons", N_("Persons"), True),
        Column("amount_yuan", N_("Amount (CNY)"), True),
    ], [r | {"amount_yuan": r["amount_fen"] / 100} for r in rows])


def default_range(now: datetime) -> tuple[str, str]:
    """What the dashboard shows first: this month and the two before it."""
    index = now.year * 12 + now.month - 1 - 2
    return f"{index // 12:04d}-{index % 12 + 1:02d}", f"{now:%Y-%m}"


def default_months() -> list[str]:
    return months_from(*default_range(_now()))


def months_from(first: str, last: str) -> list[str]:
    """'2026-11', '2027-01' -> the three months; both written YYYY-MM."""
    start, end = int(first[:4]) * 12 + int(first[5:]) - 1, int(last[:4]) * 12 + int(last[5:]) - 1
    return [f"{index // 12:04d}-{index % 12 + 1:02d}" for index in range(start, end + 1)]


async def dashboard(staff: StaffMember, figures: DashboardFigures, first: str, last: str) -> Dashboard:
    require(staff, Permission.VIEW)
    (all_rows, as_of), (open_alerts, alerts_as_of, complete) = await asyncio.gather(
        figures.statistics.benefits(months_from(first, last)), figures.open_alerts.current(),
    )
    rows = [r for r in all_rows if staff.sees_programme(r["programme"])]
    monthly: dict[str, dict[str, Any]] = {}
    for row in rows:
        month = monthly.setdefault(row["month"], {"month": row["month"], "households": 0, "persons": 0, "amount_yuan": 0.0})
        month["households"] += row["households"]
        month["persons"] += row["persons"]
        month["amount_yuan"] += row["amount_fen"] / 100
    by_month = Table("by_month", [
        Column("month", N_("Month")), Column("households", N_("Households, once per programme"), True),
        Column("persons", N_("Persons, once per programme"), True), Column("amount_yuan", N_("Amount (CNY)"), True),
    ], [monthly[m] for m in sorted(monthly)])
    alerts = [a for a in open_alerts if staff.sees_any(a["programmes"])]
    return Dashboard(first, last, benefits_table(rows), by_month, alerts_by_rule(alerts), alerts_by_age(alerts, _now()),
                     len(alerts), not complete, as_of, alerts_as_of)


def alerts_by_rule(alerts: list[dict[str, Any]]) -> Table:
    counts = Counter((a["rule_id"], a["severity"]) for a in alerts)
    return Table("open_alerts_by_rule", [
        Column("rule_id", N_("Rule")), Column("severity", N_("Severity")), Column("open", N_("Open alerts"), True),
    ], [{"rule_id": rule, "severity": severity, "open": n} for (rule, severity), n in sorted(counts.items())])


def alerts_by_age(alerts: list[dict[str, Any]], now: datetime) -> Table:
    counts = Counter(_age_bucket(_age_days(a, now)) for a in alerts)
    return Table("open_alerts_by_age", [Column("age", N_("Age")), Column("open", N_("Open alerts"), True)],
                 [{"age": label, "open": counts.get(label, 0)} for label, _, _ in AGE_BUCKETS])


def _age_days(alert: dict[str, Any], now: datetime) -> int:
    raised = datetime.fromisoformat(alert["raised_at"])
    return (now - (raised if raised.tzinfo else raised.replace(tzinfo=UTC))).days


def _age_bucket(days: int) -> str:
    for label, low, high in AGE_BUCKETS:
        if days >= low and (high is None or days <= high):
            return label
    return AGE_BUCKETS[0][0]


def _now() -> datetime:
    return datetime.now(UTC)


# --- the alert queue ---------------------------------------------------------------------------


@dataclass
class AlertFilters:
    district: str = ""
    programme: str = ""
    rule: str = ""
    status: str = "open"
    min_age_days: str = ""
    max_age_days: str = ""

    def check(self, staff: StaffMember) -> list[FieldError]:
        errors = []
        if self.programme and self.programme not in PROGRAMMES:
            errors.append(FieldError("programme", N_("Unknown programme")))
        elif self.programme and not staff.sees_programme(self.programme):
            errors.append(FieldError("programme", N_("Outside your department's programmes")))
        if self.status and self.status not in ALERT_STATUSES:
            errors.append(FieldError("status", N_("Unknown status")))
        for name in ("min_age_days", "max_age_days"):
            value = getattr(self, name)
            if value and not (value.isdigit() and int(value) <= 36500):
                errors.append(FieldError(name, N_("A whole number of days, 0 to 36500")))
        if len(self.district) > 16 or (self.district and not self.district.isalnum()):
            errors.append(FieldError("district", N_("A district code: letters and digits, at most 16")))
        if len(self.rule) > 64:
            errors.append(FieldError("rule", N_("At most 64 characters")))
        return errors


def alert_table(alerts: list[dict[str, Any]]) -> Table:
    return Table("alerts", [
        Column("alert_id", N_("Alert")), Column("raised_at", N_("Raised")), Column("district", N_("District")),
        Column("rule_id", N_("Rule")), Column("severity", N_("Severity")), Column("programmes", N_("Programmes")),
        Column("household_id", N_("Household")), Column("status", N_("Status")),
    ], alerts)


@dataclass
class AlertQueue:
    table: Table
    page: int
    more: bool


async def alert_queue(staff: StaffMember, upstreams: Upstreams, filters: AlertFilters, page: int = 0,
                      page_size: int = PAGE_SIZE) -> tuple[AlertQueue, list[FieldError]]:
    """One page of the queue. With one list to ask for (no rule filter, one programme or none),
    the ledger pages it; otherwise the web front merges and filters the first LIST_LIMIT of each
    list the ledger gives (the ledger has no rule filter) and pages that."""
    require(staff, Permission.VIEW)
    errors = filters.check(staff)
    if errors:
        return AlertQueue(alert_table([]), page, False), errors
    programmes = [filters.programme] if filters.programme else (sorted(staff.programmes) if staff.programmes is not None else [None])
    paged_upstream = not filters.rule and len(programmes) == 1
    limit, offset = (min(page_size + 1, LIST_LIMIT), page * page_size) if paged_upstream else (LIST_LIMIT, 0)
    answers = await asyncio.gather(*(
        upstreams.ledger.get("/review/alerts", staff.username, {
            "district": filters.district, "programme": p, "status": filters.status,
            "min_age_days": filters.min_age_days, "max_age_days": filters.max_age_days, "limit": limit, "offset": offset,
        }) for p in programmes
    ))
    seen: dict[str, dict[str, Any]] = {}
    for answer in answers:
        for alert in answer["alerts"]:
            if (not filters.rule or alert["rule_id"] == filters.rule) and staff.sees_any(alert["programmes"]):
                seen.setdefault(alert["alert_id"], alert)
    alerts = sorted(seen.values(), key=lambda a: a["raised_at"], reverse=True)
    if not paged_upstream:
        alerts = alerts[page * page_size:]
    return AlertQueue(alert_table(alerts[:page_size]), page, len(alerts) > page_size), []


async def alert(staff: StaffMember, upstreams: Upstreams, alert_id: str) -> dict[str, Any]:
    require(staff, Permission.VIEW)
    shown = await _or_not_found(upstreams.ledger.get(f"/review/alerts/{alert_id}", staff.username))
    if not staff.sees_any(shown["programmes"]):
        raise Forbidden(alert_id)
    return shown | {"benefits": await _evidence(staff, upstreams, shown)}


async def _evidence(staff: StaffMember, upstreams: Upstreams, shown: dict[str, Any]) -> list[dict[str, Any]]:
    """The conflicting benefits with their periods and amounts, from the household's ledger (the
    alert itself names each benefit, its programme and source)."""
    view = await _or_not_found(upstreams.ledger.get(f"/review/households/{shown['household_id']}", staff.username))
    recorded = {b["benefit_id"]: b for b in view["benefits"]}
    return [recorded.get(b["benefit_id"], {}) | b for b in shown["benefits"]]


DECISIONS = ("confirmed_duplicate", "justified")


def check_decision(decision: str, note: str) -> list[FieldError]:
    errors = []
    if decision not in DECISIONS:
        errors.append(FieldError("decision", N_("Choose confirmed duplicate or justified")))
    if not 3 <= len(note.strip()) <= 1000:
        errors.append(FieldError("note", N_("Write 3 to 1000 characters: the recovery, or why it is justified")))
    return errors


async def decide_alert(staff: StaffMember, upstreams: Upstreams, alert_id: str, decision: str, note: str) -> tuple[dict[str, Any] | None, list[FieldError]]:
    require(staff, Permission.DECIDE)
    errors = check_decision(decision, note)
    if errors:
        return None, errors
    try:
        decided = await upstreams.ledger.post(f"/review/alerts/{alert_id}/decision", staff.username,
                                              {"decision": decision, "note": note.strip()})
    except UpstreamRefused as refused:
        if refused.status == 404:
            raise NotFound(alert_id) from None
        if refused.status == 409:
            return None, [FieldError("decision", N_("This alert was already decided"))]
        raise
    log.info("alert decided", alert_id=alert_id, decision=decision, by=staff.username)
    return decided, []


# --- a household -------------------------------------------------------------------------------


@dataclass
class HouseholdPage:
    household: dict[str, Any]
    members: list[dict[str, Any]]
    benefits: Table
    needs: Table
    alerts: Table
    timeline: Table
    periods: list[dict[str, Any]] = field(default_factory=list)
    colours: Table | None = None
    matches: Table | None = None
    matching_answered: bool = True


async def household(staff: StaffMember, upstreams: Upstreams, household_id: str) -> HouseholdPage:
    require(staff, Permission.VIEW)
    view = await _or_not_found(upstreams.ledger.get(f"/review/households/{household_id}", staff.username))
    if not staff.sees_any([b["programme"] for b in view["benefits"]]):
        raise Forbidden(household_id)
    benefits = Table("benefits", [
        Column("benefit_id", N_("Benefit")), Column("programme", N_("Programme")), Column("source", N_("Source")),
        Column("period_start", N_("From")), Column("period_end", N_("To")), Column("amount_yuan", N_("Amount (CNY)"), True),
        Column("in_kind", N_("In kind")), Column("status", N_("Status")),
    ], [b | {"amount_yuan": b["amount_fen"] / 100 if b.get("amount_fen") is not None else None} for b in view["benefits"]])
    needs = Table("needs", [
        Column("need_id", N_("Need")), Column("category", N_("Category")), Column("department", N_("Department")),
        Column("urgency", N_("Urgency"), True), Column("assessed_on", N_("Assessed")), Column("status", N_("Status")),
    ], view["needs"])
    timeline = Table("timeline", [
        Column("occurred_at", N_("When")), Column("type", N_("Event")), Column("source", N_("Source")),
        Column("benefit_id", N_("Benefit")),
    ], view["timeline"])
    matches = await household_matches(staff, upstreams, view["needs"])
    return HouseholdPage(view["household"], view["members"], benefits, needs, alert_table(view["alerts"]), timeline,
                         benefit_periods(view["benefits"], _now().date()), colour_history(view["timeline"]),
                         matches.table, matches.matching_answered)


def benefit_periods(benefits: list[dict[str, Any]], today: date) -> list[dict[str, Any]]:
    """Every benefit as a bar on one time axis: left and width in percent of the whole span."""
    if not benefits:
        return []
    starts = [date.fromisoformat(b["period_start"]) for b in benefits]
    ends = [date.fromisoformat(b["period_end"]) if b.get("period_end") else max(today, s) for b, s in zip(benefits, starts, strict=True)]
    first, last = min(starts), max(ends)
    span = max((last - first).days, 1)
    return sorted(_periods(benefits, starts, ends, first, span), key=lambda p: p["from"])


def _periods(benefits: list[dict[str, Any]], starts: list[date], ends: list[date], first: date, span: int) -> list[dict[str, Any]]:
    return [{
        "benefit_id": b["benefit_id"], "programme": b["programme"], "source": b["source"],
        "from": s.isoformat(), "to": b.get("period_end"), "left": 100 * (s - first).days / span,
        "width": max(100 * (e - s).days / span, 0.8),
    } for b, s, e in zip(benefits, starts, ends, strict=True)]


@dataclass
class PreGrantForm:
    programme: str = ""
    period_start: str = ""
    period_end: str = ""
    amount_yuan: str = ""

    def check(self) -> list[FieldError]:
        errors = []
        if self.programme not in PROGRAMMES:
            errors.append(FieldError("programme", N_("Choose a programme")))
        start = _date(self.period_start)
        if start is None:
            errors.append(FieldError("period_start", N_("A date written YYYY-MM-DD")))
        if self.period_end:
            end = _date(self.period_end)
            if end is None:
                errors.append(FieldError("period_end", N_("A date written YYYY-MM-DD")))
            elif start is not None and end < start:
                errors.append(FieldError("period_end", N_("Before the start")))
        if self.amount_yuan and _fen(self.amount_yuan) is None:
            errors.append(FieldError("amount_yuan", N_("An amount in CNY, at most two decimals, not negative")))
        return errors


async def pre_grant_check(staff: StaffMember, upstreams: Upstreams, household_id: str, form: PreGrantForm) -> tuple[dict[str, Any] | None, list[FieldError]]:
    require(staff, Permission.DECIDE)
    errors = form.check()
    if errors:
        return None, errors
    body = {"household_id": household_id, "programme": form.programme, "period_start": form.period_start,
            "period_end": form.period_end or None, "amount_fen": _fen(form.amount_yuan) if form.amount_yuan else None}
    return await _or_not_found(upstreams.ledger.post("/pre-grant-check", staff.username, body)), []


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _fen(text: str) -> int | None:
    whole, _, cents = text.strip().partition(".")
    if not whole.isdigit() or len(cents) > 2 or (cents and not cents.isdigit()) or len(whole) > 12:
        return None
    return int(whole) * 100 + int(cents.ljust(2, "0") or 0)


# --- a household's matches (matching) and colour history ---------------------------------------


@dataclass
class HouseholdMatches:
    table: Table
    matching_answered: bool


async def household_matches(staff: StaffMember, upstreams: Upstreams, needs: list[dict[str, Any]]) -> HouseholdMatches:
    """Each need's proposals and where they stand, from matching's need explanation (the household
    page is already checked for this person). Matching not answering: an empty table, said so."""
    asked = sorted(needs, key=lambda n: n.get("assessed_on") or "", reverse=True)[:HOUSEHOLD_NEEDS_ASKED]
    answers = await asyncio.gather(*(_explanation(upstreams, staff, n["need_id"]) for n in asked), return_exceptions=True)
    for answer in answers:
        if isinstance(answer, BaseException) and not isinstance(answer, UpstreamDown | UpstreamRefused):
            raise answer
    down = any(isinstance(a, UpstreamDown | UpstreamRefused) for a in answers)
    rows = []
    for need, answer in zip(asked, answers, strict=True):
        if not isinstance(answer, dict):
            continue
        for proposal in answer.get("history", []):
            rows.append({"need_id": need["need_id"], "category": need.get("category"), "match_id": proposal["match_id"],
                         "offering_id": proposal["offering_id"], "state": proposal["state"],
                         "reason_code": proposal.get("reason_code")})
        if not answer.get("history"):
            rows.append({"need_id": need["need_id"], "category": need.get("category"), "match_id": None, "offering_id": None,
                         "state": answer.get("reason"), "reason_code": None})
    return HouseholdMatches(Table("matches", [
        Column("need_id", N_("Need")), Column("category", N_("Category")), Column("match_id", N_("Match")),
        Column("offering_id", N_("Offering")), Column("state", N_("State")), Column("reason_code", N_("Reason")),
    ], rows), not down)


async def _explanation(upstreams: Upstreams, staff: StaffMember, need_id: str) -> dict[str, Any] | None:
    try:
        return await upstreams.matching.get(f"/needs/{need_id}/explanation", staff.username)
    except UpstreamRefused as refused:
        if refused.status == 404:  # matching has not read this need (yet)
            return None
        raise


def colour_history(timeline: list[dict[str, Any]]) -> Table:
    """The Chengdu colour as each household report gave it, in order, one row per change: the
    ledger keeps the colour in each `household.recorded` event's summary on the timeline."""
    rows: list[dict[str, Any]] = []
    for event in timeline:
        record = event.get("record") or {}
        if event.get("type") != "household.recorded" or record.get("kind") != "household":
            continue
        colour = record.get("colour")
        if rows and rows[-1]["colour"] == colour:
            continue
        rows.append({"occurred_at": event["occurred_at"], "colour": colour, "previous": rows[-1]["colour"] if rows else None,
                     "source": event.get("source"), "department": record.get("department")})
    return Table("colour_history", [
        Column("occurred_at", N_("When")), Column("colour", N_("Colour status")), Column("previous", N_("Before")),
        Column("department", N_("Reported by")),
    ], rows)


# --- identity reviews (intake) -----------------------------------------------------------------


async def identity_reviews(staff: StaffMember, upstreams: Upstreams) -> list[dict[str, Any]]:
    require(staff, Permission.DECIDE)
    return await upstreams.intake.get("/identity-reviews", staff.username)


def reviews_table(reviews: list[dict[str, Any]]) -> Table:
    return Table("identity_reviews", [
        Column("record_id", N_("Record")), Column("department", N_("Department")),
        Column("department_household_ref", N_("Department's household reference")),
        Column("member_index", N_("Member"), True), Column("candidates", N_("Candidates"), True),
        Column("created_at", N_("Held since")),
    ], [r | {"candidates": len(r["candidates"])} for r in reviews])


async def resolve_review(staff: StaffMember, upstreams: Upstreams, record_id: str, decision: str, person_key: str) -> tuple[dict[str, Any] | None, list[FieldError]]:
    require(staff, Permission.DECIDE)
    if decision not in ("same_person", "new_person"):
        return None, [FieldError("decision", N_("Choose same person or new person"))]
    if decision == "same_person" and not person_key:
        return None, [FieldError("person_key", N_("Choose which candidate it is"))]
    body = {"decision": decision, "person_key": person_key if decision == "same_person" else None}
    try:
        # intake records the person (X-Acting-User) with the web front's key: `resolved_by` "rita (web-front)"
        resolved = await upstreams.intake.post(f"/identity-reviews/{record_id}/resolve", staff.username, body)
        log.info("identity review resolved", record_id=record_id, decision=decision, by=staff.username)
        return resolved, []
    except UpstreamRefused as refused:
        if refused.status == 404:
            raise NotFound(record_id) from None
        if refused.status == 409:
            return None, [FieldError("decision", N_("This record was already resolved"))]
        if refused.status == 422:
            return None, [FieldError("person_key", N_("Not a known person"))]
        raise


# --- cliff effect and audit --------------------------------------------------------------------


async def cliff(staff: StaffMember, upstreams: Upstreams, month: str) -> tuple[dict[str, Any], Table]:
    require(staff, Permission.VIEW)
    figures = await upstreams.ledger.get("/stats/cliff", staff.username, {"month": month})
    table = Table("cliff", [
        Column("income_from", N_("Income per person from (CNY)"), True), Column("income_to", N_("to (CNY)"), True),
        Column("side", N_("Side of the standard")), Column("households", N_("Households"), True),
        Column("mean_benefits_household", N_("Mean benefits per household (CNY)"), True),
        Column("mean_total_person", N_("Mean income plus benefits per person (CNY)"), True),
    ], [{
        "income_from": b["income_from_fen"] / 100, "income_to": b["income_to_fen"] / 100, "side": b["side"],
        "households": b["households"], "mean_benefits_household": b["mean_benefits_per_household_fen"] / 100,
        "mean_total_person": b["mean_income_plus_benefits_per_capita_fen"] / 100,
    } for b in figures["bands"]])
    return figures, table


async def audit_trail(staff: StaffMember, upstreams: Upstreams, target_id: str) -> Table:
    require(staff, Permission.AUDIT)
    trail = await upstreams.ledger.get("/review/audit", staff.username, {"target_id": target_id, "limit": 200})
    return Table("audit", [
        Column("at", N_("When")), Column("acting_user", N_("Person")), Column("actor", N_("Key")),
        Column("action", N_("Action")), Column("target_type", N_("Record type")), Column("target_id", N_("Record")),
        Column("decision", N_("Decision")),
    ], [e | {"acting_user": e["detail"].get("acting_user"), "decision": e["detail"].get("decision")} for e in trail["entries"]])


async def _or_not_found(call: Any) -> Any:
    try:
        return await call
    except UpstreamRefused as refused:
        if refused.status in (404, 422):
            raise NotFound() from None
        raise
