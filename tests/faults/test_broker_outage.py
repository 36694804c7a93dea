"""The broker stopped for a while (bounded 10 s, full 60 s) and started again, while a department
keeps sending events over HTTP and organisations keep publishing offerings: all four services
keep answering HTTP, their outboxes hold what could not be sent, and once the broker is back
everything arrives where it goes (the ledger, matching's pool), once.

The embedded broker keeps what it holds in memory only: started again, it is a new, empty broker
(as `hub up` starts one after its broker died). The services notice the new cluster, create their
topics again and send again what their outboxes kept (`HUB_OUTBOX_RETENTION_SECONDS`). Over HTTP a
200 or 201 means the service has committed the record and its event: nothing is sent twice by the
callers here. (A department on Kafka would send again what the stopped broker held:
tests/e2e/test_broker_restart.py.)"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa

from bench.charity_tools import STAFF, offering_body, seed_organisations
from bench.hub_run import HubProcesses
from kit.settings import HubSettings
from kit.tansu import EmbeddedBroker, free_port
from services.intake.canonical import canonical_event_id
from tests.e2e.test_broker_restart import department_events
from tests.faults.conftest import FULL, SCALE, SENT_IN, applied_event_ids, figures

pytestmark = [pytest.mark.faults, pytest.mark.timeout(1200 if FULL else 300)]
SERVICES = ("intake", "ledger", "charity", "matching")
CHUNK = 50  # department events a request
PACE = 0.5  # seconds between rounds of requests
DEPARTMENT = {"X-API-Key": "dev-ca-key"}
# Notice a new broker within half a second, a consumer that reads nothing for 5 s is started again.
UNSENT = "SELECT count(*) FROM outbox_message"  # rows the relay has not sent yet
QUICK = {"HUB_BROKER_CHECK_SECONDS": "0.5", "HUB_CONSUMER_STALL_SECONDS": "5"}


class Traffic:
    """What the callers sent and what every answer was, by phase (before, outage, after)."""

    def __init__(self, charity_keys: list[str]) -> None:
        self.keys = charity_keys
        self.events: list[dict[str, Any]] = []
        self.offerings: list[str] = []
        self.answers: dict[str, Counter[tuple[str, int]]] = {"before": Counter(), "outage": Counter(), "after": Counter()}
        self._turn = 0

    async def one_round(self, clients: dict[str, httpx.AsyncClient], phase: str, events: list[dict[str, Any]]) -> None:
        """Each service asked what its callers ask it: intake takes events, an organisation publishes
        and lists its offerings, staff read the ledger's alerts and matching's last round, and
        everyone's /health."""
        self._turn += 1
        key = {"X-API-Key": self.keys[self._turn % len(self.keys)]}
        asked = {
            ("intake", "POST /events"): clients["intake"].post("/events", content=orjson.dumps(events), headers=DEPARTMENT),
            ("charity", "POST /offerings"): clients["charity"].post("/offerings", json=offering_body(1000 + self._turn), headers=key),
            ("charity", "GET /offerings"): clients["charity"].get("/offerings?limit=20", headers=key),
            ("ledger", "GET /review/alerts"): clients["ledger"].get("/review/alerts?limit=20", headers=STAFF),
            ("matching", "GET /rounds/last"): clients["matching"].get("/rounds/last", headers=STAFF),
            **{(name, "GET /health"): clients[name].get("/health") for name in SERVICES},
        }
        for (service, operation), answer in zip(asked, await asyncio.gather(*asked.values(), return_exceptions=True), strict=True):
            status = answer.status_code if isinstance(answer, httpx.Response) else 0  # 0: no answer at all
            self.answers[phase][(f"{service} {operation}", status)] += 1
            if operation == "POST /events" and status == 200:
                self.events.extend(events)
            if operation == "POST /offerings" and status == 201:
                self.offerings.append(answer.json()["offering_id"])  # type: ignore[union-attr]

    def failures(self, phase: str) -> dict[str, int]:
        """Answers other than what the operation gives when it works (/health may say 503)."""
        fine = {"POST /events": {200}, "POST /offerings": {201}, "GET /health": {200, 503}}
        return {
            f"{what} {status}": count for (what, status), count in self.answers[phase].items()
            if status not in fine.get(what.split(" ", 1)[1], {200})
        }


