"""The kit's engines on a real PostgreSQL server."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from kit.database import make_engine


def test_postgresql_plans_every_statement_for_its_own_parameters(postgres_server: str | None) -> None:
    """psycopg prepares a statement after five runs; a generic plan for `= ANY(keys)` scans the
    whole table, so every pooled connection must ask for plans made for the actual keys, also
    after a transaction on it rolled back."""
    if postgres_server is None:
        pytest.skip("no PostgreSQL server answers here (set HUB_TEST_POSTGRES_URL)")
    engine = make_engine(postgres_server)
    try:
        with engine.connect() as connection:
            assert connection.execute(sa.text("SHOW plan_cache_mode")).scalar_one() == "force_custom_plan"
            connection.rollback()
        with engine.connect() as connection:
            assert connection.execute(sa.text("SHOW plan_cache_mode")).scalar_one() == "force_custom_plan"
    finally:
        engine.dispose()
