"""Database set-up: an engine from a URL (SQLite file by default, PostgreSQL in deployment) and
the service's Alembic migrations applied at start."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlmodel import create_engine

from kit.errors import StartupError


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StartupError(f"database URL {url!r} cannot be parsed; expected e.g. sqlite:///data/x.db or postgresql+psycopg://user@host/db") from None
    if parsed.drivername.startswith("sqlite"):
        return _sqlite_engine(url, parsed.database)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def migrate(engine: Engine, migrations_dir: Path) -> None:
    """Bring the schema to the newest revision; the service's migrations are the only source of tables."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise StartupError(f"database {engine.url.render_as_string(hide_password=True)} unreachable: {reason}") from None
