"""The kit's engines on real databases."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from kit.database import OtherWriters, WalCheckpoints, driver_values, insert_rows, make_engine, migrate


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


def test_other_writers_on_sqlite_sees_a_commit_by_anyone_else_and_not_ones_absorbed_as_our_own(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'peers.db'}")
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE person (key TEXT)"))
    others = OtherWriters(engine)
    try:
        assert not others.wrote()  # nothing since it started looking
        with engine.begin() as connection:  # a peer's batch
            connection.execute(sa.text("INSERT INTO person VALUES ('a')"))
        assert others.wrote()
        assert not others.wrote()  # seen once
        with engine.begin() as connection:  # our own background work
            connection.execute(sa.text("INSERT INTO person VALUES ('b')"))
        others.absorb()
        assert not others.wrote()
    finally:
        others.close()
        engine.dispose()


def test_other_writers_on_postgresql_never_hold_work_back(postgres_server: str | None) -> None:
    """PostgreSQL has no single writer to leave to a busy peer."""
    if postgres_server is None:
        pytest.skip("no PostgreSQL server answers here (set HUB_TEST_POSTGRES_URL)")
    engine = make_engine(postgres_server)
    others = OtherWriters(engine)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("CREATE TEMPORARY TABLE person (key TEXT)"))
            connection.execute(sa.text("INSERT INTO person VALUES ('a')"))
        assert not others.wrote()
    finally:
        others.close()
        engine.dispose()


def test_replicas_started_together_on_an_empty_database_migrate_it_once(database_url: str) -> None:
    """Scaled-out instances of a service start at the same moment; each migrates at start."""
    from services.intake.app import MIGRATIONS  # a service's real migrations

    engines = [make_engine(database_url) for _ in range(3)]
    failures: list[BaseException] = []
    start = threading.Barrier(len(engines))

    def start_replica(engine: sa.Engine) -> None:
        start.wait()
        try:
            migrate(engine, MIGRATIONS)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            failures.append(error)

    replicas = [threading.Thread(target=start_replica, args=(engine,)) for engine in engines]
    for replica in replicas:
        replica.start()
    for replica in replicas:
        replica.join()
    try:
        assert failures == []
        with engines[0].connect() as connection:
            assert connection.execute(sa.text("SELECT COUNT(*) FROM alembic_version")).scalar_one() == 1
    finally:
        for engine in engines:
            engine.dispose()


def test_rows_inserted_in_bulk_read_back_as_written(databases) -> None:  # type: ignore[no-untyped-def]
    """`insert_rows` (binary COPY on PostgreSQL, executemany on SQLite): every kind of column the
    services use, NULLs included."""
    from datetime import UTC, date, datetime

    from sqlmodel.sql.sqltypes import UTCDateTime

    engine = make_engine(databases.new_url())
    metadata = sa.MetaData()
    table = sa.Table(
        "sample", metadata,
        sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(64)), sa.Column("body", sa.JSON),
        sa.Column("raw", sa.LargeBinary), sa.Column("at", UTCDateTime), sa.Column("day", sa.Date),
        sa.Column("flag", sa.Boolean), sa.Column("amount", sa.BigInteger),
    )
    metadata.create_all(engine)
    rows = [
        {"id": 1, "name": "张三 A", "body": {"kind": "grant", "items": [1, "二"]}, "raw": b"\x00\xffbytes",
         "at": datetime(2026, 12, 1, 8, 30, 15, 123456, tzinfo=UTC), "day": date(2026, 2, 28), "flag": True, "amount": 2**40},
        {"id": 2, "name": None, "body": None, "raw": None, "at": None, "day": None, "flag": None, "amount": None},
    ]
    try:
        with engine.begin() as connection:
            insert_rows(connection, table, rows)
        with engine.connect() as connection:
            stored = [dict(row._mapping) for row in connection.execute(sa.select(table).order_by(table.c.id))]
        assert stored == rows
    finally:
        engine.dispose()


def test_a_driver_query_reads_what_sqlalchemy_reads(database_url: str) -> None:
    """DriverQuery skips SQLAlchemy's statement building and value processing: its rows must be what
    SQLAlchemy's own rows give, as values (pages format them) and written by orjson (the API):
    aware times in UTC, with and without a fraction; days; JSON; booleans; NULLs; with bound
    filters, LIMIT/OFFSET and literals."""
    from datetime import UTC, date, datetime, timedelta, timezone

    import orjson
    from sqlmodel.sql.sqltypes import UTCDateTime

    from kit.database import DriverQuery

    engine = make_engine(database_url)
    table = sa.Table(
        "shown", sa.MetaData(), sa.Column("id", sa.String(8), primary_key=True), sa.Column("at", UTCDateTime()),
        sa.Column("day", sa.Date), sa.Column("area", sa.JSON), sa.Column("flag", sa.Boolean), sa.Column("kind", sa.String(8)),
        sa.Column("count", sa.Integer),
    )
    table.metadata.create_all(engine)
    plus8 = timezone(timedelta(hours=8))
    rows = [
        {"id": "a", "at": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), "day": date(2026, 1, 2), "area": {"districts": ["310104"]},
         "flag": True, "kind": "open", "count": 3},
        {"id": "b", "at": datetime(2026, 1, 2, 11, 4, 5, tzinfo=plus8), "day": None, "area": [], "flag": False, "kind": "stale", "count": None},
        {"id": "c", "at": None, "day": date(2026, 12, 31), "area": None, "flag": None, "kind": "closed", "count": 0},
    ]
    try:
        with engine.begin() as connection:
            connection.execute(table.insert(), rows)
        query = (sa.select(table).where(sa.or_(table.c.kind == "open", table.c.kind == sa.bindparam("kind")))
                 .order_by(table.c.id).limit(sa.bindparam("limit")).offset(sa.bindparam("offset")))
        shown = DriverQuery(query)
        for kind, limit, offset in (("stale", 10, 0), ("closed", 1, 1), ("nothing", 5, 0)):
            parameters = {"kind": kind, "limit": limit, "offset": offset}
            with engine.connect() as connection:
                expected = [{str(k): v for k, v in row._mapping.items()} for row in connection.execute(query, parameters)]
                found = shown.rows(connection, **parameters)
                assert found == expected and orjson.dumps(found) == orjson.dumps(expected)
        with engine.connect() as connection:
            assert [row["id"] for row in shown.rows(connection, kind="stale", limit=10, offset=0)] == ["a", "b"]
    finally:
        engine.dispose()
