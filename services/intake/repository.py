"""Intake's tables and the bulk queries a batch needs. The schema is made by the migrations in
migrations/versions; these models only describe it.

Personal data (names, birth dates, addresses, the raw payload of a held event) stays in these
tables: it never leaves intake.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, select

from contracts.envelope import utc_now
from kit.database import among, insert_rows
from services.intake.domain import (
    PROVISIONAL,
    Changes,
    HeldEvent,
    KnownState,
    Lookups,
    Merge,
    Ref,
    ReviewRow,
)
from services.intake.linking import Candidate



# Blocking keys of a member held for review are stored under this prefix and the review's id.
REVIEW_BLOCK = "review:"


class IntakeHousehold(SQLModel, table=True):
    __tablename__ = "intake_household"

    household_id: str = Field(primary_key=True, max_length=64)
    created_at: datetime = Field(default_factory=utc_now)


class IntakeHouseholdRef(SQLModel, table=True):
    """A department's own household reference, mapped to the hub household it is."""

    __tablename__ = "intake_household_ref"

    department: str = Field(primary_key=True, max_length=16)
    department_ref: str = Field(primary_key=True, max_length=64)
    household_id: str = Field(max_length=64, index=True)
    created_at: datetime = Field(default_factory=utc_now)


class IntakePerson(SQLModel, table=True):
    __tablename__ = "intake_person"

    person_key: str = Field(primary_key=True, max_length=64)
    household_id: str | None = Field(default=None, max_length=64, index=True)
    name: str = Field(max_length=64)
    birth_date: date | None = None
    address: str = Field(max_length=200)
    district: str | None = Field(default=None, max_length=16)
    indexed: bool = Field(default=False, description="Blocking keys written")
    relation: str | None = Field(default=None, max_length=16, description="In their latest report")
    updated_at: datetime = Field(default_factory=utc_now)


class IntakePersonBlock(SQLModel, table=True):
    """Blocking keys: which known people a record without a valid number is compared with."""

    __tablename__ = "intake_person_block"

    block_key: str = Field(primary_key=True, max_length=300)
    person_key: str = Field(primary_key=True, max_length=64)


class IntakePersonMerge(SQLModel, table=True):
    """A person key found to be another person's: later references to it mean the survivor."""

    __tablename__ = "intake_person_merge"

    merged_key: str = Field(primary_key=True, max_length=64)
    surviving_key: str = Field(max_length=64, index=True)
    reason: str = Field(max_length=32)
    decided_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utc_now)


class IntakeHouseholdMerge(SQLModel, table=True):
    __tablename__ = "intake_household_merge"

    merged_id: str = Field(primary_key=True, max_length=64)
    surviving_id: str = Field(max_length=64, index=True)
    created_at: datetime = Field(default_factory=utc_now)


@dataclass(frozen=True)
class PersonMergeDone:
    """What a merge changed: the survivor's household, and the household that followed into it."""

    survivor_household: str | None
    merged_household: str | None


class IntakePendingRecord(SQLModel, table=True):
    """A department event held until staff decide who its members are (or held behind one)."""

    __tablename__ = "intake_pending_record"

    id: int | None = Field(default=None, primary_key=True)
    event_key: str = Field(max_length=160, unique=True)
    department: str = Field(max_length=16)
    department_ref: str = Field(max_length=64)
    event_type: str = Field(max_length=64)
    channel: str = Field(max_length=8)
    payload: dict[str, Any] = Field(sa_type=sa.JSON)
    received_at: datetime = Field(default_factory=utc_now)


class IntakeIdentityReview(SQLModel, table=True):
    __tablename__ = "intake_identity_review"

    record_id: str = Field(primary_key=True, max_length=64)
    event_key: str = Field(max_length=160, index=True)
    department: str = Field(max_length=16)
    department_ref: str = Field(max_length=64)
    member_index: int
    candidates: list[Any] = Field(sa_type=sa.JSON)
    resolved_person_key: str | None = Field(default=None, max_length=64)
    resolved_by: str | None = Field(default=None, max_length=64)
    resolved_at: datetime | None = None
    created_at: datetime = Field(default_factory=utc_now)


