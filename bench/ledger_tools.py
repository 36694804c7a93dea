"""Kafka helpers shared by the ledger's benchmarks and tests: publish events fast, read a topic."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from contracts.envelope import Event
from contracts.hub import HUB_EVENTS
from contracts.topics import Topic
from kit.broker import ensure_topics, event_headers
from kit.settings import HubSettings


def producer(hub: HubSettings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=hub.kafka_bootstrap, acks="all", enable_idempotence=hub.kafka_idempotence, linger_ms=5,
        max_batch_size=256 * 1024,
    )


async def publish(hub: HubSettings, topic: Topic, events: Iterable[Event], chunk: int = 5000) -> int:
    """Publish events keyed by household id, wait for every acknowledgement; returns how many."""
    await ensure_topics(hub, [topic])
    sender = producer(hub)
    await sender.start()
    sent = 0
    try:
        pending = []
        for event in events:
            pending.append(await sender.send(hub.topic_name(topic), event.to_bytes(), key=_key(event), headers=_headers(event)))
            if len(pending) >= chunk:
                await asyncio.gather(*pending)
                sent += len(pending)
                pending = []
        await asyncio.gather(*pending)
        sent += len(pending)
    finally:
        await sender.stop()
    return sent


def _key(event: Event) -> bytes | None:
    return event.household_id.encode() if event.household_id else None


def _headers(event: Event) -> list[tuple[str, bytes]]:
    return [(name, value.encode()) for name, value in event_headers(event).items()]


async def read_until(
    hub: HubSettings, topic: Topic, done: Callable[[list[Event]], bool], timeout: float = 30.0
) -> list[Event]:
    """Read `topic` from the beginning until `done(events so far)` or the timeout; returns what was read."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=hub.kafka_bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    events: list[Event] = []
    try:
        name = hub.topic_name(topic)
        await consumer.topics()  # loads the cluster's metadata
        partitions = [TopicPartition(name, p) for p in sorted(consumer.partitions_for_topic(name) or [])]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout
        while not done(events) and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=100)
            for records in batches.values():
                events.extend(HUB_EVENTS.parse(record.value) for record in records)
    finally:
        await consumer.stop()
    return events
