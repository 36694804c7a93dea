"""Intake over the real broker, as a separate process on a real database: a department publishes
1,000 events of which 100 are invalid in ten ways; redelivery and a SIGKILL change nothing."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.intake_events import Sample, mixed_stream
from contracts.hub import HUB_EVENTS, EventRejected
from contracts.topics import CANONICAL, REJECTIONS, department_topic
from kit.settings import HubSettings
from services.intake.canonical import canonical_event_id

SAMPLES = list(mixed_stream(1000, invalid_every=10, department="CA", seed=11))
EXPECTED_CANONICAL = {
    canonical_event_id("CA", orjson.loads(s.value)["event_id"]) for s in SAMPLES if s.expected == "accepted"
}
EXPECTED_REASONS = Counter(s.expected for s in SAMPLES if s.expected != "accepted")


async def publish(hub: HubSettings, samples: list[Sample], department: str = "CA") -> None:
    producer = AIOKafkaProducer(bootstrap_servers=hub.kafka_bootstrap, linger_ms=5, acks="all")
    await producer.start()
    try:
        topic = hub.topic_name(department_topic(department))
        sends = [await producer.send(topic, s.value, key=s.ref.encode() or None) for s in samples]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


@dataclass
class Output:
    canonical: list[dict] = field(default_factory=list)
    rejections: list[dict] = field(default_factory=list)

    @property
    def canonical_ids(self) -> set[str]:
        return {e["event_id"] for e in self.canonical}

    @property
    def rejection_ids(self) -> set[str]:
        return {e["event_id"] for e in self.rejections}


async def read_output(hub: HubSettings, canonical: int, rejections: int, timeout: float = 60, quiet: float = 1.5) -> Output:
    """Everything on the canonical and rejection topics, once the expected numbers of distinct
    events have arrived and nothing more came for `quiet` seconds (or at the timeout)."""
    topics = {hub.topic_name(CANONICAL): "canonical", hub.topic_name(REJECTIONS): "rejections"}
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=hub.kafka_bootstrap, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    output = Output()
    deadline = time.monotonic() + timeout
    last_seen = time.monotonic()
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300, max_records=5000)
            for partition, records in batch.items():
                getattr(output, topics[partition.topic]).extend(orjson.loads(r.value) for r in records)
                last_seen = time.monotonic()
            complete = len(output.canonical_ids) >= canonical and len(output.rejection_ids) >= rejections
            if complete and time.monotonic() - last_seen > quiet:
                break
    finally:
        await consumer.stop()
    return output


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine)


def reason_codes(rejections: list[dict]) -> Counter[str]:
    return Counter(EventRejected.model_validate(r).data.reasons[0].code for r in rejections)


def metric(url: str, name: str) -> float:
    total = 0.0
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_900_canonical_and_100_rejections_even_when_published_twice(start_service, hub, database_url) -> None:
    intake = start_service("intake", database_url=database_url)
    run(publish(hub, SAMPLES))
    first = run(read_output(hub, 900, 100))

    assert first.canonical_ids == EXPECTED_CANONICAL
    assert len(first.canonical) == 900
    assert len(first.rejections) == 100
    assert reason_codes(first.rejections) == EXPECTED_REASONS
    assert all(HUB_EVENTS.parse(orjson.dumps(e)) for e in first.canonical[:50])

    run(publish(hub, SAMPLES))
    second = run(read_output(hub, 900, 200))
    assert second.canonical_ids == EXPECTED_CANONICAL
    assert len(second.canonical) == 900, "a redelivered department event must not give a second canonical event"
    # The second delivery of each invalid record is a new record: the department is told again.
    assert len(second.rejection_ids) == 200
    assert metric(intake.url, "intake_events_accepted_total") == 900
    assert metric(intake.url, "intake_events_duplicate_total") == 900
    assert metric(intake.url, "intake_events_rejected_total") == 200


def test_sigkill_halfway_then_restart_loses_and_doubles_nothing(start_service, hub, database_url) -> None:
    intake = start_service("intake", database_url=database_url, HUB_INTAKE_BATCH_SIZE="50", HUB_INTAKE_SESSION_TIMEOUT_MS="3000")
    run(publish(hub, SAMPLES[:500]))
    partial = run(read_output(hub, 100, 0, timeout=30, quiet=0))
    intake.kill()  # while it works through the first half, in batches of 50
    assert 0 < len(partial.canonical_ids) < 900
    before_restart = run(read_output(hub, 0, 0, timeout=10, quiet=0.5))  # all it published before the kill

    run(publish(hub, SAMPLES[500:]))
    intake.start()
    final = run(read_output(hub, 900, 100))
    assert final.canonical_ids == EXPECTED_CANONICAL
    assert len(final.rejection_ids) == 100
    assert reason_codes(list({r["event_id"]: r for r in final.rejections}.values())) == EXPECTED_REASONS
    # The outbox may resend rows published just before the kill and not yet deleted (consumers
    # dedupe by event id), but nothing else, and each at most once more.
    copies = Counter(event["event_id"] for event in final.canonical)
    assert max(copies.values()) <= 2
    resent = {event_id for event_id, count in copies.items() if count == 2}
    assert resent <= before_restart.canonical_ids
    assert len(resent) < len(before_restart.canonical_ids)  # what the relay had deleted stays sent once
