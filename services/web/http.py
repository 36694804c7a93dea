"""JSON routes for the same use cases the pages call (signed-in session; unsafe methods need the
CSRF token in the X-CSRFToken header). Bad input: 422 with FastAPI's shape, `detail` a list."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.web import review, social
from services.web.accounts import FieldError
from services.web.figures import DashboardFigures
from services.web.pages import month_range_errors, record_id
from services.web.review import AlertFilters
from services.web.social import OfferingFilters, OrganisationDecision
from services.web.sessions import SessionCookies
from services.web.tables import Table
from services.web.upstream import Upstreams


class DecisionIn(BaseModel):
    decision: str = Field(max_length=32)
    note: str = Field(max_length=2000)


class OrganisationDecisionIn(BaseModel):
    decision: str = Field(max_length=16, description="approve or refuse")
    reason: str = Field("", max_length=2000, description="Needed to refuse (3 to 500 characters); the organisation sees it")


class ResolutionIn(BaseModel):
    decision: str = Field(max_length=32)
    person_key: str = Field("", max_length=64)


def unprocessable(errors: list[FieldError], where: str = "body") -> JSONResponse:
    return JSONResponse({"detail": [{"loc": [where, e.field], "msg": e.message, "type": "value_error"} for e in errors]},
                        status_code=422)


def rows(table: Table) -> list[dict[str, Any]]:
    return table.rows


def api_router(cookies: SessionCookies, upstreams: Upstreams, figures: DashboardFigures) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["staff pages (JSON)"], responses={
        401: {"description": "No signed-in session: sign in at /sign-in first"},
        403: {
            "description": "The signed-in account's role may not see this; or, for a change, the CSRF token is missing or wrong (an HTML page)",
            "content": {"application/json": {}, "text/html": {}},
        },
        404: {"description": "No such record"},
        409: {"description": "Already decided"},
        502: {"description": "A service the page reads answered with an error"},
        503: {"description": "A service the page reads is not answering"},
    })

    @router.get("/dashboard", summary="The dashboard's figures")
    async def dashboard(request: Request, from_month: str, to_month: str) -> Any:
        staff = await cookies.staff(request)
        if errors := month_range_errors(from_month, to_month):
            return unprocessable(errors, "query")
        board, section = await asyncio.gather(review.dashboard(staff, figures, from_month, to_month),
                                              social.social_section(staff, figures, from_month, to_month))
        return {"social_forces": None if section is None else {
                    "totals": section.totals, "by_category": section.by_category.rows, "by_district": section.by_district.rows,
                    "unmet_needs": section.unmet_total, "unmet_by_category": section.unmet_by_category.rows,
                    "unmet_by_district": section.unmet_by_district.rows},
                "from": board.first, "to": board.last, "by_month": rows(board.by_month), "benefits": rows(board.benefits),
                "open_alerts_by_rule": rows(board.alerts_by_rule), "open_alerts_by_age": rows(board.alerts_by_age),
                "open_alerts_counted": board.open_alerts_shown, "capped": board.capped,
                "figures_as_of": board.figures_as_of.isoformat() if board.figures_as_of else None}

    @router.get("/alerts", summary="The alert queue, filtered")
    async def alerts(request: Request, district: str = "", programme: str = "", rule: str = "", status: str = "open",
                     min_age_days: str = "", max_age_days: str = "", page: int = Query(0, ge=0, le=9999)) -> Any:
        staff = await cookies.staff(request)
        filters = AlertFilters(district, programme, rule, status, min_age_days, max_age_days)
        queue, errors = await review.alert_queue(staff, upstreams, filters, page)
        return unprocessable(errors, "query") if errors else {"alerts": queue.table.rows, "page": queue.page, "more": queue.more}

    @router.get("/alerts/{alert_id}", summary="One alert with its evidence")
    async def alert(request: Request, alert_id: str) -> Any:
        staff = await cookies.staff(request)
        return await review.alert(staff, upstreams, record_id(alert_id))

    @router.post("/alerts/{alert_id}/decision", summary="Decide an alert")
    async def decide(request: Request, alert_id: str, body: DecisionIn) -> Any:
        staff = await cookies.staff(request)
        decided, errors = await review.decide_alert(staff, upstreams, record_id(alert_id), body.decision, body.note)
        return unprocessable(errors) if errors else decided

    @router.get("/households/{household_id}", summary="A household's page as data")
    async def household(request: Request, household_id: str) -> Any:
        staff = await cookies.staff(request)
        page = await review.household(staff, upstreams, record_id(household_id))
        return {"household": page.household, "members": page.members, "benefits": page.benefits.rows,
                "needs": page.needs.rows, "alerts": page.alerts.rows, "timeline": page.timeline.rows,
                "matches": page.matches.rows if page.matches else [], "matching_answered": page.matching_answered,
                "colour_history": page.colours.rows if page.colours else []}

    @router.get("/identity-reviews", summary="Records waiting for an identity decision")
    async def identity_reviews(request: Request) -> Any:
        staff = await cookies.staff(request)
        return {"reviews": await review.identity_reviews(staff, upstreams)}

    @router.post("/identity-reviews/{record}/resolve", summary="Same person or new person")
    async def resolve(request: Request, record: str, body: ResolutionIn) -> Any:
        staff = await cookies.staff(request)
        resolved, errors = await review.resolve_review(staff, upstreams, record_id(record), body.decision, body.person_key)
        return unprocessable(errors) if errors else resolved

    @router.get("/organisations", summary="Organisations awaiting approval (contact masked)")
    async def organisations(request: Request) -> Any:
        staff = await cookies.staff(request)
        return {"organisations": (await social.pending_organisations(staff, upstreams)).rows}

    @router.post("/organisations/{organisation}/decision", summary="Approve or refuse a pending organisation")
    async def decide_organisation(request: Request, organisation: str, body: OrganisationDecisionIn) -> Any:
        staff = await cookies.staff(request)
        decided, errors = await social.decide_organisation(staff, upstreams, record_id(organisation),
                                                           OrganisationDecision(body.decision, body.reason))
        if errors or decided is None:
            return unprocessable(errors)
        return {k: decided.get(k) for k in ("organisation_id", "status", "status_reason", "decided_by", "decided_at")}

    @router.get("/offerings", summary="Offerings of every organisation, filtered")
    async def offerings(request: Request, category: str = "", district: str = "", status: str = "",
                        page: int = Query(0, ge=0, le=9999)) -> Any:
        staff = await cookies.staff(request)
        table, more, errors = await social.offerings(staff, upstreams, OfferingFilters(category, district, status), page)
        return unprocessable(errors, "query") if errors else {"offerings": table.rows, "page": page, "more": more}

    @router.get("/match-outcomes", summary="Proposals of the months by where they stand, per organisation and category")
    async def match_outcomes(request: Request, from_month: str, to_month: str) -> Any:
        staff = await cookies.staff(request)
        if errors := month_range_errors(from_month, to_month):
            return unprocessable(errors, "query")
        return {"outcomes": (await social.match_outcomes(staff, upstreams, from_month, to_month)).rows}

    @router.get("/unmet-needs", summary="Open needs without a proposal by category and district, and fairness")
    async def unmet_needs(request: Request, category: str = "", district: str = "") -> Any:
        staff = await cookies.staff(request)
        report, errors = await social.unmet_needs(staff, upstreams, category, district)
        if errors or report is None:
            return unprocessable(errors, "query")
        return {"as_of": report.as_of, "total": report.total, "cells": report.cells.rows,
                "fairness": report.fairness.rows if report.fairness else None}

    @router.get("/cliff", summary="The cliff effect around the dibao standard")
    async def cliff(request: Request, month: str) -> Any:
        staff = await cookies.staff(request)
        if errors := month_range_errors(month, month):
            return unprocessable([FieldError("month", e.message) for e in errors], "query")
        figures, _ = await review.cliff(staff, upstreams, month)
        return figures

    return router


def plain(value: Any) -> Any:
    return asdict(value) if hasattr(value, "__dataclass_fields__") else value
