"""Raw ceilings, measured in the same run as the benchmarks they stand beside: what the broker and
the databases do with no service in the way.

- Kafka: aiokafka producing the given records to a fresh topic (acks=all, as the services), then
  a consumer reading them all back; and the round trip of one record (produce, acknowledged,
  read by a waiting consumer), for latencies.
- Databases: the driver's own bulk insert (one executemany on SQLite, binary COPY on PostgreSQL,
  `kit.database.insert_rows`) of rows shaped as the ledger's events into the ledger's own
  `ledger_event` table, made by its migrations, in one transaction.

    python -m bench.ceilings --events 100000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.ledger_apply import POSTGRES_SERVER, new_database
from bench.ledger_data import city_events
from bench.results import emit
from kit.database import insert_rows, make_engine, migrate
from services.ledger.app import MIGRATIONS

Record = tuple[bytes | None, bytes]


async def kafka_produce_consume(bootstrap: str, records: Sequence[Record], partitions: int = 6) -> dict[str, float]:
    topic = f"ceiling-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=256 * 1024)
    await producer.start()
    started = time.perf_counter()
    try:
        for first in range(0, len(records), 5000):
            sends = [await producer.send(topic, value, key=key) for key, value in records[first : first + 5000]]
            await asyncio.gather(*sends)
    finally:
        await producer.stop()
    produced = time.perf_counter() - started
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                                max_partition_fetch_bytes=4 << 20)
    await consumer.start()
    count, started = 0, time.perf_counter()
    try:
        while count < len(records) and time.perf_counter() - started < 300:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            count += sum(len(r) for r in batch.values())
    finally:
        await consumer.stop()
    consumed = time.perf_counter() - started
    return {"records": len(records), "produce_per_second": len(records) / produced, "consume_per_second": count / consumed,
            "produce_consume_per_second": len(records) / (produced + consumed)}


async def kafka_round_trip(bootstrap: str, probes: int = 200) -> dict[str, float]:
    """Milliseconds from sending one record to a waiting consumer holding it."""
    topic = f"ceiling-rt-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, fetch_max_wait_ms=5)
    await producer.start()
    await consumer.start()
    timings = []
    try:
        consumer.assign([TopicPartition(topic, 0)])
        await consumer.seek_to_end(TopicPartition(topic, 0))
        for n in range(probes):
            started = time.perf_counter()
            await producer.send_and_wait(topic, str(n).encode())
            got = 0
            while not got:
                got = sum(len(r) for r in (await consumer.getmany(timeout_ms=100)).values())
            timings.append((time.perf_counter() - started) * 1000)
    finally:
        await producer.stop()
        await consumer.stop()
    timings.sort()
    return {"p50_ms": timings[len(timings) // 2], "p99_ms": timings[min(len(timings) - 1, int(len(timings) * 0.99))]}


def database_bulk_insert(url: str, rows: int) -> dict[str, float]:
    """Rows a second into the ledger's `ledger_event` table (its indexes included), one transaction."""
    engine = make_engine(url)
    migrate(engine, MIGRATIONS)
    table = sa.Table("ledger_event", sa.MetaData(), autoload_with=engine)
    now = datetime.now(UTC)
    values = [
        {"household_id": event.household_id, "event_id": event.event_id, "type": event.type, "source": event.source,
         "occurred_at": now, "benefit_id": None, "record": {"data": event.data.model_dump(mode="json")}}
        for event in city_events(rows, max(1, rows // 5), seed=11)
    ]
    started = time.perf_counter()
    with engine.begin() as connection:
        insert_rows(connection, table, values)
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"rows": len(values), "rows_per_second": len(values) / seconds}


def postgres_available() -> bool:
    try:
        engine = sa.create_engine(POSTGRES_SERVER)
        with engine.connect():
            pass
        engine.dispose()
        return True
    except sa.exc.SQLAlchemyError:
        return False


def measure(bootstrap: str, records: Sequence[Record], rows: int) -> dict[str, dict[str, float]]:
    found = {
        "kafka": asyncio.run(kafka_produce_consume(bootstrap, records)),
        "kafka_round_trip": asyncio.run(kafka_round_trip(bootstrap)),
        "sqlite": database_bulk_insert(new_database("sqlite", Path(tempfile.mkdtemp(prefix="ceiling-"))), rows),
    }
    if postgres_available():
        found["postgresql"] = database_bulk_insert(new_database("postgresql", None), rows)
    return found


def main() -> None:
    from bench.intake_events import mixed_stream
    from kit.tansu import EmbeddedBroker

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    records = [(s.ref.encode() or None, s.value) for s in mixed_stream(args.events, seed=1)]
    with EmbeddedBroker() as broker:
        found = measure(broker.bootstrap, records, args.events)
    print(json.dumps(found, indent=2))
    emit("kafka produce + consume", found["kafka"]["produce_consume_per_second"], "records/s")
    emit("sqlite bulk insert", found["sqlite"]["rows_per_second"], "rows/s")
    if "postgresql" in found:
        emit("postgresql bulk insert", found["postgresql"]["rows_per_second"], "rows/s")


if __name__ == "__main__":
    main()
