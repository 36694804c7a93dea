"""Exactly-once effects over at-least-once delivery.

A handler opens a `UnitOfWork`, skips event ids it has already applied, changes state, records the
ids it applied and the events it wants to publish (the outbox), and commits once. Only then is the
Kafka offset committed. The `OutboxRelay` publishes committed outbox rows and deletes them; after a
crash it publishes whatever is left, so an event may go out twice but is never lost, and every
consumer skips ids it has seen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime
from types import TracebackType

import sqlalchemy as sa
from alembic.operations import Operations
from faststream.kafka import KafkaBroker
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, select

from contracts.envelope import Event, utc_now
from contracts.topics import Topic
from kit.broker import event_headers, publish_many
from kit.logs import get_logger
from kit.settings import HubSettings

log = get_logger(__name__)


class ProcessedEvent(SQLModel, table=True):
    __tablename__ = "processed_event"

    event_id: str = Field(primary_key=True, max_length=128)
    processed_at: datetime = Field(default_factory=utc_now)


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_message"

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=200)
    key: bytes | None = None
    value: bytes
    headers: dict[str, str] = Field(sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utc_now)


def create_inbox_and_outbox(op: Operations) -> None:
    """For a service's first migration: the two tables every consuming service needs."""
    op.create_table(
        "processed_event",
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.LargeBinary, nullable=True),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


class UnitOfWork:
    """One database transaction: state changes, applied event ids and outgoing events together."""

    def __init__(self, engine: Engine, hub: HubSettings) -> None:
        self._engine = engine
        self._hub = hub
        self.session: Session
        self.emitted = 0

    def __enter__(self) -> UnitOfWork:
        self.session = Session(self._engine, expire_on_commit=False)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc_type is not None:
            self.session.rollback()
        self.session.close()

    def already_applied(self, event_ids: Iterable[str]) -> set[str]:
        ids = list(set(event_ids))
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            found.update(self.session.exec(select(ProcessedEvent.event_id).where(ProcessedEvent.event_id.in_(chunk))))
        return found

    def mark_applied(self, event_id: str) -> None:
        self.session.add(ProcessedEvent(event_id=event_id))

    def emit(self, topic: Topic, event: Event, key: str | None = None) -> None:
        key_text = key if key is not None else event.household_id
        self.session.add(
            OutboxMessage(
                topic=self._hub.topic_name(topic),
                key=key_text.encode() if key_text else None,
                value=event.to_bytes(),
                headers=event_headers(event),
            )
        )
        self.emitted += 1

    def commit(self) -> None:
        self.session.commit()


class OutboxRelay:
    """Publishes committed outbox rows in order, then deletes them."""

    def __init__(self, engine: Engine, broker: KafkaBroker, batch_size: int = 5000) -> None:
        self._engine = engine
        self._broker = broker
        self._batch_size = batch_size
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._locks_rows = engine.dialect.name == "postgresql"

    async def flush(self) -> int:
        """Publish everything pending; returns how many were sent."""
        sent = 0
        async with self._lock:
            while count := await self._flush_batch():
                sent += count
        return sent

    async def _flush_batch(self) -> int:
        with Session(self._engine) as session:
            query = select(OutboxMessage).order_by(OutboxMessage.id).limit(self._batch_size)
            if self._locks_rows:
                query = query.with_for_update(skip_locked=True)
            rows = list(session.exec(query))
            if not rows:
                return 0
            await publish_many(self._broker, ((r.topic, r.key, r.value, r.headers) for r in rows))
            session.exec(sa.delete(OutboxMessage).where(OutboxMessage.id.in_([r.id for r in rows])))  # type: ignore[call-overload]
            session.commit()
            return len(rows)

    def start(self, interval: float = 1.0) -> None:
        self._task = asyncio.create_task(self._run(interval), name="outbox-relay")

    async def _run(self, interval: float) -> None:
        while True:
            try:
                await self.flush()
            except Exception as error:  # the relay must outlive a broker hiccup; rows stay and are retried
                log.warning("outbox relay failed, will retry", error=repr(error))
            await asyncio.sleep(interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        try:
            await self.flush()
        except Exception as error:
            log.warning("outbox left rows unsent at stop; they go out at next start", error=repr(error))