def read_sqlite(database: Path, query: str) -> list[Any]:
    """The first column of a query on a service's SQLite file (empty if it cannot be read yet)."""
    engine = sa.create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            return list(connection.execute(sa.text(query)).scalars())
    except sa.exc.SQLAlchemyError:
        return []
    finally:
        engine.dispose()


async def play(processes: HubProcesses, broker: EmbeddedBroker, outage: float) -> tuple[Traffic, dict[str, int], bool]:
    rounds_before = rounds_after = 6
    rounds_during = int(outage / PACE)
    events = department_events("CA", seed=31, count=CHUNK * (rounds_before + rounds_during + rounds_after + 10))
    SENT_IN.add_members(m for e in events if e["type"] == "household.reported" for m in e["data"]["members"])
    organisations = await seed_organisations(processes["charity"].url, 4)
    traffic = Traffic([key for _, key, _ in organisations])
    traffic.offerings.extend(offering for _, _, offering in organisations)
    clients = {name: httpx.AsyncClient(base_url=processes[name].url, timeout=30) for name in SERVICES}
    chunks = iter(range(0, len(events), CHUNK))
    held: dict[str, int] = {}
    alive = False
    try:
        for phase, rounds in (("before", rounds_before), ("outage", rounds_during), ("after", rounds_after)):
            if phase == "outage":
                broker.stop()
            if phase == "after":
                held = {name: (await asyncio.to_thread(read_sqlite, processes.work / f"{name}.db", UNSENT))[0] for name in ("intake", "charity")}
                alive = all(processes[name].alive() for name in SERVICES)
                broker.start()  # on the same port: a new, empty broker
            started = time.monotonic()
            for turn in range(rounds):
                start = next(chunks)
                await traffic.one_round(clients, phase, events[start : start + CHUNK])
                await asyncio.sleep(max(0.0, started + (turn + 1) * PACE - time.monotonic()))
    finally:
        for client in clients.values():
            await client.aclose()
    return traffic, held, alive


def test_the_hub_answers_through_a_broker_outage_and_loses_nothing(tmp_path: Path) -> None:
    broker = EmbeddedBroker(port=free_port(), log_path=tmp_path / "broker.log").start()
    hub = HubSettings(kafka_bootstrap=broker.bootstrap, kafka_idempotence=False, topic_namespace=f"bo{uuid.uuid4().hex[:6]}.")
    processes = HubProcesses(hub, tmp_path / "hub", env={name: QUICK for name in SERVICES})
    try:
        processes.start(*SERVICES)
        traffic, held, alive_during = asyncio.run(play(processes, broker, SCALE.broker_outage))
        expected = {canonical_event_id("CA", e["event_id"]) for e in traffic.events}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            applied = applied_event_ids(processes.databases["ledger"])
            offerings = set(read_sqlite(processes.work / "matching.db", "SELECT offering_id FROM matching_offering"))
            if expected <= set(applied) and set(traffic.offerings) <= offerings:
                break
            time.sleep(0.5)
        healths = {name: httpx.get(f"{processes[name].url}/health", timeout=5).json() for name in SERVICES}
    finally:
        processes.stop()
        broker.stop()
        SENT_IN.logs.update(processes.logs())

    during = traffic.answers["outage"]
    lost = len(expected - set(applied)) + len(set(traffic.offerings) - offerings)
    figures(
        "broker stopped and started again", outage_seconds=SCALE.broker_outage,
        requests_during_outage=sum(during.values()), answered=sum(n for (_, status), n in during.items() if status),
        five_xx_seen=sum(n for (what, status), n in during.items() if status >= 500 and "/health" not in what),
        health_503_during=sum(n for (what, status), n in during.items() if status == 503 and "/health" in what),
        outbox_rows_held=held, events_sent=len(traffic.events), offerings_published=len(traffic.offerings),
        events_lost=len(expected - set(applied)), offerings_lost=len(set(traffic.offerings) - offerings),
        events_doubled=len(applied) - len(set(applied)),
    )
    assert alive_during, "a service died without its broker"
    assert all(not traffic.failures(phase) for phase in traffic.answers), {p: traffic.failures(p) for p in traffic.answers}
    assert during[("intake POST /events", 200)] > 0 and during[("charity POST /offerings", 201)] > 0
    assert held["intake"] > 0 and held["charity"] > 0, f"the outboxes held nothing while the broker was away: {held}"
    assert lost == 0 and len(applied) == len(set(applied))
    assert all(h["status"] == "ok" and h["new_brokers_seen"] >= 1 for h in healths.values()), healths
