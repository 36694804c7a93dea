"""The Kafka side of a service: the broker, topic set-up, and publishing events with headers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.message import StreamMessage
from faststream.security import SASLScram512
from structlog.stdlib import BoundLogger

from contracts.envelope import Event, Publishable
from contracts.topics import Topic
from kit.errors import StartupError
from kit.logs import loggable_event_id
from kit.settings import HubSettings


def group_timeouts(session_timeout_ms: int) -> dict[str, int]:
    """A consumer group member's session timeout and its heartbeat, three to a session."""
    return {"session_timeout_ms": session_timeout_ms, "heartbeat_interval_ms": max(300, session_timeout_ms // 3)}


class HubKafkaBroker(KafkaBroker):
    """Every subscriber in a consumer group gets the hub's session timeout unless it names its own."""

    session_timeout_ms = 10_000

    def subscriber(self, *topics: Any, **options: Any) -> Any:  # type: ignore[override]
        if options.get("group_id") and "session_timeout_ms" not in options:
            options |= group_timeouts(self.session_timeout_ms)
        return super().subscriber(*topics, **options)


def make_broker(hub: HubSettings, client_id: str) -> KafkaBroker:
    """acks=all always; the idempotent producer only where the broker supports it (not Tansu);
    consumer groups with HUB_KAFKA_SESSION_TIMEOUT_MS."""
    security = None
    if hub.kafka_sasl_username and hub.kafka_sasl_password:
        security = SASLScram512(hub.kafka_sasl_username, hub.kafka_sasl_password.get_secret_value())
    broker = HubKafkaBroker(
        hub.kafka_bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=hub.kafka_idempotence,
        linger_ms=2,
        security=security,
        graceful_timeout=10.0,
        logger=None,
    )
    broker.session_timeout_ms = hub.kafka_session_timeout_ms
    return broker


# How long a consumer's fetch may wait at the broker for records. With aiokafka's default (500 ms)
# an event waited up to that long at each hop on the embedded broker: alert latency under load
# went from p50 430 ms to 60 ms with 50 (bench.ledger_latency), for ten more fetches a second
# per idle consumer.
FETCH_MAX_WAIT_MS = 50

# A consumer killed (SIGKILL, OOM) stays a member of its group until its session times out, and a
# restarted one gets no partitions until then. On the embedded broker the restarted member was
# assigned 18 s after the kill with aiokafka's 10 s session, 11 s with these (a raw consumer,
# measured by hand). The event loop must then never stall for 6 s, or the member is
# dropped and its batch delivered again (applied once: consumers are idempotent). Matching takes
# this or HUB_KAFKA_SESSION_TIMEOUT_MS, whichever is shorter.
QUICK_REJOIN_SESSION_TIMEOUT_MS = 6000


def client_options(hub: HubSettings) -> dict[str, Any]:
    """Connection options every aiokafka client of the hub shares (bootstrap, SASL/SCRAM)."""
    options: dict[str, Any] = {"bootstrap_servers": hub.kafka_bootstrap}
    if hub.kafka_sasl_username and hub.kafka_sasl_password:
        options |= {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": hub.kafka_sasl_username,
            "sasl_plain_password": hub.kafka_sasl_password.get_secret_value(),
        }
    return options


def make_producer(hub: HubSettings, client_id: str, idempotence: bool | None = None) -> AIOKafkaProducer:
    """A plain aiokafka producer for bulk publishing (the outbox relay, `hub publish`): FastStream's
    per-message publish path costs more than the send itself at these rates."""
    return AIOKafkaProducer(
        **client_options(hub),
        client_id=client_id,
        acks="all",
        enable_idempotence=hub.kafka_idempotence if idempotence is None else idempotence,
        linger_ms=5,
        max_batch_size=256 * 1024,
    )


def _admin(hub: HubSettings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**client_options(hub), request_timeout_ms=10_000)


async def ensure_topics(hub: HubSettings, topics: Iterable[Topic], replication: int = 1) -> None:
    """Create the topics a service reads or writes, if missing. Unreachable broker -> StartupError."""
    admin = _admin(hub)
    try:
        await admin.start()
    except (KafkaConnectionError, KafkaError, OSError) as error:
        await admin.close()
        raise StartupError(
            f"broker unreachable at {hub.kafka_bootstrap} ({type(error).__name__}); "
            "start it (`make run` starts an embedded one) or fix HUB_KAFKA_BOOTSTRAP"
        ) from None
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                hub.topic_name(t),
                t.partitions,
                replication,
                topic_configs={"cleanup.policy": "compact"} if t.compacted else {},
            )
            for t in topics
            if hub.topic_name(t) not in existing
        ]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass  # another instance created it in between
    finally:
        await admin.close()


