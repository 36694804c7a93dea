"""Nothing lost, nothing doubled: a ledger killed halfway through 10,000 events and restarted ends
identical to one that ran through, and a rebuild from the canonical topic equals both."""

from __future__ import annotations

import time

import sqlalchemy as sa

from bench.ledger_data import city_events
from bench.ledger_tools import publish
from contracts.topics import CANONICAL
from kit.database import make_engine
from services.ledger.policy import load_policy
from services.ledger.rebuild import fresh_engine, ledger_snapshot, replay

EVENTS, HOUSEHOLDS = 10_000, 2_000


def applied(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text("SELECT COUNT(*) FROM ledger_event")).scalar_one()
    except sa.exc.OperationalError:
        return 0  # not migrated yet
    finally:
        engine.dispose()


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


async def test_killed_ledger_restarts_to_the_same_ledger_and_rebuild_equals_live(start_service, hub, tmp_path) -> None:
    events = list(city_events(EVENTS, HOUSEHOLDS, seed=11, conflict_share=0.05))
    killed_url, steady_url = f"sqlite:///{tmp_path / 'killed.db'}", f"sqlite:///{tmp_path / 'steady.db'}"
    await publish(hub, CANONICAL, events)

    killed = start_service("ledger", database_url=killed_url, wait=False, HUB_LEDGER_CONSUMER_GROUP="ledger-killed", HUB_LEDGER_MAX_BATCH="200")
    wait_for(lambda: applied(killed_url) >= EVENTS // 3, 60, "a third of the events")
    killed.kill()
    halfway = applied(killed_url)
    assert halfway < EVENTS, "killed too late to prove anything"
    killed.start(wait=False)
    start_service("ledger", database_url=steady_url, HUB_LEDGER_CONSUMER_GROUP="ledger-steady")
    wait_for(lambda: applied(killed_url) == EVENTS and applied(steady_url) == EVENTS, 90, "every event applied")

    rebuilt = fresh_engine(f"sqlite:///{tmp_path / 'rebuilt.db'}")
    totals = await replay(hub, rebuilt, load_policy())
    assert totals.applied == EVENTS

    live = ledger_snapshot(make_engine(steady_url))
    assert live["counts"]["ledger_alert"] > 0 and live["counts"]["ledger_benefit"] > 0
    assert ledger_snapshot(make_engine(killed_url)) == live
    assert ledger_snapshot(rebuilt) == live
