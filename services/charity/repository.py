"""The charity service's tables and the queries over them. Tables come only from the migrations;
nothing here commits (the unit of work, or the use case's session, does)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, col, func, select

from kit.database import DriverQuery, among, insert_rows


class Organisation(SQLModel, table=True):
    __tablename__ = "charity_organisation"

    organisation_id: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=32)
    credit_code: str = Field(max_length=18, unique=True)
    districts: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    contact_name: str = Field(max_length=64)  # personal data: never logged, never public
    contact_phone: str = Field(max_length=20)  # personal data: never logged, never public
    status: str = Field(default="pending", max_length=16)
    status_reason: str | None = Field(default=None, max_length=500)
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = None
    registered_at: datetime


class OrganisationKey(SQLModel, table=True):
    __tablename__ = "charity_api_key"

    key_id: str = Field(primary_key=True, max_length=16)
    organisation_id: str = Field(max_length=32, foreign_key="charity_organisation.organisation_id")
    sha256: str = Field(max_length=64, unique=True)
    label: str = Field(max_length=64)
    created_at: datetime
    revoked_at: datetime | None = None


class Offering(SQLModel, table=True):
    __tablename__ = "charity_offering"

    offering_id: str = Field(primary_key=True, max_length=32)
    organisation_id: str = Field(max_length=32, foreign_key="charity_organisation.organisation_id")
    title: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    category: str = Field(max_length=32)
    programme: str = Field(max_length=32)
    kind: str = Field(max_length=16)
    unit: str = Field(max_length=32)
    quantity_total: int
    quantity_remaining: int
    value_fen_per_unit: int | None = None
    eligibility: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    districts: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    subdistricts: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    valid_from: date
    valid_until: date
    status: str = Field(default="open", max_length=16)
    closed_reason: str | None = Field(default=None, max_length=16)
    capacity_confirmed_at: datetime
    confirm_every_days: int = 30
    created_at: datetime
    updated_at: datetime


class MatchEntry(SQLModel, table=True):
    """One proposal in an organisation's inbox. `household_id` is kept for the fulfilment event
    only: no route shows it to the organisation."""

    __tablename__ = "charity_match"

    match_id: str = Field(primary_key=True, max_length=64)
    organisation_id: str = Field(max_length=32)
    offering_id: str = Field(max_length=32)
    need_id: str = Field(max_length=64)
    household_id: str | None = Field(default=None, max_length=64)
    category: str = Field(max_length=32)
    district: str = Field(max_length=16)
    subdistrict: str | None = Field(default=None, max_length=64)
    household_size: int
    urgency: int
    quantity: int
    priority: float = 0.0
    expires_at: datetime
    state: str = Field(default="requested", max_length=16)
    reason_code: str | None = Field(default=None, max_length=32)
    reason: str | None = Field(default=None, max_length=200)
    delivered_quantity: int | None = None
    delivered_on: date | None = None
    amount_fen: int | None = None
    note: str | None = Field(default=None, max_length=500)
    correlation_id: str = Field(max_length=128)
    proposed_at: datetime
    updated_at: datetime


Row = TypeVar("Row", "Organisation", "Offering", "MatchEntry")


@dataclass(frozen=True)
class OfferingFilter:
    organisation_id: str | None = None
    category: str | None = None
    district: str | None = None
    status: str | None = None  # open | stale | closed | withdrawn; "open" alone for the public list
    closed: bool | None = None  # True: closed or withdrawn; False: open or stale
    limit: int = 100
    offset: int = 0


class CharityRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- rows taken for a change ----------------------------------------------------------------
    # A change computed from rows that another request changes meanwhile loses one of the two (two
    # deliveries each subtracting from the remaining they read). A use case that changes a row
    # takes it with these: PostgreSQL locks it (SELECT ... FOR UPDATE) until the commit; SQLite
    # has no row locks, so a write that changes nothing first takes its one write lock (writers
    # queue there, up to the busy timeout) and what is read after it is current.

    def for_change(self, model: type[Row], keys: Collection[str]) -> dict[str, Row]:
        """These rows by primary key, current and held until the commit."""
        if not keys:
            return {}
        dialect = self._hold_writes()
        key = model.__table__.primary_key.columns[0]  # type: ignore[attr-defined]
        query = select(model).where(among(key, list(keys), dialect)).order_by(key)  # one order: no deadlock between two batches
        found = self.session.exec(query.with_for_update().execution_options(populate_existing=True)).all()
        return {getattr(row, key.name): row for row in found}

    def one_for_change(self, model: type[Row], key: str) -> Row | None:
        return self.for_change(model, [key]).get(key)

    def _hold_writes(self) -> str:
        connection = self.session.connection()
        if connection.dialect.name == "sqlite":
            connection.execute(sa.update(_ORG).where(sa.false()).values(status=_ORG.c.status))
        return connection.dialect.name

    def add_offering(self, offering: Offering) -> None:
        """A new offering's row, written through the driver in the session's transaction: the ORM's
        flush of one new row cost about half of a publication's CPU (measured in process on SQLite: 936 -> about 450 µs)."""
        table = Offering.__table__  # type: ignore[attr-defined]
        insert_rows(self.session.connection(), table, [{column.name: getattr(offering, column.name) for column in table.columns}])

    # --- organisations and keys ---------------------------------------------------------------

    def organisation(self, organisation_id: str) -> Organisation | None:
        return self.session.get(Organisation, organisation_id)

    def organisation_by_code(self, credit_code: str) -> Organisation | None:
        return self.session.exec(select(Organisation).where(Organisation.credit_code == credit_code)).first()

    def organisations(self, status: str | None, limit: int, offset: int) -> Sequence[Organisation]:
        query = select(Organisation).order_by(col(Organisation.registered_at), col(Organisation.organisation_id))
        if status is not None:
            query = query.where(Organisation.status == status)
        return self.session.exec(query.offset(offset).limit(limit)).all()


    def keys_of(self, organisation_id: str) -> Sequence[OrganisationKey]:
        query = select(OrganisationKey).where(OrganisationKey.organisation_id == organisation_id)
        return self.session.exec(query.order_by(col(OrganisationKey.created_at))).all()

    def key(self, organisation_id: str, key_id: str) -> OrganisationKey | None:
        found = self.session.get(OrganisationKey, key_id)
        return found if found is not None and found.organisation_id == organisation_id else None

    # --- offerings ----------------------------------------------------------------------------

    def offering(self, offering_id: str) -> Offering | None:
        return self.session.get(Offering, offering_id)

    def offerings(self, filters: OfferingFilter) -> list[Offering]:
        query = select(Offering)
        if filters.organisation_id is not None:
            query = query.where(Offering.organisation_id == filters.organisation_id)
        if filters.category is not None:
            query = query.where(Offering.category == filters.category)
        if filters.status is not None:
            query = query.where(Offering.status == filters.status)
        if filters.closed is True:
            query = query.where(col(Offering.status).in_(["closed", "withdrawn"]))
        elif filters.closed is False:
            query = query.where(col(Offering.status).in_(["open", "stale"]))
        query = query.order_by(col(Offering.created_at).desc(), col(Offering.offering_id))
        if filters.district is None:
            return list(self.session.exec(query.offset(filters.offset).limit(filters.limit)).all())
        # A district filter matches offerings serving it or serving the whole city; the area is a
        # JSON list, so it is checked here rather than in SQL (an organisation has tens, not millions).
        found = [o for o in self.session.exec(query).all() if serves(o, filters.district)]
        return found[filters.offset : filters.offset + filters.limit]

    def offerings_among(self, offering_ids: Collection[str]) -> dict[str, Offering]:
        if not offering_ids:
            return {}
        dialect = self.session.connection().dialect.name
        query = select(Offering).where(among(col(Offering.offering_id), list(offering_ids), dialect))
        return {o.offering_id: o for o in self.session.exec(query).all()}

    def live_offerings_for_change(self) -> Sequence[Offering]:
        self._hold_writes()
        query = select(Offering).where(col(Offering.status).in_(["open", "stale"])).order_by(col(Offering.created_at), col(Offering.offering_id))
        return self.session.exec(query.with_for_update().execution_options(populate_existing=True)).all()

    def promised(self, offering_id: str) -> int:
        """Units held for matches accepted or in progress."""
        query = select(func.coalesce(func.sum(MatchEntry.quantity), 0)).where(
            MatchEntry.offering_id == offering_id, col(MatchEntry.state).in_(["accepted", "in-progress"])
        )
        return int(self.session.exec(query).one())

    # --- the inbox ----------------------------------------------------------------------------

    def match(self, match_id: str) -> MatchEntry | None:
        return self.session.get(MatchEntry, match_id)

    def matches_among(self, match_ids: Collection[str]) -> dict[str, MatchEntry]:
        if not match_ids:
            return {}
        dialect = self.session.connection().dialect.name
        query = select(MatchEntry).where(among(col(MatchEntry.match_id), list(match_ids), dialect))
        return {m.match_id: m for m in self.session.exec(query).all()}

    def overdue_proposals_for_change(self, now: datetime) -> Sequence[MatchEntry]:
        self._hold_writes()
        query = select(MatchEntry).where(MatchEntry.state == "requested", col(MatchEntry.expires_at) <= now).order_by(col(MatchEntry.match_id))
        return self.session.exec(query.with_for_update().execution_options(populate_existing=True)).all()

    def all_matches(self) -> Sequence[MatchEntry]:
        return self.session.exec(select(MatchEntry)).all()

    def all_offerings(self) -> Sequence[Offering]:
        return self.session.exec(select(Offering)).all()

    def all_organisations(self) -> Sequence[Organisation]:
        return self.session.exec(select(Organisation)).all()


