"""Apply throughput: canonical events into the ledger, in batches, on SQLite and PostgreSQL.

Each batch goes through what the service's handler does with records from Kafka: parse the bytes,
apply in one unit of work (state, applied ids, outbox rows), commit. Publishing the outbox to the
broker is not part of this figure (it is measured with the service in `ledger_latency`); here the
outbox rows are deleted after each batch, as the relay would.

    python -m bench.ledger_apply --events 1000000 --households 200000 --database sqlite
    python -m bench.ledger_apply --events 100000 --households 20000 --database postgresql
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from bench.ledger_data import city_events
from bench.machine import describe, reference_seconds
from contracts.hub import HUB_EVENTS
from kit.database import WalCheckpoints, make_engine, migrate
from kit.outbox import OutboxMessage, UnitOfWork
from kit.service import BatchSurvivors, collect_less_often
from kit.settings import HubSettings
from services.ledger.app import MIGRATIONS
from services.ledger.batch import HouseholdCache, apply_batch
from services.ledger.policy import load_policy
from services.ledger.repository import tune_engine
from services.ledger.settings import LedgerSettings

POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def new_database(kind: str, keep: Path | None) -> str:
    if kind == "sqlite":
        folder = keep or Path(tempfile.mkdtemp(prefix="ledger-bench-"))
        return f"sqlite:///{folder / f'ledger-{uuid.uuid4().hex[:6]}.db'}"
    name = f"ledger_bench_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return sa.make_url(POSTGRES_SERVER).set(database=name).render_as_string(hide_password=False)


def run(url: str, events: int, households: int, batch_size: int, cached: int) -> dict[str, float]:
    engine = make_engine(url)
    tune_engine(engine)
    migrate(engine, MIGRATIONS)
    checkpoints = WalCheckpoints(engine)  # SQLite: checkpoints in a thread, as in the service
    checkpoints.start()
    policy = load_policy()
    hub = HubSettings()
    records = [event.to_bytes() for event in city_events(events, households)]
    totals = {"applied": 0, "alerts_raised": 0, "alerts_closed": 0}
    cache = HouseholdCache(cached)
    collect_less_often()  # as a service process does once started
    survivors = BatchSurvivors()  # and as the ledger's handler does around each batch
    refresh_statistics = _autovacuum_off(engine)
    started, cpu_started = time.perf_counter(), time.process_time()
    for first in range(0, len(records), batch_size):
        if refresh_statistics and first % (batch_size * 50) == batch_size * 5:
            _analyze(engine)
        with survivors.batch():
            batch = [HUB_EVENTS.parse(value) for value in records[first : first + batch_size]]
            with UnitOfWork(engine, hub) as unit:
                outcome = apply_batch(unit, batch, policy, cache=cache)
                unit.commit()
        with engine.begin() as connection:
            connection.execute(sa.delete(OutboxMessage))
        for name in totals:
            totals[name] += getattr(outcome, name)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    checkpoints.stop()
    engine.dispose()
    return {"events": len(records), "seconds": elapsed, "events_per_second": len(records) / elapsed,
            "cpu_us_per_event": cpu / len(records) * 1e6, **totals}


def run_service(url: str, events: int, households: int) -> dict[str, float]:
    """The same events through the real path: published to the canonical topic of an embedded
    broker first, then consumed by the ledger service (its outbox relay publishing states and
    alerts as it goes); timed from the service answering /health to the last event applied."""
    import asyncio
    import tempfile as _tempfile

    from bench.ledger_latency import resident_mb, start_ledger
    from bench.ledger_tools import publish
    from contracts.topics import CANONICAL
    from kit.tansu import EmbeddedBroker, free_port

    engine = make_engine(url)
    with EmbeddedBroker() as broker:
        hub = HubSettings(kafka_bootstrap=broker.bootstrap, kafka_idempotence=False, topic_namespace="bench.")
        asyncio.run(publish(hub, CANONICAL, city_events(events, households)))
        log = Path(_tempfile.mkdtemp(prefix="ledger-apply-")) / "ledger.log"
        ledger = start_ledger(hub, url, free_port(), log)
        started = time.perf_counter()
        try:
            while _applied(engine) < events:
                if ledger.poll() is not None:
                    raise SystemExit(f"ledger exited: {log.read_text()[-2000:]}")
                time.sleep(0.5)
            elapsed = time.perf_counter() - started
            memory = resident_mb(ledger.pid)
        finally:
            ledger.terminate()
            ledger.wait(timeout=60)
    engine.dispose()
    return {"events": events, "seconds": elapsed, "events_per_second": events / elapsed, "resident_mb": memory,
            "applied": events, "alerts_raised": 0, "alerts_closed": 0}


def _applied(engine: sa.Engine) -> int:
    try:
        with engine.connect() as connection:
            return int(connection.execute(sa.text("SELECT COUNT(*) FROM ledger_event")).scalar_one())
    except sa.exc.SQLAlchemyError:
        return 0


def _autovacuum_off(engine: sa.Engine) -> bool:
    """A PostgreSQL server with autovacuum off never gathers planner statistics by itself, and
    then plans every IN (...) lookup as a full scan; this machine's local server is one."""
    if engine.dialect.name != "postgresql":
        return False
    with engine.connect() as connection:
        return connection.execute(sa.text("SHOW autovacuum")).scalar_one() == "off"


def _analyze(engine: sa.Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("ANALYZE"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--households", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=LedgerSettings().max_batch, help="events per transaction (the service's most)")
    parser.add_argument("--cache", type=int, default=LedgerSettings().cache_households, help="households kept in memory (0: none)")
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--url", help="Use this database URL instead of a fresh one (it must be empty)")
    parser.add_argument("--service", action="store_true", help="Through Kafka and the ledger service process")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    for kind in kinds:
        url = args.url or new_database(kind, None)
        if args.service:
            figures = run_service(url, args.events, args.households)
            how = f"{kind}, through Kafka and the service"
            memory = f", service resident memory {figures['resident_mb']:.0f} MB"
        else:
            before = reference_seconds()
            figures = run(url, args.events, args.households, args.batch, args.cache)
            print(describe(before, reference_seconds()), flush=True)
            how = f"{kind}, in process, batch {args.batch}, cache {args.cache:,}"
            memory = (f", {figures['cpu_us_per_event']:.0f} µs CPU per event in this process, "
                      f"alerts raised {figures['alerts_raised']:,}, closed {figures['alerts_closed']:,}")
        print(
            f"ledger apply [{how}] {figures['events']:,} events / {args.households:,} households: "
            f"{figures['seconds']:.1f} s, {figures['events_per_second']:,.0f} events/s{memory} "
            f"-> {sa.make_url(url).render_as_string(hide_password=True)}",
            flush=True,
        )


if __name__ == "__main__":
    main()
