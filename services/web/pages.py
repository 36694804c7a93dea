"""The staff pages. Each reads the session, calls one use case (the same the JSON routes call) and
renders a template; `?export=csv|xlsx&table=NAME` on a page returns that table of the page."""

from __future__ import annotations

import asyncio
import re
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from contracts.envelope import CODE_PATTERN
from kit.pages import N_, local_path
from services.web import review, social
from services.web.access import Access
from services.web.accounts import FieldError, Permission, Role
from services.web.figures import DashboardFigures
from services.web.i18n import translator
from services.web.render import Pages
from services.web.review import AlertFilters, PreGrantForm
from services.web.social import OfferingFilters, OrganisationDecision
from services.web.sessions import SessionCookies
from services.web.tables import Table, to_csv, to_xlsx
from services.web.upstream import Upstreams

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def safe_next(target: str | None) -> str:
    """Only a path on this site: never another origin."""
    return local_path(target, "/dashboard")


def record_id(value: str) -> str:
    if not re.fullmatch(CODE_PATTERN, value):
        raise review.NotFound(value)
    return value


def errors_of(errors: list[FieldError]) -> dict[str, str]:
    shown: dict[str, str] = {}
    for error in errors:
        shown.setdefault(error.field, error.message)
    return shown


def page_router(pages: Pages, cookies: SessionCookies, access: Access, upstreams: Upstreams,
                figures: DashboardFigures) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
        context.setdefault("errors", {})
        query = dict(request.query_params)
        context["export_query"] = lambda name, fmt: urlencode({**query, "export": fmt, "table": name})
        return pages.render(request, template, getattr(request.state, "staff", None), status, **context)

    def exported(request: Request, *tables: Table) -> Response | None:
        fmt, name = request.query_params.get("export"), request.query_params.get("table")
        if fmt is None:
            return None
        table = next((t for t in tables if t.name == name), None)
        if table is None or fmt not in ("csv", "xlsx"):
            raise review.NotFound(name)
        translate = translator(pages.language(request))
        if fmt == "csv":
            body, media = to_csv(table, translate), "text/csv; charset=utf-8"
        else:
            body, media = to_xlsx(table, translate), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return Response(body, media_type=media, headers={
            "Content-Disposition": f'attachment; filename="{table.name}.{fmt}"', "Cache-Control": "no-store"})

    # --- sign-in and language -------------------------------------------------------------------

    @router.get("/")
    async def home() -> Response:
        return RedirectResponse("/dashboard", status_code=303)

    @router.get("/sign-in")
    async def sign_in_page(request: Request, next: str = "/dashboard", expired: bool = False) -> Response:
        return render(request, "sign_in.html", next=safe_next(next), username="", expired=expired)

    @router.post("/sign-in")
    async def sign_in(request: Request) -> Response:
        form = await request.form()
        username, password = str(form.get("username", ""))[:64], str(form.get("password", ""))[:256]
        target = safe_next(str(form.get("next", "")))
        result = await asyncio.to_thread(access.sign_in, username.strip(), password)
        if isinstance(result, FieldError):
            return render(request, "sign_in.html", status=400, next=target, username=username, errors=errors_of([result]))
        response = RedirectResponse(target, status_code=303)
        cookies.set(response, result.session_id)
        return response

    @router.post("/sign-out")
    async def sign_out(request: Request) -> Response:
        session_id = cookies.read(request)
        if session_id:
            await asyncio.to_thread(access.sign_out, session_id)
        response = RedirectResponse("/sign-in", status_code=303)
        cookies.clear(response)
        return response

    @router.get("/language/{language}")
    async def language(language: str, next: str = "/dashboard") -> Response:
        return pages.catalogues.choose(language, safe_next(next))

    # --- the dashboard --------------------------------------------------------------------------

    @router.get("/dashboard")
    async def dashboard(request: Request) -> Response:
        staff = await cookies.staff(request)
        review.require(staff, Permission.VIEW)
        default_first, default_last = review.default_range(datetime.now(UTC))
        first = request.query_params.get("from") or default_first
        last = request.query_params.get("to") or default_last
        form = {"first": first, "last": last}
        errors = month_range_errors(first, last)
        if errors:
            return render(request, "dashboard.html", status=400, form=form, board=None, errors=errors_of(errors))
        board, section = await asyncio.gather(review.dashboard(staff, figures, first, last),
                                              social.social_section(staff, figures, first, last))
        if (export := exported(request, board.benefits, board.by_month, board.alerts_by_rule, board.alerts_by_age,
                               *(section.tables if section else []))) is not None:
            return export
        translate = translator(pages.language(request))
        charts = {
            "households": [(r["month"], r["households"]) for r in board.by_month.rows],
            "amounts": [(r["month"], float(r["amount_yuan"])) for r in board.by_month.rows],
            "ages": [(translate(r["age"]), r["open"]) for r in board.alerts_by_age.rows],
            "rules": [(r["rule_id"], r["open"]) for r in board.alerts_by_rule.rows],
        }
        if section is not None:
            charts["unmet"] = [(translate(r["category"]), r["open_needs"]) for r in section.unmet_by_category.rows]
        return render(request, "dashboard.html", form=form, board=board, charts=charts, social=section)

    # --- alerts ---------------------------------------------------------------------------------

    @router.get("/alerts")
    async def alerts(request: Request) -> Response:
        staff = await cookies.staff(request)
        query = request.query_params
        filters = AlertFilters(**{f: str(query.get(f, "")).strip() for f in ("district", "programme", "rule", "min_age_days", "max_age_days")},
                               status=str(query.get("status", "open")).strip())
        page = int(query["page"]) if str(query.get("page", "")).isdigit() and int(query["page"]) < 10_000 else 0
        exporting = "export" in query
        queue, errors = await review.alert_queue(staff, upstreams, filters, 0 if exporting else page,
                                                 review.LIST_LIMIT if exporting else review.PAGE_SIZE)
        if (export := exported(request, queue.table)) is not None:
            return export
        return render(request, "alerts.html", status=400 if errors else 200, filters=filters, alerts=queue.table,
                      queue=queue, statuses=review.ALERT_STATUSES, errors=errors_of(errors),
                      page_query=lambda number: urlencode({**dict(query), "page": number}))

    @router.get("/alerts/{alert_id}")
    async def alert(request: Request, alert_id: str) -> Response:
        staff = await cookies.staff(request)
        shown = await review.alert(staff, upstreams, record_id(alert_id))
        return render(request, "alert.html", alert=shown, form={"decision": "", "note": ""},
                      may_decide=staff.may(Permission.DECIDE), may_audit=staff.may(Permission.AUDIT))

    @router.post("/alerts/{alert_id}/decision")
    async def decide(request: Request, alert_id: str) -> Response:
        staff = await cookies.staff(request)
        review.require(staff, Permission.DECIDE)
        form = await request.form()
        typed = {"decision": str(form.get("decision", "")), "note": str(form.get("note", ""))}
        decided, errors = await review.decide_alert(staff, upstreams, record_id(alert_id), **typed)
        if errors:
            shown = await review.alert(staff, upstreams, alert_id)
            return render(request, "alert.html", status=400, alert=shown, form=typed, errors=errors_of(errors),
                          may_decide=True, may_audit=staff.may(Permission.AUDIT))
        return RedirectResponse(f"/alerts/{alert_id}", status_code=303)

    # --- households -----------------------------------------------------------------------------

    @router.get("/households")
    async def households(request: Request, household_id: str = "") -> Response:
        staff = await cookies.staff(request)
        review.require(staff, Permission.VIEW)
        household_id = household_id.strip()
        if household_id:
            if re.fullmatch(CODE_PATTERN, household_id):
                return RedirectResponse(f"/households/{household_id}", status_code=303)
            errors = {"household_id": N_("A household id: letters, digits and . _ : -, at most 64")}
            return render(request, "households.html", status=400, household_id=household_id, errors=errors)
        return render(request, "households.html", household_id="")

    async def household_page(request: Request, household_id: str, status: int = 200, **context: Any) -> Response:
        staff = await cookies.staff(request)
        page = await review.household(staff, upstreams, record_id(household_id))
        if (export := exported(request, page.benefits, page.needs, page.alerts, page.timeline, page.matches, page.colours)) is not None:
            return export
        context.setdefault("check_form", PreGrantForm())
        return render(request, "household.html", status=status, page=page, may_decide=staff.may(Permission.DECIDE), **context)

    @router.get("/households/{household_id}")
    async def household(request: Request, household_id: str) -> Response:
        return await household_page(request, household_id)

    @router.post("/households/{household_id}/pre-grant-check")
    async def pre_grant_check(request: Request, household_id: str) -> Response:
        staff = await cookies.staff(request)
        review.require(staff, Permission.DECIDE)
        form = await request.form()
        typed = PreGrantForm(**{f: str(form.get(f, "")).strip() for f in ("programme", "period_start", "period_end", "amount_yuan")})
        answer, errors = await review.pre_grant_check(staff, upstreams, record_id(household_id), typed)
        return await household_page(request, household_id, status=400 if errors else 200, check_form=typed,
                                    answer=answer, errors=errors_of(errors))

    # --- identity reviews -----------------------------------------------------------------------

    async def reviews_page(request: Request, status: int = 200, **context: Any) -> Response:
        staff = await cookies.staff(request)
        reviews = await review.identity_reviews(staff, upstreams)
        table = review.reviews_table(reviews)
        if (export := exported(request, table)) is not None:
            return export
        context.setdefault("form", {})
        return render(request, "reviews.html", status=status, reviews=reviews, table_=table, **context)

    @router.get("/identity-reviews")
    async def identity_reviews(request: Request, resolved: str = "", by: str = "") -> Response:
        return await reviews_page(request, resolved=resolved[:64], resolved_by=by[:64])

    @router.post("/identity-reviews/{record}/resolve")
    async def resolve(request: Request, record: str) -> Response:
        staff = await cookies.staff(request)
        review.require(staff, Permission.DECIDE)
        form = await request.form()
        choice = str(form.get("choice", ""))
        decision, _, person = ("same_person", "", choice[5:]) if choice.startswith("same:") else (
            ("new_person", "", "") if choice == "new" else ("", "", ""))
        resolved, errors = await review.resolve_review(staff, upstreams, record_id(record), decision, person)
        if errors or resolved is None:
            return await reviews_page(request, status=400, form={"record_id": record, "choice": choice}, errors=errors_of(errors))
        shown = {"resolved": record, "by": resolved.get("resolved_by") or ""}
        return RedirectResponse(f"/identity-reviews?{urlencode(shown)}", status_code=303)

    # --- social forces: organisations, offerings and outcomes, unmet needs ----------------------

    async def organisations_page(request: Request, status: int = 200, **context: Any) -> Response:
        staff = await cookies.staff(request)
        table = await social.pending_organisations(staff, upstreams)
        if (export := exported(request, table)) is not None:
            return export
        context.setdefault("form", {})
        return render(request, "organisations.html", status=status, table_=table, **context)

    @router.get("/organisations")
    async def organisations(request: Request, decided: str = "", decision: str = "", by: str = "") -> Response:
        return await organisations_page(request, decided=decided[:64], decision=decision[:16], decided_by=by[:64])

    @router.post("/organisations/{organisation}/decision")
    async def decide_organisation(request: Request, organisation: str) -> Response:
        staff = await cookies.staff(request)
        review.require(staff, Permission.SOCIAL)
        review.require(staff, Permission.DECIDE)
        form = await request.form()
        typed = OrganisationDecision(str(form.get("decision", "")), str(form.get("reason", ""))[:2000])
        decided, errors = await social.decide_organisation(staff, upstreams, record_id(organisation), typed)
        if errors or decided is None:
            return await organisations_page(request, status=400, form={"organisation_id": organisation, **asdict(typed)},
                                            errors=errors_of(errors))
        shown = {"decided": organisation, "decision": decided["status"], "by": decided.get("decided_by") or ""}
        return RedirectResponse(f"/organisations?{urlencode(shown)}", status_code=303)

    @router.get("/offerings")
    async def offerings(request: Request) -> Response:
        staff = await cookies.staff(request)
        review.require(staff, Permission.SOCIAL)
        query = request.query_params
        filters = OfferingFilters(**{f: str(query.get(f, "")).strip()[:32] for f in ("category", "district", "status")})
        default_first, default_last = review.default_range(datetime.now(UTC))
        months = {"first": query.get("from") or default_first, "last": query.get("to") or default_last}
        page = int(query["page"]) if str(query.get("page", "")).isdigit() and int(query["page"]) < 10_000 else 0
        exporting = "export" in query
        errors = month_range_errors(months["first"], months["last"])
        (table, more, filter_errors), outcomes = await asyncio.gather(
            social.offerings(staff, upstreams, filters, 0 if exporting else page, review.LIST_LIMIT if exporting else review.PAGE_SIZE),
            social.match_outcomes(staff, upstreams, months["first"], months["last"]) if not errors else _nothing(),
        )
        errors += filter_errors
        if not errors and (export := exported(request, table, outcomes)) is not None:
            return export
        return render(request, "offerings.html", status=400 if errors else 200, filters=filters, months=months,
                      offerings=table, outcomes=outcomes, more=more, page=page, errors=errors_of(errors),
                      categories=social.CATEGORIES, statuses=social.OFFERING_STATUSES,
                      page_query=lambda number: urlencode({**dict(query), "page": number}))

    @router.get("/unmet-needs")
    async def unmet_needs(request: Request, category: str = "", district: str = "") -> Response:
        staff = await cookies.staff(request)
        category, district = category.strip()[:32], district.strip()[:32]
        report, errors = await social.unmet_needs(staff, upstreams, category, district)
        if report is not None and (export := exported(request, report.cells, *([report.fairness] if report.fairness else []))) is not None:
            return export
        translate = translator(pages.language(request))
        charts = {"categories": [(translate(k), n) for k, n in report.by_category],
                  "districts": report.by_district} if report else {}
        return render(request, "unmet.html", status=400 if errors else 200, report=report, charts=charts,
                      form={"category": category, "district": district}, categories=social.CATEGORIES, errors=errors_of(errors))

    # --- cliff effect, audit, accounts ----------------------------------------------------------

    @router.get("/cliff")
    async def cliff(request: Request) -> Response:
        staff = await cookies.staff(request)
        review.require(staff, Permission.VIEW)
        month = request.query_params.get("month") or datetime.now(UTC).strftime("%Y-%m")
        if not MONTH.match(month):
            return render(request, "cliff.html", status=400, month=month, figures=None,
                          errors={"month": N_("A month written YYYY-MM")})
        figures, table = await review.cliff(staff, upstreams, month)
        if (export := exported(request, table)) is not None:
            return export
        charts = {
            "total": [(f"{r['income_from']:,.0f}–{r['income_to']:,.0f}", float(r["mean_total_person"])) for r in table.rows],
            "benefits": [(f"{r['income_from']:,.0f}–{r['income_to']:,.0f}", float(r["mean_benefits_household"])) for r in table.rows],
        }
        return render(request, "cliff.html", month=month, figures=figures, table_=table, charts=charts)

    @router.get("/audit")
    async def audit(request: Request, target_id: str = "") -> Response:
        staff = await cookies.staff(request)
        review.require(staff, Permission.AUDIT)
        target_id = target_id.strip()
        if target_id and not re.fullmatch(CODE_PATTERN, target_id):
            return render(request, "audit.html", status=400, target_id=target_id, table_=Table("audit", []),
                          errors={"target_id": N_("A record id: letters, digits and . _ : -, at most 64")})
        table = await review.audit_trail(staff, upstreams, target_id)
        if (export := exported(request, table)) is not None:
            return export
        return render(request, "audit.html", target_id=target_id, table_=table)

    @router.get("/accounts")
    async def accounts(request: Request, created: str = "") -> Response:
        staff = await cookies.staff(request)
        table = await asyncio.to_thread(access.accounts, staff)
        if (export := exported(request, table)) is not None:
            return export
        return render(request, "accounts.html", table_=table, roles=[r.value for r in Role], created=created[:32],
                      form={"username": "", "role": "", "department": ""})

    @router.post("/accounts")
    async def create_account(request: Request) -> Response:
        staff = await cookies.staff(request)
        review.require(staff, Permission.MANAGE_ACCOUNTS)
        form = await request.form()
        typed = {f: str(form.get(f, "")).strip() for f in ("username", "role", "department")}
        errors = await asyncio.to_thread(access.create_account, staff, typed["username"], str(form.get("password", "")),
                                         typed["role"], typed["department"] or None)
        if errors:
            table = await asyncio.to_thread(access.accounts, staff)
            return render(request, "accounts.html", status=400, table_=table, roles=[r.value for r in Role], created="",
                          form=typed, errors=errors_of(errors))
        return RedirectResponse(f"/accounts?{urlencode({'created': typed['username']})}", status_code=303)

    return router


async def _nothing() -> None:
    return None


def month_range_errors(first: str, last: str) -> list[FieldError]:
    errors = []
    if not MONTH.match(first):
        errors.append(FieldError("from", N_("A month written YYYY-MM")))
    if not MONTH.match(last):
        errors.append(FieldError("to", N_("A month written YYYY-MM")))
    if not errors and not (first <= last <= _months_forward(first, 35)):
        errors.append(FieldError("to", N_("Not before the first month, at most 36 months on")))
    return errors


def _months_back(month: str, count: int) -> str:
    year, number = int(month[:4]), int(month[5:])
    index = year * 12 + number - 1 - count
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _months_forward(month: str, count: int) -> str:
    return _months_back(month, -count)


def as_json(value: Any) -> Any:
    return asdict(value) if hasattr(value, "__dataclass_fields__") else value
