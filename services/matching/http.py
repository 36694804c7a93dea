"""Matching's HTTP API: explanations and the staff reports. Staff only: a charity sees its own
proposals through the charity service, a department through its own systems.

The handlers are `async`: they read the in-memory pool, which only the event loop changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status

from contracts.catalogue import Category
from contracts.envelope import CODE_PATTERN
from kit.auth import Principal, require
from services.matching.explain import explain_match, explain_need, fairness_report, unmet_report
from services.matching.handlers import Matching

Staff = Annotated[Principal, Depends(require("staff"))]
Id = Annotated[str, Path(pattern=CODE_PATTERN, max_length=64)]


def _not_found(kind: str, value: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=[{"loc": ["path", f"{kind}_id"], "msg": f"no {kind} with this id", "type": "not_found"}])


def matching_router(matching: Matching, clock: Callable[[], datetime]) -> APIRouter:
    router = APIRouter(tags=["matching"])

    @router.get("/matches/{match_id}/explanation", summary="Why this household and this offering: each rule, each priority term")
    async def match_explanation(_: Staff, match_id: Id) -> dict[str, Any]:
        found = explain_match(matching.pool, match_id, clock().date())
        if found is None:
            raise _not_found("match", match_id)
        return found

    @router.get("/needs/{need_id}/explanation", summary="Why a need has (or has not) a proposal")
    async def need_explanation(_: Staff, need_id: Id) -> dict[str, Any]:
        found = explain_need(matching.pool, need_id, clock().date())
        if found is None:
            raise _not_found("need", need_id)
        return found

    @router.get("/reports/unmet-needs", summary="Open needs without a proposal, by category x district, with why and how long")
    async def unmet(
        _: Staff,
        category: Annotated[Category | None, Query()] = None,
        district: Annotated[str | None, Query(pattern=r"^[0-9A-Za-z]{1,16}$")] = None,
    ) -> dict[str, Any]:
        return unmet_report(matching.pool, clock().date(), category.value if category else None, district)

    @router.get("/reports/fairness", summary="Per district: share of open need against share of units proposed")
    async def fairness(_: Staff, days: Annotated[int, Query(ge=1, le=366)] = 30) -> dict[str, Any]:
        return fairness_report(matching.pool, clock(), days)

    @router.get("/rounds/last", summary="What the last round did and how long it took")
    async def last_round(_: Staff) -> dict[str, Any]:
        return {
            "rounds": matching.rounds, "running": matching.round_running, "caught_up": matching.caught_up(),
            "last": matching.last_round, "waiting": len(matching.pool.waiting),
        }

    return router
