"""The kit's engines on real databases."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from kit.database import WalCheckpoints, make_engine


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


def test_sqlite_checkpoints_run_in_their_own_thread_not_in_the_commit(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    engine = make_engine(f"sqlite:///{path}")
    checkpoints = WalCheckpoints(engine, interval=0.2)
    checkpoints.start()
    try:
        with engine.begin() as connection:
            assert connection.execute(sa.text("PRAGMA wal_autocheckpoint")).scalar_one() == 0
            connection.execute(sa.text("CREATE TABLE filler (body BLOB)"))
            connection.execute(sa.text("INSERT INTO filler VALUES (:body)"), [{"body": bytes(4096)} for _ in range(2000)])
        assert path.stat().st_size < 1 << 20  # committed to the log only: the commit did not checkpoint
        deadline = time.monotonic() + 10
        while path.stat().st_size < 8 << 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert path.stat().st_size >= 8 << 20  # the thread copied the log into the database file
    finally:
        checkpoints.stop()
        engine.dispose()
