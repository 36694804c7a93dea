"""Issue 17, item 1: the embedded broker dies in the middle of a run of 10,000 events sent over
HTTP and Kafka, and a new, empty one starts on the same port (what `hub up` does). Intake and the
ledger notice the new broker, create their topics again, re-send what their outboxes kept, and
the ledger ends with every event, once.

The department on Kafka sends again what it published (it cannot know what intake had read from
the broker that died; intake answers a resent event as a duplicate); over HTTP an answer 202
means intake has committed the event, and nothing is sent twice."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer

from bench.intake_events import EventFactory
from contracts.topics import department_topic
from hub.launcher import supervise_broker
from kit.tansu import EmbeddedBroker, free_port
from services.intake.canonical import canonical_event_id
from tests.conftest import ROOT, ServiceProcess

EVENTS_PER_WAY = 5000
CHUNK = 100


def department_events(department: str, seed: int, count: int) -> list[dict[str, Any]]:
    """Household reports, then grants and needs for the households reported before them."""
    factory, events = EventFactory(department, seed=seed), []
    while len(events) < count:
        roll = factory.rng.random()
        if not factory.households or roll < 0.3:
            events.append(factory.household_reported())
        elif roll < 0.8:
            events.append(factory.benefit_granted())
        else:
            events.append(factory.need_assessed())
    return events


def service(name: str, env: dict[str, str], tmp_path: Path) -> ServiceProcess:
    port = free_port()
    return ServiceProcess(name, port, {**env, f"HUB_{name.upper()}_HTTP_PORT": str(port)}, tmp_path / f"{name}.log").start()


def ledger_event_ids(database: Path) -> list[str]:
    engine = sa.create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            return list(connection.execute(sa.text("SELECT event_id FROM ledger_event")).scalars())
    finally:
        engine.dispose()


async def send_kafka(producer: AIOKafkaProducer, topic: str, events: list[dict[str, Any]]) -> None:
    for event in events:
        await producer.send(topic, orjson.dumps(event), key=event["household_id"].encode())
    await producer.flush()


async def test_a_new_empty_broker_mid_run_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    broker = EmbeddedBroker(port=free_port(), log_path=tmp_path / "broker.log").start()
    namespace = f"r{uuid.uuid4().hex[:6]}."
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "HUB_KAFKA_BOOTSTRAP": broker.bootstrap, "HUB_KAFKA_IDEMPOTENCE": "false",
        "HUB_TOPIC_NAMESPACE": namespace, "HUB_DATA_DIR": str(tmp_path / "data"), "HUB_LOG_FORMAT": "json",
        "HUB_BROKER_CHECK_SECONDS": "0.5", "HUB_CONSUMER_STALL_SECONDS": "5",
    }
    over_http = department_events("CA", seed=11, count=EVENTS_PER_WAY)
    over_kafka = department_events("HRSS", seed=12, count=EVENTS_PER_WAY)
    expected = {canonical_event_id("CA", e["event_id"]) for e in over_http} | {
        canonical_event_id("HRSS", e["event_id"]) for e in over_kafka
    }
    services = [service("intake", env, tmp_path), service("ledger", env, tmp_path)]
    intake, ledger = services
    kafka_topic = f"{namespace}{department_topic('HRSS').name}"
    lines: list[str] = []
    statuses: list[int] = []
    try:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=5)
        await producer.start()
        async with httpx.AsyncClient(base_url=intake.url, headers={"X-API-Key": "dev-ca-key"}, timeout=30) as client:
            chunks = range(0, EVENTS_PER_WAY, CHUNK)
            health_while_down: httpx.Response | None = None
            for number, start in enumerate(chunks):
                if number == len(chunks) // 3:
                    broker.kill()  # the broker dies with whatever it held
                    await asyncio.sleep(1.5)
                    health_while_down = httpx.get(f"{ledger.url}/health", timeout=5)
                if broker.exited() is None:
                    await send_kafka(producer, kafka_topic, over_kafka[start : start + CHUNK])
                response = await client.post("/events", content=orjson.dumps(over_http[start : start + CHUNK]))
                statuses.append(response.status_code)
                if number == len(chunks) // 2:
                    assert supervise_broker(broker, lines.append), "hub up's supervision did not see the broker die"
            # The department sends everything again: what the dead broker held is gone, and what
            # could not be sent while it was down was never sent.
            await send_kafka(producer, kafka_topic, over_kafka)
        await producer.stop()

        assert health_while_down is not None and health_while_down.status_code == 503
        assert health_while_down.json()["problems"], "a service without its broker must say why it is not ok"
        deadline = time.monotonic() + 90
        while len(applied := ledger_event_ids(tmp_path / "data" / "ledger.db")) < len(expected) and time.monotonic() < deadline:
            await asyncio.sleep(1)
        assert set(statuses) == {200}
        assert len(applied) == len(set(applied)), "an event applied twice"
        assert set(applied) == expected, f"{len(expected - set(applied))} of {len(expected)} events never reached the ledger"
        assert len(lines) == 1 and "broker died" in lines[0]
        for running in services:
            health = httpx.get(f"{running.url}/health", timeout=5).json()
            assert health["status"] == "ok", health
            assert health["new_brokers_seen"] >= 1
    finally:
        for running in services:
            running.stop()
        broker.stop()
