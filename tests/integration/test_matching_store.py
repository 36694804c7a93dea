"""Matching's tables on SQLite and PostgreSQL: what the pool writes reads back the same."""

from __future__ import annotations

from datetime import timedelta

from kit.database import make_engine, migrate
from services.matching.app import MIGRATIONS
from services.matching.repository import load_pool, pool_generation, save_changes
from tests.matching_events import NOW, declined, household_recorded, household_state, need_recorded, offering_published
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
    changes = pool.take_changes()
    changes.households, changes.needs = set(pool.households), set(pool.needs)
    changes.offerings, changes.proposals = set(pool.offerings), set(pool.proposals)
    with engine.begin() as connection:
        save_changes(connection, pool, changes)

    again = new_pool()
    load_pool(engine, again)
    assert again.households == pool.households
    assert again.needs == pool.needs
    assert {k: v.record for k, v in again.offerings.items()} == {k: v.record for k, v in pool.offerings.items()}
    assert again.proposals == pool.proposals
    assert again.refused == pool.refused and dict(again.held) == {k: v for k, v in pool.held.items() if v}
    assert all(p.expires_at.tzinfo is not None for p in again.proposals.values())
    assert again.expire(NOW + timedelta(hours=73)) == 1  # times compare as they did before
    assert pool_generation(engine) == pool_generation(engine)
    engine.dispose()
