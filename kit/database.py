"""Database set-up: an engine from a URL (SQLite file by default, PostgreSQL in deployment) and
the service's Alembic migrations applied at start."""

from __future__ import annotations

import fcntl
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Dialect, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlmodel import create_engine
from sqlmodel.sql.sqltypes import UTCDateTime

from contracts.envelope import utc_now
from kit.errors import StartupError
from kit.logs import get_logger, loggable_error

log = get_logger(__name__)


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StartupError(f"database URL {url!r} cannot be parsed; expected e.g. sqlite:///data/x.db or postgresql+psycopg://user@host/db") from None
    if parsed.drivername.startswith("sqlite"):
        return _sqlite_engine(url, parsed.database)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return _postgresql_engine(create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=10))


def on_every_connection(engine: Engine, *statements: str) -> None:
    """Run these statements (PRAGMAs, SETs) on each connection the engine opens from now on,
    committed so that a later rollback does not undo them."""

    def _run(connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = connection.cursor()
        try:
            for statement in statements:
                cursor.execute(statement)
        finally:
            cursor.close()
        connection.commit()

    event.listen(engine, "connect", _run)


def _postgresql_engine(engine: Engine) -> Engine:
    # psycopg prepares a statement once it has run five times, and PostgreSQL may then plan it
    # once for any parameters. For `column = ANY(batch of keys)` that generic plan scans the
    # table: a lookup of 2,000 household references took 600 ms instead of 20 (measured in
    # intake). Plans made for the actual parameters keep the index.
    on_every_connection(engine, "SET plan_cache_mode = force_custom_plan")
    return engine


def sqlite_file(engine: Engine) -> str | None:
    """The path of the engine's SQLite file; None for other databases and in-memory SQLite."""
    database = engine.url.database
    return database if engine.dialect.name == "sqlite" and database and database != ":memory:" else None


class SqliteWriters:
    """One writing transaction at a time on a SQLite file, across this process's threads and the
    other processes on the same file. SQLite lets one transaction write at a time, and the others
    wait in its busy handler, which sleeps (up to 100 ms a turn) instead of queueing; here they
    queue: a thread lock, then an OS lock on a file beside the database, whose release the kernel
    hands to the next waiter at once. Re-entrant: a use case may open a unit of work inside another."""

    def __init__(self, database: str) -> None:
        self._threads = threading.RLock()
        self._file = Path(f"{database}.write-lock").open("ab")  # noqa: SIM115 (held for the process's life)
        self._depth = 0

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._threads:
            if self._depth == 0:
                fcntl.flock(self._file, fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    fcntl.flock(self._file, fcntl.LOCK_UN)


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    # 64 MB of pages rather than 2: indexes with random keys (applied event ids, person keys)
    # outgrow the default within the first hundred thousand events.
    on_every_connection(
        engine, "PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA cache_size=-65536", "PRAGMA foreign_keys=ON"
    )
    return engine


class WalCheckpoints:
    """SQLite in WAL mode copies its log back into the database file (a checkpoint, with an
    fsync) inside whichever commit takes the log past 1,000 pages. A service that commits on its
    event loop then stalls everything else the loop does while the disk is slow (seen in the alert
    latency benchmark: p99 over 800 ms while the machine wrote back a large file, 430 ms
    otherwise). Here a thread of the service's own checkpoints every `interval` seconds, and the
    engine's connections leave checkpoints to it. Other engines need none of this."""

    def __init__(self, engine: Engine, interval: float = 1.0) -> None:
        self._engine = engine
        self._interval = interval
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        database = sqlite_file(self._engine)
        if database is None:
            return
        on_every_connection(self._engine, "PRAGMA wal_autocheckpoint=0")
        self._engine.dispose()  # connections opened before (migrations) open again without them
        self._thread = threading.Thread(target=self._run, args=(database,), name="sqlite-checkpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._stopping.set()
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self, database: str) -> None:
        connection = sqlite3.connect(database, timeout=30, check_same_thread=False)
        try:
            while not self._stopping.wait(self._interval):
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as error:  # busy or locked: the next turn catches up
                    log.warning("SQLite checkpoint failed, will retry", error=loggable_error(error))
        finally:
            connection.close()


class OtherWriters:
    """Has anyone else committed to a SQLite database since we last looked? (`PRAGMA data_version`,
    on a connection of its own.) For background work that can wait: SQLite has one writer, and
    a peer process busy with a stream of batches should keep it. Seen with two intake instances
    on one file: one, idle while the group assigned partitions, indexed the other's new people
    and took a third of the CPU time; without that, two instances reached 10,664 events/s.
    Other engines have no single writer, so no one else counts there."""

    def __init__(self, engine: Engine) -> None:
        database = sqlite_file(engine)
        self._connection = sqlite3.connect(database, check_same_thread=False) if database else None
        self._seen = self._version()

    def wrote(self) -> bool:
        """True if another connection committed since the last `wrote` or `absorb`."""
        version = self._version()
        changed = self._seen is not None and version != self._seen
        self._seen = version
        return changed

    def absorb(self) -> None:
        """Our own commit just happened: do not count it as someone else's."""
        self._seen = self._version()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()

    def _version(self) -> int | None:
        if self._connection is None:
            return None
        return int(self._connection.execute("PRAGMA data_version").fetchone()[0])


# Replicas of a service started together on an empty database would each create the tables (seen:
# two intake instances on PostgreSQL, one failing on a duplicate key in pg_type). The first takes
# this lock and migrates; the others wait for it and then find the schema at its newest revision.
MIGRATION_LOCK = 0x6875625F6D6967  # "hub_mig"


@contextmanager
def _one_migration_at_a_time(engine: Engine) -> Iterator[None]:
    """SQLite: an OS lock on a file beside the database (PostgreSQL uses an advisory lock)."""
    database = sqlite_file(engine)
    if database is None:
        yield
        return
    with Path(f"{database}.migrate-lock").open("ab") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


# The kit's own tables (those every service has the same way, such as the sent outbox rows kept
# for a new broker) come from the kit's own migrations, with their own version table, after the
# service's: a service merged later gets them without a revision of its own.
KIT_MIGRATIONS = Path(__file__).parent / "migrations_kit"


def migrate(engine: Engine, migrations_dir: Path) -> None:
    """Bring the schema to the newest revision; the service's migrations (then the kit's) are the
    only source of tables."""
    try:
        with _one_migration_at_a_time(engine), engine.begin() as connection:
            if engine.dialect.name == "postgresql":  # held to the end of this transaction
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            for location, version_table in ((migrations_dir, "alembic_version"), (KIT_MIGRATIONS, "kit_alembic_version")):
                config = Config()
                config.set_main_option("script_location", str(location))
                config.attributes["connection"] = connection
                config.attributes["version_table"] = version_table
                command.upgrade(config, "head")
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise StartupError(f"database {engine.url.render_as_string(hide_password=True)} unreachable: {reason}") from None


def insert_rows(
    connection: Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    stamped: tuple[str, ...] = (),
    ignore_conflicts: bool = False,
    update: bool = False,
) -> None:
    """Insert many rows in the connection's transaction, straight through the driver: COPY on
    PostgreSQL, one executemany on SQLite. The `stamped` columns take the time of the call. A row
    whose primary key exists is skipped (`ignore_conflicts`) or takes the new values (`update`).

    For batches on hot paths: SQLAlchemy's executemany builds and processes every row in Python,
    which cost more than the insert itself (measured per row on SQLite: outbox 21 against 10
    µs, applied ids 15 against 4; psycopg's row-by-row executemany 25 against 10 for COPY)."""
    if not rows:
        return
    columns = (*rows[0], *stamped)
    values = driver_values(connection, table, tuple(rows[0]), rows)
    if stamped:
        now = driver_values(connection, table, stamped, [dict.fromkeys(stamped, utc_now())])[0]
        values = [[*value, *now] for value in values]
    if connection.dialect.name == "postgresql" and not (ignore_conflicts or update):
        copy_rows(connection, table.name, columns, values)
        return
    execute_many(connection, _insert_sql(connection.dialect, table, columns, ignore_conflicts, update), values)


def execute_many(connection: Connection, statement: str, values: Sequence[Sequence[Any]]) -> None:
    """The driver's own executemany, in the connection's transaction (positional parameters)."""
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(statement, values)
    finally:
        cursor.close()


def driver_values(
    connection: Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> list[list[Any]]:
    """The rows as the driver takes them, each value converted by its column's SQLAlchemy type,
    column by column (most columns need no conversion). JSON goes through orjson."""
    values = [[row[name] for name in columns] for row in rows]
    for index, name in enumerate(columns):
        convert = _bind_processor(table.c[name], connection.dialect)
        if convert is not None:
            for value in values:
                value[index] = convert(value[index])
    return values


def copy_rows(connection: Connection, table_name: str, columns: Sequence[str], values: Sequence[Sequence[Any]]) -> None:
    """PostgreSQL's COPY FROM STDIN in binary, in the connection's transaction. Measured on
    10,000 ledger events: 0.65 µs of the client's CPU per row, 2.3 to 2.9 in text (the server's
    share, about 12 µs per row, is the same either way)."""
    with _copy(connection, table_name, columns) as copy:
        for value in values:
            copy.write_row(value)


@contextmanager
def copying_rows(connection: Connection, table: sa.Table, columns: Sequence[str]) -> Iterator[Callable[[Mapping[str, Any]], None]]:
    """A COPY into `table` (PostgreSQL) kept open while the caller makes its rows: each row given
    to the function yielded is converted as `driver_values` does and sent as the driver's buffer
    fills, so the server inserts while the caller works on, rather than all at the end. Nothing
    else may use the connection until the block ends; an error in it abandons the COPY."""
    converters = [_bind_processor(table.c[name], connection.dialect) for name in columns]
    with _copy(connection, table.name, columns) as copy:

        def write(row: Mapping[str, Any]) -> None:
            copy.write_row([row[name] if convert is None else convert(row[name]) for name, convert in zip(columns, converters, strict=True)])

        yield write


@contextmanager
def _copy(connection: Connection, table_name: str, columns: Sequence[str]) -> Iterator[Any]:
    driver = connection.connection.driver_connection
    types = _copy_types(driver, table_name, tuple(columns))
    statement = f"COPY {table_name} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        copy.set_types(types)
        yield copy


_JSON_OID, _JSONB_OID, _TEXT_OID = 114, 3802, 25
_FIRST_USER_OID = 16384


_copy_type_cache: dict[tuple[str, tuple[str, ...]], list[int]] = {}


def _copy_types(driver: Any, table_name: str, columns: tuple[str, ...]) -> list[int]:
    """The columns' type oids, asked once per table (per use where a type is the database's own,
    such as an enum, whose oid differs between databases). JSON goes as text: its values are JSON text
    already (orjson), and `json` in binary is that text as it is."""
    found = _copy_type_cache.get((table_name, columns))
    if found is None:
        query = "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped"
        oids = dict(driver.execute(query, (table_name,)).fetchall())
        if _JSONB_OID in oids.values():
            raise TypeError(f"{table_name}: jsonb in binary COPY needs a version byte before the JSON text")
        found = [_TEXT_OID if oids[name] == _JSON_OID else oids[name] for name in columns]
        if max(found) < _FIRST_USER_OID:  # built-in types have the same oid in every database
            _copy_type_cache[(table_name, columns)] = found
    return found


def _bind_processor(column: sa.Column[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    if isinstance(column.type, sa.JSON):
        return _json_text  # SQLAlchemy's default (json.dumps) cost more than the rest of a row
    if isinstance(column.type, sa.LargeBinary):
        return None  # both drivers take bytes as they are
    convert = column.type._cached_bind_processor(dialect)
    if dialect.name == "sqlite" and isinstance(column.type, UTCDateTime):
        return _sqlite_utc_text(convert)
    if dialect.name == "sqlite" and column.type._type_affinity is sa.Date:
        return _sqlite_day_text(convert)
    return convert  # type: ignore[no-any-return]


# SQLAlchemy's own conversions of times and days for SQLite took a tenth of the ledger's work per
# event; these write the same text with datetime's C code and leave anything else to SQLAlchemy.


def _sqlite_utc_text(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """An aware time as SQLModel's UTCDateTime stores it in SQLite: '2026-01-02 03:04:05.000006', in UTC."""

    def text(value: Any) -> Any:
        if type(value) is datetime and value.tzinfo is not None:
            # A time parsed from an event has pydantic's own zero-offset tzinfo, not `UTC`: no conversion needed.
            return _utc_text(value if value.tzinfo is UTC or not value.utcoffset() else value.astimezone(UTC))
        return convert(value)

    return text


def _utc_text(value: datetime) -> str:
    """A UTC time as '2026-01-02 03:04:05.000006', written by orjson: `isoformat` formats through
    C's printf and cost two and a half times as much (a time or two in every row the ledger writes)."""
    written = orjson.dumps(value)  # b'"2026-01-02T03:04:05.000006+00:00"', the fraction only if nonzero
    text = written[1:27].decode() if value.microsecond else written[1:20].decode() + ".000000"
    return text.replace("T", " ", 1)


def _sqlite_day_text(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A day as SQLAlchemy stores it in SQLite: '2026-01-02'."""

    def text(value: Any) -> Any:
        return value.isoformat() if type(value) is date else convert(value)

    return text


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


@lru_cache(maxsize=128)
def _insert_sql(dialect: Dialect, table: sa.Table, columns: tuple[str, ...], ignore_conflicts: bool, update: bool) -> str:
    """The dialect's INSERT text with positional parameters in `columns` order."""
    clause = sa.table(table.name, *(sa.column(c) for c in columns))
    statement = postgresql.insert(clause) if dialect.name == "postgresql" else sqlite.insert(clause)
    statement = statement.values({c: sa.bindparam(c) for c in columns})
    if ignore_conflicts:
        statement = statement.on_conflict_do_nothing()
    if update:
        key = [c.name for c in table.primary_key]
        statement = statement.on_conflict_do_update(
            index_elements=key, set_={c: statement.excluded[c] for c in columns if c not in key}
        )
    # The driver's own cursor takes the values as lists: positional parameters, in `columns` order.
    positional = type(dialect)(paramstyle="format") if dialect.name == "postgresql" else dialect
    compiled = statement.compile(dialect=positional)
    assert tuple(compiled.positiontup or ()) == columns, "parameters must follow the columns"
    return str(compiled)


def among(column: sa.ColumnElement[Any], values: Collection[Any], dialect: str) -> sa.ColumnElement[bool]:
    """`column IN values` for a batch's worth of values, bound as one parameter: a JSON array on
    SQLite, an array on PostgreSQL. SQLAlchemy renders and binds each member of an IN list
    itself, which cost more than the lookup (measured per value: 4 against 2 µs on SQLite, 45
    against 10 µs on PostgreSQL)."""
    if dialect == "postgresql":
        return column == sa.any_(sa.literal(list(values), ARRAY(column.type)))
    members = sa.select(sa.column("value")).select_from(sa.func.json_each(sa.literal(orjson.dumps(list(values)).decode())))
    return column.in_(members)


_Compiled = tuple[str, dict[str, Any], tuple[str, ...] | None, list[tuple[str, Callable[[Any], Any] | None]]]


class DriverQuery:
    """A SELECT on a hot read path run through the database driver itself: compiled once per
    dialect, its rows as dicts, without SQLAlchemy building, caching and processing the
    statement and every value on each call (measured on an inbox page of 20 entries on SQLite:
    1,140 µs of CPU through SQLAlchemy Core, most of it its Python processing of stored times).

    Values come as SQLAlchemy would give them (aware datetimes in UTC, dates, parsed JSON,
    booleans), made by the driver or by C-level parsers.
    Parameters are named bind parameters of the query (`sa.bindparam`), LIMIT and OFFSET too; no
    expanding IN lists (write `or_` of comparisons)."""

    def __init__(self, query: sa.Select[Any]) -> None:
        self.query = query
        self._compiled: dict[str, _Compiled] = {}

    def rows(self, connection: Connection, **parameters: Any) -> list[dict[str, Any]]:
        sql, defaults, order, columns = self._compiled.get(connection.dialect.name) or self._compile(connection.dialect)
        given = defaults | parameters
        bound: Any = [given[name] for name in order] if order is not None else given
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, bound)
            found = cursor.fetchall()
        finally:
            cursor.close()
        names = [name for name, _ in columns]
        shown = [dict(zip(names, row)) for row in found]
        for name, convert in columns:
            if convert is not None:
                for row in shown:
                    if row[name] is not None:
                        row[name] = convert(row[name])
        return shown

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.query.compile(dialect=dialect)
        defaults = {name: value for name, value in compiled.params.items() if value is not None}  # literals in the query
        order = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup is not None else None
        columns = [(str(column.name), _read_value(column.type, dialect.name)) for column in self.query.selected_columns]  # plain str: orjson takes no subclass as a key
        self._compiled[dialect.name] = (str(compiled), defaults, order, columns)
        return self._compiled[dialect.name]


def _read_value(kind: sa.types.TypeEngine[Any], dialect: str) -> Callable[[Any], Any] | None:
    """How a driver's value of this column type becomes the Python value SQLAlchemy would give
    (None: as it comes), with C-level parsing only."""
    if isinstance(kind, (sa.DateTime, UTCDateTime)):
        return _sqlite_utc_time if dialect == "sqlite" else _utc_time
    if isinstance(kind, sa.Date) and dialect == "sqlite":
        return date.fromisoformat
    if isinstance(kind, sa.JSON):
        return orjson.loads if dialect == "sqlite" else None
    if isinstance(kind, sa.Boolean) and dialect == "sqlite":
        return bool
    return None


def _sqlite_utc_time(stored: str) -> datetime:
    """'2026-01-02 03:04:05.000006', stored in UTC (see `_utc_text`) -> an aware datetime."""
    return datetime.fromisoformat(stored).replace(tzinfo=UTC)


def _utc_time(value: datetime) -> datetime:
    return value if value.utcoffset() is not None and not value.utcoffset() else value.astimezone(UTC)
