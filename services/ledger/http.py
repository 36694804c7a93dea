"""The ledger's HTTP API: the pre-grant check for department systems, the review API for
joint-meeting staff, and the statistics.

Department keys may check only their own department's programmes. Staff review and decide;
every view and decision is written to the append-only audit trail. Charity keys get 403 here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.engine import Engine
from sqlmodel import Session

from contracts.catalogue import PROGRAMMES
from contracts.envelope import CODE_PATTERN, utc_now
from kit.auth import Principal, require
from kit.http import unprocessable
from kit.outbox import OutboxRelay, UnitOfWork
from services.ledger import pre_grant, review
from services.ledger.alerts import AlertAlreadyDecided, AlertError
from services.ledger.domain import Conflict
from services.ledger.identity import is_well_formed, person_key
from services.ledger.persons import SharedPersonAlreadyDecided, SharedPersonError
from services.ledger.policy import StackingPolicy
from services.ledger.pre_grant import Proposal
from services.ledger.repository import AlertFilter, LedgerRepository
from services.ledger.statistics import (
    BAND_FIGURES,
    DEFAULT_MIN_CELL,
    DIBAO_STANDARD_FEN,
    Month,
    benefits_by_district_programme,
    cliff,
    months_between,
    open_alert_counts,
    suppress_small_cells,
)

# Bounds on what a caller may ask for: beyond them the answer is a 422 naming the field, never a
# 500 from a date or an integer the database or the calendar cannot hold.
MONTH_PATTERN = r"^(19|20|21)\d{2}-(0[1-9]|1[0-2])$"
EARLIEST, LATEST = date(1900, 1, 1), date(2199, 12, 31)
MAX_FEN = 10**12  # ten billion CNY
MAX_OFFSET = 10**9


@dataclass(frozen=True)
class LedgerContext:
    engine: Engine
    unit_of_work: Callable[[], UnitOfWork]
    relay: OutboxRelay
    policy: StackingPolicy
    person_key_secret: bytes
    stats_min_cell: int = DEFAULT_MIN_CELL  # statistics cells below it are withheld from non-staff keys


Department = Annotated[Principal, Depends(require("department", "staff"))]


async def _reviewer(
    principal: Annotated[Principal, Depends(require("staff"))],
    acting_user: Annotated[str | None, Header(alias="X-Acting-User", pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")] = None,
) -> review.Reviewer:
    return review.Reviewer(principal.id, principal.role, principal.department, acting_user)


Staff = Annotated[review.Reviewer, Depends(_reviewer)]


# --- shapes ------------------------------------------------------------------------------------


class PreGrantQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    household_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=CODE_PATTERN, description="The hub household id, or")
    resident_id: str | None = Field(default=None, max_length=40, description="the resident ID number of the person to be granted")
    person_key: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=CODE_PATTERN, description="With household_id: the person, for personal programmes"
    )
    programme: str = Field(min_length=1, max_length=32)
    period_start: date = Field(ge=EARLIEST, le=LATEST)
    period_end: date | None = Field(default=None, ge=EARLIEST, le=LATEST)
    amount_fen: int | None = Field(default=None, ge=0, le=MAX_FEN)

    @model_validator(mode="after")
    def _one_subject(self) -> PreGrantQuery:
        if (self.household_id is None) == (self.resident_id is None):
            raise ValueError("give exactly one of household_id or resident_id")
        if self.resident_id is not None and not is_well_formed(self.resident_id):
            raise ValueError("resident_id must be 18 characters: 17 digits and a digit or X")
        if self.programme not in PROGRAMMES:
            raise ValueError(f"unknown programme {self.programme!r}; see contracts.catalogue.PROGRAMMES")
        if self.period_end is not None and self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        return self


class ConflictOut(BaseModel):
    rule_id: str
    severity: str
    description: str
    benefits: list[dict[str, Any]]


class PreGrantAnswer(BaseModel):
    allowed: bool
    household_id: str | None = Field(description="The first of households_checked (by id)")
    known_household: bool
    households_checked: list[str] = Field(
        default_factory=list, description="Every hub household the person is a member of, by id: all were checked together"
    )
    programme: str
    policy_version: str
    conflicts: list[ConflictOut]


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["confirmed_duplicate", "justified"]
    note: str = Field(
        min_length=3, max_length=1000,
        description="For a confirmed duplicate: how the overpayment is recovered; when justified: why",
    )


class HouseholdsDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["one_household", "two_households"]
    belongs_to: str | None = Field(default=None, max_length=64, description="With two_households: the person's household")
    note: str = Field(min_length=3, max_length=1000, description="What the joint meeting found")

    @model_validator(mode="after")
    def _belongs_to_with_two(self) -> HouseholdsDecision:
        if self.decision == "two_households" and not self.belongs_to:
            raise ValueError("two_households needs belongs_to: the household the person belongs to")
        return self


# --- routes ------------------------------------------------------------------------------------


def ledger_router(context: LedgerContext) -> APIRouter:
    router = APIRouter()
    router.include_router(_pre_grant_router(context))
    router.include_router(_review_router(context))
    router.include_router(_statistics_router(context))
    return router


def _pre_grant_router(context: LedgerContext) -> APIRouter:
    router = APIRouter(tags=["pre-grant check"])

    # Async on purpose: the check is two indexed reads and a few microseconds of rules, cheaper
    # to run on the event loop than to hand to a worker thread and back.
    @router.post(
        "/pre-grant-check", summary="Would granting this break a stacking rule, and why",
        responses={404: {"description": "The household named is not in the ledger"}},
    )
    async def pre_grant_check(query: PreGrantQuery, caller: Department) -> PreGrantAnswer:
        if caller.role == "department" and not caller.may_use_programme(query.programme):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"a {caller.department} key may not check programme {query.programme}")
        with Session(context.engine) as session:
            repository = LedgerRepository(session)
            try:
                answer = check_pre_grant(repository, context, query, caller)
            except HTTPException:  # a household the ledger does not have: looked at all the same
                _audit_pre_grant(repository, caller, query, [], context)
                session.commit()
                raise
            _audit_pre_grant(repository, caller, query, answer.households_checked, context)
            session.commit()
            return answer

    return router


def check_pre_grant(repository: LedgerRepository, context: LedgerContext, query: PreGrantQuery, caller: Principal) -> PreGrantAnswer:
    proposal = Proposal(
        programme=query.programme, source=caller.department or caller.id, person_key=query.person_key,
        amount_fen=query.amount_fen, period_start=query.period_start, period_end=query.period_end,
    )
    if query.resident_id is not None:
        person = person_key(query.resident_id, context.person_key_secret)
        result = pre_grant.check_person(repository, context.policy, person, proposal)
    else:
        try:
            result = pre_grant.check_household(repository, context.policy, query.household_id or "", proposal)
        except review.NotFound as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    return PreGrantAnswer(
        allowed=result.allowed, household_id=result.households[0] if result.households else None,
        known_household=bool(result.households), households_checked=result.households, programme=query.programme,
        policy_version=context.policy.version, conflicts=[_conflict_out(c, result) for c in result.conflicts],
    )


def _audit_pre_grant(
    repository: LedgerRepository, caller: Principal, query: PreGrantQuery, checked: list[str], context: LedgerContext,
) -> None:
    """Every check is audited like a review view: a check by resident ID number can otherwise be
    used to learn whom the hub knows. The number itself is not kept, only its person key."""
    by_number = query.resident_id is not None
    person = person_key(query.resident_id, context.person_key_secret) if by_number else query.person_key  # type: ignore[arg-type]
    target = checked[0] if checked else query.household_id or f"person:{person or '-'}"
    review.write_audit(repository, caller, "pre_grant_check", "household", target, {
        "department": caller.department, "programme": query.programme, "named_by": "resident_id" if by_number else "household_id",
        "person_key": person, "known_household": bool(checked), "households_checked": checked,
    })


def _conflict_out(conflict: Conflict, result: pre_grant.PreGrantResult) -> ConflictOut:
    benefits = []
    for benefit_id in conflict.benefit_ids:
        benefit = result.benefits.get(benefit_id)
        if benefit is not None:
            benefits.append({
                "benefit_id": benefit.benefit_id, "programme": benefit.programme, "source": benefit.source,
                "source_kind": benefit.source_kind, "period_start": benefit.period_start, "period_end": benefit.period_end,
                "proposed": benefit_id == pre_grant.PROPOSED_ID, "household_id": benefit.household_id,
            })
    return ConflictOut(rule_id=conflict.rule_id, severity=str(conflict.severity), description=conflict.description, benefits=benefits)


def _review_router(context: LedgerContext) -> APIRouter:
    router = APIRouter(prefix="/review", tags=["review"])

    @router.get("/alerts", summary="List and filter duplicate-service alerts")
    def list_alerts(
        reviewer: Staff,
        district: Annotated[str | None, Query(max_length=16)] = None,
        programme: Annotated[str | None, Query(max_length=32)] = None,
        severity: Literal["high", "medium", "low"] | None = None,
        alert_status: Annotated[
            Literal["open", "resolved", "confirmed_duplicate", "justified"] | None, Query(alias="status")
        ] = None,
        min_age_days: Annotated[int | None, Query(ge=0, le=36500)] = None,
        max_age_days: Annotated[int | None, Query(ge=0, le=36500)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> dict[str, Any]:
        now = utc_now()
        filters = AlertFilter(
            district=district, programme=programme, severity=severity, status=alert_status, limit=limit, offset=offset,
            raised_before=now - timedelta(days=min_age_days) if min_age_days is not None else None,
            raised_after=now - timedelta(days=max_age_days) if max_age_days is not None else None,
        )
        with Session(context.engine) as session:
            alerts = review.list_alerts(session, filters, reviewer)
            return {"alerts": alerts, "count": len(alerts), "limit": limit, "offset": offset}

    @router.get("/alerts/{alert_id}", summary="One alert")
    def show_alert(alert_id: Annotated[str, _code_path()], reviewer: Staff) -> dict[str, Any]:
        with Session(context.engine) as session, _translated():
            return review.show_alert(session, alert_id, reviewer)

    @router.post(
        "/alerts/{alert_id}/decision", summary="Record the joint meeting's decision on an alert",
        responses={409: {"description": "The alert was already decided"}},
    )
    async def decide(alert_id: Annotated[str, _code_path()], decision: Decision, reviewer: Staff) -> dict[str, Any]:
        with _translated():
            decided = await asyncio.to_thread(
                review.record_decision, context.unit_of_work, alert_id, decision.decision, decision.note, reviewer
            )
        await context.relay.flush()
        return decided

    @router.get("/households/{household_id}", summary="A household's full ledger and timeline")
    def show_household(household_id: Annotated[str, _code_path()], reviewer: Staff) -> dict[str, Any]:
        with Session(context.engine) as session, _translated():
            return review.show_household(session, household_id, reviewer)

    @router.get("/shared-persons", summary="Persons recorded in two hub households, for the joint meeting")
    def list_shared_persons(
        reviewer: Staff,
        item_status: Annotated[Literal["open", "one_household", "two_households"] | None, Query(alias="status")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> dict[str, Any]:
        with Session(context.engine) as session:
            items = review.list_shared_persons(session, item_status, reviewer, limit, offset)
            return {"items": items, "count": len(items), "limit": limit, "offset": offset}

    @router.get("/shared-persons/{item_id}", summary="One person in two households")
    def show_shared_person(item_id: Annotated[str, _code_path()], reviewer: Staff) -> dict[str, Any]:
        with Session(context.engine) as session, _translated():
            return review.show_shared_person(session, item_id, reviewer)

    @router.post(
        "/shared-persons/{item_id}/decision", summary="One household, or two (and which the person belongs to)",
        responses={404: {"description": "No such item"}, 409: {"description": "The item was already decided"}},
    )
    def decide_shared_person(item_id: Annotated[str, _code_path()], decision: HouseholdsDecision, reviewer: Staff) -> dict[str, Any]:
        with _translated():
            return review.decide_shared_person(
                context.unit_of_work, item_id, decision.decision, decision.belongs_to, decision.note, reviewer
            )

    @router.get("/audit", summary="The audit trail: who viewed or decided what, newest first")
    def audit_trail(
        reviewer: Staff,
        target_id: Annotated[str | None, Query(max_length=128)] = None,
        actor: Annotated[str | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        with Session(context.engine) as session:
            return {"entries": review.audit_trail(session, target_id, actor, limit)}

    return router


def _code_path() -> Any:
    return Path(pattern=CODE_PATTERN, max_length=64)


@contextmanager
def _translated() -> Iterator[None]:
    """The review use cases' errors as HTTP answers."""
    try:
        yield
    except review.NotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    except AlertAlreadyDecided as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    except AlertError as error:
        raise unprocessable(["body", "decision"], str(error)) from None
    except SharedPersonAlreadyDecided as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    except SharedPersonError as error:
        raise unprocessable(["body", "belongs_to"], str(error)) from None


