"""Wiring only: broker, subscribers, HTTP routes, database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaMessage
from faststream.specification import AsyncAPI

from contracts.catalogue import DEPARTMENTS
from contracts.topics import CANONICAL, DATA_QUALITY, IDENTITY_REVIEWS, REJECTIONS, department_topic
from kit.auth import ApiKeys
from kit.http import protect
from kit.broker import FETCH_MAX_WAIT_MS, deliveries_of, group_timeouts, undecoded
from kit.logs import get_logger
from kit.service import ServiceRuntime, build_runtime, operations_router
from services.intake.domain import Incoming
from services.intake.handlers import IntakeHandlers
from services.intake.http import intake_router
from services.intake.metrics import IntakeMetrics
from services.intake.settings import IntakeSettings
from services.intake.validation import Limits

MIGRATIONS = Path(__file__).parent / "migrations"
TITLE = "Hub intake"
DESCRIPTION = "The intake service: the front door for department events."
GROUP_ID = "intake"
log = get_logger("services.intake")


def build(settings: IntakeSettings) -> tuple[ServiceRuntime, FastAPI]:
    department_topics = [department_topic(code) for code in DEPARTMENTS]
    runtime = build_runtime(settings, MIGRATIONS, topics=[*department_topics, CANONICAL, REJECTIONS, IDENTITY_REVIEWS, DATA_QUALITY])
    handlers = IntakeHandlers(runtime, IntakeMetrics(runtime.metrics), Limits(max_event_bytes=settings.max_event_bytes))
    department_of = {runtime.topic_name(department_topic(code)): code for code in DEPARTMENTS}

    @runtime.broker.subscriber(
        *department_of,
        batch=True,
        group_id=f"{settings.hub.topic_namespace}{GROUP_ID}",  # hubs on one cluster stay apart
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        max_records=settings.batch_size,
        decoder=undecoded,
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        **group_timeouts(settings.session_timeout_ms or settings.hub.kafka_session_timeout_ms),
    )
    async def on_department_events(message: KafkaMessage) -> None:
        """Department events, raw: bad JSON becomes a rejection, not a framework error."""
        items = [
            Incoming(d.value, "kafka", department_of[d.topic], d.position, d.topic, d.timestamp)
            for d in deliveries_of(message)
        ]
        try:
            await handlers.receive(items)
        except Exception as error:  # nothing was committed; FastStream nacks and the batch comes again
            # The error's type only: its text may quote a payload, and payloads hold personal data.
            log.error("batch failed, nothing recorded; it will be redelivered", error=type(error).__name__,
                      first=items[0].position, last=items[-1].position)
            raise

    _run_in_background(runtime, handlers.index_when_idle)

    http = FastAPI(title=TITLE, description=DESCRIPTION)
    http.state.api_keys = ApiKeys.load(settings.hub.api_keys_file)
    http.include_router(operations_router(runtime))
    http.include_router(intake_router(handlers, settings.max_http_events, settings.max_event_bytes, settings.max_http_body_bytes))
    protect(http, settings.hub)  # key before body, body limits, 422 shape, error answers documented
    return runtime, http


def _run_in_background(runtime: ServiceRuntime, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
    tasks: list[asyncio.Task[None]] = []

    async def start() -> None:
        tasks.append(asyncio.create_task(work(), name=work.__name__))

    async def stop() -> None:
        for task in tasks:
            task.cancel()

    runtime.on_start.append(start)
    runtime.on_stop.append(stop)


def asyncapi() -> FastStream:
    """For `faststream docs gen --factory services.intake.app:asyncapi`."""
    runtime, _ = build(IntakeSettings())
    return FastStream(runtime.broker, specification=AsyncAPI(runtime.broker, title=TITLE, description=DESCRIPTION))
