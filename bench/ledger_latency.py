"""The ledger service under load: pre-grant check latency over HTTP, alert latency under a
background load, and the service's resident memory.

The ledger runs as its own process (`python -m services.ledger`) on an embedded broker, on a
database already filled by `bench.ledger_apply` (pass its URL), so the figures are at that size.

Alert latency is measured twice, each time from the second of two conflicting grants being
published (acknowledged by the broker) to the alert event being read from the alerts topic:
- through intake, as the issue defines it: department events in (a household report, a dibao
  grant, then an extreme-poverty grant), with intake running as its own process and a background
  load of department events at `--rate` per second going through intake too;
- the ledger alone: the same as canonical events, under canonical background events.

    python -m bench.ledger_latency --url sqlite:////tmp/ledger-bench-x/ledger-y.db --households 200000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.intake_events import EventFactory
from bench.intake_throughput import start_intake, wait_healthy
from bench.ledger_data import city_events, household_id
from bench.ledger_tools import producer
from contracts.hub import (
    HUB_EVENTS,
    BenefitRecorded,
    DuplicateServiceAlertRaised,
    HouseholdRecorded,
)
from contracts.topics import ALERTS, CANONICAL, Topic, department_topic
from kit.broker import ensure_topics
from kit.settings import HubSettings
from kit.tansu import EmbeddedBroker, free_port
from services.intake.domain import PersonKeys

ROOT = Path(__file__).resolve().parent.parent


def start_ledger(hub: HubSettings, url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "HUB_KAFKA_BOOTSTRAP": hub.kafka_bootstrap, "HUB_KAFKA_IDEMPOTENCE": "false",
        "HUB_TOPIC_NAMESPACE": hub.topic_namespace, "HUB_LEDGER_DATABASE_URL": url, "HUB_LEDGER_HTTP_PORT": str(port),
        "HUB_LOG_FORMAT": "json", "HUB_LOG_LEVEL": os.environ.get("BENCH_LEDGER_LOG_LEVEL", "WARNING"),
    }
    process = subprocess.Popen([sys.executable, "-m", "services.ledger"], cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    wait_healthy(f"http://127.0.0.1:{port}", process, log)
    return process


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def pre_grant_latency(port: int, households: int, requests: int) -> list[float]:
    rng = random.Random(3)
    programmes = ["DIBAO", "EXTREME_POVERTY", "TEMPORARY", "EXPENDITURE_POVERTY"]
    timings: list[float] = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": "dev-ca-key"}, timeout=10) as client:
        for _ in range(requests):
            body = {"household_id": household_id(rng.randrange(households)), "programme": rng.choice(programmes),
                    "period_start": "2026-06-01", "amount_fen": 100_000}
            started = time.perf_counter()
            response = client.post("/pre-grant-check", json=body)
            timings.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise SystemExit(f"pre-grant check answered {response.status_code}: {response.text}")
    return timings


def background_records(count: int) -> list[tuple[bytes, bytes]]:
    """Made before the clock starts, so that making them takes no CPU from the ledger."""
    return [
        ((event.household_id or "").encode(), event.to_bytes())
        for event in city_events(count, max(1, count // 5), seed=99, prefix="bg")
    ]


async def background_load(
    hub: HubSettings, topic: Topic, rate: int, records: list[tuple[bytes, bytes]], stop: asyncio.Event
) -> int:
    sender = producer(hub)
    await sender.start()
    sent = 0
    try:
        while not stop.is_set() and sent < len(records):
            tick = time.monotonic()
            for key, value in records[sent : sent + rate // 10]:
                await sender.send(hub.topic_name(topic), value, key=key)
                sent += 1
            await asyncio.sleep(max(0.0, 0.1 - (time.monotonic() - tick)))
    finally:
        await sender.stop()
    return sent


def department_background(count: int) -> list[tuple[bytes, bytes]]:
    """Department events for fresh households (reports first, then their needs and benefits)."""
    factory = EventFactory("CA", seed=98)
    return [(event["household_id"].encode(), orjson.dumps(event)) for event in (factory.valid() for _ in range(count))]


async def alert_latency(hub: HubSettings, probes: int, rate: int, path: AlertPath) -> tuple[list[float], int]:
    records = path.background(rate * (probes + 10))
    arrivals: dict[str, float] = {}
    consumer = AIOKafkaConsumer(bootstrap_servers=hub.kafka_bootstrap, group_id=None, auto_offset_reset="latest")
    await consumer.start()
    await consumer.topics()
    name = hub.topic_name(ALERTS)
    consumer.assign([TopicPartition(name, p) for p in consumer.partitions_for_topic(name) or []])
    stop = asyncio.Event()

    async def listen() -> None:
        while not stop.is_set():
            for records in (await consumer.getmany(timeout_ms=20)).values():
                for record in records:
                    event = HUB_EVENTS.parse(record.value)
                    if isinstance(event, DuplicateServiceAlertRaised) and event.household_id:
                        arrivals.setdefault(event.household_id, time.monotonic())

    listener = asyncio.create_task(listen())
    load = asyncio.create_task(background_load(hub, path.topic, rate, records, stop))
    sender = producer(hub)
    await sender.start()
    latencies: list[float] = []
    run = uuid.uuid4().hex[:8]  # fresh households: the database may hold an earlier run's probes
    try:
        await asyncio.sleep(2)
        for probe in range(probes):
            latencies.append(await path.probe(hub, sender, f"probe-{run}-{probe:05d}", arrivals))
    finally:
        stop.set()
        await sender.stop()
        sent = await load
        await listener
        await consumer.stop()
    return latencies, sent


async def canonical_probe(hub: HubSettings, sender, hid: str, arrivals: dict[str, float]) -> float:  # type: ignore[no-untyped-def]
    topic = hub.topic_name(CANONICAL)
    person = f"p_{hid}"
    first = [
        HouseholdRecorded(source="intake", household_id=hid, data={"department": "CA", "department_household_ref": hid, "district": "310101",
                          "members": [{"person_key": person, "display_name": "张*"}]}),
        BenefitRecorded(source="intake", household_id=hid, data={"benefit_id": f"CA:{hid}-1", "programme": "DIBAO", "source": "CA",
                        "person_key": person, "amount_fen": 107_000, "period_start": date(2026, 1, 1)}),
    ]
    for event in first:
        await sender.send_and_wait(topic, event.to_bytes(), key=hid.encode())
    await asyncio.sleep(0.3)
    second = BenefitRecorded(source="intake", household_id=hid, data={"benefit_id": f"CA:{hid}-2", "programme": "EXTREME_POVERTY",
                             "source": "CA", "person_key": person, "amount_fen": 140_000, "period_start": date(2026, 2, 1)})
    await sender.send_and_wait(topic, second.to_bytes(), key=hid.encode())
    return await _arrival(hid, time.monotonic(), arrivals)


async def department_probe(hub: HubSettings, sender, ref: str, arrivals: dict[str, float]) -> float:  # type: ignore[no-untyped-def]
    """A department reports a household, grants it dibao, then extreme-poverty support: the
    ledger's policy forbids holding both, so the second grant must raise an alert."""
    topic = hub.topic_name(department_topic("CA"))
    factory = EventFactory("CA", seed=hash(ref) & 0xFFFF)
    reported = factory.household_reported()
    reported["household_id"] = factory.households[-1].ref = ref
    dibao, extreme = (factory.benefit_granted(factory.households[-1]) for _ in range(2))
    dibao["data"]["programme"], extreme["data"]["programme"] = "DIBAO", "EXTREME_POVERTY"
    for event in (reported, dibao):
        await sender.send_and_wait(topic, orjson.dumps(event), key=ref.encode())
    await asyncio.sleep(0.3)
    await sender.send_and_wait(topic, orjson.dumps(extreme), key=ref.encode())
    hub_household = PersonKeys(hub.person_key_secret.get_secret_value().encode()).household(("CA", ref))
    return await _arrival(hub_household, time.monotonic(), arrivals)


