"""HTTP routes: department systems POST events (one, or a batch of up to 1,000); staff resolve
identity reviews. Validation and processing are the Kafka path's own (`IntakeHandlers.receive`).

Status codes:
- 401 no or unknown API key; 403 a key of another role, or an event outside the key's scope
  (another department's source, or a programme that department does not run): nothing is
  processed and no rejection is published, as the caller may not speak for that department.
- 400 the body is not JSON, or not an event object or a list of them; 413 the body or the batch
  is too large.
- One event (a JSON object): 202 accepted or held for review, 200 already processed, 422 rejected
  (413 for an event over the size limit), with the same reasons as the rejection event.
- A batch (a JSON array): 200 with one result per item, in order.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError

from contracts.catalogue import PROGRAMMES
from contracts.envelope import new_id
from kit.auth import ActingUser, Principal, decided_by, require
from kit.http import MAX_BODY, unprocessable
from services.intake.domain import (
    Accepted,
    Duplicate,
    Incoming,
    Outcome,
    Pending,
    Rejected,
)
from services.intake.handlers import (
    IntakeHandlers,
    ReviewAlreadyResolved,
    ReviewNotFound,
    UnknownPerson,
)
from services.intake.validation import ReasonCode

DepartmentCaller = Annotated[Principal, Depends(require("department"))]
StaffCaller = Annotated[Principal, Depends(require("staff"))]


class ReviewDecision(BaseModel):
    decision: Literal["same_person", "new_person"]
    person_key: str | None = Field(default=None, max_length=64, description="For same_person: who it is")


class PersonsMerge(BaseModel):
    surviving_person_key: str = Field(min_length=1, max_length=64, description="The key that stays")
    merged_person_key: str = Field(min_length=1, max_length=64, description="The key that from now on means the survivor")


def intake_router(handlers: IntakeHandlers, max_events: int, max_event_bytes: int, max_body_bytes: int | None = None) -> APIRouter:
    router = APIRouter(tags=["intake"])
    max_body = min(max_events * max_event_bytes, max_body_bytes or max_events * max_event_bytes)

    @router.post(
        "/events",
        summary="Publish one department event (a JSON object) or a batch (a JSON array, at most 1,000)",
        responses={
            200: {"description": "A batch: one result per item; or one event already processed"},
            400: {"description": "The body is not JSON, or not an event object or a list of them"},
            413: {"description": "The body or the batch is too large"},
            422: {"description": "One event, rejected: `reasons`, and `detail` in FastAPI's shape"},
            503: {"description": "Busy: nothing was recorded; send the request again"},
        },
        openapi_extra={MAX_BODY: max_body},  # refused from its Content-Length (kit.http), before reading
    )
    async def post_events(request: Request, caller: DepartmentCaller) -> JSONResponse:
        body = await request.body()
        if len(body) > max_body:
            raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"the body is over {max_body} bytes")
        single, items = _items_of(body, max_events)
        _check_scope(caller, items)
        request_id = new_id()
        department = caller.department or ""
        incoming = [Incoming(orjson.dumps(item), "http", department, f"{request_id}#{index}") for index, item in enumerate(items)]
        try:
            outcomes = await handlers.receive(incoming)
        except DBAPIError:  # e.g. another instance recorded the same household at the same moment
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "busy: nothing was recorded; send the request again",
                                headers={"Retry-After": "1"}) from None
        if single:
            answer = _result(outcomes[0]) | {"request_id": request_id}
            if isinstance(outcomes[0], Rejected):  # the same reasons in FastAPI's 422 shape
                answer["detail"] = [_validation_error(p) for p in outcomes[0].problems]
            return JSONResponse(answer, status_code=_status_of(outcomes[0]))
        return JSONResponse(_batch_summary(request_id, outcomes))

    @router.get("/identity-reviews", summary="Records waiting for staff to say who a member is")
    async def list_reviews(caller: StaffCaller) -> list[dict[str, Any]]:
        return handlers.open_reviews()

    @router.get("/held-records", summary="Every department event held for an identity review, and why")
    async def list_held(caller: StaffCaller) -> list[dict[str, Any]]:
        return handlers.held_records()

    @router.post(
        "/persons/merge", summary="Say that two known persons are one: the merged key now means the survivor",
        responses={409: {"description": "One of the two was merged already"}},
    )
    async def merge_persons(decision: PersonsMerge, caller: StaffCaller) -> dict[str, Any]:
        try:
            merge = await handlers.merge_persons(decision.surviving_person_key, decision.merged_person_key, caller.id)
        except UnknownPerson as error:
            raise unprocessable(["body", "merged_person_key"], str(error)) from None
        except DBAPIError:
            raise HTTPException(status.HTTP_409_CONFLICT, "that person was merged already") from None
        return {"surviving_person_key": merge.survivor, "merged_person_key": merge.merged, "reason": merge.reason}

    @router.post(
        "/identity-reviews/{record_id}/resolve", summary="Say who a held member is; held events flow on",
        responses={404: {"description": "No such review"}, 409: {"description": "The review was already resolved"}},
    )
    async def resolve_review(record_id: Annotated[str, PathParam(max_length=64)], decision: ReviewDecision, caller: StaffCaller,
                             acting_user: ActingUser = None) -> dict[str, Any]:
        if decision.decision == "same_person" and not decision.person_key:
            raise unprocessable(["body", "person_key"], "same_person needs the person_key of that person")
        person_key = decision.person_key if decision.decision == "same_person" else None
        resolver = decided_by(caller.id, acting_user)
        try:
            resolution = await handlers.resolve_review(record_id, person_key, resolver)
        except ReviewNotFound as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
        except ReviewAlreadyResolved as error:
            raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
        except UnknownPerson as error:
            raise unprocessable(["body", "person_key"], str(error)) from None
        return {
            "record_id": resolution.record_id,
            "person_key": resolution.person_key,
            "resolved_by": resolver,
            "released": [_result(o) for o in resolution.released],
        }

    return router


def _items_of(body: bytes, max_events: int) -> tuple[bool, list[Any]]:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, _detail(ReasonCode.PAYLOAD_NOT_JSON, "the body is not JSON")) from None
    if isinstance(parsed, dict):
        return True, [parsed]
    if not isinstance(parsed, list) or not parsed:
        message = "send one event as a JSON object or a non-empty JSON array of events"
        raise HTTPException(status.HTTP_400_BAD_REQUEST, _detail(ReasonCode.PAYLOAD_NOT_OBJECT, message))
    if len(parsed) > max_events:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"at most {max_events} events per request, got {len(parsed)}")
    return False, parsed


def _check_scope(caller: Principal, items: list[Any]) -> None:
    """403 for any item outside the key's department or its programmes; nothing is processed."""
    others = [i for i, item in enumerate(items) if isinstance(item, dict) and _source(item) not in (None, caller.department)]
    if others:
        message = f"this key may publish only for department {caller.department}"
        raise HTTPException(status.HTTP_403_FORBIDDEN, _detail("scope.department", message, others))
    foreign = [
        i for i, item in enumerate(items)
        if (p := _programme(item)) in PROGRAMMES and not caller.may_use_programme(p)  # type: ignore[arg-type]
    ]
    if foreign:
        message = f"this key may publish only for the programmes {caller.department} runs: {sorted(caller.programmes)}"
        raise HTTPException(status.HTTP_403_FORBIDDEN, _detail("scope.programme", message, foreign))


