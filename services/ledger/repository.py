"""The ledger's tables and the queries over them.

Tables are created only by the migrations in `migrations/versions/`; the models here describe
them for reading and writing. A batch's reads and writes are bulk (a statement or two per table,
and only the rows that changed are written) so that a batch of thousands of events is one short
transaction. Nothing here commits: the unit of work does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, col, select

from kit.database import among, copy_rows, copying_rows, driver_values, execute_many, insert_rows, on_every_connection

Row = dict[str, Any]


class LedgerHousehold(SQLModel, table=True):
    __tablename__ = "ledger_household"

    household_id: str = Field(primary_key=True, max_length=64)
    district: str | None = Field(default=None, max_length=16, index=True)
    subdistrict: str | None = Field(default=None, max_length=64)
    category: str | None = Field(default=None, max_length=32)
    colour: str | None = Field(default=None, max_length=16)
    income_fen: int | None = None
    person_count: int = 0
    profile_at: datetime | None = None
    profile_event_id: str | None = Field(default=None, max_length=128)
    revision: int = Field(default=0, description="Raised by every write to the household's rows")
    updated_at: datetime
    linked_households: str | None = Field(default=None, sa_type=sa.Text, description="',A,B,': households sharing a member with it")


class LedgerMember(SQLModel, table=True):
    __tablename__ = "ledger_member"

    household_id: str = Field(primary_key=True, max_length=64)
    person_key: str = Field(primary_key=True, max_length=64, index=True)
    display_name: str = Field(max_length=16)
    masked_resident_id: str | None = Field(default=None, max_length=32)
    birth_year: int | None = None
    sex: str | None = Field(default=None, max_length=1)
    relation: str = Field(default="other", max_length=16)


class LedgerNeed(SQLModel, table=True):
    __tablename__ = "ledger_need"

    household_id: str = Field(primary_key=True, max_length=64)  # keyed by household first (migration 0004)
    need_id: str = Field(primary_key=True, max_length=64)
    department: str = Field(max_length=16)
    category: str = Field(max_length=32)
    description: str = Field(max_length=500)
    urgency: int
    assessed_on: date
    person_key: str | None = Field(default=None, max_length=64)
    status: str = Field(default="open", max_length=8)
    event_id: str = Field(max_length=128)


class LedgerBenefit(SQLModel, table=True):
    """Each benefit as it stands now: a projection of the records in `ledger_event`."""

    __tablename__ = "ledger_benefit"

    household_id: str = Field(primary_key=True, max_length=64)
    benefit_id: str = Field(primary_key=True, max_length=80)
    programme: str = Field(max_length=32, index=True)
    source: str = Field(max_length=64)
    source_kind: str = Field(max_length=16)
    person_key: str | None = Field(default=None, max_length=64)
    amount_fen: int | None = None
    in_kind: str | None = Field(default=None, max_length=200)
    period_start: date
    period_end: date | None = None
    status: str = Field(max_length=8)
    need_id: str | None = Field(default=None, max_length=64)
    event_id: str = Field(max_length=128)
    occurred_at: datetime | None = None


class LedgerEvent(SQLModel, table=True):
    """Every event the ledger applied, append-only: a household's timeline, and for benefit
    events the record (grant or change) the domain rebuilds a benefit from. Keyed by household
    first, as every read is about households (migration 0004)."""

    __tablename__ = "ledger_event"

    household_id: str = Field(primary_key=True, max_length=64)
    event_id: str = Field(primary_key=True, max_length=128)
    type: str = Field(max_length=64)
    source: str = Field(max_length=64)
    occurred_at: datetime
    benefit_id: str | None = Field(default=None, max_length=80)
    record: dict[str, Any] = Field(sa_type=sa.JSON)


class LedgerAlert(SQLModel, table=True):
    __tablename__ = "ledger_alert"

    alert_id: str = Field(primary_key=True, max_length=64)
    household_id: str = Field(max_length=64, index=True)
    conflict_key: str = Field(sa_type=sa.Text)
    rule_id: str = Field(max_length=64)
    severity: str = Field(max_length=8)
    district: str | None = Field(default=None, max_length=16)
    programmes: str = Field(max_length=400, description="',A,B,': one LIKE finds a programme")
    description: str = Field(max_length=500)
    benefits: list[dict[str, Any]] = Field(sa_type=sa.JSON)
    status: str = Field(max_length=24, index=True)
    active: bool = Field(description="The conflict still exists in the ledger")
    raised_at: datetime
    raised_by_event: str = Field(max_length=128)
    resolved_at: datetime | None = None
    decision_note: str | None = Field(default=None, max_length=1000)
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = None
    new_evidence: bool = Field(default=False, description="Decided, then new conflicting benefits joined: back in the queue")
    updated_at: datetime | None = Field(default=None, description="When its evidence last changed")


class LedgerSharedPerson(SQLModel, table=True):
    """A person recorded in two hub households: the joint meeting's review item (persons.SharedPerson)."""

    __tablename__ = "ledger_shared_person"

    item_id: str = Field(primary_key=True, max_length=64)
    person_key: str = Field(max_length=64, index=True)
    first_household: str = Field(max_length=64)
    second_household: str = Field(max_length=64)
    status: str = Field(max_length=16, index=True)
    raised_at: datetime
    raised_by_event: str = Field(max_length=128)
    belongs_to: str | None = Field(default=None, max_length=64)
    decision_note: str | None = Field(default=None, max_length=1000)
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = None


