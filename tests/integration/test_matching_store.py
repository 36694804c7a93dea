"""Matching's tables on SQLite and PostgreSQL: what the pool writes reads back the same."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from contracts.envelope import Event
from kit.database import make_engine, migrate
from kit.service import build_runtime
from kit.settings import HubSettings
from services.matching import handlers
from services.matching.app import MIGRATIONS
from services.matching.handlers import Matching, MatchingMetrics
from services.matching.model import Delivery
from services.matching.pool import Pool
from services.matching.priority import load_weights
from services.matching.repository import load_pool, pool_generation, save_changes
from services.matching.settings import MatchingSettings
from tests.matching_events import NOW, accepted, declined, fulfilled, household_recorded, household_state, need_recorded, offering_changed, offering_published
from tests.migrations import migrate_to
from tests.unit.matching.test_matching_deliveries import LATER, three_proposed
from tests.unit.matching.test_matching_loop import feed, new_pool, run_round


def test_the_pool_reads_back_as_it_was_written(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine, MIGRATIONS)
    pool = new_pool()
    feed(pool, household_recorded("h1", birth_years=(1950, 2015)), household_state("h1", programmes=("MEDICAL",), received={"food": 2}),
         need_recorded("CA:n1", "h1"), need_recorded("CA:n2", "h1", category="education"),
         offering_published("o1", units=3, eligibility={"min_age": 60}, area={"districts": ["310104"]}), offering_published("o2", units=1))
    (first,) = [p for p in run_round(pool) if p.data.need_id == "CA:n1"]
    feed(pool, declined("h1", first.data.match_id, first.data.offering_id, "CA:n1"))
    run_round(pool)
    again = _saved_and_loaded(engine, pool)
    assert again.households == pool.households
    assert again.needs == pool.needs
    assert {k: v.record for k, v in again.offerings.items()} == {k: v.record for k, v in pool.offerings.items()}
    assert again.proposals == pool.proposals
    assert again.refused == pool.refused and dict(again.held) == {k: v for k, v in pool.held.items() if v}
    assert all(p.expires_at.tzinfo is not None for p in again.proposals.values())
    assert again.expire(NOW + timedelta(hours=73)) == 1  # times compare as they did before
    assert pool_generation(engine) == pool_generation(engine)
    engine.dispose()


def _saved_and_loaded(engine: sa.Engine, pool: Pool) -> Pool:
    changes = pool.take_changes()
    changes.households, changes.needs = set(pool.households), set(pool.needs)
    changes.offerings, changes.proposals = set(pool.offerings), set(pool.proposals)
    with engine.begin() as connection:
        save_changes(connection, pool, changes)
    again = new_pool()
    load_pool(engine, again)
    return again


def test_deliveries_the_ledger_does_not_show_yet_and_units_delivered_read_back(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine, MIGRATIONS)
    pool, proposals = three_proposed()
    feed(pool, fulfilled("h1", proposals[1].data.match_id, "o1", "CA:n1", at=LATER - timedelta(minutes=1)),
         offering_changed("o1", units=3, remaining=1, at=LATER))  # the record counts h0's delivery too, not read yet
    again = _saved_and_loaded(engine, pool)
    assert again.households["h1"].deliveries == [Delivery("CA:n1", "CHARITY_FOOD", NOW.date())]
    assert again.households == pool.households and again.proposals == pool.proposals
    assert again.delivered == pool.delivered == {"o1": 1}
    assert again.free_units("o1") == pool.free_units("o1") == 0
    engine.dispose()


def test_migration_0003_adds_deliveries_and_goes_back(databases) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(databases.new_url("migrated"))
    migrate_to(engine, MIGRATIONS, "0002")
    pool = new_pool()
    feed(pool, household_state("h1", programmes=("MEDICAL",)), offering_published("o1", units=3))
    with engine.begin() as connection:  # rows as revision 0002 wrote them
        connection.execute(sa.text("INSERT INTO matching_household VALUES ('h1', '310104', NULL, 'dibao', NULL, '[]', 1, '[\"MEDICAL\"]', '{}')"))
        connection.execute(sa.text("INSERT INTO matching_offering VALUES ('o1', :record, :at)"),
                           {"record": pool.offerings["o1"].record.model_dump_json(), "at": NOW})
    migrate(engine, MIGRATIONS)
    again = new_pool()
    load_pool(engine, again)
    assert (again.households["h1"].deliveries, again.households["h1"].programmes) == ([], ["MEDICAL"])
    assert again.free_units("o1") == 3
    migrate_to(engine, MIGRATIONS, "0002", down=True)
    columns = {t: {c["name"] for c in sa.inspect(engine).get_columns(t)} for t in ("matching_household", "matching_offering")}
    assert "deliveries" not in columns["matching_household"] and "delivered_unread" not in columns["matching_offering"]
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT household_id, size FROM matching_household")).all() == [("h1", 1)]
    engine.dispose()


def test_migration_0004_keeps_a_fulfilments_units_on_its_proposal_and_goes_back(databases) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(databases.new_url("migrated4"))
    migrate_to(engine, MIGRATIONS, "0003")
    pool, proposals = three_proposed()
    feed(pool, fulfilled("h0", proposals[0].data.match_id, "o1", "CA:n0", at=LATER))
    p0 = pool.proposals[proposals[0].data.match_id]
    with engine.begin() as connection:  # rows as revision 0003 wrote them: an unread count on the offering
        connection.execute(sa.text("INSERT INTO matching_offering VALUES ('o1', :record, :at, 1)"),
                           {"record": pool.offerings["o1"].record.model_dump_json(), "at": NOW})
        for p in pool.proposals.values():
            connection.execute(sa.text(
                "INSERT INTO matching_proposal VALUES (:match_id, :need_id, :offering_id, :household_id, :charity_id, :state,"
                " :priority, :quantity, :proposed_at, :expires_at, :closed_at, :reason_code, :reason)"), vars(p) | {"delivered": None})
    migrate(engine, MIGRATIONS)
    again = new_pool()
    load_pool(engine, again)
    assert again.proposals[p0.match_id].delivered == 1 and again.delivered == {"o1": 1}
    assert again.held == {"o1": 2} and again.free_units("o1") == 0
    migrate_to(engine, MIGRATIONS, "0003", down=True)
    columns = {t: {c["name"] for c in sa.inspect(engine).get_columns(t)} for t in ("matching_offering", "matching_proposal")}
    assert "delivered_unread" in columns["matching_offering"] and "delivered" not in columns["matching_proposal"]
    engine.dispose()



def test_a_batch_read_while_the_pool_loads_at_start_waits_for_it(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The broker's consumer starts before matching has read its pool: a batch it hands over
    meanwhile is applied to the pool read from the database, not to an empty one (where an answer
    was skipped as unknown and recorded applied: seen after SIGKILLs in the fault suite). Nor does
    it say it has caught up (GET /rounds/last) before the pool is read."""
    engine = make_engine(database_url)
    migrate(engine, MIGRATIONS)
    pool = new_pool()
    feed(pool, household_recorded("h1"), need_recorded("CA:n1", "h1"), offering_published("o1", units=3))
    (proposal,) = run_round(pool)
    _saved_and_loaded(engine, pool)
    engine.dispose()

    def slow_load(engine: sa.Engine, into: Pool) -> None:
        time.sleep(0.5)
        load_pool(engine, into)

    monkeypatch.setattr(handlers, "load_pool", slow_load)
    answer = accepted("h1", proposal.data.match_id, "o1", "CA:n1")
    assert asyncio.run(_answered_while_starting(database_url, answer)) == ("accepted", False, True)


