"""Wiring only: database, upstream clients, sessions, CSRF, pages, JSON routes, error pages."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from kit.pages import N_, FormCSRFMiddleware, SignInRequired, error_pages, sign_in_redirect
from kit.service import ServiceRuntime, build_runtime, operations_router
from services.web.access import Access
from services.web.figures import DashboardFigures, KeptReport, OpenAlertSummary, StatisticsCache, keep_fresh
from services.web.http import api_router
from services.web.pages import page_router
from services.web.render import Pages
from services.web.review import Forbidden, NotFound, default_months
from services.web.sessions import SessionCookies
from services.web.settings import WebSettings
from services.web.upstream import Upstream, Upstreams, UpstreamDown, UpstreamRefused

MIGRATIONS = Path(__file__).parent / "migrations"
STATIC = Path(__file__).parent / "static"
TITLE = "Hub staff pages"
DESCRIPTION = "The joint meeting's web front over the ledger's, intake's, the charity service's and matching's HTTP APIs."


def make_access(settings: WebSettings, runtime: ServiceRuntime) -> Access:
    return Access(runtime.engine, settings.lockout(), settings.session_length())


def make_upstreams(settings: WebSettings) -> Upstreams:
    key = settings.service_key.get_secret_value()
    return Upstreams(
        ledger=Upstream.connect("ledger", settings.upstream("ledger"), key, settings.upstream_timeout),
        intake=Upstream.connect("intake", settings.upstream("intake"), key, settings.upstream_timeout),
        charity=Upstream.connect("charity", settings.upstream("charity"), key, settings.upstream_timeout),
        matching=Upstream.connect("matching", settings.upstream("matching"), key, settings.upstream_timeout),
    )


def build(settings: WebSettings, upstreams: Upstreams | None = None) -> tuple[ServiceRuntime, FastAPI]:
    runtime = build_runtime(settings, MIGRATIONS, topics=[])
    access = make_access(settings, runtime)
    upstreams = upstreams or make_upstreams(settings)
    runtime.on_stop.append(upstreams.close)
    figures = DashboardFigures(StatisticsCache(upstreams.ledger, settings.statistics_seconds),
                               OpenAlertSummary(upstreams.ledger, settings.alert_summary_seconds),
                               KeptReport(upstreams.charity, "/stats/social-forces", settings.social_seconds),
                               KeptReport(upstreams.matching, "/reports/unmet-needs", settings.social_seconds))
    _in_background(runtime, lambda: keep_fresh(figures, default_months))
    secret = settings.secret()
    cookies = SessionCookies(access, secret, int(settings.session_length().total_seconds()), settings.secure_cookies)
    pages = Pages()

    http = FastAPI(title=TITLE, description=DESCRIPTION, docs_url="/api/docs", openapi_url="/api/openapi.json")
    http.state.access = access  # for tests and `hub web`: the same use cases
    http.add_middleware(FormCSRFMiddleware, secret=secret, cookie_secure=settings.secure_cookies, cookie_samesite="strict")
    http.mount("/static", StaticFiles(directory=STATIC), name="static")
    http.include_router(operations_router(runtime))
    http.include_router(api_router(cookies, upstreams, figures))
    http.include_router(page_router(pages, cookies, access, upstreams, figures))
    _error_pages(http, pages)
    return runtime, http


def _in_background(runtime: ServiceRuntime, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
    tasks: list[asyncio.Task[None]] = []

    async def start() -> None:
        tasks.append(asyncio.create_task(work()))

    async def stop() -> None:
        for task in tasks:
            task.cancel()

    runtime.on_start.append(start)
    runtime.on_stop.append(stop)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error_pages(http: FastAPI, pages: Pages) -> None:
    def page(request: Request, status: int, heading: str, message: str, service: str | None = None) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": pages.translate(request, message)}, status_code=status)
        staff = getattr(request.state, "staff", None)
        return pages.render(request, "error.html", staff, status, heading=heading, message=message, service=service)

    @http.exception_handler(SignInRequired)
    async def sign_in_required(request: Request, _: SignInRequired) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": "sign in first"}, status_code=401)
        return sign_in_redirect(request, "/sign-in", "/dashboard")

    error_pages(http, page, {
        Forbidden: (403, N_("Not allowed"), N_("Your role may not see or do this.")),
        NotFound: (404, N_("Not found"), N_("There is no such record, or it is not yours to see.")),
    })
    as_page = http.exception_handlers[StarletteHTTPException]

    @http.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if _wants_json(request) and error.status_code != 404:  # the route's own word, not the page's
            return JSONResponse({"detail": error.detail}, status_code=error.status_code)
        return await as_page(request, error)

    @http.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        return JSONResponse({"detail": [{k: e[k] for k in ("loc", "msg", "type")} for e in error.errors()]}, status_code=422)

    @http.exception_handler(UpstreamDown)
    async def upstream_down(request: Request, error: UpstreamDown) -> Response:
        return page(request, 503, N_("A service is not answering"),
                    N_("The page needs a service that is not answering now. Nothing was changed; try again in a minute."),
                    error.service)

    @http.exception_handler(UpstreamRefused)
    async def upstream_refused(request: Request, error: UpstreamRefused) -> Response:
        return page(request, 502, N_("A service refused the request"),
                    N_("A service refused what this page asked of it. Nothing was changed."), error.service)
