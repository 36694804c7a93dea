"""Matching's tables and the queries over them. Tables come only from migrations/versions; the
models here describe them. Nothing here commits: the unit of work does."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import JSON, Column, Field, SQLModel

from contracts.hub import OfferingDataV2
from kit.database import insert_rows
from services.matching.model import Delivery, Household, Need, Offering, Proposal
from services.matching.pool import Changes, Pool


class MatchingHousehold(SQLModel, table=True):
    __tablename__ = "matching_household"

    household_id: str = Field(primary_key=True, max_length=64)
    district: str | None = Field(default=None, max_length=16)
    subdistrict: str | None = Field(default=None, max_length=64)
    category: str | None = Field(default=None, max_length=32)
    colour: str | None = Field(default=None, max_length=16)
    birth_years: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    size: int = 0
    programmes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    received: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    deliveries: list[dict[str, str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class MatchingNeed(SQLModel, table=True):
    __tablename__ = "matching_need"

    need_id: str = Field(primary_key=True, max_length=64)
    household_id: str = Field(max_length=64, index=True)
    category: str = Field(max_length=32)
    urgency: int
    assessed_on: date
    recorded_at: datetime
    status: str = Field(max_length=8)
    seen_open_in_state: bool = False
    overdue_sent: bool = False


class MatchingOffering(SQLModel, table=True):
    __tablename__ = "matching_offering"

    offering_id: str = Field(primary_key=True, max_length=64)
    record: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    updated_at: datetime


class MatchingProposal(SQLModel, table=True):
    __tablename__ = "matching_proposal"

    match_id: str = Field(primary_key=True, max_length=64)
    need_id: str = Field(max_length=64, index=True)
    offering_id: str = Field(max_length=64, index=True)
    household_id: str = Field(max_length=64)
    charity_id: str = Field(max_length=64)
    state: str = Field(max_length=16)
    priority: int
    quantity: int
    delivered: int = 0
    proposed_at: datetime
    expires_at: datetime
    closed_at: datetime | None = None
    reason_code: str | None = Field(default=None, max_length=64)
    reason: str = Field(default="", max_length=200)


class MatchingMeta(SQLModel, table=True):
    __tablename__ = "matching_meta"

    key: str = Field(primary_key=True, max_length=32)
    value: str = Field(max_length=200)


def pool_generation(engine: Engine) -> str:
    """The pool's generation: made once with the database, so a new database (an empty pool)
    reads every topic from its beginning under a consumer group of its own."""
    table = MatchingMeta.__table__  # type: ignore[attr-defined]
    with engine.begin() as connection:
        found = connection.execute(sa.select(table.c.value).where(table.c.key == "generation")).scalar()
        if found is None:
            found = uuid.uuid4().hex[:12]
            connection.execute(table.insert().values(key="generation", value=found))
    return str(found)


def load_pool(engine: Engine, pool: Pool) -> None:
    with engine.connect() as connection:
        households = [_household(r) for r in _rows(connection, MatchingHousehold)]
        needs = [Need(**r) for r in _rows(connection, MatchingNeed)]
        offerings = [
            Offering(r["offering_id"], OfferingDataV2.model_validate(r["record"]), r["updated_at"])
            for r in _rows(connection, MatchingOffering)
        ]
        proposals = [Proposal(**r) for r in _rows(connection, MatchingProposal)]
    pool.load(households, needs, offerings, proposals)


def _rows(connection: Connection, model: type[SQLModel]) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in connection.execute(sa.select(model.__table__))]  # type: ignore[attr-defined]


def _household(row: dict[str, Any]) -> Household:
    deliveries = [Delivery(d["need_id"], d["programme"], date.fromisoformat(d["delivered_on"])) for d in row.pop("deliveries")]
    return Household(**row, deliveries=deliveries)


def save_changes(connection: Connection, pool: Pool, changes: Changes) -> None:
    """Write the rows the pool changed (whole rows, inserted or replaced)."""
    _upsert(connection, MatchingHousehold, [_household_row(pool.households[i]) for i in sorted(changes.households)])
    _upsert(connection, MatchingNeed, [_need_row(pool.needs[i]) for i in sorted(changes.needs)])
    _upsert(connection, MatchingOffering, [_offering_row(pool.offerings[i]) for i in sorted(changes.offerings)])
    _upsert(connection, MatchingProposal, [_proposal_row(pool.proposals[i]) for i in sorted(changes.proposals)])


def _upsert(connection: Connection, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
    if rows:
        insert_rows(connection, model.__table__, rows, update=True)  # type: ignore[attr-defined]


def _household_row(h: Household) -> dict[str, Any]:
    return {
        "household_id": h.household_id, "district": h.district, "subdistrict": h.subdistrict, "category": h.category,
        "colour": h.colour, "birth_years": h.birth_years, "size": h.size, "programmes": h.programmes, "received": h.received,
        "deliveries": [{"need_id": d.need_id, "programme": d.programme, "delivered_on": d.delivered_on.isoformat()} for d in h.deliveries],
    }


def _need_row(n: Need) -> dict[str, Any]:
    return {
        "need_id": n.need_id, "household_id": n.household_id, "category": n.category, "urgency": n.urgency,
        "assessed_on": n.assessed_on, "recorded_at": n.recorded_at, "status": n.status,
        "seen_open_in_state": n.seen_open_in_state, "overdue_sent": n.overdue_sent,
    }


def _offering_row(o: Offering) -> dict[str, Any]:
    return {
        "offering_id": o.offering_id, "record": orjson.loads(o.record.model_dump_json()), "updated_at": o.updated_at,
    }


def _proposal_row(p: Proposal) -> dict[str, Any]:
    return {
        "match_id": p.match_id, "need_id": p.need_id, "offering_id": p.offering_id, "household_id": p.household_id,
        "charity_id": p.charity_id, "state": p.state, "priority": p.priority, "quantity": p.quantity,
        "delivered": p.delivered, "proposed_at": p.proposed_at, "expires_at": p.expires_at, "closed_at": p.closed_at,
        "reason_code": p.reason_code, "reason": p.reason[:200],
    }