async def _arrival(household: str, sent_at: float, arrivals: dict[str, float]) -> float:
    deadline = sent_at + 10
    while household not in arrivals and time.monotonic() < deadline:
        await asyncio.sleep(0.002)
    return arrivals.get(household, deadline) - sent_at


@dataclass(frozen=True)
class AlertPath:
    name: str
    topic: Topic
    background: Callable[[int], list[tuple[bytes, bytes]]]
    probe: Callable[..., Awaitable[float]]


THROUGH_INTAKE = AlertPath("department event into intake -> alert event out", department_topic("CA"), department_background, department_probe)
LEDGER_ALONE = AlertPath("canonical event in -> alert event out, intake not in the path", CANONICAL, background_records, canonical_probe)


def report_alert_latency(hub: HubSettings, probes: int, rate: int, path: AlertPath) -> None:
    latencies, sent = asyncio.run(alert_latency(hub, probes, rate, path))
    print(f"alert latency ({path.name}), {probes} probes under {rate}/s background load ({sent:,} background events sent): "
          f"p50 {percentile(latencies, 0.5) * 1000:.0f} ms, p99 {percentile(latencies, 0.99) * 1000:.0f} ms, "
          f"max {max(latencies) * 1000:.0f} ms", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="A ledger database filled by bench.ledger_apply")
    parser.add_argument("--households", type=int, default=200_000, help="How many households that run had")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--probes", type=int, default=40)
    parser.add_argument("--rate", type=int, default=2000, help="Background events per second")
    parser.add_argument("--ledger-instances", type=int, default=1, help="Ledger processes in the consumer group, on the one database")
    args = parser.parse_args()
    log = Path(tempfile.mkdtemp(prefix="ledger-latency-")) / "ledger.log"
    with EmbeddedBroker() as broker:
        hub = HubSettings(kafka_bootstrap=broker.bootstrap, kafka_idempotence=False, topic_namespace="bench.")
        asyncio.run(ensure_topics(hub, [CANONICAL, ALERTS, department_topic("CA")]))
        port = free_port()
        ledger = start_ledger(hub, args.url, port, log)
        replicas = [start_ledger(hub, args.url, free_port(), log) for _ in range(args.ledger_instances - 1)]
        try:
            pre_grant_latency(port, args.households, 100)  # warm up
            timings = pre_grant_latency(port, args.households, args.requests)
            print(f"pre-grant check over HTTP, {args.requests} requests on {args.households:,} households: "
                  f"p50 {percentile(timings, 0.5) * 1000:.2f} ms, p99 {percentile(timings, 0.99) * 1000:.2f} ms, "
                  f"mean {statistics.mean(timings) * 1000:.2f} ms", flush=True)
            print(f"ledger resident memory after the checks: {resident_mb(ledger.pid):.0f} MB", flush=True)
            intake, intake_url = start_intake(hub, f"sqlite:///{log.parent / 'intake.db'}", log.parent, log.parent / "intake.log", "WARNING")
            try:
                wait_healthy(intake_url, intake, log.parent / "intake.log")
                report_alert_latency(hub, args.probes, args.rate, THROUGH_INTAKE)
            finally:
                intake.terminate()
                intake.wait(timeout=30)
            report_alert_latency(hub, args.probes, args.rate, LEDGER_ALONE)
            print(f"ledger resident memory at the end: {resident_mb(ledger.pid):.0f} MB", flush=True)
        finally:
            for process in (ledger, *replicas):
                process.terminate()
                process.wait(timeout=30)


if __name__ == "__main__":
    main()
