"""Inbox intake: match.proposed events for many organisations, produced to the real broker and
consumed by the running charity service (`python -m services.charity`), which files each in its
organisation's inbox. Beside it, the ceiling: the raw aiokafka consume rate of the same events
on the same broker.

The organisations (approved, one offering each) are seeded through the service's HTTP API
first; the events are then produced to hub.matches.v1 and the figure is events filed per second,
read from the service's own counter (/metrics), from the first filed to the last.

    python -m bench.charity_intake --events 100000 --organisations 2000
    python -m bench.charity_intake --database-url postgresql+psycopg://postgres@127.0.0.1/charity_bench

The embedded broker (Tansu) is started unless HUB_KAFKA_BOOTSTRAP names one.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.charity_tools import metric, proposals, seed_organisations, start_charity
from aiokafka import AIOKafkaConsumer

from bench.intake_throughput import Rate, bench_hub, cpu_time
from bench.ledger_tools import publish
from bench.machine import describe, reference_seconds
from bench.results import emit, emit_ceiling
from contracts.hub import MatchProposedV2
from contracts.topics import MATCHES, Topic
from kit.settings import HubSettings


CEILING = Topic("ceiling.matches", "the same events, for the raw consume rate")


async def raw_consume_rate(hub: HubSettings, events: list[MatchProposedV2]) -> Rate:
    """aiokafka alone reading the same events from a topic of their own: from the consumer's
    first fetch to the last record (the service's figure runs from its first filed event)."""
    await publish(hub, CEILING, events)
    consumer = AIOKafkaConsumer(hub.topic_name(CEILING), bootstrap_servers=hub.kafka_bootstrap, group_id=None,
                                auto_offset_reset="earliest", max_partition_fetch_bytes=4 << 20)
    await consumer.start()
    count, started, last = 0, time.perf_counter(), 0.0
    try:
        while count < len(events) and time.perf_counter() - started < 600:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            got = sum(len(records) for records in batch.values())
            if got:
                count, last = count + got, time.perf_counter()
    finally:
        await consumer.stop()
    return Rate(count, last - started)


async def main(count: int, organisations: int, database_url: str | None, skip_ceiling: bool) -> None:
    broker, hub = bench_hub("cb")
    work = Path(tempfile.mkdtemp(prefix="charity-intake-bench-"))
    url_db = database_url or f"sqlite:///{work / 'charity.db'}"
    try:
        process, url = start_charity(hub, url_db, work)
        try:
            seeded_at = time.perf_counter()
            seeded = await seed_organisations(url, organisations)
            print(f"seeded {len(seeded):,} approved organisations with an offering each over HTTP in {time.perf_counter() - seeded_at:.1f} s")
            events = proposals(seeded, count)
            size = sum(len(e.to_bytes()) for e in events) / len(events)
            if not skip_ceiling:
                raw = await raw_consume_rate(hub, events)
                print(f"ceiling: raw aiokafka consume of the same {count:,} events  {raw}")
                emit_ceiling("charity_raw_consume", raw.per_second, "records/s",
                             "aiokafka alone consuming the same match.proposed events")
            before = reference_seconds()
            cpu_before = cpu_time(process.pid)
            produce_started = time.perf_counter()
            producing = asyncio.create_task(publish(hub, MATCHES, events))
            first = last = 0.0
            filed = 0.0
            deadline = time.perf_counter() + 900
            while filed < count and time.perf_counter() < deadline:
                await asyncio.sleep(0.05)
                now_filed = await asyncio.to_thread(metric, url, "charity_match_events_total", "proposed")
                if now_filed > filed:
                    last = time.perf_counter()
                    first = first or last
                    filed = now_filed
            await producing
            cpu = cpu_time(process.pid) - cpu_before
            print(f"events {count:,} match.proposed for {organisations:,} organisations, mean {size:.0f} bytes; database {url_db.split(':')[0]}")
            print(f"charity service, first to last filed   {Rate(int(filed), last - first)}")
            print(f"charity service, from first produced   {Rate(int(filed), last - produce_started)}")
            print(f"charity service CPU {cpu:.1f} s = {cpu / max(filed, 1) * 1e6:.0f} µs per event")
            database = url_db.split(":")[0].split("+")[0]
            emit(f"charity inbox intake ({database}): {count:,} match.proposed for {organisations:,} organisations, first to last filed",
                 filed / (last - first) if last > first else 0.0, "events/s", ">= 10000", "" if skip_ceiling else "charity_raw_consume")
            emit(f"charity inbox intake ({database}): service CPU per event", cpu / max(filed, 1) * 1e6, "µs")
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
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--organisations", type=int, default=2_000)
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temporary folder")
    parser.add_argument("--skip-ceiling", action="store_true")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.events, arguments.organisations, arguments.database_url, arguments.skip_ceiling))
