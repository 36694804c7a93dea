"""CSRF protection for every form and every unsafe JSON call: starlette-csrf's double-submit cookie,
taught to read the token from a form field too (it reads only a header), and to give a page a token
on its very first visit (the cookie is set with the same response that carries the form)."""

from __future__ import annotations

import http.cookies
from typing import Any
from urllib.parse import parse_qs

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette_csrf import CSRFMiddleware

FORM_FIELD = "csrftoken"
MAX_FORM_BYTES = 1_000_000


class FormCSRFMiddleware(CSRFMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope)
        if self.cookie_name not in request.cookies:
            scope["csrf_new"] = self._generate_csrf_token()
        if request.method not in self.safe_methods and _is_form(request):
            body = await _read_body(receive)
            if body is None:
                await HTMLResponse("request too large", status_code=413)(scope, receive, send)
                return
            scope["csrf_form_token"] = (parse_qs(body.decode("utf-8", "replace")).get(FORM_FIELD) or [""])[0]
            receive = _replay(body)
        await super().__call__(scope, receive, send)

    async def send(self, message: Message, send: Send, scope: Scope) -> None:
        if message["type"] == "http.response.start" and scope.get("csrf_new"):
            cookie: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
            cookie[self.cookie_name] = scope["csrf_new"]
            cookie[self.cookie_name]["path"] = self.cookie_path
            cookie[self.cookie_name]["samesite"] = self.cookie_samesite
            if self.cookie_secure:
                cookie[self.cookie_name]["secure"] = True
            MutableHeaders(scope=message).append("set-cookie", cookie.output(header="").strip())
        await send(message)

    async def _get_submitted_csrf_token(self, request: Request) -> str | None:
        return request.headers.get(self.header_name) or request.scope.get("csrf_form_token")

    def _get_error_response(self, request: Request) -> Response:
        return HTMLResponse(
            "<!doctype html><html lang='en'><head><title>403</title></head><body><main><h1>403</h1>"
            "<p>The form's security token is missing or wrong: reload the page and send it again. "
            "表单安全令牌缺失或无效:请刷新页面后重新提交。</p></main></body></html>",
            status_code=403,
        )


def _is_form(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes) -> Any:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