def _statistics_router(context: LedgerContext) -> APIRouter:
    router = APIRouter(prefix="/stats", tags=["statistics"])

    @router.get("/benefits", summary="Households, persons and amounts by district x programme x month")
    def benefits(
        caller: Department,
        from_month: Annotated[str, Query(alias="from", pattern=MONTH_PATTERN)],
        to_month: Annotated[str | None, Query(alias="to", pattern=MONTH_PATTERN)] = None,
    ) -> dict[str, Any]:
        first, last = _month(from_month, "from"), _month(to_month or from_month, "to")
        months = months_between(first, last)
        if not months or len(months) > 36:
            raise unprocessable(["query", "to"], "from must not be after to, and at most 36 months apart")
        with Session(context.engine) as session:
            rows = benefits_by_district_programme(session, months)
        return {"rows": rows, **_suppressed(caller, context, rows, "households", ("households", "persons", "amount_fen"))}

    @router.get("/alerts", summary="Open alerts by district, severity and rule")
    def alerts(caller: Department) -> dict[str, Any]:
        with Session(context.engine) as session:
            counts = open_alert_counts(session)
        return counts | _suppressed(caller, context, counts["by_district_severity_rule"], "open", ("open",))

    @router.get("/cliff", summary="Households just below and above the dibao standard, and what their category brings")
    def cliff_effect(
        caller: Department,
        month: Annotated[str, Query(pattern=MONTH_PATTERN)],
        standard_fen: Annotated[int, Query(gt=0, le=MAX_FEN)] = DIBAO_STANDARD_FEN,
        band_fen: Annotated[int, Query(gt=0, le=MAX_FEN)] = DIBAO_STANDARD_FEN // 2,
        step_fen: Annotated[int, Query(gt=0, le=MAX_FEN)] = DIBAO_STANDARD_FEN // 10,
    ) -> dict[str, Any]:
        with Session(context.engine) as session:
            answer = cliff(session, _month(month), standard_fen, band_fen, step_fen)
        withheld = _suppressed(caller, context, answer["bands"], "households", BAND_FIGURES)
        more = _suppressed(caller, context, answer["by_side_and_category"], "households", ("households", "mean_benefits_per_household_fen"))
        if withheld:
            withheld["suppression"]["cells_suppressed"] += more["suppression"]["cells_suppressed"]
        return answer | withheld

    return router


def _suppressed(
    caller: Principal, context: LedgerContext, rows: list[dict[str, Any]], count: str, hidden: tuple[str, ...]
) -> dict[str, Any]:
    """Statistics for a department key withhold cells below `stats_min_cell` (HUB_LEDGER_STATS_MIN_CELL),
    and the answer says so; staff see every cell."""
    if caller.role == "staff" or context.stats_min_cell <= 1:
        return {}
    withheld = suppress_small_cells(rows, context.stats_min_cell, count, hidden)
    return {"suppression": {
        "minimum": context.stats_min_cell, "counted_by": count, "cells_suppressed": withheld,
        "note": f"cells counting fewer than {context.stats_min_cell} {count} are withheld (null, suppressed: true) for department keys",
    }}


def _month(text: str, field: str = "month") -> Month:
    try:
        return Month.parse(text)
    except ValueError as error:
        raise unprocessable(["query", field], str(error)) from None
