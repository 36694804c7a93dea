"""What the ledger knows about a household besides its benefits: its profile as departments
report it, its members, its needs, and the alerts its conflicts raised.

Pure Python, like `domain.py`: the handler gives plain values in and stores what comes out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, Final

from contracts.catalogue import PROGRAMMES
from services.ledger.domain import Benefit, ConflictKey

PROFILE_FIELDS: Final = ("district", "subdistrict", "category", "colour", "income_fen")


def _as_utc(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Profile:
    """Where a household lives and how it is classed, as of the latest department report."""

    district: str | None = None
    subdistrict: str | None = None
    category: str | None = None
    colour: str | None = None
    income_fen: int | None = None
    as_of: datetime | None = None
    event_id: str | None = None

    def merge(self, report: Profile) -> Profile:
        """A newer report sets every field it carries; an older one (arriving late) only fills gaps."""
        newer = (_as_utc(report.as_of), report.event_id or "") >= (_as_utc(self.as_of), self.event_id or "")
        values: dict[str, Any] = {}
        for name in PROFILE_FIELDS:
            mine, theirs = getattr(self, name), getattr(report, name)
            values[name] = theirs if theirs is not None and (newer or mine is None) else mine
        if newer:
            values |= {"as_of": report.as_of, "event_id": report.event_id}
        return replace(self, **values)


@dataclass(frozen=True)
class Person:
    person_key: str
    display_name: str
    masked_resident_id: str | None = None
    birth_year: int | None = None
    sex: str | None = None
    relation: str = "other"


def merge_members(known: Mapping[str, Person], reported: Iterable[Person], newer: bool) -> dict[str, Person]:
    """Members are the union of every report; a newer report's details win for a person in both."""
    merged = dict(known)
    for person in reported:
        if newer or person.person_key not in merged:
            merged[person.person_key] = person
    return merged


def holds(benefit: Benefit, on: date) -> bool:
    """Whether the household holds this benefit on that day."""
    return benefit.status == "active" and benefit.in_effect and benefit.period_start <= on <= benefit.last_day


def programmes_held(benefits: Iterable[Benefit], on: date) -> list[str]:
    return sorted({benefit.programme for benefit in benefits if holds(benefit, on)})


def received_in_year(benefits: Iterable[Benefit], year: int) -> list[dict[str, Any]]:
    """Benefits that ran on some day of `year`, with their recorded amounts added up, by the
    category of their programme: what matching reads as "received least in that category"."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    totals: dict[str, list[int]] = {}
    for benefit in benefits:
        programme = PROGRAMMES.get(benefit.programme)
        if programme is None or not benefit.in_effect or benefit.period_start > last or benefit.last_day < first:
            continue
        entry = totals.setdefault(programme.category.value, [0, 0])
        entry[0] += 1
        entry[1] += benefit.amount_fen or 0
    return [{"category": c, "benefits": n, "amount_fen": fen} for c, (n, fen) in sorted(totals.items())]


def met_needs(benefits: Iterable[Benefit]) -> set[str]:
    """A need is met once a benefit that names it is in the ledger (and was not cancelled)."""
    return {benefit.need_id for benefit in benefits if benefit.need_id and benefit.in_effect}


def alert_id(household_id: str, conflict_key: ConflictKey, ordinal: int) -> str:
    """The same conflict raised for the n-th time in a household has the same id on every replay."""
    digest = hashlib.sha256(f"{household_id}\x1f{conflict_key}\x1f{ordinal}".encode()).hexdigest()
    return f"A-{digest[:24]}"
