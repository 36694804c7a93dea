"""What every service does the same way: start (migrate, topics, broker, outbox relay), announce
itself, answer /health and /metrics, stop cleanly on SIGTERM, and fail at start with one line."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Union

import uvicorn
import uvloop
from aiokafka.errors import KafkaError
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import PlainTextResponse
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from contracts.envelope import Event, utc_now
from contracts.hub import HUB_EVENTS, ServiceStarted
from contracts.topics import SERVICE_PRESENCE, Topic
from kit.broker import deliveries_of, ensure_topics, make_broker, publish_event
from kit.database import WalCheckpoints, make_engine, migrate
from kit.errors import StartupError
from kit.http import protect
from kit.logs import configure_logging, get_logger
from kit.outbox import OutboxRelay, UnitOfWork
from kit.settings import S, ServiceSettings, load_settings
from kit.watch import BrokerWatch, ConsumerWatch

log = get_logger(__name__)


@dataclass
class Peer:
    service: str
    instance: str
    http_url: str
    seen_at: datetime


@dataclass
class ServiceRuntime:
    """The adapters one service process owns. Built by `build_runtime`, started by `serve`."""

    settings: ServiceSettings
    broker: KafkaBroker
    engine: Engine
    relay: OutboxRelay
    checkpoints: WalCheckpoints
    migrations_dir: Path
    topics: list[Topic]
    instance: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}")
    metrics: CollectorRegistry = field(default_factory=CollectorRegistry)
    peers: dict[str, Peer] = field(default_factory=dict)
    on_start: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    started: bool = False
    watch: BrokerWatch | None = None
    consumers: ConsumerWatch | None = None

    @property
    def name(self) -> str:
        return self.settings.service

    @property
    def http_url(self) -> str:
        return f"http://{self.settings.hub.http_host}:{self.settings.port()}"

    def topic_name(self, topic: Topic) -> str:
        return self.settings.hub.topic_name(topic)

    @property
    def consumer_group(self) -> str:
        """The service's consumer group; namespaced like the topics, so hubs on one cluster stay apart."""
        return f"{self.settings.hub.topic_namespace}{self.name}"

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.engine, self.settings.hub)

    async def start(self) -> None:
        await asyncio.to_thread(migrate, self.engine, self.migrations_dir)
        self.checkpoints.start()
        await ensure_topics(self.settings.hub, self._all_topics)
        try:
            await self.broker.start()
            await self.relay.connect()
        except (KafkaError, OSError) as error:
            raise StartupError(
                f"broker at {self.settings.hub.kafka_bootstrap} refused the connection ({type(error).__name__}); "
                "check HUB_KAFKA_BOOTSTRAP"
            ) from None
        self.relay.run_in_background(linger=self.settings.outbox_linger_ms / 1000)
        for hook in self.on_start:
            await hook()
        await self._announce()
        self.watch = BrokerWatch(self.settings.hub, [self.topic_name(t) for t in self._all_topics], self._after_new_broker)
        self.consumers = ConsumerWatch(self.settings.hub.consumer_stall_seconds)
        self.relay.on_topics_missing = self._on_topics_missing
        await self.watch.check()
        self.watch.start()
        self.started = True
        log.info("service started", http=self.http_url, broker=self.settings.hub.kafka_bootstrap)

    @property
    def _all_topics(self) -> list[Topic]:
        return [*self.topics, SERVICE_PRESENCE]

    async def _announce(self) -> None:
        announcement = ServiceStarted(
            source=self.name, data={"service": self.name, "instance": self.instance, "http_url": self.http_url}
        )
        await publish_event(self.broker, self.topic_name(SERVICE_PRESENCE), announcement, key=self.name)

    async def _after_new_broker(self, reason: str) -> None:
        """A new broker (the embedded one died and came back empty): the service's topics again,
        the outbox's retained rows again, and this instance's announcement again. The consumers
        join their groups again by themselves once their topics exist."""
        await ensure_topics(self.settings.hub, self._all_topics)
        self.relay.resend_retained()
        try:
            await self._announce()
        except Exception as error:  # advisory: the next start announces again
            log.warning("announcement to the new broker failed", error=type(error).__name__)

    async def _on_topics_missing(self, topics: set[str]) -> None:
        if self.watch is not None:
            self.watch.check_soon()

    def problems(self) -> list[str]:
        """Why this service is not fully working, for /health: empty when it is."""
        found = [] if self.started else ["starting"]
        if not self.database_ok():
            found.append("database unreachable")
        if self.watch is not None and self.watch.problem:
            found.append(self.watch.problem)
        if self.consumers is not None:
            found += self.consumers.problems(self.broker.subscribers)
        return found

    async def stop(self) -> None:
        if self.watch is not None:
            await self.watch.stop()
        for hook in self.on_stop:
            await hook()
        await self.relay.stop()
        await self.broker.stop()
        self.checkpoints.stop()
        self.engine.dispose()
        log.info("service stopped")

    def database_ok(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except Exception:
            return False


def build_runtime(settings: ServiceSettings, migrations_dir: Path, topics: list[Topic]) -> ServiceRuntime:
    broker = make_broker(settings.hub, client_id=f"hub-{settings.service}")
    engine = make_engine(settings.resolved_database_url())
    runtime = ServiceRuntime(
        settings=settings,
        broker=broker,
        engine=engine,
        relay=OutboxRelay(engine, settings.hub, client_id=f"hub-{settings.service}-outbox"),
        checkpoints=WalCheckpoints(engine),
        migrations_dir=migrations_dir,
        topics=topics,
    )
    _listen_for_peers(runtime)
    document_publications(runtime, SERVICE_PRESENCE, ServiceStarted)
    return runtime


def document_publications(runtime: ServiceRuntime, topic: Topic, *events: type[Event]) -> None:
    """Declare what the service publishes on a topic, so its AsyncAPI document carries the
    contract models (publishing itself goes through the outbox)."""
    payload = events[0] if len(events) == 1 else Union[events]  # noqa: UP007
    runtime.broker.publisher(runtime.topic_name(topic), schema=payload, title=f"{runtime.name}:{topic.name}", description=topic.description)


def _listen_for_peers(runtime: ServiceRuntime) -> None:
    # No consumer group: every instance reads every announcement from the beginning.
    @runtime.broker.subscriber(
        runtime.topic_name(SERVICE_PRESENCE), auto_offset_reset="earliest", ack_policy=AckPolicy.ACK_FIRST, include_in_schema=False
    )
    async def on_announcement(message: KafkaMessage) -> None:
        for delivery in deliveries_of(message):
            try:
                event = HUB_EVENTS.parse(delivery.value)
            except ValueError:
                continue  # not ours to judge: presence is advisory
            if isinstance(event, ServiceStarted):
                runtime.peers[event.data.service] = Peer(
                    event.data.service, event.data.instance, event.data.http_url, event.occurred_at
                )


def operations_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get(
        "/health",
        summary="Is this service up: database, broker, consumers consuming; and which peers it has heard from",
        responses={503: {"description": "Not fully working: `problems` says why (database, broker, a consumer not consuming)"}},
    )
    def health(response: Response) -> dict[str, Any]:
        problems = runtime.problems()
        response.status_code = 200 if not problems else 503
        return {
            "service": runtime.name,
            "instance": runtime.instance,
            "status": "ok" if not problems else "unavailable",
            "problems": problems,
            "database": "unreachable" if "database unreachable" in problems else "ok",
            "broker": runtime.settings.hub.kafka_bootstrap,
            "broker_cluster_id": runtime.watch.cluster_id if runtime.watch else None,
            "new_brokers_seen": runtime.watch.new_brokers if runtime.watch else 0,
            "peers": {name: {"instance": p.instance, "http_url": p.http_url, "seen_at": p.seen_at.isoformat()} for name, p in runtime.peers.items()},
            "checked_at": utc_now().isoformat(),
        }

    @router.get("/metrics", summary="Prometheus counters", response_class=PlainTextResponse)
    def metrics() -> Response:
        return Response(generate_latest(runtime.metrics), media_type=CONTENT_TYPE_LATEST)

    return router


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            raise StartupError(f"HTTP port {host}:{port} is in use; set HUB_<SERVICE>_HTTP_PORT to a free port") from None


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM after its own shutdown, which would kill the process before the
    runtime stops; here the signal only asks the server to exit, and `serve` stops the rest."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


async def serve(runtime: ServiceRuntime, http: FastAPI) -> None:
    """Start the runtime, serve HTTP until SIGTERM/SIGINT, then stop the runtime."""
    settings = runtime.settings
    protect(http, settings.hub)  # every service, also one that does not call it in its build
    _check_port_free(settings.hub.http_host, settings.port())
    server = _Server(
        uvicorn.Config(http, host=settings.hub.http_host, port=settings.port(), lifespan="off", log_config=None, access_log=False)
    )
    await runtime.start()
    collect_less_often()
    try:
        await server.serve()
    finally:
        await runtime.stop()


def collect_less_often() -> None:
    """What start-up built lives as long as the process: freeze it out of garbage collection,
    and collect young objects less often. A batch allocates many short-lived objects, and with
    Python's defaults collections cost from a tenth of intake's work to as much as the ledger's."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


class BatchSurvivors:
    """Garbage collection around batches. A batch allocates tens of thousands of objects that live
    until it ends and then die by reference counting, so collections while it runs only walk the
    same live objects again and again: intake spent 3.3 of 28 s of CPU in them over 200,000
    events, and 0.6 s with none during a batch. After a batch, what is still alive is frozen,
    so that later collections do not walk it again either (the ledger's households kept in
    memory: older-generation collections fell from 2.9 to 0.5 s over 400,000 events). What is
    frozen and later dropped is still freed by reference counting; cycles that are garbage by
    then wait for the full collection run every `full_every` seconds (0.08 s with 50,000
    households kept). A batch leaves few (intake: 7 objects a batch).

    Where the event loop goes on while a batch runs (the ledger's batch runs in a thread), the
    loop's garbage piles up meanwhile: `loop_runs_meanwhile` collects the young objects before
    freezing (without it the ledger's resident memory under load went from 120 to 280 MB in a
    minute). Where nothing else runs, that collection would only walk the batch's survivors
    (intake: 9 ms a batch, for 7 objects freed)."""

    def __init__(self, full_every: float = 600.0, loop_runs_meanwhile: bool = False) -> None:
        self.full_every = full_every
        self._loop_runs_meanwhile = loop_runs_meanwhile
        self._last_full = time.monotonic()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """No collection while the batch runs; its survivors frozen after it, even if it failed."""
        gc.disable()
        try:
            yield
        finally:
            gc.enable()
            self._settle()

    def _settle(self) -> None:
        if time.monotonic() - self._last_full >= self.full_every:
            gc.unfreeze()
            gc.collect()
            self._last_full = time.monotonic()
        elif self._loop_runs_meanwhile:
            gc.collect(1)
        gc.freeze()


def run_service(settings_type: type[S], build: Callable[[S], tuple[ServiceRuntime, FastAPI]]) -> None:
    """Process entry point: any StartupError ends the process with one line and exit code 2."""
    name = settings_type.model_fields["service"].default
    try:
        settings = load_settings(settings_type)
        configure_logging(settings.service, settings.hub.log_format, settings.hub.log_level)
        runtime, http = build(settings)
        uvloop.run(serve(runtime, http))  # the asyncio loop, in C: less of each event's time in the loop itself
    except StartupError as error:
        print(f"{name}: cannot start: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        pass
