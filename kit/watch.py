"""Is the broker still the one the service started with, with the service's topics, and are the
service's consumers consuming? What `/health` reports, and what makes a service recover from a
new broker.

The embedded broker keeps everything in memory: when it dies and `hub up` starts another on the
same port, the new one has no topics, no consumer groups and no records. A service notices it by
its cluster id (each embedded broker takes a new one) or by its topics being gone, creates its
topics again, and has its outbox relay send again what it sent within the retention window;
consumers join their groups again by themselves once the topics exist, and start from the
earliest records of the new broker (applied event ids are skipped).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from kit.broker import client_options
from kit.logs import get_logger, loggable_error
from kit.settings import HubSettings

log = get_logger(__name__)


@dataclass
class BrokerWatch:
    """Checks the broker every `hub.broker_check_seconds`; calls `on_new_broker` when it is new."""

    hub: HubSettings
    topic_names: list[str]
    on_new_broker: Callable[[str], Awaitable[None]]
    cluster_id: str | None = None
    problem: str | None = "not checked yet"
    checked_at: float = 0.0
    new_brokers: int = 0
    _task: asyncio.Task[None] | None = field(default=None, repr=False)
    _again: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="broker-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def check_soon(self) -> None:
        """Something saw a sign of a new broker (a topic missing): check now, not at the interval."""
        self._again.set()

    async def _run(self) -> None:
        while True:
            self._again.clear()
            try:
                await self.check()
            except Exception as error:  # the watch must outlive anything the broker does
                self.problem = f"broker check failed ({type(error).__name__})"
                log.warning("broker check failed, will retry", error=loggable_error(error))
            try:
                await asyncio.wait_for(self._again.wait(), self.hub.broker_check_seconds)
            except TimeoutError:
                pass

    async def check(self) -> None:
        try:
            cluster_id, names = await asyncio.wait_for(self._look(), timeout=max(5.0, self.hub.broker_check_seconds))
        except Exception as error:
            self.problem = f"broker unreachable at {self.hub.kafka_bootstrap} ({type(error).__name__})"
            return
        missing = [t for t in self.topic_names if t not in names]
        changed = self.cluster_id is not None and cluster_id != self.cluster_id
        if changed or missing:
            reason = f"cluster id {self.cluster_id} -> {cluster_id}" if changed else f"{len(missing)} topics missing"
            log.warning("new broker: creating topics again and re-sending the outbox's retained rows", reason=reason)
            self.problem = f"new broker ({reason}): recovering"
            await self.on_new_broker(reason)
            self.new_brokers += 1
        self.cluster_id = cluster_id
        self.problem = None
        self.checked_at = time.monotonic()

    async def _look(self) -> tuple[str, set[str]]:
        admin = AIOKafkaAdminClient(**client_options(self.hub), request_timeout_ms=5000)
        try:
            await admin.start()
            cluster = await admin.describe_cluster()
            return str(cluster.get("cluster_id")), set(await admin.list_topics())  # lists: creates none
        finally:
            await admin.close()


@dataclass
class ConsumerWatch:
    """Whether each consumer-group subscriber of a FastStream broker is consuming: running, with
    partitions assigned. A consumer without partitions for `stall_seconds` is reported (after a
    new broker it has none until it has joined its group again; an instance beyond the topic's
    partition count has none at all)."""

    stall_seconds: float
    _empty_since: dict[int, float] = field(default_factory=dict)

    def problems(self, subscribers: Iterable[Any]) -> list[str]:
        found = []
        now = time.monotonic()
        for subscriber in subscribers:
            group = getattr(subscriber, "group_id", None)
            if not group:
                continue  # a reader of every partition, such as the presence topic's
            topics = ",".join(getattr(subscriber, "topic_names", ()) or ())
            consumer = getattr(subscriber, "consumer", None)
            if consumer is None or not getattr(subscriber, "running", True):
                found.append(f"consumer {group} ({topics}) is not running")
                continue
            if consumer.assignment():
                self._empty_since.pop(id(subscriber), None)
                continue
            since = self._empty_since.setdefault(id(subscriber), now)
            if now - since >= self.stall_seconds:
                found.append(f"consumer {group} ({topics}) has had no partitions for {now - since:.0f} s")
        return found
