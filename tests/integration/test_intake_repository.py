"""Intake's tables and bulk queries on SQLite and PostgreSQL, through the handler's transaction
(no broker: the outbox rows are read back from the database)."""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from bench.intake_events import EventFactory, resident_id
from kit.database import make_engine, migrate
from kit.outbox import OutboxMessage
from kit.service import build_runtime
from services.intake.app import MIGRATIONS
from services.intake.domain import Accepted, Incoming, Pending
from services.intake.handlers import IntakeHandlers
from services.intake.metrics import IntakeMetrics
from services.intake.settings import IntakeSettings
from services.intake.validation import Limits


def handlers_on(database_url: str, hub) -> IntakeHandlers:  # type: ignore[no-untyped-def]
    runtime = build_runtime(IntakeSettings(database_url=database_url, hub=hub), MIGRATIONS, topics=[])
    migrate(runtime.engine, MIGRATIONS)
    return IntakeHandlers(runtime, IntakeMetrics(CollectorRegistry()), Limits())


def items(*events: dict[str, Any]) -> list[Incoming]:
    return [Incoming(orjson.dumps(e), "http", "CA", f"req#{i}") for i, e in enumerate(events)]


def namesake(f: EventFactory, ref: str, number: str | None) -> dict[str, Any]:
    event = f.household_reported()
    event["household_id"] = ref
    event["data"].update(district="310115", address="浦东新区张杨路1234弄5号601室")
    event["data"]["members"] = [{"resident_id": number, "name": "李明", "birth_date": "1990-05-01", "relation": "head"}]
    return event


def count(handlers: IntakeHandlers, query: str) -> int:
    with handlers._runtime.engine.connect() as connection:
        return int(connection.execute(sa.text(query)).scalar() or 0)


def outbox_types(handlers: IntakeHandlers) -> list[str]:
    with handlers._runtime.engine.connect() as connection:
        rows = connection.execute(sa.select(OutboxMessage.__table__.c.value).order_by(OutboxMessage.__table__.c.id))
        return [orjson.loads(value)["type"] for (value,) in rows]


def test_batch_hold_index_and_release_on_a_real_database(database_url: str, hub) -> None:  # type: ignore[no-untyped-def]
    handlers = handlers_on(database_url, hub)
    f, rng = EventFactory("CA", seed=9), random.Random(2)
    twins = [resident_id(rng, date(1990, 5, 1), male=True) for _ in range(2)]
    bulk = [f.household_reported() for _ in range(300)] + [namesake(f, "a", twins[0]), namesake(f, "b", twins[1])]
    bulk += [f.benefit_granted(h) for h in f.households[:300]]
    outcomes = handlers._receive(items(*bulk))
    assert all(isinstance(o, Accepted) for o in outcomes)
    again = handlers._receive(items(*bulk[:10]))
    assert [o.status for o in again] == ["duplicate"] * 10

    unclear = namesake(f, "c", None)
    grant = f.benefit_granted()
    grant["household_id"] = "c"
    held = handlers._receive(items(unclear, grant))
    assert [type(o) for o in held] == [Pending, Pending]
    assert count(handlers, "SELECT count(*) FROM intake_person WHERE NOT indexed") == 0, (
        "a batch that links by name first indexes everyone recorded by number"
    )

    reviews = handlers.open_reviews()
    assert len(reviews) == 1 and len(reviews[0]["candidates"]) == 2
    chosen = reviews[0]["candidates"][0]["person_key"]
    resolution = handlers._resolve(reviews[0]["record_id"], chosen, "reviewer-1")
    assert [o.status for o in resolution.released] == ["accepted", "accepted"]
    assert handlers.open_reviews() == []

    types = outbox_types(handlers)
    assert types.count("identity.review_requested") == 1
    assert types[-2:] == ["household.recorded", "benefit.recorded"], "released in their original order"
    assert count(handlers, "SELECT count(*) FROM processed_event") == len(bulk) + 2
    handlers._runtime.engine.dispose()


def test_a_record_without_number_links_to_someone_recorded_earlier_in_the_same_batch(database_url: str, hub) -> None:  # type: ignore[no-untyped-def]
    handlers = handlers_on(database_url, hub)
    f, rng = EventFactory("CA", seed=4), random.Random(3)
    number = resident_id(rng, date(1990, 5, 1), male=True)
    outcomes = handlers._receive(items(namesake(f, "with-number", number), namesake(f, "without-number", None)))
    assert [type(o) for o in outcomes] == [Accepted, Accepted]
    with handlers._runtime.engine.connect() as connection:
        rows = connection.execute(sa.select(OutboxMessage.__table__.c.value).order_by(OutboxMessage.__table__.c.id))
        keys = [orjson.loads(value)["data"]["members"][0]["person_key"] for (value,) in rows]
    assert keys[0] == keys[1]
    handlers._runtime.engine.dispose()


def test_people_recorded_by_number_are_indexed_when_idle_but_not_while_another_instance_writes(tmp_path: Path, hub) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'intake.db'}"
    handlers = handlers_on(url, hub)
    f = EventFactory("CA", seed=5)
    handlers._receive(items(*[f.household_reported() for _ in range(20)]))
    unindexed = "SELECT COUNT(*) FROM intake_person WHERE NOT indexed"
    waiting = count(handlers, unindexed)
    assert waiting > 0  # the hot path leaves them to the idle indexer

    peer, stop = make_engine(url), threading.Event()

    def another_instance_committing_batches() -> None:
        while not stop.is_set():
            with peer.begin() as connection:
                connection.execute(sa.text("INSERT INTO processed_event VALUES (:id, '2026-12-01 00:00:00')"), {"id": uuid.uuid4().hex})
            time.sleep(0.01)

    async def idle_for(seconds: float) -> None:
        indexer = asyncio.create_task(handlers.index_when_idle(interval=0.05))
        await asyncio.sleep(seconds)
        indexer.cancel()

    busy = threading.Thread(target=another_instance_committing_batches)
    busy.start()
    try:
        asyncio.run(idle_for(0.5))
    finally:
        stop.set()
        busy.join()
        peer.dispose()
    assert count(handlers, unindexed) == waiting  # SQLite's one writer was left to the busy peer
    asyncio.run(idle_for(0.5))
    assert count(handlers, unindexed) == 0
    handlers._runtime.engine.dispose()
