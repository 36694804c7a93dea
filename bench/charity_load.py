"""The charity service's HTTP API under load: concurrent clients, each an approved organisation
with its own key, creating offerings, listing their offerings and reading their inboxes, against
the running service (`python -m services.charity`) on SQLite or PostgreSQL.

Each client sends one request after another, paced so that all of them together aim at `--rate`
requests per second (0 = as fast as they can). Inboxes hold proposals filed beforehand through
the real broker. Printed: requests per second reached, p50 and p99 latency per operation, errors.
The load generator runs on the same two cores as the service: its own CPU is part of the picture.

    python -m bench.charity_load --clients 100 --duration 60 --rate 500
    python -m bench.charity_load --database-url postgresql+psycopg://postgres@127.0.0.1/charity_load
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

import httpx

from bench.charity_tools import metric, offering_body, proposals, seed_organisations, start_charity
from bench.intake_throughput import cpu_time
from bench.ledger_tools import publish
from bench.machine import describe, reference_seconds
from contracts.topics import MATCHES
from kit.settings import HubSettings
from kit.tansu import EmbeddedBroker

OPERATIONS = ("create offering", "list offerings", "read inbox")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


async def client_loop(
    client: httpx.AsyncClient, key: str, n: int, interval: float, until: float,
    latencies: dict[str, list[float]], errors: dict[str, int],
) -> None:
    headers = {"X-API-Key": key}
    turn = n  # clients start on different operations
    next_at = time.perf_counter() + (interval * n / 100 if interval else 0)
    while True:
        if interval:
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            next_at += interval
        started = time.perf_counter()
        if started >= until:
            return
        operation = OPERATIONS[turn % 3]
        turn += 1
        try:
            if operation == "create offering":
                answer = await client.post("/offerings", json=offering_body(turn), headers=headers)
            elif operation == "list offerings":
                answer = await client.get("/offerings", params={"limit": 20}, headers=headers)
            else:
                answer = await client.get("/inbox", params={"limit": 20}, headers=headers)
            failure = str(answer.status_code) if answer.status_code >= 400 else None
        except httpx.HTTPError as error:
            failure = type(error).__name__
        latencies[operation].append(time.perf_counter() - started)
        if failure is not None:
            errors[operation] += 1
            errors[failure] += 1


async def main(clients: int, duration: float, rate: float, database_url: str | None, per_inbox: int) -> None:
    external = os.environ.get("HUB_KAFKA_BOOTSTRAP")
    broker = None if external else EmbeddedBroker().start()
    bootstrap = external or broker.bootstrap  # type: ignore[union-attr]
    hub = HubSettings(kafka_bootstrap=bootstrap, kafka_idempotence=bool(external), topic_namespace=f"cl{uuid.uuid4().hex[:6]}.")
    work = Path(tempfile.mkdtemp(prefix="charity-load-bench-"))
    url_db = database_url or f"sqlite:///{work / 'charity.db'}"
    try:
        process, url = start_charity(hub, url_db, work)
        try:
            organisations = await seed_organisations(url, clients)
            filed = proposals(organisations, clients * per_inbox, prefix="load")
            await publish(hub, MATCHES, filed)
            deadline = time.monotonic() + 120
            while metric(url, "charity_match_events_total", "proposed") < len(filed) and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            print(f"{clients} organisations seeded over HTTP, {len(filed):,} proposals filed in their inboxes through the broker; "
                  f"database {url_db.split(':')[0]}")
            latencies: dict[str, list[float]] = defaultdict(list)
            errors: dict[str, int] = defaultdict(int)
            interval = clients / rate if rate else 0.0
            before, cpu_before, client_before = reference_seconds(), cpu_time(process.pid), time.process_time()
            limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
            async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
                started = time.perf_counter()
                until = started + duration
                await asyncio.gather(*(client_loop(client, organisations[n][1], n, interval, until, latencies, errors) for n in range(clients)))
                elapsed = time.perf_counter() - started
            cpu = cpu_time(process.pid) - cpu_before
            client_cpu = time.process_time() - client_before
            total = sum(len(v) for v in latencies.values())
            print(f"{clients} clients for {duration:.0f} s, aiming at {rate:.0f} requests/s" if rate else f"{clients} clients for {duration:.0f} s, unpaced")
            failed = sum(errors[o] for o in OPERATIONS)
            print(f"reached {total / elapsed:,.0f} requests/s ({total:,} requests, {failed} errors); service CPU {cpu:.1f} s "
                  f"= {cpu / max(total, 1) * 1e3:.2f} ms per request; load generator CPU {client_cpu / max(total, 1) * 1e3:.2f} ms per request")
            for operation in OPERATIONS:
                values = latencies[operation]
                print(f"  {operation:<16} {len(values):>7,} requests  p50 {percentile(values, 0.5) * 1e3:7.1f} ms  "
                      f"p99 {percentile(values, 0.99) * 1e3:7.1f} ms  mean {statistics.fmean(values) * 1e3 if values else 0:7.1f} ms  "
                      f"errors {errors[operation]}")
            kinds = {k: v for k, v in errors.items() if k not in OPERATIONS}
            if kinds:
                print(f"errors by kind (HTTP status, or the client's exception): {kinds}")
            print(describe(before, reference_seconds()))
        finally:
            process.terminate()
            process.wait(timeout=60)
    finally:
        if broker is not None:
            broker.stop()
    print(f"log: {work}/charity.log")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--rate", type=float, default=500.0, help="requests per second all clients together aim at; 0 = unpaced")
    parser.add_argument("--per-inbox", type=int, default=20, help="proposals filed in each inbox beforehand")
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temporary folder")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.clients, arguments.duration, arguments.rate, arguments.database_url, arguments.per_inbox))