def event_headers(event: Publishable) -> dict[str, str]:
    """Headers let consumers route and log without parsing the body."""
    return {
        "event_id": event.event_id,
        "event_type": event.type,
        "schema_version": str(event.schema_version),
        "household_id": event.household_id or "",
        "correlation_id": event.correlation_id,
        "content-type": "application/json",
    }


async def publish_event(broker: KafkaBroker, topic_name: str, event: Event, key: str | None = None) -> None:
    """Publish now, outside any transaction; state-changing handlers use the outbox instead."""
    await broker.publish(
        event.to_bytes(), topic_name, key=(key or event.household_id or "").encode() or None, headers=event_headers(event)
    )


@dataclass(frozen=True)
class Delivery:
    """One Kafka record as a handler sees it: raw bytes, so that bad input becomes a rejection
    in the service rather than an error inside the framework."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp: int = -1  # the record's own time (ms), as its producer or the broker stamped it
    headers: tuple[tuple[str, bytes], ...] = ()

    @property
    def position(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"

    def header(self, name: str) -> bytes | None:
        return next((value for key, value in self.headers if key == name), None)


def log_unreadable(log: BoundLogger, delivery: Delivery, error: Exception, what: str = "unreadable record skipped") -> None:
    """One log line for a record that could not be read as an event: where it is, the event id it
    carries when one can be read safely (`loggable_event_id`), the kind of error; never the payload."""
    event_id = loggable_event_id(delivery.value, delivery.header("event_id"))
    log.warning(what, position=delivery.position, event_id=event_id, error=type(error).__name__)


async def undecoded(message: StreamMessage[Any]) -> Any:
    """A subscriber's decoder for handlers that read `deliveries_of(message)`: it leaves the
    bodies as bytes (FastStream's own decoder parses every record of a batch as JSON, which
    such a handler never looks at)."""
    return message.body


def deliveries_of(message: KafkaMessage) -> list[Delivery]:
    records: Sequence = message.raw_message if isinstance(message.raw_message, tuple) else (message.raw_message,)
    return [
        Delivery(
            topic=r.topic,
            partition=r.partition,
            offset=r.offset,
            key=r.key,
            value=r.value or b"",
            timestamp=r.timestamp if r.timestamp is not None else -1,
            headers=tuple(r.headers or ()),
        )
        for r in records
    ]


async def publish_many(
    producer: AIOKafkaProducer, records: Iterable[tuple[str, bytes | None, bytes, dict[str, str]]]
) -> int:
    """Send many records and wait for every acknowledgement; returns how many.

    Records are packed into one batch per partition, in order, keyed records placed as Kafka's
    default partitioner places them: a `send` per record cost more than the broker's work."""
    open_batches: dict[tuple[str, int], BatchBuilder] = {}
    partitions: dict[str, int] = {}
    acknowledgements: list[asyncio.Future[Any]] = []
    count = 0
    for topic, key, value, headers in records:
        if topic not in partitions:
            partitions[topic] = len(await producer.partitions_for(topic))
        place = (topic, _partition(key, partitions[topic], count))
        header_list = [(k, v.encode()) for k, v in headers.items()]
        batch = open_batches.get(place)
        if batch is None or batch.append(key=key, value=value, timestamp=None, headers=header_list) is None:
            if batch is not None:  # full: send it, start the next
                acknowledgements.append(await producer.send_batch(batch, topic, partition=place[1]))
            batch = open_batches[place] = producer.create_batch()
            batch.append(key=key, value=value, timestamp=None, headers=header_list)
        count += 1
    for (topic, partition), batch in open_batches.items():
        acknowledgements.append(await producer.send_batch(batch, topic, partition=partition))
    await asyncio.gather(*acknowledgements)
    return count


def _partition(key: bytes | None, partitions: int, sequence: int) -> int:
    if key is None:
        return sequence % partitions
    return _keyed_partition(key, partitions)


@lru_cache(maxsize=65_536)
def _keyed_partition(key: bytes, partitions: int) -> int:
    """Kafka's default: murmur2 of the key, positive, modulo the partition count."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


async def delete_topics(hub: HubSettings, topics: Iterable[Topic]) -> None:
    """For tests and `hub` maintenance: drop this namespace's topics."""
    admin = _admin(hub)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [hub.topic_name(t) for t in topics if hub.topic_name(t) in existing]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()