class _NoJobs:
    async def warm_up(self) -> None:
        return None

    async def stop(self) -> None:
        return None


async def _answered_while_starting(database_url: str, answer: Event) -> tuple[str, bool, bool]:
    settings = MatchingSettings(database_url=database_url, hub=HubSettings())
    runtime = build_runtime(settings, MIGRATIONS, topics=[])
    matching = Matching(runtime, settings, load_weights(), _NoJobs(), MatchingMetrics.on(CollectorRegistry()), [], "g")  # type: ignore[arg-type]

    async def no_backlog() -> dict[tuple[str, int], int]:
        return {}

    matching._end_offsets = no_backlog  # type: ignore[method-assign]
    starting = asyncio.create_task(matching.start())
    await asyncio.sleep(0.1)  # the pool is being read
    caught_up_while_loading = matching.caught_up()
    record = SimpleNamespace(topic="matches", partition=0, offset=0, key=None, value=answer.to_bytes(), timestamp=0, headers=())
    await matching.on_events(SimpleNamespace(raw_message=(record,)))  # type: ignore[arg-type]
    await starting
    caught_up_after = matching.caught_up()
    await matching.stop()
    runtime.engine.dispose()
    return matching.pool.proposals[answer.data.match_id].state, caught_up_while_loading, caught_up_after  # type: ignore[attr-defined]