class LedgerHouseholdAlias(SQLModel, table=True):
    """A hub household merged into another: events still keyed by it go to the survivor."""

    __tablename__ = "ledger_household_alias"

    merged_id: str = Field(primary_key=True, max_length=64)
    surviving_id: str = Field(max_length=64)
    event_id: str = Field(max_length=128)
    merged_at: datetime


class LedgerAudit(SQLModel, table=True):
    """Who viewed or decided what: rows are only ever added."""

    __tablename__ = "ledger_audit"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime
    actor: str = Field(max_length=64, index=True)
    role: str = Field(max_length=16)
    action: str = Field(max_length=32)
    target_type: str = Field(max_length=16)
    target_id: str = Field(max_length=128, index=True)
    detail: dict[str, Any] = Field(sa_type=sa.JSON)


SQLITE_CACHE_KIB = 131_072  # 128 MiB of page cache: the ledger's indexes are written at random keys


def tune_engine(engine: sa.Engine) -> None:
    """On SQLite, a page cache large enough that a big ledger's index pages stay in memory
    (SQLite's default is 2 MiB, and throughput falls tenfold once the indexes outgrow it)."""
    if engine.dialect.name == "sqlite":
        on_every_connection(engine, f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}", "PRAGMA temp_store=MEMORY")


