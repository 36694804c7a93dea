"""Wiring only: broker, subscribers, HTTP routes, database, the periodic check."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from faststream import AckPolicy, FastStream
from faststream.specification import AsyncAPI

from contracts.hub import (
    MatchAccepted,
    MatchDeclinedV2,
    MatchFailed,
    MatchFulfilled,
    MatchStarted,
    OfferingChangedV2,
    OfferingClosed,
    OfferingPublishedV2,
    OfferingWithdrawn,
)
from contracts.topics import MATCHES, OFFERINGS
from kit.auth import ApiKeys
from kit.broker import FETCH_MAX_WAIT_MS, undecoded
from kit.logs import get_logger
from kit.service import ServiceRuntime, build_runtime, document_publications, operations_router
from services.charity import usecases
from services.charity.accounts import Accounts
from services.charity.handlers import InboxMetrics, make_on_matches
from services.charity.key_cache import KeyCache
from services.charity.http import charity_router, install_error_answers
from services.charity.pages import PREFIX, pages_app
from services.charity.settings import CharitySettings

MIGRATIONS = Path(__file__).parent / "migrations"
TITLE = "Hub charity"
DESCRIPTION = (
    "The charity service: organisations (charities, foundations, companies, social-work agencies, volunteer groups) "
    "register, publish their offerings on record, and answer the matches proposed for them. "
    "Send keys in the X-API-Key header: an organisation's own key, or a staff key."
)
log = get_logger(__name__)


def build(settings: CharitySettings) -> tuple[ServiceRuntime, FastAPI]:
    runtime = build_runtime(settings, MIGRATIONS, topics=[OFFERINGS, MATCHES])
    document_publications(runtime, OFFERINGS, OfferingPublishedV2, OfferingChangedV2, OfferingClosed, OfferingWithdrawn)
    document_publications(runtime, MATCHES, MatchAccepted, MatchDeclinedV2, MatchStarted, MatchFulfilled, MatchFailed)
    runtime.broker.subscriber(
        runtime.topic_name(MATCHES),
        batch=True,
        group_id=f"{settings.hub.topic_namespace}{settings.consumer_group}",
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        max_records=settings.max_batch,
        batch_timeout_ms=50,
        decoder=undecoded,
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
    )(make_on_matches(runtime, InboxMetrics.on(runtime.metrics)))
    charity = usecases.Charity(engine=runtime.engine, unit_of_work=runtime.unit_of_work, keys=KeyCache(settings.key_cache_seconds))
    _run_periodic_check(runtime, charity, settings.check_every_seconds)
    http = charity_api(charity, ApiKeys.load(settings.hub.api_keys_file))
    http.include_router(operations_router(runtime))
    mount_pages(http, charity, settings)
    return runtime, http


def mount_pages(http: FastAPI, charity: usecases.Charity, settings: CharitySettings) -> None:
    """The organisation's own pages under /pages (not part of the JSON API or its document)."""
    accounts = Accounts(charity, settings.lockout(), settings.session_length())
    http.state.accounts = accounts  # for tests: the same use cases
    http.mount(PREFIX, pages_app(charity, accounts, settings))
    http.add_api_route("/", lambda: RedirectResponse(f"{PREFIX}/", status_code=303), include_in_schema=False)


def charity_api(charity: usecases.Charity, api_keys: ApiKeys) -> FastAPI:
    """The HTTP application on its own (tests run it in-process, without a broker)."""
    http = FastAPI(title=TITLE, description=DESCRIPTION, version="1")
    http.state.api_keys = api_keys
    http.state.charity = charity
    install_error_answers(http)
    http.include_router(charity_router(charity))
    return http


def _run_periodic_check(runtime: ServiceRuntime, charity: usecases.Charity, every: float) -> None:
    """Expiry and staleness are checked by the service itself, every `every` seconds; and the
    outbox relay is woken (thread-safely: use cases run in worker threads) after each write."""
    tasks: list[asyncio.Task[None]] = []

    async def check_forever() -> None:
        while True:
            try:
                swept = await asyncio.to_thread(usecases.sweep, charity)
                if swept.closed or swept.stale or swept.proposals_expired:
                    log.info("periodic check", closed=swept.closed, stale=swept.stale, proposals_expired=swept.proposals_expired)
            except Exception as error:  # a database hiccup must not end the checks
                log.warning("periodic check failed, will retry", error=type(error).__name__)
            await asyncio.sleep(every)

    async def start() -> None:
        loop = asyncio.get_running_loop()
        charity.published = lambda: loop.call_soon_threadsafe(runtime.relay.wake)
        tasks.append(asyncio.create_task(check_forever(), name="charity-periodic-check"))

    async def stop() -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    runtime.on_start.append(start)
    runtime.on_stop.append(stop)


def asyncapi() -> FastStream:
    """For `faststream docs gen --factory services.charity.app:asyncapi`."""
    runtime, _ = build(CharitySettings())
    return FastStream(runtime.broker, specification=AsyncAPI(runtime.broker, title=TITLE, description=DESCRIPTION))
