"""Matching under a stream of new needs, with the city-scale pool loaded: time from `need.recorded`
published to its `match.proposed` read from hub.matches.v1, through the real broker and the
matching service running as its own process.

Steps: the pool (households' state, offerings, open needs: as bench.matching_round, needs
assessed in the last few days) is published first; matching starts on an empty database and
rebuilds its pool from the topics, then runs its first full round. Then 1,000 new households'
states are published, and their 1,000 needs at 200 a second. The new households live in one
subdistrict for which 20 extra offerings (1,200 units) were published with the pool, so that
the new needs have units to be proposed (the pool's own units are all promised by then).

    .venv/bin/python -m bench.matching_incremental [--needs 100000 --offerings 10000 --units 60000 --new 1000 --rate 200]
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.intake_throughput import wait_healthy
from bench.ledger_tools import producer
from bench.machine import describe, reference_seconds
from bench.matching_data import TODAY, pool
from bench.results import emit
from contracts.catalogue import Category
from contracts.hub import HouseholdStateV2, NeedRecorded, OfferingDataV2, OfferingPublishedV2
from contracts.topics import CANONICAL, HOUSEHOLD_STATE, MATCHES, OFFERINGS, Topic
from kit.broker import ensure_topics, event_headers
from kit.settings import HubSettings
from kit.tansu import EmbeddedBroker, free_port
from services.matching.model import Household, Need, Offering

ROOT = Path(__file__).resolve().parent.parent
STAFF = {"X-API-Key": "dev-staff-key"}
NEW_DISTRICT, NEW_SUBDISTRICT = "310151", "310151-99"


def state_event(h: Household) -> HouseholdStateV2:
    return HouseholdStateV2(
        source="ledger", household_id=h.household_id,
        data={"district": h.district, "subdistrict": h.subdistrict, "category": h.category, "colour": h.colour,
              "programmes": h.programmes, "open_needs": [], "person_count": h.size, "as_of": datetime.now(UTC),
              "received_this_year": [{"category": c, "benefits": n, "amount_fen": 0} for c, n in h.received.items()]},
    )


def need_event(n: Need) -> NeedRecorded:
    return NeedRecorded(
        source="intake", household_id=n.household_id, occurred_at=datetime.now(UTC),
        data={"need_id": n.need_id, "department": "CA", "category": n.category, "description": "bench", "urgency": n.urgency,
              "assessed_on": n.assessed_on},
    )


def offering_event(o: Offering) -> OfferingPublishedV2:
    return OfferingPublishedV2(source="charity", occurred_at=o.updated_at, data=o.record)


def extra_offerings(count: int, units: int) -> list[Offering]:
    now = datetime.now(UTC) - timedelta(hours=1)
    found = []
    for i in range(count):
        record = OfferingDataV2(
            offering_id=f"new-o{i:03d}", charity_id="c-new", title="offer", category=list(Category)[i % len(Category)],
            programme="CHARITY_GOODS", kind="goods", unit="parcel", quantity_total=units, quantity_remaining=units,
            service_area={"subdistricts": [NEW_SUBDISTRICT]}, valid_from=TODAY - timedelta(days=30), valid_until=TODAY + timedelta(days=300),
            capacity_confirmed_at=now,
        )
        found.append(Offering(record.offering_id, record, now))
    return found


async def publish(hub: HubSettings, topic: Topic, events: list, key_of=lambda e: e.household_id) -> None:  # type: ignore[no-untyped-def,type-arg]
    await ensure_topics(hub, [topic])
    sender = producer(hub)
    await sender.start()
    try:
        pending = []
        for event in events:
            key = key_of(event)
            headers = [(k, v.encode()) for k, v in event_headers(event).items()]
            pending.append(await sender.send(hub.topic_name(topic), event.to_bytes(), key=key.encode() if key else None, headers=headers))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await sender.stop()


def start_matching(hub: HubSettings, data: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "HUB_KAFKA_BOOTSTRAP": hub.kafka_bootstrap, "HUB_KAFKA_IDEMPOTENCE": "false",
        "HUB_TOPIC_NAMESPACE": hub.topic_namespace, "HUB_DATA_DIR": str(data), "HUB_LOG_FORMAT": "json",
        "HUB_MATCHING_HTTP_PORT": str(port),
    }
    process = subprocess.Popen([sys.executable, "-m", "services.matching"], cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}"


def applied(url: str) -> float:
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith('matching_events_total{outcome="applied"}'):
            return float(line.split()[-1])
    return 0.0


def seen_records(url: str) -> float:
    return sum(float(line.split()[-1]) for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines()
               if line.startswith("matching_events_total{"))


def wait_settled(url: str, events: int, timeout: float) -> dict:  # type: ignore[type-arg]
    """Until every event is applied, no round has run and no record come in for two seconds
    (matching reads its own proposals back: those too)."""
    deadline = time.monotonic() + timeout
    last, still_since = None, time.monotonic()
    while time.monotonic() < deadline:
        rounds = httpx.get(f"{url}/rounds/last", headers=STAFF, timeout=30).json()
        if applied(url) >= events and rounds["waiting"] == 0 and rounds["caught_up"] and not rounds["running"]:
            now = (rounds["rounds"], seen_records(url))
            if now != last:
                last, still_since = now, time.monotonic()
            elif time.monotonic() - still_since > 2:
                return rounds
        time.sleep(0.5)
    raise SystemExit(f"matching did not settle in {timeout:.0f} s")


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def stream_needs(hub: HubSettings, needs: list[Need], rate: float) -> dict[str, float]:
    """Publish the needs at `rate` a second; when each was handed to the producer."""
    sender = producer(hub)
    await sender.start()
    sent: dict[str, float] = {}
    pending = []
    try:
        started = time.perf_counter()
        for i, need in enumerate(needs):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            event = need_event(need)
            sent[need.need_id] = time.perf_counter()
            pending.append(await sender.send(hub.topic_name(CANONICAL), event.to_bytes(), key=need.household_id.encode(),
                                             headers=[(k, v.encode()) for k, v in event_headers(event).items()]))
        await asyncio.gather(*pending)
    finally:
        await sender.stop()
    return sent


async def read_proposals(hub: HubSettings, wanted: set[str], seen: dict[str, float], ready: asyncio.Event, timeout: float) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=hub.kafka_bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        name = hub.topic_name(MATCHES)
        await consumer.topics()
        partitions = [TopicPartition(name, p) for p in sorted(consumer.partitions_for_topic(name) or [])]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for p in partitions:
            await consumer.position(p)
        ready.set()
        deadline = time.monotonic() + timeout
        while len(seen) < len(wanted) and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=50)).values():
                now = time.perf_counter()
                for record in records:
                    body = orjson.loads(record.value)
                    if body.get("type") == "match.proposed" and body["data"]["need_id"] in wanted:
                        seen.setdefault(body["data"]["need_id"], now)
    finally:
        await consumer.stop()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(args: argparse.Namespace, hub: HubSettings, work: Path) -> None:
    before = reference_seconds()
    households, needs, offerings = pool(args.needs, args.offerings, args.units, waited_days=5)
    offerings += extra_offerings(20, 60)
    rng = random.Random(11)
    new_households = [
        Household(f"new-h{i:05d}", NEW_DISTRICT, NEW_SUBDISTRICT, "dibao", rng.choice(["red", "orange", "yellow", "green"]), size=2)
        for i in range(args.new)
    ]
    new_needs = [
        Need(f"CA:new{i:05d}", h.household_id, list(Category)[i % len(Category)].value, rng.randint(1, 5), TODAY, datetime.now(UTC))
        for i, h in enumerate(new_households)
    ]
    loaded = time.perf_counter()
    await publish(hub, HOUSEHOLD_STATE, [state_event(h) for h in households.values()])
    await publish(hub, OFFERINGS, [offering_event(o) for o in offerings], key_of=lambda e: e.data.offering_id)
    await publish(hub, CANONICAL, [need_event(n) for n in needs])
    await ensure_topics(hub, [MATCHES])
    published_s = time.perf_counter() - loaded
    total_events = len(households) + len(offerings) + len(needs)

    process, url = start_matching(hub, work, work / "matching.log")
    try:
        wait_healthy(url, process, work / "matching.log")
        started = time.perf_counter()
        first = wait_settled(url, total_events, timeout=900)
        rebuilt_s = time.perf_counter() - started
        print(f"pool published: {total_events:,} events in {published_s:.1f} s; matching rebuilt it from the topics and ran its rounds "
              f"in {rebuilt_s:.1f} s ({first['rounds']} rounds; the last: {first['last']})")
        await publish(hub, HOUSEHOLD_STATE, [state_event(h) for h in new_households])
        wait_settled(url, total_events + len(new_households), timeout=120)

        seen: dict[str, float] = {}
        ready = asyncio.Event()
        reader = asyncio.create_task(read_proposals(hub, {n.need_id for n in new_needs}, seen, ready, timeout=len(new_needs) / args.rate + 60))
        await ready.wait()
        sent = await stream_needs(hub, new_needs, args.rate)
        await reader
        after_rounds = httpx.get(f"{url}/rounds/last", headers=STAFF, timeout=30).json()
        latencies = [seen[n] - sent[n] for n in seen]
        after = reference_seconds()
        print(f"new needs: {len(new_needs):,} at {args.rate:.0f}/s; proposed: {len(seen):,}")
        if latencies:
            print(f"need.recorded -> match.proposed: p50 {1000 * statistics.median(latencies):.0f} ms, "
                  f"p99 {1000 * percentile(latencies, 0.99):.0f} ms, max {1000 * max(latencies):.0f} ms (target p99 < 2000 ms)")
            emit("matching: new need (need.recorded) -> match.proposed, p99", 1000 * percentile(latencies, 0.99), "ms", "< 2000", "kafka_round_trip")
        print(f"rounds during the stream: {after_rounds['rounds'] - first['rounds']}; last: {after_rounds['last']}")
        print(f"matching's peak resident memory: {resident_mb(process.pid):,.0f} MB")
        emit("matching: the service's peak resident memory under new needs", resident_mb(process.pid), "MB")
        print(describe(before, after))
        print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()[0]:.1f}, {os.getloadavg()[1]:.1f}, {os.getloadavg()[2]:.1f} on {os.cpu_count()} cores")
        print("shared machine (2 cores, other workers running); the broker, the service and this bench share them")
    finally:
        process.terminate()
        process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--needs", type=int, default=100_000)
    parser.add_argument("--offerings", type=int, default=10_000)
    parser.add_argument("--units", type=int, default=60_000)
    parser.add_argument("--new", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--bootstrap", help="an existing broker (default: start an embedded one)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="matching-bench-"))
    namespace = f"bench{uuid.uuid4().hex[:6]}."
    if args.bootstrap:
        asyncio.run(run(args, HubSettings(kafka_bootstrap=args.bootstrap, kafka_idempotence=False, topic_namespace=namespace), work))
        return
    with EmbeddedBroker() as broker:
        asyncio.run(run(args, HubSettings(kafka_bootstrap=broker.bootstrap, kafka_idempotence=False, topic_namespace=namespace), work))
    print(f"service log: {work / 'matching.log'}")


if __name__ == "__main__":
    main()