class IntakeRepository:
    """Bulk reads and writes inside the caller's session; the caller commits."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._sql = session.connection()  # Core statements skip the ORM's per-statement work
        self._dialect = self._sql.dialect.name

    # --- reads --------------------------------------------------------------------------------

    def known_state(self, lookups: Lookups) -> KnownState:
        state = KnownState(linking=bool(lookups.blocking_keys))
        state.households = self.households_of(lookups.refs)
        state.held = self.held_refs(lookups.refs)
        state.person_households = self.person_households(lookups.person_keys)
        repair = {state.households[r] for r in lookups.repair_refs if r in state.households}
        state.household_members = self.household_members(repair)
        for candidate in self.candidates(lookups.blocking_keys):
            state.candidates.add(candidate)
        return state

    def households_of(self, refs: Iterable[Ref]) -> dict[Ref, str]:
        table = IntakeHouseholdRef.__table__
        found: dict[Ref, str] = {}
        for department, own_refs in _by_department(refs).items():
            query = sa.select(table.c.department_ref, table.c.household_id).where(
                table.c.department == department, among(table.c.department_ref, own_refs, self._dialect)
            )
            found.update({(department, r): h for r, h in self._sql.execute(query)})
        return found

    def held_refs(self, refs: Iterable[Ref]) -> set[Ref]:
        table = IntakePendingRecord.__table__
        if self._sql.execute(sa.select(table.c.id).limit(1)).first() is None:
            return set()  # the usual case: nothing is waiting for review
        found: set[Ref] = set()
        for department, own_refs in _by_department(refs).items():
            query = sa.select(table.c.department_ref).where(
                table.c.department == department, among(table.c.department_ref, own_refs, self._dialect)
            )
            found.update((department, r) for r in self._sql.execute(query).scalars())
        return found

    def household_members(self, household_ids: Collection[str]) -> dict[str, set[str]]:
        if not household_ids:
            return {}
        table = IntakePerson.__table__
        query = sa.select(table.c.household_id, table.c.person_key).where(among(table.c.household_id, household_ids, self._dialect))
        found: dict[str, set[str]] = {}
        for household_id, key in self._sql.execute(query):
            found.setdefault(household_id, set()).add(key)
        return found

    def person_households(self, person_keys: Collection[str]) -> dict[str, str | None]:
        if not person_keys:
            return {}
        table = IntakePerson.__table__
        query = sa.select(table.c.person_key, table.c.household_id).where(among(table.c.person_key, person_keys, self._dialect))
        return {k: h for k, h in self._sql.execute(query)}

    def candidates(self, block_keys: Collection[str]) -> list[Candidate]:
        if not block_keys:
            return []
        person, block = IntakePerson.__table__, IntakePersonBlock.__table__
        query = (
            sa.select(person.c.person_key, person.c.name, person.c.birth_date, person.c.address)
            .join(block, block.c.person_key == person.c.person_key)
            .where(among(block.c.block_key, block_keys, self._dialect))
            .distinct()
        )
        return [Candidate(k, n, b, a) for k, n, b, a in self._sql.execute(query)]

    def persons(self, person_keys: Collection[str]) -> list[Candidate]:
        if not person_keys:
            return []
        table = IntakePerson.__table__
        query = sa.select(table.c.person_key, table.c.name, table.c.birth_date, table.c.address).where(
            among(table.c.person_key, person_keys, self._dialect)
        )
        return [Candidate(k, n, b, a) for k, n, b, a in self._sql.execute(query)]

    def any_provisional(self) -> bool:
        table = IntakePerson.__table__
        query = sa.select(table.c.person_key).where(table.c.person_key.startswith(PROVISIONAL, autoescape=True)).limit(1)
        return self._sql.execute(query).first() is not None

    def survivors_of(self, person_keys: Collection[str]) -> dict[str, str]:
        """Merged keys among these, each with the key that now means them."""
        if not person_keys:
            return {}
        table = IntakePersonMerge.__table__
        query = sa.select(table.c.merged_key, table.c.surviving_key).where(among(table.c.merged_key, person_keys, self._dialect))
        return dict(self._sql.execute(query).all())  # type: ignore[arg-type]

    def survivor_of(self, person_key: str) -> str:
        found = self.session.get(IntakePersonMerge, person_key)
        return found.surviving_key if found else person_key

    def merge_person(self, merge: Merge, decided_by: str | None = None) -> PersonMergeDone:
        """The merged key now means the survivor: its row and blocking keys go, earlier merges into
        it point on, and the hub household it was first recorded in follows when it headed that
        household or was all of it. A second merge of the same key fails on the primary key."""
        person, block, merges = IntakePerson.__table__, IntakePersonBlock.__table__, IntakePersonMerge.__table__
        rows = {k: (h, r) for k, h, r in self._sql.execute(
            sa.select(person.c.person_key, person.c.household_id, person.c.relation).where(
                person.c.person_key.in_([merge.merged, merge.survivor]))
        )}
        merged_household, relation = rows.get(merge.merged, (None, None))
        survivor_household = rows.get(merge.survivor, (None, None))[0]
        row = {"merged_key": merge.merged, "surviving_key": merge.survivor, "reason": merge.reason, "decided_by": decided_by}
        insert_rows(self._sql, merges, [row], ("created_at",))  # type: ignore[arg-type]
        self._sql.execute(sa.update(merges).where(merges.c.surviving_key == merge.merged).values(surviving_key=merge.survivor))
        self._sql.execute(sa.delete(block).where(block.c.person_key == merge.merged))
        self._sql.execute(sa.delete(person).where(person.c.person_key == merge.merged))
        if survivor_household is None or merged_household in (None, survivor_household):
            return PersonMergeDone(survivor_household or merged_household, None)
        others = self._sql.execute(sa.select(person.c.person_key).where(person.c.household_id == merged_household).limit(1)).first()
        if relation != "head" and others is not None:
            return PersonMergeDone(survivor_household, None)
        self._merge_household(merged_household, survivor_household)  # type: ignore[arg-type]
        return PersonMergeDone(survivor_household, merged_household)

    def _merge_household(self, merged: str, survivor: str) -> None:
        refs, person, households = IntakeHouseholdRef.__table__, IntakePerson.__table__, IntakeHouseholdMerge.__table__
        self._sql.execute(sa.update(refs).where(refs.c.household_id == merged).values(household_id=survivor))
        self._sql.execute(sa.update(person).where(person.c.household_id == merged).values(household_id=survivor))
        insert_rows(self._sql, households, [{"merged_id": merged, "surviving_id": survivor}], ("created_at",))  # type: ignore[arg-type]
        self._sql.execute(sa.update(households).where(households.c.surviving_id == merged).values(surviving_id=survivor))

    def any_open_review(self) -> bool:
        table = IntakeIdentityReview.__table__
        return self._sql.execute(sa.select(table.c.record_id).where(table.c.resolved_person_key.is_(None)).limit(1)).first() is not None

    def reviews_touching(self, block_keys: Collection[str]) -> list[IntakeIdentityReview]:
        """Open reviews whose held member shares one of these blocking keys: someone just recorded
        or merged may be who they are."""
        if not block_keys:
            return []
        block = IntakePersonBlock.__table__
        query = sa.select(block.c.person_key).where(
            among(block.c.block_key, block_keys, self._dialect), block.c.person_key.startswith(REVIEW_BLOCK, autoescape=True)
        )
        ids = sorted({k.removeprefix(REVIEW_BLOCK) for k in self._sql.execute(query).scalars()})
        if not ids:
            return []
        found = select(IntakeIdentityReview).where(
            IntakeIdentityReview.record_id.in_(ids), IntakeIdentityReview.resolved_person_key.is_(None)  # type: ignore[attr-defined,union-attr]
        )
        return list(self.session.exec(found.order_by(IntakeIdentityReview.created_at)))

    def held_payload(self, event_key: str) -> dict[str, Any] | None:
        table = IntakePendingRecord.__table__
        return self._sql.execute(sa.select(table.c.payload).where(table.c.event_key == event_key)).scalar()

    def held_records(self, limit: int = 500) -> list[IntakePendingRecord]:
        query = select(IntakePendingRecord).order_by(IntakePendingRecord.id).limit(limit)  # type: ignore[arg-type]
        return list(self.session.exec(query))

    def person_exists(self, person_key: str) -> bool:
        return self.session.get(IntakePerson, person_key) is not None

    def review(self, record_id: str) -> IntakeIdentityReview | None:
        return self.session.get(IntakeIdentityReview, record_id)

    def open_reviews(self, limit: int = 200) -> list[IntakeIdentityReview]:
        query = (
            select(IntakeIdentityReview)
            .where(IntakeIdentityReview.resolved_person_key.is_(None))  # type: ignore[union-attr]
            .order_by(IntakeIdentityReview.created_at)
            .limit(limit)
        )
        return list(self.session.exec(query))

    def held_events(self, ref: Ref) -> list[HeldEvent]:
        query = (
            select(IntakePendingRecord)
            .where(IntakePendingRecord.department == ref[0], IntakePendingRecord.department_ref == ref[1])
            .order_by(IntakePendingRecord.id)  # type: ignore[arg-type]
        )
        return [
            HeldEvent(r.event_key, r.department, r.department_ref, r.event_type, r.payload, r.channel)  # type: ignore[arg-type]
            for r in self.session.exec(query)
        ]

    def resolutions(self, ref: Ref) -> tuple[dict[tuple[str, int], str], set[str]]:
        """Decided members of a household's held events, and the event keys still undecided."""
        query = select(IntakeIdentityReview).where(
            IntakeIdentityReview.department == ref[0], IntakeIdentityReview.department_ref == ref[1]
        )
        decided: dict[tuple[str, int], str] = {}
        undecided: set[str] = set()
        for review in self.session.exec(query):
            if review.resolved_person_key:
                decided[(review.event_key, review.member_index)] = review.resolved_person_key
            else:
                undecided.add(review.event_key)
        return decided, undecided

    def person_details(self, person_keys: Sequence[str]) -> dict[str, IntakePerson]:
        return {p.person_key: p for p in self.session.exec(select(IntakePerson).where(IntakePerson.person_key.in_(person_keys)))}  # type: ignore[attr-defined]

    # --- writes -------------------------------------------------------------------------------

    def save(self, changes: Changes) -> None:
        households = [{"household_id": h} for h in changes.new_households]
        insert_rows(self._sql, IntakeHousehold.__table__, households, ("created_at",))  # type: ignore[attr-defined]
        refs = [{"department": d, "department_ref": r, "household_id": h} for (d, r), h in changes.new_refs.items()]
        insert_rows(self._sql, IntakeHouseholdRef.__table__, refs, ("created_at",))  # type: ignore[attr-defined]
        self._upsert_persons(changes)
        self._insert_blocks(changes.blocking)
        held = [_pending_row(h) for h in changes.held]
        insert_rows(self._sql, IntakePendingRecord.__table__, held, ("received_at",))  # type: ignore[attr-defined]
        self._insert_reviews(changes.reviews)
        if changes.released:
            table = IntakePendingRecord.__table__
            self._sql.execute(sa.delete(table).where(table.c.event_key.in_(changes.released)))

    def unindexed_persons(self, limit: int) -> list[Candidate]:
        table = IntakePerson.__table__
        query = (
            sa.select(table.c.person_key, table.c.name, table.c.birth_date, table.c.address)
            .where(table.c.indexed.is_(False))
            .limit(limit)
        )
        return [Candidate(k, n, b, a) for k, n, b, a in self._sql.execute(query)]

    def index_persons(self, blocks: set[tuple[str, str]], person_keys: Sequence[str]) -> None:
        self._insert_blocks(blocks)
        if person_keys:
            table = IntakePerson.__table__
            self._sql.execute(sa.update(table).where(among(table.c.person_key, person_keys, self._dialect)).values(indexed=True))

    def resolve(self, review: IntakeIdentityReview, person_key: str, by: str) -> None:
        block = IntakePersonBlock.__table__
        self._sql.execute(sa.delete(block).where(block.c.person_key == REVIEW_BLOCK + review.record_id))
        review.resolved_person_key = person_key
        review.resolved_by = by
        review.resolved_at = utc_now()
        self.session.add(review)
        self.session.flush()

    def _insert_reviews(self, reviews: list[ReviewRow]) -> None:
        if not reviews:
            return
        refs = self._refs_of_pending({r.event_key for r in reviews})
        rows = [
            {
                "record_id": r.record_id,
                "event_key": r.event_key,
                "department": refs[r.event_key][0],
                "department_ref": refs[r.event_key][1],
                "member_index": r.member_index,
                "candidates": [{"person_key": k, "score": s} for k, s in r.candidates],
            }
            for r in reviews
        ]
        insert_rows(self._sql, IntakeIdentityReview.__table__, rows, ("created_at",))  # type: ignore[attr-defined]
        self._insert_blocks({(block, REVIEW_BLOCK + r.record_id) for r in reviews for block in r.blocks})

    def _refs_of_pending(self, event_keys: set[str]) -> dict[str, Ref]:
        table = IntakePendingRecord.__table__
        rows = self._sql.execute(
            sa.select(table.c.event_key, table.c.department, table.c.department_ref).where(table.c.event_key.in_(event_keys))
        )
        return {k: (d, r) for k, d, r in rows}

    def _upsert_persons(self, changes: Changes) -> None:
        merged_away = self._merged_among([k for k in changes.persons if k.startswith(PROVISIONAL)])
        rows = [
            {
                "person_key": p.person_key,
                "household_id": p.household_id,
                "name": p.name,
                "birth_date": p.birth_date,
                "address": p.address,
                "district": p.district,
                "indexed": p.indexed,
                "relation": p.relation,
            }
            for p in changes.persons.values()
            if p.person_key not in merged_away  # linked in a batch that raced its merge: not brought back
        ]
        insert_rows(self._sql, IntakePerson.__table__, rows, ("updated_at",), update=True)  # type: ignore[attr-defined]

    def _merged_among(self, person_keys: Sequence[str]) -> set[str]:
        if not person_keys:
            return set()
        table = IntakePersonMerge.__table__
        query = sa.select(table.c.merged_key).where(among(table.c.merged_key, person_keys, self._dialect))
        return set(self._sql.execute(query).scalars())

    def _insert_blocks(self, blocks: set[tuple[str, str]]) -> None:
        rows = [{"block_key": b, "person_key": k} for b, k in blocks]
        insert_rows(self._sql, IntakePersonBlock.__table__, rows, ignore_conflicts=True)  # type: ignore[attr-defined]

def _pending_row(held: HeldEvent) -> dict[str, Any]:
    return {
        "event_key": held.event_key,
        "department": held.department,
        "department_ref": held.household_ref,
        "event_type": held.event_type,
        "channel": held.channel,
        "payload": held.payload,
    }


def _by_department(refs: Iterable[Ref]) -> dict[str, set[str]]:
    grouped: dict[str, set[str]] = {}
    for department, own_ref in refs:
        grouped.setdefault(department, set()).add(own_ref)
    return grouped
