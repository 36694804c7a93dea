"""What every service's HTTP API does the same way, whatever its routes: the caller's key is
checked before the body is read, a body over the limit is refused from its Content-Length (or
as soon as the limit is passed while reading) before anything parses it, every 422 has FastAPI's
shape (`detail` a list of {type, loc, msg}), and the 401/403/404/409/413/422 answers are in the
OpenAPI document.

`protect(app, hub)` installs it; `kit.service.serve` calls it for every service, and services
call it in `build` so that the app tested in-process is the one that runs. A route may allow a
larger body than `HUB_MAX_BODY_BYTES` with `openapi_extra={MAX_BODY: n}`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kit.auth import API_KEY_HEADER, ApiKeys, roles_in
from kit.settings import HubSettings

MAX_BODY = "x-max-body-bytes"
_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def unprocessable(loc: Sequence[str | int], message: str, kind: str = "value_error") -> HTTPException:
    """A 422 shaped as FastAPI's own: `detail` a list naming the field."""
    return HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, [{"type": kind, "loc": list(loc), "msg": message}])


def protect(app: FastAPI, hub: HubSettings) -> FastAPI:
    """Install the guard, the 422 shape and the documented error answers (once per app)."""
    if getattr(app.state, "protected", False):
        return app
    app.state.protected = True
    app.add_middleware(RequestGuard, default_limit=hub.max_body_bytes)
    app.add_exception_handler(HTTPException, _uniform_http_error)
    _document_errors(app)
    return app


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"the body is over {limit} bytes")


@dataclass(frozen=True)
class _Operation:
    method: str
    path: re.Pattern[str]
    roles: tuple[str, ...] | None
    max_body: int | None


class RequestGuard:
    """Pure ASGI, so nothing reads the body before it: for a request that may carry one, the
    key its operation needs (from the OpenAPI document: kit.auth names a security scheme after
    the roles) is checked first, then the body's size."""

    def __init__(self, app: ASGIApp, default_limit: int) -> None:
        self.app = app
        self.default_limit = default_limit
        self._operations: list[_Operation] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WITH_BODY:
            await self.app(scope, receive, send)
            return
        operation = self._operation(scope)
        refusal = self._refusal(scope, operation)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        limit = operation.max_body if operation and operation.max_body else self.default_limit
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _answer(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"the body is over {limit} bytes")(scope, receive, send)
            return
        await self.app(scope, _counted(receive, limit), send)

    def _operation(self, scope: Scope) -> _Operation | None:
        if self._operations is None:
            self._operations = _operations(scope["app"].openapi())
        path = scope.get("path", "")
        return next((o for o in self._operations if o.method == scope["method"] and o.path.fullmatch(path)), None)

    def _refusal(self, scope: Scope, operation: _Operation | None) -> Callable[..., Any] | None:
        keys: ApiKeys | None = getattr(getattr(scope.get("app"), "state", None), "api_keys", None)
        if operation is None or not operation.roles or keys is None:
            return None
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        principal = keys.identify(headers.get(API_KEY_HEADER.lower()))
        if principal is None:
            return _answer(status.HTTP_401_UNAUTHORIZED, f"missing or unknown API key: send it in the {API_KEY_HEADER} header")
        if principal.role not in operation.roles:
            return _answer(status.HTTP_403_FORBIDDEN, f"a {principal.role} key may not use this endpoint (needs: {', '.join(operation.roles)})")
        return None


def _operations(schema: dict[str, Any]) -> list[_Operation]:
    found = []
    for template, item in schema.get("paths", {}).items():
        pattern = re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)))
        for method, operation in item.items():
            if isinstance(operation, dict) and method.upper() in _WITH_BODY:
                found.append(_Operation(method.upper(), pattern, roles_in(operation.get("security")), operation.get(MAX_BODY)))
    return found


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _counted(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)  # FastAPI lets an HTTPException from reading the body through
        return message

    return counted


def _answer(code: int, detail: str) -> Callable[..., Any]:
    return JSONResponse({"detail": detail}, status_code=code)


async def _uniform_http_error(request: Request, error: Exception) -> Any:
    """A 422 whose detail is a text (raised by hand) gets FastAPI's list shape."""
    assert isinstance(error, HTTPException)
    if error.status_code == status.HTTP_422_UNPROCESSABLE_ENTITY and not isinstance(error.detail, list):
        detail = [{"type": "value_error", "loc": ["body"], "msg": str(error.detail)}]
        return JSONResponse({"detail": detail}, status_code=422, headers=error.headers)
    return await http_exception_handler(request, error)


_ERROR = {
    "type": "object",
    "properties": {"detail": {"anyOf": [{"type": "string"}, {"type": "array"}, {"type": "object"}]}},
}
_MEANINGS = {
    "401": "No API key, or one the hub does not know",
    "403": "The key's role or scope does not allow this",
    "404": "Nothing with this id",
    "409": "The state does not allow it (already decided, already exists)",
    "413": "The body is over the limit",
}


def _document_errors(app: FastAPI) -> None:
    """Add the answers every route may give to the OpenAPI document: 401/403 where a key is
    needed (and `x-hub-roles`, the kind of key), 413 where a body is read, 404 where the path
    names something; routes declare their own 409 (and any other) in `responses`."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        for path, item in schema.get("paths", {}).items():
            for method, operation in item.items():
                if isinstance(operation, dict):
                    _add_answers(operation, path, method.upper())
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_answers(operation: dict[str, Any], path: str, method: str) -> None:
    codes = []
    if roles := roles_in(operation.get("security")):
        codes += ["401", "403"]
        operation["x-hub-roles"] = list(roles)
    if method in _WITH_BODY:
        codes += ["413"]
    if "{" in path:
        codes += ["404"]
    responses = operation.setdefault("responses", {})
    for code in codes:
        responses.setdefault(code, {})
    for code, entry in responses.items():
        if code in _MEANINGS and not entry.get("content"):
            entry["content"] = {"application/json": {"schema": _ERROR}}
        if not entry.get("description"):
            entry["description"] = _MEANINGS.get(code, "See the route's description")
