"""What a service's HTML pages do the same way, whatever the service: CSRF protection on every
form, a signed expiring session cookie, and message catalogues (Babel) with Chinese by default.

- `FormCSRFMiddleware`: starlette-csrf's double-submit cookie (a kept middleware), taught to read
  the token from a form field as well as its header, and to hand a page its token on the very
  first visit (the cookie is set by the response that carries the form).
- `SignedCookie`: an HttpOnly, SameSite cookie signed with itsdangerous; an expired, forged or
  missing one reads as None.
- `Catalogues`: the .po files are the source, compiled when first used, so a fresh clone works
  without a build step.
- `SignInRequired` and `sign_in_redirect`: a page that needs a session sends the person to sign
  in, and back to where they were going.
- `error_pages`: exceptions, and any HTTP error, as a page in the person's language (a service's
  babel.cfg lists this file, so these messages are in its catalogue).
"""

from __future__ import annotations

import http.cookies
import io
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from itsdangerous import BadSignature, URLSafeTimedSerializer
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette_csrf import CSRFMiddleware

CSRF_FIELD = "csrftoken"
MAX_FORM_BYTES = 1_000_000
LANGUAGE_COOKIE = "hub_lang"  # shared by every service's pages: one choice of language for the hub

CSRF_REFUSED = (
    "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>403</title></head><body><main><h1>403</h1>"
    "<p>表单安全令牌缺失或无效:请刷新页面后重新提交。</p>"
    "<p lang='en'>The form's security token is missing or wrong: reload the page and send it again.</p></main></body></html>"
)


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
            scope["csrf_form_token"] = (parse_qs(body.decode("utf-8", "replace")).get(CSRF_FIELD) or [""])[0]
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
        return HTMLResponse(CSRF_REFUSED, status_code=403)


def csrf_token(request: Request, cookie_name: str) -> str:
    """The token a form carries: the cookie's, or the one this very response sets."""
    return request.cookies.get(cookie_name) or request.scope.get("csrf_new", "")


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


class SignedCookie:
    """A value in a signed, expiring, HttpOnly, SameSite=Lax cookie."""

    def __init__(self, name: str, secret: str, salt: str, max_age: int, secure: bool, path: str = "/") -> None:
        self.name, self.max_age, self.secure, self.path = name, max_age, secure, path
        self.serializer = URLSafeTimedSerializer(secret, salt=salt)

    def set(self, response: Response, value: str) -> None:
        response.set_cookie(self.name, self.serializer.dumps(value), max_age=self.max_age,
                            httponly=True, samesite="lax", secure=self.secure, path=self.path)

    def clear(self, response: Response) -> None:
        response.delete_cookie(self.name, path=self.path, httponly=True, samesite="lax", secure=self.secure)

    def read(self, request: Request) -> str | None:
        token = request.cookies.get(self.name)
        if not token:
            return None
        try:
            return str(self.serializer.loads(token, max_age=self.max_age))
        except BadSignature:  # also SignatureExpired
            return None


class Catalogues:
    """One service's message catalogues: `<locale_dir>/<language>/LC_MESSAGES/messages.po`."""

    def __init__(self, locale_dir: Path, languages: tuple[str, ...] = ("zh", "en"), default: str = "zh") -> None:
        self.locale_dir, self.languages, self.default = locale_dir, languages, default
        self.translations = cache(self._load)

    def _load(self, language: str) -> Translations:
        return Translations(io.BytesIO(self.compiled(language)))

    def compiled(self, language: str) -> bytes:
        with (self.locale_dir / language / "LC_MESSAGES" / "messages.po").open("rb") as source:
            catalogue = read_po(source, locale=language)
        out = io.BytesIO()
        write_mo(out, catalogue)
        return out.getvalue()

    def write_compiled(self) -> list[Path]:
        """Write messages.mo beside each messages.po (for tools that want files)."""
        written = []
        for language in self.languages:
            target = self.locale_dir / language / "LC_MESSAGES" / "messages.mo"
            target.write_bytes(self.compiled(language))
            written.append(target)
        return written

    def language(self, request: Request) -> str:
        chosen = request.cookies.get(LANGUAGE_COOKIE)
        return chosen if chosen in self.languages else self.default  # type: ignore[return-value]

    def gettext(self, language: str) -> Callable[[str], str]:
        return self.translations(language).gettext

    def translate(self, request: Request, message: str) -> str:
        return self.gettext(self.language(request))(message)

    def environment(self, templates: Path, language: str) -> Environment:
        """Jinja2 templates in one language: HTML autoescaped, `_()` from this catalogue."""
        environment = Environment(loader=FileSystemLoader(templates), autoescape=select_autoescape(["html"]),
                                  extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True, auto_reload=False)
        environment.install_gettext_translations(self.translations(language), newstyle=True)  # type: ignore[attr-defined]
        return environment

    def choose(self, language: str, then: str) -> RedirectResponse:
        """Back to `then` (a local path), remembering the language for a year if it is one of ours."""
        response = RedirectResponse(then, status_code=303)
        if language in self.languages:
            response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 86400, samesite="lax", path="/")
        return response


class SignInRequired(Exception):
    """No session, or an expired or forged one: sign in, then come back."""


def here(request: Request) -> str:
    """The path and query of this request (where to come back to)."""
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def sign_in_redirect(request: Request, sign_in: str, default: str) -> RedirectResponse:
    """To the sign-in page, then back: to this page for a GET, to the page the form was on otherwise."""
    target = here(request) if request.method == "GET" else (urlsplit(request.headers.get("referer", "")).path or default)
    return RedirectResponse(f"{sign_in}?next={quote(local_path(target, default), safe='')}&expired=1", status_code=303)


ErrorPage = Callable[[Request, int, str, str], Response]  # (request, status, heading, message) -> the page


def error_pages(app: Starlette, page: ErrorPage, shown: Mapping[type[Exception], tuple[int, str, str]]) -> None:
    """Each exception of `shown` as the page (status, heading, message id); an HTTP error too."""
    for kind, (status, heading, message) in shown.items():
        app.add_exception_handler(kind, _showing(page, status, heading, message))

    async def http_error(request: Request, error: Exception) -> Response:
        status = error.status_code if isinstance(error, HTTPException) else 500
        if status == 404:
            return page(request, 404, N_("Not found"), N_("There is no such page."))
        return page(request, status, N_("Something is wrong with the request"), N_("Please go back and try again."))

    app.add_exception_handler(HTTPException, http_error)


def _showing(page: ErrorPage, status: int, heading: str, message: str) -> Callable[[Request, Exception], Any]:
    async def show(request: Request, _: Exception) -> Response:
        return page(request, status, heading, message)

    return show


def local_path(target: str | None, default: str) -> str:
    """Only a path on this site, never another origin (for ?next= after sign-in)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def N_(message: str) -> str:
    """Marks a message id for extraction (`pybabel extract -k N_`); the page translates it when shown."""
    return message
