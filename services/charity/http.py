"""The charity service's HTTP API: organisations register and manage their keys, offerings and
inbox; staff approve organisations and read the statistics; anyone may list open offerings.

Status codes: 401 no, unknown or revoked key; 403 a key whose role may not use the endpoint, or
an organisation not yet approved publishing; 404 a record that does not exist or belongs to
another organisation (an organisation cannot tell others' records exist); 409 a record whose
state does not allow the action (an impossible match transition, a closed offering, a decided
registration); 422 a field that is not acceptable, naming it (FastAPI's shape: `detail` a list).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, status
import orjson
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from contracts.catalogue import Category
from contracts.envelope import CODE_PATTERN
from kit.auth import ActingUser
from services.charity import usecases
from services.charity.access import AUTH_RESPONSES, Allowed, GuardedRoute, quick_read
from services.charity.matches import Action, check_decline_reason
from services.charity.offerings import OfferingChanges, OfferingInput
from services.charity.repository import OfferingFilter
from services.charity.shapes import (
    CapacityIn,
    DecisionIn,
    DeclineIn,
    FailIn,
    FulfilIn,
    KeyIn,
    KeyOut,
    MatchOut,
    NewKeyOut,
    OfferingOut,
    OrganisationChangesIn,
    OrganisationOut,
    ProblemOut,
    PublicOfferingOut,
    RefusalIn,
    RegisteredOut,
    RegistrationIn,
    StatsOut,
    WithdrawalIn,
)
from services.charity.usecases import Caller, Charity, Conflict, FieldProblem, NotFound, Refused

Organisation = Annotated[Caller, Depends(Allowed("organisation"))]
Staff = Annotated[Caller, Depends(Allowed("staff"))]
OrganisationOrStaff = Annotated[Caller, Depends(Allowed("organisation", "staff"))]

NOT_FOUND = {404: {"model": ProblemOut, "description": "No such record among those this key may see"}}
CONFLICT = {409: {"model": ProblemOut, "description": "The record's state does not allow this; the message says why"}}
AUTH = {code: {"model": ProblemOut, **answer} for code, answer in AUTH_RESPONSES.items()}
MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


OrgId = Annotated[str, Path(pattern=CODE_PATTERN, max_length=64, description="The organisation's id", examples=["org-3f9c2a1b7d4e"])]
OfferingId = Annotated[str, Path(pattern=CODE_PATTERN, max_length=64, description="The offering's id", examples=["off-8a1d5e0c9b7f4a21"])]
MatchId = Annotated[str, Path(pattern=CODE_PATTERN, max_length=64, description="The match reference", examples=["m-2026-000123"])]
CategoryQuery = Annotated[Category | None, Query(description="Only offerings meeting this category of need")]
DistrictQuery = Annotated[str | None, Query(pattern=r"^\d{6}$", description="Only offerings delivered in this district (citywide ones too)")]
Limit = Annotated[int, Query(ge=1, le=1000, description="At most this many")]
Offset = Annotated[int, Query(ge=0, le=10**9, description="Skip this many")]  # a database integer holds it


def _json(rows: list[dict[str, Any]]) -> Response:
    return Response(orjson.dumps(rows), media_type="application/json")


def install_error_answers(app: FastAPI) -> None:
    @app.exception_handler(NotFound)
    async def not_found(_: Request, error: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status.HTTP_404_NOT_FOUND)

    @app.exception_handler(Refused)
    async def refused(_: Request, error: Refused) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status.HTTP_403_FORBIDDEN)

    @app.exception_handler(Conflict)
    async def conflict(_: Request, error: Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status.HTTP_409_CONFLICT)

    @app.exception_handler(FieldProblem)
    async def field_problem(_: Request, error: FieldProblem) -> JSONResponse:
        detail = [{"loc": ["body", error.field], "msg": str(error), "type": "value_error"}]
        return JSONResponse({"detail": detail}, 422)


def charity_router(charity: Charity) -> APIRouter:
    router = APIRouter(route_class=GuardedRoute)
    router.include_router(_organisations(charity))
    router.include_router(_offerings(charity))
    router.include_router(_inbox(charity))
    router.include_router(_statistics(charity))
    return router


def _organisations(charity: Charity) -> APIRouter:
    router = APIRouter(prefix="/organisations", tags=["organisations"], route_class=GuardedRoute)

    @router.post("", status_code=201, summary="Register an organisation (no key needed); pending until staff decide",
                 responses={409: CONFLICT[409]})
    async def register(given: RegistrationIn) -> RegisteredOut:
        registration = usecases.Registration(**given.model_dump())
        organisation, issued = await run_in_threadpool(usecases.register, charity, registration)
        key = KeyOut(key_id=issued.key_id, label="first key", created_at=organisation.registered_at, revoked_at=None, active=True)
        return RegisteredOut(organisation=OrganisationOut.of(organisation), key=NewKeyOut(**key.model_dump(), api_key=issued.secret))

    @router.get("", summary="Staff: list organisations, by status", responses=AUTH)
    async def list_all(
        caller: Staff, state: Annotated[Literal["pending", "approved", "refused"] | None, Query(alias="status", description="Only this status")] = None,
        limit: Limit = 100, offset: Offset = 0,
    ) -> list[OrganisationOut]:
        found = await run_in_threadpool(usecases.list_organisations, charity, state, limit, offset)
        return [OrganisationOut.of(o) for o in found]

    @router.get("/{organisation_id}", summary="An organisation's record: its own, or any for staff", responses=AUTH | NOT_FOUND)
    async def show(organisation_id: OrgId, caller: OrganisationOrStaff) -> OrganisationOut:
        return OrganisationOut.of(await run_in_threadpool(usecases.show_organisation, charity, caller, organisation_id))

    @router.patch("/{organisation_id}", summary="Change the organisation's own record (name, districts, contact)", responses=AUTH | NOT_FOUND)
    async def change(organisation_id: OrgId, given: OrganisationChangesIn, caller: Organisation) -> OrganisationOut:
        changes = {k: v for k, v in given.model_dump(exclude_unset=True).items() if v is not None}
        return OrganisationOut.of(await run_in_threadpool(usecases.change_organisation, charity, caller, organisation_id, changes))

    @router.post("/{organisation_id}/approve", summary="Staff: approve a pending organisation", responses=AUTH | NOT_FOUND | CONFLICT)
    async def approve(organisation_id: OrgId, caller: Staff, acting_user: ActingUser = None, given: DecisionIn | None = None) -> OrganisationOut:
        decided = await run_in_threadpool(usecases.decide_registration, charity, caller, organisation_id, True,
                                          given.reason if given else "", acting_user)
        return OrganisationOut.of(decided)

    @router.post("/{organisation_id}/refuse", summary="Staff: refuse a pending organisation, with a reason", responses=AUTH | NOT_FOUND | CONFLICT)
    async def refuse(organisation_id: OrgId, given: RefusalIn, caller: Staff, acting_user: ActingUser = None) -> OrganisationOut:
        decided = await run_in_threadpool(usecases.decide_registration, charity, caller, organisation_id, False, given.reason, acting_user)
        return OrganisationOut.of(decided)

    @router.post("/{organisation_id}/keys", status_code=201, summary="Create an API key (shown once)", responses=AUTH | NOT_FOUND)
    async def create_key(organisation_id: OrgId, caller: Organisation, given: KeyIn | None = None) -> NewKeyOut:
        key, issued = await run_in_threadpool(usecases.create_key, charity, caller, organisation_id, given.label if given else "api key")
        return NewKeyOut(**KeyOut.of(key).model_dump(), api_key=issued.secret)

    @router.get("/{organisation_id}/keys", summary="The organisation's keys (never the keys themselves)", responses=AUTH | NOT_FOUND)
    async def list_keys(organisation_id: OrgId, caller: OrganisationOrStaff) -> list[KeyOut]:
        return [KeyOut.of(k) for k in await run_in_threadpool(usecases.list_keys, charity, caller, organisation_id)]

    @router.delete("/{organisation_id}/keys/{key_id}", summary="Revoke a key: it stops working at once", responses=AUTH | NOT_FOUND)
    async def revoke_key(organisation_id: OrgId, key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{12}$", description="The key's id")],
                         caller: OrganisationOrStaff) -> KeyOut:
        return KeyOut.of(await run_in_threadpool(usecases.revoke_key, charity, caller, organisation_id, key_id))

    return router


def _offerings(charity: Charity) -> APIRouter:
    router = APIRouter(tags=["offerings"], route_class=GuardedRoute)

    @router.post("/offerings", status_code=201, summary="Publish an offering (approved organisations only)", responses=AUTH)
    async def create(given: OfferingInput, caller: Organisation) -> OfferingOut:
        return OfferingOut.of(await run_in_threadpool(usecases.create_offering, charity, caller, given), promised=0)

    # The two busiest reads answer with rows straight from the database (the declared model
    # documents them; its shape is tested against these rows), as a `quick_read`.
    @router.get("/offerings", response_model=list[OfferingOut], summary="Offerings: an organisation's own, or all for staff; filter by category, district, open/closed",
                responses=AUTH)
    async def list_offerings(
        caller: OrganisationOrStaff, category: CategoryQuery = None, district: DistrictQuery = None,
        state: Annotated[Literal["open", "stale", "closed", "withdrawn"] | None, Query(alias="status", description="Only this status")] = None,
        closed: Annotated[bool | None, Query(description="true: closed or withdrawn; false: open or stale")] = None,
        organisation_id: Annotated[str | None, Query(pattern=CODE_PATTERN, description="Staff: only this organisation's")] = None,
        limit: Limit = 100, offset: Offset = 0,
    ) -> list[OfferingOut]:
        filters = OfferingFilter(organisation_id, category, district, state, closed, limit, offset)
        return _json(await quick_read(charity, usecases.list_offerings, charity, caller, filters))  # type: ignore[return-value]

    @router.get("/public/offerings", summary="Anyone: open offerings, without contact details")
    async def public(category: CategoryQuery = None, district: DistrictQuery = None, limit: Limit = 100, offset: Offset = 0) -> list[PublicOfferingOut]:
        found = await run_in_threadpool(usecases.public_offerings, charity, category, district, limit, offset)
        return [PublicOfferingOut.of(o, name) for o, name in found]

    @router.get("/offerings/{offering_id}", summary="One offering, with how much is promised", responses=AUTH | NOT_FOUND)
    async def show(offering_id: OfferingId, caller: OrganisationOrStaff) -> OfferingOut:
        offering, promised = await run_in_threadpool(usecases.show_offering, charity, caller, offering_id)
        return OfferingOut.of(offering, promised)

    @router.patch("/offerings/{offering_id}", summary="Change an offering (only the fields given)", responses=AUTH | NOT_FOUND | CONFLICT)
    async def change(offering_id: OfferingId, given: OfferingChanges, caller: Organisation) -> OfferingOut:
        return OfferingOut.of(await run_in_threadpool(usecases.change_offering, charity, caller, offering_id, given))

    @router.post("/offerings/{offering_id}/confirm-capacity", summary="Confirm the capacity (a stale offering opens again)",
                 responses=AUTH | NOT_FOUND | CONFLICT)
    async def confirm(offering_id: OfferingId, caller: Organisation, given: CapacityIn | None = None) -> OfferingOut:
        return OfferingOut.of(await run_in_threadpool(usecases.confirm_capacity, charity, caller, offering_id, given.quantity_remaining if given else None))

    @router.post("/offerings/{offering_id}/withdraw", summary="Withdraw an offering", responses=AUTH | NOT_FOUND | CONFLICT)
    async def withdraw(offering_id: OfferingId, caller: Organisation, given: WithdrawalIn | None = None) -> OfferingOut:
        return OfferingOut.of(await run_in_threadpool(usecases.withdraw_offering, charity, caller, offering_id, given.reason if given else ""))

    return router


def _inbox(charity: Charity) -> APIRouter:
    router = APIRouter(prefix="/inbox", tags=["inbox"], route_class=GuardedRoute)
    MATCH_ERRORS = AUTH | NOT_FOUND | CONFLICT

    @router.get("", response_model=list[MatchOut], summary="Proposals for the organisation's offerings (staff: everyone's)", responses=AUTH)
    async def list_inbox(
        caller: OrganisationOrStaff,
        state: Annotated[Literal["requested", "accepted", "rejected", "in-progress", "completed", "failed", "cancelled", "expired"] | None,
                         Query(description="Only matches in this state")] = None,
        limit: Limit = 100, offset: Offset = 0,
    ) -> list[MatchOut]:
        return _json(await quick_read(charity, usecases.inbox, charity, caller, state, limit, offset))  # type: ignore[return-value]

    @router.get("/{match_id}", summary="One match", responses=AUTH | NOT_FOUND)
    async def show(match_id: MatchId, caller: OrganisationOrStaff) -> MatchOut:
        return MatchOut.of(await run_in_threadpool(usecases.show_match, charity, caller, match_id))

    @router.post("/{match_id}/accept", summary="Accept: the units are held for this household", responses=MATCH_ERRORS)
    async def accept(match_id: MatchId, caller: Organisation) -> MatchOut:
        return MatchOut.of(await run_in_threadpool(usecases.answer, charity, caller, match_id, Action.ACCEPT))

    @router.post("/{match_id}/decline", summary="Decline with a coded reason", responses=MATCH_ERRORS)
    async def decline(match_id: MatchId, given: DeclineIn, caller: Organisation) -> MatchOut:
        try:
            check_decline_reason(given.reason_code, given.reason)
        except ValueError as error:
            raise FieldProblem("reason", str(error)) from None
        return MatchOut.of(await run_in_threadpool(usecases.answer, charity, caller, match_id, Action.DECLINE, given.reason_code, given.reason))

    @router.post("/{match_id}/start", summary="Delivery has begun", responses=MATCH_ERRORS)
    async def start(match_id: MatchId, caller: Organisation) -> MatchOut:
        return MatchOut.of(await run_in_threadpool(usecases.answer, charity, caller, match_id, Action.START))

    @router.post("/{match_id}/fulfil", summary="Record delivery: the ledger records it as a charity benefit", responses=MATCH_ERRORS)
    async def fulfil(match_id: MatchId, caller: Organisation, given: FulfilIn | None = None) -> MatchOut:
        given = given or FulfilIn()
        delivery = usecases.Delivery(given.quantity, given.delivered_on, given.note)
        return MatchOut.of(await run_in_threadpool(usecases.answer, charity, caller, match_id, Action.FULFIL, None, "", delivery))

    @router.post("/{match_id}/fail", summary="Report that delivery failed", responses=MATCH_ERRORS)
    async def fail(match_id: MatchId, given: FailIn, caller: Organisation) -> MatchOut:
        return MatchOut.of(await run_in_threadpool(usecases.answer, charity, caller, match_id, Action.FAIL, None, given.reason))

    return router


def _statistics(charity: Charity) -> APIRouter:
    router = APIRouter(prefix="/stats", tags=["statistics"], route_class=GuardedRoute)

    @router.get("/social-forces", summary="Staff: what social forces contribute, by district x category x month and per organisation",
                responses=AUTH)
    async def social(
        caller: Staff,
        from_month: Annotated[str | None, Query(alias="from", pattern=MONTH, description="First month, YYYY-MM", examples=["2026-01"])] = None,
        to_month: Annotated[str | None, Query(alias="to", pattern=MONTH, description="Last month, YYYY-MM", examples=["2026-12"])] = None,
    ) -> StatsOut:
        return StatsOut(**await run_in_threadpool(usecases.statistics, charity, from_month, to_month))

    return router