def serves(offering: Offering, district: str) -> bool:
    return area_serves(offering.districts, offering.subdistricts, district)


def area_serves(districts: list[str], subdistricts: list[str], district: str) -> bool:
    """Does an area cover this district (citywide, the district, or one of its subdistricts)?"""
    if not districts and not subdistricts:
        return True
    return district in districts or any(s.startswith(district) for s in subdistricts)


# --- reads on the hot paths: straight through the driver (kit.database.DriverQuery), no ORM objects ---

_ORG = Organisation.__table__  # type: ignore[attr-defined]
_KEY = OrganisationKey.__table__  # type: ignore[attr-defined]
_OFFERING = Offering.__table__  # type: ignore[attr-defined]
_MATCH = MatchEntry.__table__  # type: ignore[attr-defined]
MATCH_SHOWN = [c for c in _MATCH.c if c.name not in ("household_id", "organisation_id", "correlation_id", "priority")]


def key_holder(connection: sa.Connection, sha256: str) -> dict[str, Any] | None:
    """{organisation_id, status, key_id} of the live key with this digest; a revoked key matches nothing."""
    found = _KEY_HOLDER.rows(connection, sha256=sha256)
    return found[0] if found else None


_KEY_HOLDER = DriverQuery(
    sa.select(_ORG.c.organisation_id, _ORG.c.status, _KEY.c.key_id)
    .join_from(_KEY, _ORG, _KEY.c.organisation_id == _ORG.c.organisation_id)
    .where(_KEY.c.sha256 == sa.bindparam("sha256"), _KEY.c.revoked_at.is_(None))
)