class LedgerRepository:
    """Bulk reads and writes inside one session; the caller commits."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # -- batch reads and writes: plain dicts through SQLAlchemy Core and the driver, for speed

    def households(self, household_ids: Collection[str]) -> dict[str, Row]:
        return {row["household_id"]: row for row in self.rows(LedgerHousehold, household_ids)}

    def touch(self, household_id: str) -> None:
        """Raise the household's revision: for a write outside a batch (a reviewer's decision)."""
        table = _table(LedgerHousehold)
        self.session.execute(sa.update(table).where(table.c.household_id == household_id).values(revision=table.c.revision + 1))

    def members(self, household_ids: Collection[str]) -> dict[str, list[Row]]:
        return _grouped(self.rows(LedgerMember, household_ids))

    def needs(self, household_ids: Collection[str]) -> dict[str, list[Row]]:
        return _grouped(self.rows(LedgerNeed, household_ids))

    def alerts(self, household_ids: Collection[str]) -> dict[str, list[Row]]:
        return _grouped(self.rows(LedgerAlert, household_ids))

    def benefit_records(self, household_ids: Collection[str]) -> dict[str, list[Row]]:
        table = _table(LedgerEvent)
        query = sa.select(table.c.household_id, table.c.record).where(table.c.benefit_id.is_not(None))
        return _grouped(self.rows(LedgerEvent, household_ids, query))

    def events_applied(self, household_ids: Collection[str]) -> dict[str, list[Row]]:
        """Each event applied to these households: its id, and its record if it is a benefit's
        (a grant or a change; what the domain rebuilds the household's benefits from)."""
        table = _table(LedgerEvent)
        record = sa.case((table.c.benefit_id.is_not(None), table.c.record), else_=sa.null()).label("record")
        return _grouped(self.rows(LedgerEvent, household_ids, sa.select(table.c.household_id, table.c.event_id, record)))

    def memberships(self, person_keys: Collection[str] = (), household_ids: Collection[str] = ()) -> list[tuple[str, str]]:
        """(person key, household id) of every membership of these persons, and of every member
        of these households: the person -> households index a batch needs, in one query."""
        table = _table(LedgerMember)
        where = []
        if person_keys:
            where.append(among(table.c.person_key, sorted(person_keys), self._dialect))
        if household_ids:
            where.append(among(table.c.household_id, sorted(household_ids), self._dialect))
        if not where:
            return []
        query = sa.select(table.c.person_key, table.c.household_id).where(sa.or_(*where))
        return [(person_key, household_id) for person_key, household_id in self.session.execute(query)]

    def two_households(self, household_ids: Collection[str]) -> set[frozenset[str]]:
        """Pairs of these households that staff decided are two households."""
        table = _table(LedgerSharedPerson)
        query = sa.select(table.c.first_household, table.c.second_household).where(
            table.c.status == "two_households", among(table.c.first_household, sorted(household_ids), self._dialect))
        return {frozenset(pair) for pair in self.session.execute(query)}

    def aliases(self, household_ids: Collection[str]) -> dict[str, str]:
        """Merged household id -> the surviving one, for those of these ids that were merged."""
        if not household_ids:
            return {}
        table = _table(LedgerHouseholdAlias)
        query = sa.select(table.c.merged_id, table.c.surviving_id).where(among(table.c.merged_id, sorted(household_ids), self._dialect))
        return dict(self.session.execute(query).all())  # type: ignore[arg-type]

    def households_of_person(self, person_key: str) -> list[str]:
        """Every household the person is a member of, by id: the same answer every time."""
        query = select(LedgerMember.household_id).where(LedgerMember.person_key == person_key).order_by(col(LedgerMember.household_id))
        return list(self.session.exec(query))

    def insert_new(self, model: type[SQLModel], rows: Sequence[Row]) -> None:
        """Insert the rows whose primary key is not stored yet; the others are left as they are."""
        insert_rows(self.session.connection(), _table(model), rows, ignore_conflicts=True)

    def delete(self, model: type[SQLModel], household_ids: Collection[str]) -> None:
        if household_ids:
            table = _table(model)
            self.session.execute(sa.delete(table).where(among(table.c.household_id, sorted(household_ids), self._dialect)))

    def delete_members(self, keys: Sequence[tuple[str, str]]) -> None:
        """Members no longer in their household (a person merged into another key): (household, person)."""
        table = _table(LedgerMember)
        for household_id, person_key in keys:
            self.session.execute(sa.delete(table).where(table.c.household_id == household_id, table.c.person_key == person_key))

    def merge_households(self, merged: dict[str, str], now: datetime) -> None:
        """Merged household id -> survivor: timelines move, and every id that led to a merged one
        (or is one) leads to its survivor from now on."""
        events, aliases = _table(LedgerEvent), _table(LedgerHouseholdAlias)
        for merged_id, surviving_id in merged.items():
            # An event both households applied (a person merge recorded in each) is kept once.
            kept = sa.select(events.c.event_id).where(events.c.household_id == surviving_id).scalar_subquery()
            self.session.execute(sa.delete(events).where(events.c.household_id == merged_id, events.c.event_id.in_(kept)))
            self.session.execute(sa.update(events).where(events.c.household_id == merged_id).values(household_id=surviving_id))
            self.session.execute(sa.update(aliases).where(aliases.c.surviving_id == merged_id).values(surviving_id=surviving_id))
        rows = [{"merged_id": m, "surviving_id": s, "event_id": "", "merged_at": now} for m, s in merged.items()]
        insert_rows(self.session.connection(), aliases, rows, ignore_conflicts=True)

    def rows(self, model: type[SQLModel], household_ids: Collection[str], query: sa.Select[Any] | None = None) -> list[Row]:
        """The rows of `model` (or of `query` over it) that belong to these households."""
        if not household_ids:
            return []
        table = _table(model)
        query = (query if query is not None else sa.select(table)).where(among(table.c.household_id, sorted(household_ids), self._dialect))
        result = self.session.execute(query)
        names = list(result.keys())
        return [dict(zip(names, row, strict=True)) for row in result]

    @property
    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def save(self, model: type[SQLModel], new: Sequence[Row], changed: Sequence[Row]) -> None:
        """Insert the new rows and update the changed ones (found by primary key)."""
        self.insert(model, new)
        self.update(model, changed)

    def insert(self, model: type[SQLModel], rows: Sequence[Row]) -> None:
        insert_rows(self.session.connection(), _table(model), rows)

    @contextmanager
    def inserting(self, model: type[SQLModel], columns: Sequence[str]) -> Iterator[Callable[[Row], None]]:
        """Rows inserted as they are made: on PostgreSQL sent to the server meanwhile (one COPY
        open for the block, so the server's share overlaps the caller's work; nothing else may
        use the session until the block ends), elsewhere inserted together when the block ends."""
        table, connection = _table(model), self.session.connection()
        if connection.dialect.name == "postgresql":
            with copying_rows(connection, table, columns) as write:
                yield write
            return
        rows: list[Row] = []
        yield rows.append
        insert_rows(connection, table, rows)

    def update(self, model: type[SQLModel], rows: Sequence[Row]) -> None:
        """Set every column the rows name, in the rows found by their primary key."""
        if not rows:
            return
        table = _table(model)
        keys = [column.name for column in table.primary_key]
        columns = [name for name in rows[0] if name not in keys]
        connection = self.session.connection()
        values = driver_values(connection, table, [*columns, *keys], rows)
        if connection.dialect.name == "postgresql":
            self._update_from_staging(connection, table, keys, columns, values)
            return
        assignments = ", ".join(f"{name} = ?" for name in columns)
        where = " AND ".join(f"{name} = ?" for name in keys)
        execute_many(connection, f"UPDATE {table.name} SET {assignments} WHERE {where}", values)

    def _update_from_staging(
        self, connection: sa.Connection, table: sa.Table, keys: list[str], columns: list[str], values: list[list[Any]]
    ) -> None:
        """PostgreSQL: COPY the new values into a temporary table, then one UPDATE joins it.
        Row-by-row UPDATEs (psycopg's executemany) cost about twice as much, most of it in the client."""
        staging = f"{table.name}_changes"
        driver = connection.connection.driver_connection
        # Kept by the connection and emptied at every commit; asked for every time, because a
        # table created in a transaction that then rolled back is gone.
        driver.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS SELECT * FROM {table.name} WITH NO DATA")  # type: ignore[union-attr]
        copy_rows(connection, staging, [*columns, *keys], values)
        assignments = ", ".join(f"{name} = s.{name}" for name in columns)
        where = " AND ".join(f"t.{name} = s.{name}" for name in keys)
        driver.execute(f"UPDATE {table.name} AS t SET {assignments} FROM {staging} AS s WHERE {where}")  # type: ignore[union-attr]

    # -- single reads for HTTP

    def household(self, household_id: str) -> LedgerHousehold | None:
        return self.session.get(LedgerHousehold, household_id)

    def timeline(self, household_id: str) -> list[LedgerEvent]:
        query = (
            select(LedgerEvent)
            .where(LedgerEvent.household_id == household_id)
            .order_by(col(LedgerEvent.occurred_at), col(LedgerEvent.event_id))
        )
        return list(self.session.exec(query))

    def benefits_of(self, household_id: str) -> list[LedgerBenefit]:
        query = select(LedgerBenefit).where(LedgerBenefit.household_id == household_id).order_by(col(LedgerBenefit.benefit_id))
        return list(self.session.exec(query))

    def alert(self, alert_id: str) -> LedgerAlert | None:
        return self.session.get(LedgerAlert, alert_id)

    def find_alerts(self, filters: AlertFilter) -> list[LedgerAlert]:
        query = select(LedgerAlert)
        if filters.district:
            query = query.where(LedgerAlert.district == filters.district)
        if filters.programme:
            query = query.where(col(LedgerAlert.programmes).contains(f",{filters.programme},"))
        if filters.severity:
            query = query.where(LedgerAlert.severity == filters.severity)
        if filters.status:
            query = query.where(LedgerAlert.status == filters.status)
        if filters.raised_before:
            query = query.where(col(LedgerAlert.raised_at) <= filters.raised_before)
        if filters.raised_after:
            query = query.where(col(LedgerAlert.raised_at) >= filters.raised_after)
        query = query.order_by(col(LedgerAlert.raised_at).desc(), col(LedgerAlert.alert_id))
        return list(self.session.exec(query.offset(filters.offset).limit(filters.limit)))

    def shared_persons(self, status: str | None, limit: int, offset: int) -> list[LedgerSharedPerson]:
        query = select(LedgerSharedPerson)
        if status:
            query = query.where(LedgerSharedPerson.status == status)
        query = query.order_by(col(LedgerSharedPerson.raised_at).desc(), col(LedgerSharedPerson.item_id))
        return list(self.session.exec(query.offset(offset).limit(limit)))

    def audit_trail(self, target_id: str | None, actor: str | None, limit: int) -> list[LedgerAudit]:
        query = select(LedgerAudit)
        if target_id:
            query = query.where(LedgerAudit.target_id == target_id)
        if actor:
            query = query.where(LedgerAudit.actor == actor)
        return list(self.session.exec(query.order_by(col(LedgerAudit.id).desc()).limit(limit)))

    def add_audit(self, entry: LedgerAudit) -> None:
        self.session.add(entry)


class AlertFilter(SQLModel):
    district: str | None = None
    programme: str | None = None
    severity: str | None = None
    status: str | None = None
    raised_after: datetime | None = None
    raised_before: datetime | None = None
    limit: int = 100
    offset: int = 0


def _grouped(rows: Iterable[Row]) -> dict[str, list[Row]]:
    grouped: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        grouped[row["household_id"]].append(row)
    return grouped


def _table(model: type[SQLModel]) -> sa.Table:
    return model.__table__  # type: ignore[attr-defined,no-any-return]
