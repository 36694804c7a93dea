"""End to end through the running services: a need posted to intake over HTTP -> intake's
canonical `need.recorded` -> matching -> `match.proposed` read from hub.matches.v1 (the charity
service's inbox is filled from that topic). Intake and matching run as their own processes on an
embedded broker; offerings are published as the charity service publishes them.

    .venv/bin/python -m bench.matching_end_to_end [--households 300 --needs 300 --rate 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

from bench.intake_events import EventFactory
from bench.intake_throughput import wait_healthy
from bench.machine import describe, reference_seconds
from bench.matching_incremental import offering_event, percentile, publish, read_proposals, wait_settled
from bench.results import emit
from contracts.catalogue import Category
from contracts.hub import OfferingDataV2
from contracts.topics import MATCHES, OFFERINGS
from kit.broker import ensure_topics
from kit.settings import HubSettings
from kit.tansu import EmbeddedBroker, free_port
from services.matching.model import Offering

ROOT = Path(__file__).resolve().parent.parent
CA = {"X-API-Key": "dev-ca-key"}


def start(name: str, hub: HubSettings, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "HUB_KAFKA_BOOTSTRAP": hub.kafka_bootstrap, "HUB_KAFKA_IDEMPOTENCE": "false",
        "HUB_TOPIC_NAMESPACE": hub.topic_namespace, "HUB_DATA_DIR": str(work), "HUB_LOG_FORMAT": "json",
        f"HUB_{name.upper()}_HTTP_PORT": str(port),
    }
    log = work / f"{name}.log"
    process = subprocess.Popen([sys.executable, "-m", f"services.{name}"], cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, process, log)
    return process, url


def offerings(units: int) -> list[Offering]:
    now = datetime.now(UTC) - timedelta(hours=1)
    found = []
    for i, category in enumerate(Category):
        record = OfferingDataV2(
            offering_id=f"e2e-o{i}", charity_id="c-e2e", title="offer", category=category, programme="CHARITY_GOODS", kind="goods",
            unit="parcel", quantity_total=units, quantity_remaining=units, valid_from=date.today() - timedelta(days=1),
            valid_until=date.today() + timedelta(days=300), capacity_confirmed_at=now,
        )
        found.append(Offering(record.offering_id, record, now))
    return found


async def post_needs(intake: str, needs: list[dict], rate: float) -> dict[str, float]:  # type: ignore[type-arg]
    sent: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=intake, headers=CA, timeout=30) as client:
        started = time.perf_counter()
        for i, event in enumerate(needs):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent[f"CA:{event['data']['need_id']}"] = time.perf_counter()
            response = await client.post("/events", json=event)
            response.raise_for_status()
    return sent


async def run(args: argparse.Namespace, hub: HubSettings, work: Path) -> None:
    before = reference_seconds()
    factory = EventFactory("CA", seed=13)
    households = [factory.household_reported() for _ in range(args.households)]
    needs = []
    for i in range(args.needs):
        event = factory.need_assessed(factory.households[i % len(factory.households)])
        event["data"] |= {"category": list(Category)[i % len(Category)].value, "assessed_on": date.today().isoformat()}
        needs.append(event)
    await ensure_topics(hub, [OFFERINGS, MATCHES])
    intake_process, intake = start("intake", hub, work)
    matching_process, matching = start("matching", hub, work)
    try:
        await publish(hub, OFFERINGS, [offering_event(o) for o in offerings(args.needs)], key_of=lambda e: e.data.offering_id)
        with httpx.Client(base_url=intake, headers=CA, timeout=60) as client:
            for start_at in range(0, len(households), 500):
                client.post("/events", json=households[start_at : start_at + 500]).raise_for_status()
        wait_settled(matching, len(Category) + args.households, timeout=120)
        seen: dict[str, float] = {}
        ready = asyncio.Event()
        wanted = {f"CA:{e['data']['need_id']}" for e in needs}
        reader = asyncio.create_task(read_proposals(hub, wanted, seen, ready, timeout=args.needs / args.rate + 60))
        await ready.wait()
        sent = await post_needs(intake, needs, args.rate)
        await reader
        latencies = [seen[n] - sent[n] for n in seen]
        after = reference_seconds()
        print(f"needs posted to intake: {len(needs)} at {args.rate:.0f}/s (one POST each); proposed: {len(seen)}")
        if latencies:
            print(f"POST /events (intake) -> match.proposed on hub.matches.v1: p50 {1000 * statistics.median(latencies):.0f} ms, "
                  f"p99 {1000 * percentile(latencies, 0.99):.0f} ms, max {1000 * max(latencies):.0f} ms")
            emit("matching end to end: need posted to intake -> match.proposed, p99", 1000 * percentile(latencies, 0.99), "ms", "",
                 "kafka_round_trip")
        print(describe(before, after))
        load = os.getloadavg()
        print(f"load average (1, 5, 15 min) at the end: {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f} on {os.cpu_count()} cores")
        print("shared machine (2 cores, other workers running); broker, intake, matching and this bench share them")
    finally:
        for process in (matching_process, intake_process):
            process.terminate()
            process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=300)
    parser.add_argument("--needs", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="matching-e2e-"))
    with EmbeddedBroker() as broker:
        hub = HubSettings(kafka_bootstrap=broker.bootstrap, kafka_idempotence=False, topic_namespace=f"e2e{uuid.uuid4().hex[:6]}.")
        asyncio.run(run(args, hub, work))
    print(f"service logs: {work}")


if __name__ == "__main__":
    main()
