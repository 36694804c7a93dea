"""The household: one aggregate that owns what the ledger knows about a hub household: its
benefits (a `HouseholdLedger`), its profile as departments report it, its members, its needs, and
the alerts its conflicts raised.

Pure Python, like `domain.py`: the batch loads households, calls their methods and stores them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any, Final

from contracts.catalogue import PROGRAMMES
from services.ledger.alerts import Alert, AlertChanges, follow
from services.ledger.domain import Benefit, BenefitChange, Conflict, HouseholdLedger

OPEN, MET, CLOSED = "open", "met", "closed"  # a need's status
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


@dataclass(frozen=True, kw_only=True)
class Need:
    """A need a department assessed; `status` is open, met (a benefit names it) or closed."""

    need_id: str
    household_id: str
    department: str
    category: str
    description: str
    urgency: int
    assessed_on: date
    person_key: str | None
    status: str
    event_id: str

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Need:
        return cls(**row)

    def to_row(self) -> dict[str, Any]:
        return dict(self.__dict__)  # shallow: dataclasses.asdict deep-copies, a tenth of a batch


@dataclass(eq=False)
class Household:
    """One hub household and everything the ledger keeps about it."""

    household_id: str
    benefits: HouseholdLedger
    profile: Profile = field(default_factory=Profile)
    members: dict[str, Person] | None = None  # None: not read (a batch reads them only when a report may change them)
    person_count: int = 0
    needs: dict[str, Need] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)
    applied: set[str] = field(default_factory=set)  # ids of the events applied to it
    linked: frozenset[str] = frozenset()  # households that share a member with it

    def has_applied(self, event_id: str) -> bool:
        return event_id in self.applied

    def mark_applied(self, event_id: str) -> None:
        self.applied.add(event_id)

    # -- what departments report

    def report(self, profile: Profile, people: Iterable[Person]) -> None:
        """A department's report of the household: profile merged in time order, members joined."""
        merged = self.profile.merge(profile)
        newer = merged.event_id == profile.event_id
        self.profile = merged
        self.members = merge_members(self.members or {}, people, newer)
        self.person_count = len(self.members)

    def record_need(self, need: Need) -> None:
        """A need assessed (again); one the department already closed stays closed."""
        known = self.needs.get(need.need_id)
        self.needs[need.need_id] = replace(need, status=CLOSED) if known is not None and known.status == CLOSED else need

    def close_need(self, need: Need) -> None:
        """The department closed the need (withdrawn, or met outside the hub): no longer open.
        A closure that arrives before the need is kept as the need, closed, until it arrives."""
        known = self.needs.get(need.need_id)
        self.needs[need.need_id] = replace(known if known is not None else need, status=CLOSED)

    def grant(self, benefit: Benefit) -> list[Conflict]:
        return self.benefits.grant(benefit)

    def change(self, change: BenefitChange) -> list[Conflict]:
        return self.benefits.apply(change)

    # -- what intake found out

    def absorb(self, other: Household, now: datetime, note: str) -> list[Alert]:
        """Another hub household proved to be this one: its benefits, needs, members and alerts
        become this household's. Returns its alerts that closed because this household already
        had an active alert for the same conflict (which takes their evidence when rules are
        re-checked)."""
        self.benefits.absorb(other.benefits)
        self.profile = self.profile.merge(other.profile)
        for need_id, need in other.needs.items():
            self.needs.setdefault(need_id, replace(need, household_id=self.household_id))
        if other.members:
            self.members = {**{k: p for k, p in other.members.items()}, **(self.members or {})}
            self.person_count = len(self.members)
        active = {alert.conflict_key for alert in self.alerts if alert.active}
        closed: list[Alert] = []
        for alert in other.alerts:
            moved = replace(alert, household_id=self.household_id)
            if moved.active and moved.conflict_key in active:
                moved = moved.closed_by_ledger(now, note)
                closed.append(moved)
            self.alerts.append(moved)
        self.applied |= other.applied
        self.linked = (self.linked | other.linked) - {self.household_id, other.household_id}
        return closed

    def rekey_person(self, survivor: str, merged: set[str]) -> list[str]:
        """Persons found to be one: members under a merged key become the survivor; returns the
        benefits still under a merged key (to change by a record, so a rebuild does the same)."""
        if self.members:
            for key in sorted(merged & self.members.keys()):
                person = self.members.pop(key)
                self.members.setdefault(survivor, replace(person, person_key=survivor))
            self.person_count = len(self.members)
        return [b.benefit_id for b in self.benefits.benefits if b.person_key in merged]

    # -- alerts

    def follow_conflicts(
        self, conflicts: list[Conflict], cause_event_id: str, now: datetime, note: str = "",
        find: Callable[[str], Benefit | None] | None = None,
    ) -> AlertChanges:
        """Its alerts brought in line with the conflicts it holds now; `find` looks up benefits of
        conflicts that span households (its own, by default)."""
        if not conflicts and not any(alert.active for alert in self.alerts):
            return AlertChanges()  # nothing open before or now: most events
        lookup = find or self.benefits.benefit

        def listing(conflict: Conflict) -> list[dict[str, Any]]:
            return _listed(lookup(benefit_id) for benefit_id in conflict.benefit_ids)

        return follow(self.alerts, self.household_id, self.profile.district, conflicts, listing, cause_event_id, now, note)
    # -- what it holds

    def settle_needs(self) -> None:
        """Each need's status as the benefits now say: met once a benefit names it."""
        met = met_needs(self.benefits.benefits)
        for need_id, need in self.needs.items():
            if need.status == CLOSED:
                continue
            status = MET if need_id in met else OPEN
            if need.status != status:
                self.needs[need_id] = replace(need, status=status)

    def open_needs(self) -> list[str]:
        return sorted(need_id for need_id, need in self.needs.items() if need.status == OPEN)

    def programmes_held(self, on: date) -> list[str]:
        return programmes_held(self.benefits.benefits, on)

    def received_in_year(self, year: int) -> list[dict[str, Any]]:
        return received_in_year(self.benefits.benefits, year)


def _listed(benefits: Iterable[Benefit | None]) -> list[dict[str, Any]]:
    return [
        {"benefit_id": b.benefit_id, "programme": b.programme, "source": b.source, "source_kind": b.source_kind}
        for b in benefits
        if b is not None
    ]
