"""Who is calling, decided from the X-API-Key header BEFORE the request's body is read.

Callers are organisations (keys issued by this service, stored hashed in its database) and the
principals of the hub's keys file (staff, department systems, and the demo `charity` key).
A keys-file `charity` key names no organisation, so it gets 403 on organisation endpoints: an
organisation registers and uses the key issued to it. Department keys get 403 everywhere here
except the public endpoints, which need no key.

FastAPI reads and validates a JSON body before it solves a route's dependencies, so a route of
this service is a `GuardedRoute`: its `Allowed` dependency is checked first, by the route handler
itself, and a 401/403 goes back without the body being read.
"""

# No `from __future__ import annotations`: FastAPI reads `Allowed.__call__`'s annotations at run time.
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool

from kit.auth import API_KEY_HEADER, ApiKeys
from services.charity.organisations import key_digest, looks_like_organisation_key
from services.charity.usecases import Caller, Charity, organisation_of_key

Role = str  # "organisation" | "staff"
T = TypeVar("T")

key_header = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False,
    description="An organisation's key (issued at registration or by POST /organisations/{id}/keys) or a staff key",
)

AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No API key, or one that is unknown or revoked"},
    403: {"description": "The key is valid but its role may not use this endpoint (e.g. a department key, or staff on an organisation's action)"},
}

_WHY = {
    "charity": "the keys-file charity key names no organisation: register at POST /organisations and use the key issued to you",
    "department": "department keys may not use the charity service's endpoints",
    "staff": "staff do not act for an organisation: use that organisation's key",
    "organisation": "this endpoint is for civil-affairs staff",
}


class Allowed:
    """A route dependency naming the roles that may call it; the caller it returns was admitted
    by `GuardedRoute` before the body was read."""

    def __init__(self, *roles: "Role") -> None:
        self.roles = frozenset(roles)

    async def __call__(self, request: Request, key: Annotated[str | None, Depends(key_header)] = None) -> Caller:
        caller = getattr(request.state, "caller", None)
        return caller if caller is not None else await self.admit(request)

    async def admit(self, request: Request) -> Caller:
        key = request.headers.get(API_KEY_HEADER)
        caller = await identify(request, key) if key else None
        if caller is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"missing, unknown or revoked API key: send it in the {API_KEY_HEADER} header")
        if caller.role not in self.roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"a {caller.role} key may not use this endpoint: {_WHY[caller.role]}")
        return caller


async def identify(request: Request, key: str) -> Caller | None:
    principal = request.app.state.api_keys.identify(key) if isinstance(request.app.state.api_keys, ApiKeys) else None
    if principal is not None:
        return Caller(id=principal.id, role=principal.role)
    if not looks_like_organisation_key(key):
        return None
    charity: Charity = request.app.state.charity
    return charity.keys.remembered(key_digest(key)) or await quick_read(charity, organisation_of_key, charity, key)


async def quick_read(charity: Charity, read: Callable[..., T], *args: Any) -> T:
    """A short indexed read: on SQLite (in the process) run on the event loop, which costs less
    than handing it to a worker thread and back; on PostgreSQL in a worker thread, since a round
    trip to the server would hold the loop and every other request with it (measured on the
    loaded machine: p50 of a publication 1.9 s with the lists on the loop)."""
    if charity.engine.dialect.name == "sqlite":
        return read(*args)
    return await run_in_threadpool(read, *args)


def _allowed_of(route: APIRoute) -> Allowed | None:
    for dependency in route.dependant.dependencies:
        if isinstance(dependency.call, Allowed):
            return dependency.call
    return None


class GuardedRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        allowed = _allowed_of(self)
        if allowed is None:
            return handler

        async def guarded(request: Request) -> Response:
            request.state.caller = await allowed.admit(request)
            return await handler(request)

        return guarded
