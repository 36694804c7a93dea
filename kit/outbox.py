"""Exactly-once effects over at-least-once delivery.

A handler opens a `UnitOfWork`, skips event ids it has already applied, changes state, records the
ids it applied and the events it wants to publish (the outbox), and commits once. Only then is the
Kafka offset committed. The `OutboxRelay` publishes committed outbox rows and moves them to the
sent rows it keeps for a while (for a new broker); after a crash it publishes whatever is left,
so an event may go out twice but is never lost, and every consumer skips ids it has seen.
"""

from __future__ import annotations

import asyncio
import fcntl
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import orjson
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from alembic.operations import Operations
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel

from contracts.envelope import Publishable, utc_now
from contracts.topics import Topic
from kit.broker import event_headers, make_producer, publish_many
from kit.database import among, insert_rows
from kit.logs import get_logger, loggable_error
from kit.settings import HubSettings

log = get_logger(__name__)


# Sent rows kept for a new broker (kit/migrations_kit makes the table in every service's database).
OUTBOX_SENT = sa.Table(
    "outbox_sent",
    sa.MetaData(),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("topic", sa.String(200), nullable=False),
    sa.Column("key", sa.LargeBinary, nullable=True),
    sa.Column("value", sa.LargeBinary, nullable=False),
    sa.Column("headers", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
)


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
        self._after_commit: list[Callable[[], None]] = []

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
        if ids:
            column = ProcessedEvent.__table__.c.event_id  # type: ignore[attr-defined]
            connection = self.session.connection()  # Core, not the ORM: these are plain rows
            query = sa.select(column).where(among(column, ids, connection.dialect.name))
            found.update(connection.execute(query).scalars())
        return found

    def mark_applied(self, *event_ids: str) -> None:
        self._applied.extend(event_ids)

    def emit(self, topic: Topic, event: Publishable, key: str | None = None) -> None:
        """Queue an event for publishing; it is written with the state, in the same commit."""
        key_text = key if key is not None else event.household_id
        self._outbox.append(
            {
                "topic": self._hub.topic_name(topic),
                "key": key_text.encode() if key_text else None,
                "value": event.to_bytes(),
                "headers": orjson.dumps(event_headers(event)),
            }
        )

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call this once the commit has succeeded (never if the unit rolls back)."""
        self._after_commit.append(callback)

    def commit(self) -> None:
        # One statement per table however many events the batch held, on the session's connection.
        connection = self.session.connection()
        insert_rows(connection, ProcessedEvent.__table__, [{"event_id": i} for i in self._applied], ("processed_at",))  # type: ignore[attr-defined]
        insert_rows(connection, OutboxMessage.__table__, self._outbox, ("created_at",))  # type: ignore[attr-defined]
        self.session.commit()
        self._applied.clear()
        self._outbox.clear()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()


class TopicsMissing(Exception):
    """The broker does not have a topic the outbox writes to: nothing was sent."""

    def __init__(self, topics: set[str]) -> None:
        super().__init__(f"topics missing on the broker: {sorted(topics)}")
        self.topics = topics


class OutboxRelay:
    """Publishes committed outbox rows in order, then moves them to `outbox_sent`, where they are
    kept for `outbox_retention_seconds`: if a new, empty broker replaces the old one (the embedded
    broker keeps its log in memory), `resend_retained` gives it again what the old one had, and
    consumers skip the event ids they have applied.

    A row is sent only to a topic the broker has: the producer's own metadata requests would
    have the broker create a missing topic with its defaults (or fail on Kafka), and the row
    would count as sent to a topic nobody reads. Missing topics raise `TopicsMissing`; the rows
    stay and `on_topics_missing` is called (the service creates its topics again)."""

    def __init__(self, engine: Engine, hub: HubSettings, client_id: str, batch_size: int = 5000) -> None:
        self._engine = engine
        self._hub = hub
        self._client_id = client_id
        self._producer: AIOKafkaProducer | None = None
        self._batch_size = batch_size
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._locks_rows = engine.dialect.name == "postgresql"
        self._turn = RelayTurn.for_database(engine.url.database) if engine.dialect.name == "sqlite" else None
        self.retention_seconds = hub.outbox_retention_seconds
        self._resend_after: int | None = None  # a new broker: re-send retained rows after this seq
        self._last_prune = 0.0
        self.on_topics_missing: Callable[[set[str]], Awaitable[None]] | None = None

    async def connect(self) -> None:
        """Create and start the relay's producer (aiokafka wants the running event loop for that)."""
        self._producer = make_producer(self._hub, self._client_id)
        await self._producer.start()

    def resend_retained(self) -> None:
        """The broker is a new one: send the retained rows again (before any row still pending,
        which is newer), at the next flush."""
        self._resend_after = 0
        self._wake.set()

    async def flush(self) -> int:
        """Publish everything pending (and, after a new broker, everything retained); returns
        how many were sent."""
        sent = 0
        if self._turn is not None and not self._turn.taken():
            return 0  # another process relays this SQLite database
        async with self._lock:
            existing: set[str] = set()
            if self._resend_after is not None:
                sent += await self._resend(existing)
            while count := await self._flush_batch(existing):
                sent += count
            self._prune()
        return sent

    async def _flush_batch(self, existing: set[str]) -> int:
        table, kept = OutboxMessage.__table__, OUTBOX_SENT
        with self._engine.connect() as connection:
            query = sa.select(table.c.id, table.c.topic, table.c.key, table.c.value, table.c.headers)
            query = query.order_by(table.c.id).limit(self._batch_size)
            if self._locks_rows:
                query = query.with_for_update(skip_locked=True)
            rows = connection.execute(query).all()
            if not rows:
                return 0
            await self._publish(rows, existing)
            chosen = among(table.c.id, [r.id for r in rows], connection.dialect.name)
            if self.retention_seconds > 0:
                columns = ("topic", "key", "value", "headers", "created_at")
                source = sa.select(*(table.c[c] for c in columns), sa.literal(utc_now(), sa.DateTime(timezone=True)))
                connection.execute(kept.insert().from_select([*columns, "sent_at"], source.where(chosen).order_by(table.c.id)))
            connection.execute(table.delete().where(chosen))
            connection.commit()
            return len(rows)

    async def _resend(self, existing: set[str]) -> int:
        kept, sent = OUTBOX_SENT, 0
        while self._resend_after is not None:
            with self._engine.connect() as connection:
                query = sa.select(kept.c.seq, kept.c.topic, kept.c.key, kept.c.value, kept.c.headers)
                query = query.where(kept.c.seq > self._resend_after).order_by(kept.c.seq).limit(self._batch_size)
                rows = connection.execute(query).all()
            if not rows:
                log.warning("outbox: retained rows sent again to the new broker", rows=sent)
                self._resend_after = None
                break
            await self._publish(rows, existing)
            self._resend_after, sent = rows[-1].seq, sent + len(rows)
        return sent

    async def _publish(self, rows: Sequence[Any], existing: set[str]) -> None:
        assert self._producer is not None, "connect() the relay first"
        wanted = {r.topic for r in rows}
        if not wanted <= existing:
            metadata = await self._producer.client.fetch_all_metadata()  # asks for no topic: creates none
            existing |= metadata.topics()
            if missing := wanted - existing:
                raise TopicsMissing(missing)
        await publish_many(self._producer, ((r.topic, r.key, r.value, orjson.loads(r.headers)) for r in rows))

    def _prune(self, every: float = 30.0) -> None:
        """Drop sent rows older than the retention window, a chunk at a time."""
        if time.monotonic() - self._last_prune < every:
            return
        self._last_prune = time.monotonic()
        kept = OUTBOX_SENT
        cutoff = utc_now() - timedelta(seconds=self.retention_seconds)
        with self._engine.connect() as connection:
            while True:
                old = sa.select(kept.c.seq).where(kept.c.sent_at < cutoff).order_by(kept.c.seq).limit(self._batch_size)
                if connection.execute(kept.delete().where(kept.c.seq.in_(old.scalar_subquery()))).rowcount == 0:
                    break
                connection.commit()

    def run_in_background(self, interval: float = 1.0, linger: float = 0.0) -> None:
        """Publish every `interval` seconds, and when woken: then after `linger` seconds, so that
        the commits of that while go out in one publication."""
        self._task = asyncio.create_task(self._run(interval, linger), name="outbox-relay")

    def wake(self) -> None:
        """Rows were committed: publish them now, not at the next interval. The caller goes on
        with its next batch while the broker acknowledges this one."""
        self._wake.set()

    async def _run(self, interval: float, linger: float) -> None:
        while True:
            if linger and self._wake.is_set():
                await asyncio.sleep(linger)
            self._wake.clear()
            try:
                await self.flush()
            except TopicsMissing as error:  # rows stay; the service creates its topics again
                log.warning("outbox rows wait: topics missing on the broker", topics=sorted(error.topics))
                if self.on_topics_missing is not None:
                    await self.on_topics_missing(error.topics)
            except Exception as error:  # the relay must outlive a broker hiccup; rows stay and are retried
                log.warning("outbox relay failed, will retry", error=loggable_error(error))
            try:
                await asyncio.wait_for(self._wake.wait(), interval)
            except TimeoutError:
                pass

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
            log.warning("outbox left rows unsent at stop; they go out at next start", error=loggable_error(error))
        if self._producer is not None:
            await self._producer.stop()
        if self._turn is not None:
            self._turn.give_up()


class RelayTurn:
    """Which process relays a SQLite database's outbox. Processes may share the file but SQLite
    has no row locks to share the rows out, so two relays would publish every row twice: the
    process holding an OS lock on a file beside the database relays, the others leave it to that
    one. The lock goes with the process, so a crashed relay's turn passes on by itself.
    (PostgreSQL needs none of this: relays there take rows with SKIP LOCKED.)"""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: IO[bytes] | None = None

    @classmethod
    def for_database(cls, database: str | None) -> RelayTurn | None:
        if not database or database == ":memory:":
            return None  # a database no other process can open
        return cls(Path(f"{database}.relay-lock"))

    def taken(self) -> bool:
        """True while this process holds the turn; takes it if it is free."""
        if self._file is None:
            file = self._path.open("ab")
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                file.close()
                return False
            self._file = file
        return True

    def give_up(self) -> None:
        if self._file is not None:
            self._file.close()  # closing releases the lock
            self._file = None
