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

import orjson
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from alembic.operations import Operations
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, select

from contracts.envelope import Event, utc_now
from contracts.topics import Topic
from kit.broker import event_headers, make_producer, publish_many
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
    headers: bytes = Field(description="JSON object of Kafka headers, as orjson bytes")
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
        sa.Column("headers", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


class UnitOfWork:
    """One database transaction: state changes, applied event ids and outgoing events together."""

    def __init__(self, engine: Engine, hub: HubSettings) -> None:
        self._engine = engine
        self._hub = hub
        self.session: Session
        self._applied: list[str] = []
        self._outbox: list[dict[str, object]] = []

    def __enter__(self) -> UnitOfWork:
        self.session = Session(self._engine, expire_on_commit=False)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc_type is not None:
            self.session.rollback()
        self.session.close()

    @property
    def emitted(self) -> int:
        return len(self._outbox)

    def already_applied(self, event_ids: Iterable[str]) -> set[str]:
        """Which of these ids were applied before, or earlier in this unit of work."""
        ids = list(set(event_ids))
        found = set(ids) & set(self._applied)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            found.update(self.session.exec(select(ProcessedEvent.event_id).where(ProcessedEvent.event_id.in_(chunk))))
        return found

    def mark_applied(self, *event_ids: str) -> None:
        self._applied.extend(event_ids)

    def emit(self, topic: Topic, event: Event, key: str | None = None) -> None:
        """Queue an event for publishing; it is written with the state, in the same commit."""
        key_text = key if key is not None else event.household_id
        self._outbox.append(
            {
                "topic": self._hub.topic_name(topic),
                "key": key_text.encode() if key_text else None,
                "value": event.to_bytes(),
                "headers": orjson.dumps(event_headers(event)),
                "created_at": utc_now(),
            }
        )

    def commit(self) -> None:
        # Bulk inserts: one statement per table however many events the batch held.
        # Core inserts on the session's connection: the ORM's bulk path costs more than the rows.
        now = utc_now()
        connection = self.session.connection()
        if self._applied:
            connection.execute(
                ProcessedEvent.__table__.insert(), [{"event_id": i, "processed_at": now} for i in self._applied]
            )
        if self._outbox:
            connection.execute(OutboxMessage.__table__.insert(), self._outbox)
        self.session.commit()
        self._applied.clear()
        self._outbox.clear()


class OutboxRelay:
    """Publishes committed outbox rows in order, then deletes them."""

    def __init__(self, engine: Engine, hub: HubSettings, client_id: str, batch_size: int = 5000) -> None:
        self._engine = engine
        self._hub = hub
        self._client_id = client_id
        self._producer: AIOKafkaProducer | None = None
        self._batch_size = batch_size
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._locks_rows = engine.dialect.name == "postgresql"

    async def connect(self) -> None:
        """Create and start the relay's producer (aiokafka wants the running event loop for that)."""
        self._producer = make_producer(self._hub, self._client_id)
        await self._producer.start()

    async def flush(self) -> int:
        """Publish everything pending; returns how many were sent."""
        sent = 0
        async with self._lock:
            while count := await self._flush_batch():
                sent += count
        return sent

    async def _flush_batch(self) -> int:
        table = OutboxMessage.__table__
        with self._engine.connect() as connection:
            query = sa.select(table.c.id, table.c.topic, table.c.key, table.c.value, table.c.headers)
            query = query.order_by(table.c.id).limit(self._batch_size)
            if self._locks_rows:
                query = query.with_for_update(skip_locked=True)
            rows = connection.execute(query).all()
            if not rows:
                return 0
            assert self._producer is not None, "connect() the relay first"
            await publish_many(self._producer, ((r.topic, r.key, r.value, orjson.loads(r.headers)) for r in rows))
            connection.execute(table.delete().where(table.c.id.in_([r.id for r in rows])))
            connection.commit()
            return len(rows)

    def run_in_background(self, interval: float = 1.0) -> None:
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
        if self._producer is not None:
            await self._producer.stop()
