"""The unit of work and the outbox on real databases and the real broker."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer
from sqlmodel import select

from contracts.hub import HUB_EVENTS, ServiceStarted
from contracts.topics import SERVICE_PRESENCE
from kit.broker import ensure_topics
from kit.database import make_engine, migrate
from kit.outbox import OUTBOX_SENT, OutboxMessage, OutboxRelay, TopicsMissing, UnitOfWork
from kit.settings import HubSettings
from tests.conftest import ROOT

MIGRATIONS = ROOT / "services" / "charity" / "migrations"


def announcement(n: int) -> ServiceStarted:
    return ServiceStarted(source="test", data={"service": f"s{n}", "instance": "i", "http_url": "http://x"})


async def read_all(hub: HubSettings, expected: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(hub.topic_name(SERVICE_PRESENCE), bootstrap_servers=hub.kafka_bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    values: list[bytes] = []
    try:
        async with asyncio.timeout(20):
            while len(values) < expected:
                batch = await consumer.getmany(timeout_ms=500)
                values += [r.value for records in batch.values() for r in records]
        await asyncio.sleep(0.5)  # anything beyond `expected` would show up here
        batch = await consumer.getmany(timeout_ms=500)
        values += [r.value for records in batch.values() for r in records]
    finally:
        await consumer.stop()
    return values


async def test_committed_events_are_published_once_and_rolled_back_ones_never(hub: HubSettings, database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine, MIGRATIONS)
    await ensure_topics(hub, [SERVICE_PRESENCE])
    relay = OutboxRelay(engine, hub, "outbox-test")
    await relay.connect()
    try:
        with UnitOfWork(engine, hub) as uow:
            for n in range(3):
                uow.emit(SERVICE_PRESENCE, announcement(n), key="k")
            uow.mark_applied("upstream-1")
            uow.commit()
        try:
            with UnitOfWork(engine, hub) as uow:
                uow.emit(SERVICE_PRESENCE, announcement(99), key="k")
                raise RuntimeError("handler failed before commit")
        except RuntimeError:
            pass
        assert await relay.flush() == 3
        assert await relay.flush() == 0
        with UnitOfWork(engine, hub) as uow:
            assert uow.already_applied(["upstream-1", "upstream-2"]) == {"upstream-1"}
            assert list(uow.session.exec(select(OutboxMessage))) == []
    finally:
        await relay.stop()
        engine.dispose()
    services = sorted(HUB_EVENTS.parse(v).data.service for v in await read_all(hub, 3))
    assert services == ["s0", "s1", "s2"]


async def test_two_relays_on_one_database_publish_each_row_once(hub: HubSettings, database_url: str) -> None:
    """Two processes of a service share a database: on SQLite one holds the relay's turn, on
    PostgreSQL they share the rows out with row locks; either way every row goes out once."""
    engine = make_engine(database_url)
    migrate(engine, MIGRATIONS)
    await ensure_topics(hub, [SERVICE_PRESENCE])
    relays = [OutboxRelay(engine, hub, f"outbox-test-{n}") for n in range(2)]
    for relay in relays:
        await relay.connect()
    try:
        with UnitOfWork(engine, hub) as uow:
            for n in range(3):
                uow.emit(SERVICE_PRESENCE, announcement(n), key="k")
            uow.commit()
        sent = await asyncio.gather(*(relay.flush() for relay in relays))
        assert sorted(sent) in ([0, 3], [1, 2])
    finally:
        for relay in relays:
            await relay.stop()
        engine.dispose()
    services = sorted(HUB_EVENTS.parse(v).data.service for v in await read_all(hub, 3))
    assert services == ["s0", "s1", "s2"]


async def test_a_row_for_a_topic_the_broker_lacks_stays_unsent(hub: HubSettings, database_url: str) -> None:
    """Issue 17, item 3: the producer's metadata request would have the embedded broker create
    the topic with its defaults (or fail on Kafka), and the row would count as sent."""
    engine = make_engine(database_url)
    migrate(engine, MIGRATIONS)
    relay = OutboxRelay(engine, hub, "outbox-test")
    await relay.connect()
    try:
        with UnitOfWork(engine, hub) as uow:
            uow.emit(SERVICE_PRESENCE, announcement(1), key="k")  # the topic was never created
            uow.commit()
        with pytest.raises(TopicsMissing) as missing:
            await relay.flush()
        assert missing.value.topics == {hub.topic_name(SERVICE_PRESENCE)}
        with UnitOfWork(engine, hub) as uow:
            assert len(list(uow.session.exec(select(OutboxMessage)))) == 1, "the row must wait for its topic"
        await ensure_topics(hub, [SERVICE_PRESENCE])
        assert await relay.flush() == 1
    finally:
        await relay.stop()
        engine.dispose()


async def test_sent_rows_are_kept_for_the_retention_window_and_sent_again_to_a_new_broker(hub: HubSettings, database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine, MIGRATIONS)
    await ensure_topics(hub, [SERVICE_PRESENCE])
    relay = OutboxRelay(engine, hub, "outbox-test")
    await relay.connect()
    try:
        with UnitOfWork(engine, hub) as uow:
            for n in range(3):
                uow.emit(SERVICE_PRESENCE, announcement(n), key="k")
            uow.commit()
        assert await relay.flush() == 3
        with engine.connect() as connection:
            assert connection.execute(sa.select(sa.func.count()).select_from(OUTBOX_SENT)).scalar_one() == 3
        relay.resend_retained()  # as after a new broker
        assert await relay.flush() == 3
        assert await relay.flush() == 0, "sent again once, not at every flush"
        relay.retention_seconds = 0  # everything kept is now older than the window
        relay._last_prune = 0.0
        await relay.flush()
        with engine.connect() as connection:
            assert connection.execute(sa.select(sa.func.count()).select_from(OUTBOX_SENT)).scalar_one() == 0
    finally:
        await relay.stop()
        engine.dispose()
    assert sorted(HUB_EVENTS.parse(v).data.service for v in await read_all(hub, 6)) == ["s0", "s0", "s1", "s1", "s2", "s2"]


async def test_a_lingering_relay_publishes_commits_made_close_together_at_once(hub: HubSettings, database_url: str) -> None:
    """With `linger`, a relay woken by a commit waits that long before it publishes, so that the
    commits of that while (one per request in the charity service) go out in one publication."""
    engine = make_engine(database_url)
    migrate(engine, MIGRATIONS)
    await ensure_topics(hub, [SERVICE_PRESENCE])
    relay = OutboxRelay(engine, hub, "outbox-linger-test")
    await relay.connect()
    published: list[int] = []
    flush = relay.flush

    async def counted() -> int:
        sent = await flush()
        if sent:
            published.append(sent)
        return sent

    relay.flush = counted  # type: ignore[method-assign]
    relay.run_in_background(interval=60, linger=0.5)
    try:
        await asyncio.sleep(0.2)  # the first, empty flush
        for n in range(3):
            with UnitOfWork(engine, hub) as uow:
                uow.emit(SERVICE_PRESENCE, announcement(n), key="k")
                uow.commit()
            relay.wake()
            await asyncio.sleep(0.05)
        async with asyncio.timeout(10):
            while sum(published) < 3:
                await asyncio.sleep(0.05)
        assert published == [3]
    finally:
        await relay.stop()
        engine.dispose()
    assert len(await read_all(hub, 3)) == 3