def _source(item: dict[str, Any]) -> str | None:
    source = item.get("source")
    return source if isinstance(source, str) else None


def _programme(item: Any) -> str | None:
    data = item.get("data") if isinstance(item, dict) else None
    programme = data.get("programme") if isinstance(data, dict) else None
    return programme if isinstance(programme, str) else None


def _detail(code: str, message: str, items: list[int] | None = None) -> dict[str, Any]:
    return {"code": str(code), "message": message} | ({"items": items} if items is not None else {})


def _result(outcome: Outcome) -> dict[str, Any]:
    notices = {"notices": [asdict(n) for n in outcome.notices]} if getattr(outcome, "notices", ()) else {}
    match outcome:
        case Accepted():
            return {"status": "accepted", "event_id": outcome.event_id, "canonical_event_id": outcome.canonical_event_id} | notices
        case Rejected():
            reasons = [{"code": str(p.code), "message": p.message, "field": p.field} for p in outcome.problems]
            return {"status": "rejected", "event_id": outcome.event_id, "rejection_event_id": outcome.rejection_event_id, "reasons": reasons}
        case Pending():
            return {"status": "pending", "event_id": outcome.event_id, "review_ids": list(outcome.review_ids)} | notices
        case Duplicate():
            return {"status": "duplicate", "event_id": outcome.event_id}
    raise TypeError(outcome)


def _validation_error(problem: Any) -> dict[str, Any]:
    where = [part for part in (problem.field or "").split(".") if part]
    return {"type": str(problem.code), "loc": ["body", *(int(p) if p.isdigit() else p for p in where)], "msg": problem.message}


def _status_of(outcome: Outcome) -> int:
    if isinstance(outcome, Rejected):
        too_large = any(p.code == ReasonCode.PAYLOAD_TOO_LARGE for p in outcome.problems)
        return status.HTTP_413_REQUEST_ENTITY_TOO_LARGE if too_large else status.HTTP_422_UNPROCESSABLE_ENTITY
    return status.HTTP_200_OK if isinstance(outcome, Duplicate) else status.HTTP_202_ACCEPTED


def _batch_summary(request_id: str, outcomes: list[Outcome]) -> dict[str, Any]:
    results = [_result(o) | {"index": i} for i, o in enumerate(outcomes)]
    counts = {s: sum(r["status"] == s for r in results) for s in ("accepted", "rejected", "pending", "duplicate")}
    return {"request_id": request_id, **counts, "results": results}