def inbox_rows(connection: sa.Connection, organisation_id: str | None, state: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
    """Inbox entries as shown to an organisation: never the household id."""
    query = _inbox_query(organisation_id is not None, state is not None)
    return query.rows(connection, organisation_id=organisation_id, state=state, limit=limit, offset=offset)


@lru_cache(maxsize=None)
def _inbox_query(of_organisation: bool, in_state: bool) -> DriverQuery:
    query = sa.select(*MATCH_SHOWN)
    if of_organisation:
        query = query.where(_MATCH.c.organisation_id == sa.bindparam("organisation_id"))
    if in_state:
        query = query.where(_MATCH.c.state == sa.bindparam("state"))
    query = query.order_by(_MATCH.c.proposed_at.desc(), _MATCH.c.match_id)
    return DriverQuery(query.limit(sa.bindparam("limit")).offset(sa.bindparam("offset")))


def offering_rows(connection: sa.Connection, filters: OfferingFilter) -> list[dict[str, Any]]:
    """Offerings as OfferingOut shows them (service area nested), newest first. A district is
    matched in Python (an area is JSON lists), so with one every candidate is read and paged here."""
    paged = filters.district is None
    query = _offerings_query(filters.organisation_id is not None, filters.category is not None, filters.status is not None,
                             filters.closed, paged)
    found = query.rows(connection, organisation_id=filters.organisation_id, category=filters.category, status=filters.status,
                       limit=filters.limit, offset=filters.offset)
    rows = []
    for shown in found:
        districts, subdistricts = shown.pop("districts"), shown.pop("subdistricts")
        if not paged and not area_serves(districts, subdistricts, filters.district):  # type: ignore[arg-type]
            continue
        shown["service_area"] = {"districts": districts, "subdistricts": subdistricts}
        shown["quantity_promised"] = None
        rows.append(shown)
    return rows if paged else rows[filters.offset : filters.offset + filters.limit]


@lru_cache(maxsize=None)
def _offerings_query(of_organisation: bool, in_category: bool, in_status: bool, closed: bool | None, paged: bool) -> DriverQuery:
    t = _OFFERING
    query = sa.select(t)
    if of_organisation:
        query = query.where(t.c.organisation_id == sa.bindparam("organisation_id"))
    if in_category:
        query = query.where(t.c.category == sa.bindparam("category"))
    if in_status:
        query = query.where(t.c.status == sa.bindparam("status"))
    if closed is not None:
        states = ("closed", "withdrawn") if closed else ("open", "stale")
        query = query.where(sa.or_(*(t.c.status == state for state in states)))
    query = query.order_by(t.c.created_at.desc(), t.c.offering_id)
    if paged:
        query = query.limit(sa.bindparam("limit")).offset(sa.bindparam("offset"))
    return DriverQuery(query)
