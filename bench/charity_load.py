"""The charity service's HTTP API under load: concurrent clients, each an approved organisation
with its own key, creating offerings, listing their offerings and reading their inboxes, against
the running service (`python -m services.charity`) on SQLite or PostgreSQL.

The clients run in processes of their own and speak raw HTTP (`bench.http_load`), paced so that
all of them together aim at `--rate` requests per second (0 = as fast as they can). Inboxes hold
proposals filed beforehand through the real broker. Beside the figures, the ceiling measured in
the same run: the same clients asking the same service for /health as fast as they can (no key,
no database), i.e. what this machine's HTTP stack gives with the load generator on it too.
Printed: requests per second reached, p50 and p99 latency per operation, errors, and the
service's and the load generator's CPU per request.

    python -m bench.charity_load --clients 100 --duration 60 --rate 500
    python -m bench.charity_load --database postgresql   # a new database on the local server
    python -m bench.charity_load --database-url postgresql+psycopg://postgres@127.0.0.1/charity_load
    python -m bench.charity_load --instances 2     # two processes of the service on one database, clients spread over them

With more than one instance the verified-key cache is off (HUB_CHARITY_KEY_CACHE_SECONDS=0, so
that a revocation takes effect at once on both) unless the environment says otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

from bench.charity_tools import metric, offering_body, proposals, seed_organisations, start_charity
from bench.http_load import Load, Request, health, measure, percentile
from bench.intake_throughput import bench_hub, cpu_time
from bench.ledger_apply import new_database
from bench.ledger_tools import publish
from bench.machine import describe, reference_seconds
from bench.results import emit, emit_ceiling
from contracts.topics import MATCHES

OPERATIONS = ("create offering", "list offerings", "read inbox")


def organisation_turn(keys: tuple[str, ...], client: int, turn: int) -> Request:
    """Client n is organisation n: in turn it publishes, lists its offerings, reads its inbox."""
    key = keys[client]
    operation = OPERATIONS[turn % 3]
    if operation == "create offering":
        return Request(operation, "POST", "/offerings", key, offering_body(turn))
    if operation == "list offerings":
        return Request(operation, "GET", "/offerings?limit=20", key)
    return Request(operation, "GET", "/inbox?limit=20", key)


def measured(pids: list[int], urls: list[str], plan, clients: int, duration: float, rate: float, processes: int) -> tuple[Load, float]:  # type: ignore[no-untyped-def]
    """The clients' load and the service's CPU seconds meanwhile (all its instances)."""
    cpu = sum(cpu_time(pid) for pid in pids)
    load = measure(urls, plan, clients, duration, rate, processes)
    return load, sum(cpu_time(pid) for pid in pids) - cpu


def report(title: str, load: Load, service_cpu: float) -> None:
    requests = max(load.requests, 1)
    failed = sum(load.errors.values())
    print(f"{title}: {load.rate:,.0f} requests/s ({load.requests:,} requests, {failed} errors); "
          f"service CPU {service_cpu / requests * 1e3:.2f} ms per request, load generator {load.cpu / requests * 1e3:.2f} ms per request")
    for operation, values in sorted(load.latencies.items()):
        print(f"  {operation:<16} {len(values):>7,} requests  p50 {percentile(values, 0.5) * 1e3:7.1f} ms  "
              f"p99 {percentile(values, 0.99) * 1e3:7.1f} ms  mean {statistics.fmean(values) * 1e3 if values else 0:7.1f} ms  "
              f"errors {load.errors.get(operation, 0)}")
    if load.kinds:
        print(f"  errors by kind (HTTP status, or the client's exception): {dict(load.kinds)}")


async def main(clients: int, duration: float, rate: float, database_url: str | None, per_inbox: int, processes: int, ceiling_seconds: float,
               instances: int) -> None:
    broker, hub = bench_hub("cl")
    work = Path(tempfile.mkdtemp(prefix="charity-load-bench-"))
    url_db = database_url or f"sqlite:///{work / 'charity.db'}"
    database = url_db.split(":")[0].split("+")[0]
    try:
        if instances > 1:
            os.environ.setdefault("HUB_CHARITY_KEY_CACHE_SECONDS", "0")
        started = [start_charity(hub, url_db, work, name=f"charity-{n}") for n in range(instances)]
        pids, urls = [p.pid for p, _ in started], [u for _, u in started]
        url = urls[0]
        try:
            organisations = await seed_organisations(url, clients)
            filed = proposals(organisations, clients * per_inbox, prefix="load")
            await publish(hub, MATCHES, filed)
            deadline = time.monotonic() + 120
            while sum(metric(u, "charity_match_events_total", "proposed") for u in urls) < len(filed) and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            print(f"{clients} organisations seeded over HTTP, {len(filed):,} proposals filed in their inboxes through the broker; "
                  f"database {database}; service instances {instances}; key cache {os.environ.get('HUB_CHARITY_KEY_CACHE_SECONDS', '2 (default)')} s")
            before = reference_seconds()
            ceiling, ceiling_cpu = measured(pids, urls, health, clients, ceiling_seconds, 0, processes)
            report(f"ceiling: GET /health, {clients} clients unpaced for {ceiling_seconds:.0f} s", ceiling, ceiling_cpu)
            plan = partial(organisation_turn, tuple(key for _, key, _ in organisations))
            load, cpu = measured(pids, urls, plan, clients, duration, rate, processes)
            pace = f"aiming at {rate:,.0f} requests/s" if rate else "unpaced"
            report(f"{clients} clients for {duration:.0f} s, {pace}", load, cpu)
            print(describe(before, reference_seconds()))
            label = f", {instances} instances" if instances > 1 else ""
            emit_ceiling(f"charity_health_{database}", ceiling.rate, "requests/s", "GET /health on the same service, same clients, unpaced")
            emit(f"charity HTTP ({database}{label}): requests/s reached, {clients} clients {pace}", load.rate, "requests/s",
                 f">= {rate * 0.98:.0f}" if rate else "", f"charity_health_{database}")  # paced clients ramp up and down: ~1% short
            worst = max(percentile(v, 0.99) for v in load.latencies.values()) * 1e3
            emit(f"charity HTTP ({database}{label}): p99, slowest operation", worst, "ms", "< 50")
            emit(f"charity HTTP ({database}{label}): errors", sum(load.errors.values()), "", "<= 0")
            emit(f"charity HTTP ({database}{label}): service CPU per request", cpu / max(load.requests, 1) * 1e3, "ms")
        finally:
            for process, _ in started:
                process.terminate()
            for process, _ in started:
                process.wait(timeout=60)
    finally:
        if broker is not None:
            broker.stop()
    print(f"logs: {work}/charity*.log")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--rate", type=float, default=500.0, help="requests per second all clients together aim at; 0 = unpaced")
    parser.add_argument("--per-inbox", type=int, default=20, help="proposals filed in each inbox beforehand")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite",
                        help="sqlite: a file in a temporary folder; postgresql: a new database on 127.0.0.1:5432")
    parser.add_argument("--database-url", default=None, help="this database instead (it must exist)")
    parser.add_argument("--processes", type=int, default=0, help="load generator processes (default: one per core)")
    parser.add_argument("--instances", type=int, default=1, help="service processes on the one database (default 1)")
    parser.add_argument("--ceiling-seconds", type=float, default=10.0, help="seconds of /health load before (default 10)")
    arguments = parser.parse_args()
    if arguments.database_url is None and arguments.database == "postgresql":
        arguments.database_url = new_database("postgresql", None)
    asyncio.run(main(arguments.clients, arguments.duration, arguments.rate, arguments.database_url, arguments.per_inbox,
                     arguments.processes, arguments.ceiling_seconds, arguments.instances))
