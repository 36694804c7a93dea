"""Intake throughput on a Kafka-protocol broker: department events in, canonical events out.

The events (households, needs, benefits; one in ten invalid, ten different ways) are published to
a department topic first; then the intake service starts as its own process and works through the
backlog. The figure is events handled per second, from intake's first output to its last, and
from its start (which includes migrating its database and joining its consumer group). Beside it,
the ceiling: the raw aiokafka produce and consume rate of the same payloads on the same broker.

    python -m bench.intake_throughput --events 200000
    python -m bench.intake_throughput --events 200000 --database-url postgresql+psycopg://postgres@127.0.0.1/bench

The embedded broker (Tansu) is started unless HUB_KAFKA_BOOTSTRAP names one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.intake_events import Sample, mixed_stream
from bench.machine import describe, reference_seconds
from contracts.topics import CANONICAL, REJECTIONS, department_topic
from kit.settings import HubSettings
from kit.tansu import EmbeddedBroker, free_port

ROOT = Path(__file__).resolve().parent.parent
PARTITIONS = 6


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def __str__(self) -> str:
        return f"{self.count:>8,} in {self.seconds:6.2f} s = {self.per_second:>9,.0f} /s"


async def produce(bootstrap: str, topic: str, samples: list[Sample]) -> Rate:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all", max_batch_size=256 * 1024)
    await producer.start()
    started = time.perf_counter()
    try:
        for start in range(0, len(samples), 5000):
            sends = [await producer.send(topic, s.value, key=s.ref.encode() or None) for s in samples[start : start + 5000]]
            await asyncio.gather(*sends)
    finally:
        await producer.stop()
    return Rate(len(samples), time.perf_counter() - started)


async def consume(bootstrap: str, topics: list[str], expected: int, timeout: float) -> tuple[Rate, float]:
    """Read until `expected` records arrived; returns the rate from first to last record and the
    moment (perf_counter) of the first."""
    consumer = AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest", max_partition_fetch_bytes=4 << 20
    )
    await consumer.start()
    count, first, last = 0, 0.0, 0.0
    deadline = time.perf_counter() + timeout
    try:
        while count < expected and time.perf_counter() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            got = sum(len(records) for records in batch.values())
            if got:
                last = time.perf_counter()
                first = first or last
                count += got
    finally:
        await consumer.stop()
    return Rate(count, last - first), first


async def create_topic(bootstrap: str, name: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, PARTITIONS, 1)])
    finally:
        await admin.close()


async def ceiling(bootstrap: str, namespace: str, samples: list[Sample]) -> tuple[Rate, Rate]:
    topic = f"{namespace}ceiling"
    await create_topic(bootstrap, topic)
    produced = await produce(bootstrap, topic, samples)
    consumed, _ = await consume(bootstrap, [topic], len(samples), timeout=300)
    return produced, consumed


def start_intake(
    hub: HubSettings, database_url: str, data_dir: Path, log_path: Path, log_level: str
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HUB_KAFKA_BOOTSTRAP": hub.kafka_bootstrap,
        "HUB_KAFKA_IDEMPOTENCE": str(hub.kafka_idempotence).lower(),
        "HUB_TOPIC_NAMESPACE": hub.topic_namespace,
        "HUB_DATA_DIR": str(data_dir),
        "HUB_LOG_FORMAT": "json",
        "HUB_LOG_LEVEL": log_level,
        "HUB_INTAKE_HTTP_PORT": str(port),
        "HUB_INTAKE_DATABASE_URL": database_url,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "services.intake"], cwd=ROOT, env=env, stdout=log_path.open("ab"), stderr=subprocess.STDOUT
    )
    return process, f"http://127.0.0.1:{port}"


def cpu_time(pid: int) -> float:
    """User plus system CPU seconds of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    """Until the service process answers /health; if it exits first, the end of its log says why."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the service exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url}: not healthy after {timeout:.0f} s")


async def run_intake(
    hub: HubSettings, samples: list[Sample], database_url: str | None, work: Path, instances: int, log_level: str
) -> None:
    produced = await produce(hub.kafka_bootstrap, hub.topic_name(department_topic("CA")), samples)
    print(f"published to dept topic      {produced}")
    url_db = database_url or f"sqlite:///{work / 'intake.db'}"
    started = time.perf_counter()
    running = [start_intake(hub, url_db, work, work / f"intake-{n}.log", log_level) for n in range(instances)]
    try:
        for n, (process, url) in enumerate(running):
            wait_healthy(url, process, work / f"intake-{n}.log")
        ready = time.perf_counter()
        cpu_at_ready = sum(cpu_time(process.pid) for process, _ in running)
        outputs = [hub.topic_name(CANONICAL), hub.topic_name(REJECTIONS)]
        handled, first = await consume(hub.kafka_bootstrap, outputs, len(samples), timeout=900)
        finished = first + handled.seconds
        cpu_seconds = sum(cpu_time(process.pid) for process, _ in running) - cpu_at_ready
    finally:
        for process, _ in running:
            process.terminate()
            process.wait(timeout=30)
    accepted = sum(s.expected == "accepted" for s in samples)
    print(f"intake start to healthy      {ready - started:6.2f} s  ({instances} instance(s), database "
          f"{url_db.split(':')[0]}, log level {log_level})")
    print(f"intake, first to last output {handled}   (sustained)")
    print(f"intake, from process start   {Rate(handled.count, finished - started)}")
    print(f"intake CPU time              {cpu_seconds:6.2f} s = {cpu_seconds / len(samples) * 1e6:.0f} µs per event "
          "(process CPU once healthy; steadier than wall time on a busy machine)")
    print(f"outputs: {handled.count:,} of {len(samples):,} expected ({accepted:,} canonical + {len(samples) - accepted:,} rejections)")
    print(f"intake logs: {work}/intake-*.log")


def bench_hub(namespace: str) -> tuple[EmbeddedBroker | None, HubSettings]:
    """The broker HUB_KAFKA_BOOTSTRAP names (`make bench`'s one broker), else an embedded one started
    here (the caller stops it); idempotent producers as HUB_KAFKA_IDEMPOTENCE says, by default on
    for a named broker only (the embedded Tansu has none)."""
    external = os.environ.get("HUB_KAFKA_BOOTSTRAP")
    broker = None if external else EmbeddedBroker().start()
    idempotence = os.environ.get("HUB_KAFKA_IDEMPOTENCE", "true" if external else "false") == "true"
    bootstrap = external or broker.bootstrap  # type: ignore[union-attr]
    return broker, HubSettings(kafka_bootstrap=bootstrap, kafka_idempotence=idempotence, topic_namespace=f"{namespace}{uuid.uuid4().hex[:6]}.")


async def main(events: int, database_url: str | None, skip_ceiling: bool, instances: int, log_level: str) -> None:
    broker, hub = bench_hub("bench")
    bootstrap = hub.kafka_bootstrap
    try:
        generated = time.perf_counter()
        samples = list(mixed_stream(events, invalid_every=10, department="CA", seed=1))
        size = sum(len(s.value) for s in samples) / len(samples)
        print(f"broker {'embedded Tansu ' + bootstrap if broker else 'external ' + bootstrap}; {events:,} events, "
              f"10% invalid, mean {size:.0f} bytes (generated in {time.perf_counter() - generated:.1f} s)")
        if not skip_ceiling:
            produced, consumed = await ceiling(bootstrap, hub.topic_namespace, samples)
            print(f"ceiling: aiokafka produce    {produced}")
            print(f"ceiling: aiokafka consume    {consumed}")
            print(f"ceiling: produce + consume   {Rate(events, produced.seconds + consumed.seconds)}")
        work = Path(tempfile.mkdtemp(prefix="intake-bench-"))
        before = reference_seconds()
        await run_intake(hub, samples, database_url, work, instances, log_level)
        print(describe(before, reference_seconds()))
    finally:
        if broker is not None:
            broker.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temporary folder")
    parser.add_argument("--skip-ceiling", action="store_true")
    parser.add_argument("--instances", type=int, default=1, help="intake processes in the consumer group")
    parser.add_argument("--log-level", default="INFO", help="intake's HUB_LOG_LEVEL (DEBUG adds a line per accepted event)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.events, arguments.database_url, arguments.skip_ceiling, arguments.instances, arguments.log_level))
