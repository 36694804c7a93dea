"""The databases of intake and the ledger unreachable for a while (PostgreSQL refusing every
connection to them, and the open ones cut) while a simulated year is being played: the
consumers pause, commit no offset past what they applied, answer /health with the database
down, and resume by themselves once it is back; nothing is lost and nothing applied twice.

(A SQLite file cannot be taken away from a process that has it open: a permission change does
not reach an open file. The outage is tested on PostgreSQL.)"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.hub_run import HubProcesses
from contracts.catalogue import DEPARTMENTS
from contracts.topics import CANONICAL, department_topic
from hub.simulate import Account, Simulation
from hub.simulate_year import plan_year
from kit.broker import client_options
from tests.faults.conftest import FULL, SCALE, applied_event_ids, figures

pytestmark = [pytest.mark.faults, pytest.mark.timeout(1800 if FULL else 300)]
SEED = 21


@pytest.fixture
def postgres_databases(postgres_server: str | None) -> Iterator[tuple[str, dict[str, str]]]:
    if postgres_server is None:
        pytest.skip("no PostgreSQL server answers here (set HUB_TEST_POSTGRES_URL)")
    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    names = {service: f"outage_{service}_{uuid.uuid4().hex[:6]}" for service in ("intake", "ledger")}
    with admin.connect() as connection:
        for name in names.values():
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    urls = {s: sa.make_url(postgres_server).set(database=n).render_as_string(hide_password=False) for s, n in names.items()}
    yield postgres_server, urls
    with admin.connect() as connection:
        for name in names.values():
            connection.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def set_reachable(server: str, urls: dict[str, str], reachable: bool) -> None:
    """Unreachable: no new connection is allowed (superusers included) and the open ones are cut."""
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for url in urls.values():
            name = sa.make_url(url).database
            connection.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(reachable).lower()}'))
            if not reachable:
                connection.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"), {"name": name})
    admin.dispose()


async def committed(processes: HubProcesses) -> dict[str, int]:
    """Offsets committed by intake's and the ledger's consumer groups on the topics they read,
    summed per group (asked as a group member would, without joining the group)."""
    hub = processes.hub
    read = {"intake": [department_topic(d) for d in DEPARTMENTS], "ledger": [CANONICAL]}
    found = {}
    for group, topics in read.items():
        consumer = AIOKafkaConsumer(**client_options(hub), group_id=f"{hub.topic_namespace}{group}", enable_auto_commit=False)
        await consumer.start()
        try:
            total = 0
            for topic in topics:
                name = hub.topic_name(topic)
                await consumer.topics()
                for partition in sorted(consumer.partitions_for_topic(name) or []):
                    total += await consumer.committed(TopicPartition(name, partition)) or 0
            found[group] = total
        finally:
            await consumer.stop()
    return found


def health(url: str) -> tuple[int, str]:
    try:
        response = httpx.get(f"{url}/health", timeout=5)
        return response.status_code, response.json().get("database", "?")
    except httpx.HTTPError as error:
        return 0, type(error).__name__


def test_consumers_pause_through_a_database_outage_and_resume_by_themselves(hub_processes, postgres_databases, sent_in) -> None:  # type: ignore[no-untyped-def]
    server, urls = postgres_databases
    year = plan_year(SCALE.households // 2, SEED)
    sent_in.add_year(year)
    processes = hub_processes("outage", databases=urls).start("intake", "ledger")
    duration = SCALE.outage * 3  # the year is played over three outages' time: before, during, after
    settings = processes.simulation_settings(rate=len(year.events) / duration, settle=SCALE.outage + 60)
    settings.wait_for_ledger = False
    observed: dict[str, object] = {}

    async def scenario() -> list:  # type: ignore[type-arg]
        playing = asyncio.create_task(Simulation(settings).play(year, f"s{SEED}"))
        await asyncio.sleep(SCALE.outage)
        await asyncio.to_thread(set_reachable, server, urls, False)
        await asyncio.sleep(2)  # what was in flight when the database went fails and is not committed
        observed["offsets_at_start"] = await committed(processes)
        await asyncio.sleep(SCALE.outage - 2)
        observed["offsets_at_end"] = await committed(processes)
        observed["health_during"] = {n: await asyncio.to_thread(health, processes[n].url) for n in ("intake", "ledger")}
        observed["alive_during"] = all(processes[n].alive() for n in ("intake", "ledger"))
        await asyncio.to_thread(set_reachable, server, urls, True)
        played = await playing
        await asyncio.sleep(3)  # the last batches' offsets
        observed["offsets_after"] = await committed(processes)
        return played

    phases = asyncio.run(scenario())
    verdict = phases[0].verdict
    expected = set(Account.of(year.events, year.overlaps, f"s{SEED}").accepted)
    deadline = time.monotonic() + 120
    while not expected <= set(applied := applied_event_ids(urls["ledger"])) and time.monotonic() < deadline:
        time.sleep(0.5)
    lost = len(expected - set(applied)) + len(verdict.unaccounted)
    doubled = len(applied) - len(set(applied))
    figures("database unreachable", outage_seconds=SCALE.outage, events=len(year.events),
            offsets_committed_during_outage={g: observed["offsets_at_end"][g] - observed["offsets_at_start"][g] for g in ("intake", "ledger")},  # type: ignore[index]
            health_during=observed["health_during"], restarts=sum(processes[n].starts - 1 for n in ("intake", "ledger")),
            events_lost=lost, events_doubled=doubled)
    assert observed["alive_during"], "a service died with its database"
    assert observed["offsets_at_end"] == observed["offsets_at_start"], "offsets committed while nothing could be applied"
    after, before = observed["offsets_after"], observed["offsets_at_end"]
    assert all(after[g] > before[g] for g in ("intake", "ledger")), (before, after)  # type: ignore[index]  # they move again
    assert all(status == 503 and database == "unreachable" for status, database in observed["health_during"].values())  # type: ignore[union-attr]
    assert all(processes[n].starts == 1 and processes[n].alive() for n in ("intake", "ledger")), "resumed only by a restart"
    assert not verdict.problems, verdict.problems
    assert lost == 0 and doubled == 0
