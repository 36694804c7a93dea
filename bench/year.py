"""A Shanghai year replayed through intake and the ledger: `hub simulate`'s year (about 200,000
households, about 1.4 million events) sent as the departments send it (Kafka topics and intake's
HTTP API) to intake and the ledger running as their own processes on one broker, timed from the
first event sent until every event is accounted for (canonical, rejected or held), every seeded
overlap has its alert, and the ledger has applied everything intake published. Beside it, the
ceiling: aiokafka producing and consuming the same bytes on the same broker.

    python -m bench.year --households 200000
    python -m bench.year --households 200000 --database postgresql

The embedded broker is started unless HUB_KAFKA_BOOTSTRAP names one. Target: under 60 s of wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from rich.console import Console

from bench.ceilings import kafka_produce_consume
from bench.hub_run import HubProcesses
from bench.intake_throughput import bench_hub
from bench.ledger_apply import new_database
from bench.machine import describe, reference_seconds
from bench.results import emit, emit_ceiling
from hub.simulate import run
from hub.simulate_year import ASSISTED_HOUSEHOLDS, plan_year

TARGET_SECONDS = 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=ASSISTED_HOUSEHOLDS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--skip-ceiling", action="store_true")
    args = parser.parse_args()
    made = time.perf_counter()
    year = plan_year(args.households, args.seed)
    size = sum(len(e.value) for e in year.events) / len(year.events)
    print(f"year planned: {len(year.events):,} events for {args.households:,} households, mean {size:.0f} bytes "
          f"({time.perf_counter() - made:.1f} s, not timed)", flush=True)
    broker, hub = bench_hub("year")
    bootstrap = hub.kafka_bootstrap
    try:
        if not args.skip_ceiling:
            ceiling = asyncio.run(kafka_produce_consume(bootstrap, [(e.key.encode(), e.value) for e in year.events]))
            print(f"ceiling: aiokafka produce + consume of the same bytes: {ceiling['produce_consume_per_second']:,.0f}/s "
                  f"(produce {ceiling['produce_per_second']:,.0f}/s, consume {ceiling['consume_per_second']:,.0f}/s)", flush=True)
            emit_ceiling("year_kafka", ceiling["produce_consume_per_second"], "records/s",
                         "aiokafka produce + consume of the year's own bytes (measured by the year benchmark)")
        work = Path(tempfile.mkdtemp(prefix="bench-year-"))
        databases = {} if args.database == "sqlite" else {n: new_database("postgresql", None) for n in ("intake", "ledger")}
        processes = HubProcesses(hub, work, databases, log_level="WARNING").start("intake", "ledger")
        before = reference_seconds()
        try:
            ok, figures = run(processes.simulation_settings(settle=120, quiet=True), year, f"s{args.seed}", False, Console())
        finally:
            processes.stop()
        print(describe(before, reference_seconds()))
    finally:
        if broker is not None:
            broker.stop()
    phase = figures["phases"][0] if "phases" in figures else None
    if phase is None:
        raise SystemExit(f"the year did not run: {figures}")
    print(f"a Shanghai year ({args.households:,} households, {phase['events']:,} events, {args.database}) through intake "
          f"and the ledger: {phase['seconds']:.1f} s wall, {phase['events_per_second']:,.0f} events/s; "
          f"all accounted for: {ok}; logs in {work}", flush=True)
    # The target is for the city: 60 s for 200,000 households' year, so a rate of that year's events over 60 s.
    city_rate = len(year.events) * ASSISTED_HOUSEHOLDS / args.households / TARGET_SECONDS
    full = args.households == ASSISTED_HOUSEHOLDS
    emit(f"a year of {args.households:,} households ({phase['events']:,} events) through intake and the ledger ({args.database}), wall",
         phase["seconds"], "s", target=f"< {TARGET_SECONDS}" if full else "")
    emit(f"a year through intake and the ledger ({args.database}), events accounted for a second", phase["events_per_second"],
         "events/s", target=f">= {city_rate:.0f}", ceiling="year_kafka")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
