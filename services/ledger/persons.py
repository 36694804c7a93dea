"""Persons recorded in more than one hub household: the person -> households index a batch works
with, and the joint meeting's review item ("person in two households") that such a person raises.

Pure Python. The batch fills the index from one query per batch (memberships of the persons that
are members of its households and of some other household too) and keeps it up to date as
department reports add members.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final


class SharedPersonStatus(StrEnum):
    OPEN = "open"
    ONE_HOUSEHOLD = "one_household"  # staff: they are one household (intake merges them)
    TWO_HOUSEHOLDS = "two_households"  # staff: two households; the person belongs to `belongs_to`


SHARED_PERSON_DECISIONS: Final = (SharedPersonStatus.ONE_HOUSEHOLD, SharedPersonStatus.TWO_HOUSEHOLDS)


class SharedPersonError(ValueError):
    """A decision the item does not allow."""


class SharedPersonAlreadyDecided(SharedPersonError):
    pass


class PersonIndex:
    """Which hub households each person is a member of, for the persons a batch needs."""

    def __init__(self, memberships: Iterable[tuple[str, str]] = ()) -> None:
        self._households: dict[str, set[str]] = defaultdict(set)  # person key -> households
        self._persons: dict[str, set[str]] = defaultdict(set)  # household -> person keys
        self._sharing: set[str] = set()  # households with a member in another household too
        for person_key, household_id in memberships:
            self.add(person_key, household_id)

    def add(self, person_key: str, household_id: str) -> set[str]:
        """Record a membership; returns the other households the person was already a member of."""
        households = self._households[person_key]
        others = households - {household_id}
        households.add(household_id)
        self._persons[household_id].add(person_key)
        if others:
            self._sharing |= households
        return others

    def merge_households(self, survivor: str, merged: str) -> None:
        self._sharing.discard(merged)
        for person_key in self._persons.pop(merged, set()):
            self._households[person_key].discard(merged)
            self.add(person_key, survivor)

    def merge_persons(self, survivor: str, merged: str) -> None:
        for household_id in self._households.pop(merged, set()):
            self._persons[household_id].discard(merged)
            self.add(survivor, household_id)

    @property
    def sharing(self) -> frozenset[str]:
        """The households with a member who is in another household too."""
        return frozenset(self._sharing)

    def linked(self, household_id: str) -> set[str]:
        """The other households that share a member with this one."""
        if household_id not in self._sharing:  # most households: asked for every event, answered at once
            return set()
        found: set[str] = set()
        for person_key in self._persons.get(household_id, ()):
            found |= self._households[person_key]
        found.discard(household_id)
        return found

    def households_of(self, person_key: str) -> set[str]:
        return set(self._households.get(person_key, ()))

    def members(self, household_ids: Iterable[str]) -> dict[str, set[str]]:
        """The indexed persons of each of these households (those that can link it to another)."""
        return {h: set(self._persons.get(h, ())) for h in household_ids}

    def shared(self, one: str, other: str) -> set[str]:
        return self._persons.get(one, set()) & self._persons.get(other, set())


def shared_person_id(person_key: str, one: str, other: str) -> str:
    first, second = sorted((one, other))
    digest = hashlib.sha256(f"{person_key}\x1f{first}\x1f{second}".encode()).hexdigest()
    return f"SP-{digest[:24]}"


@dataclass(frozen=True, kw_only=True)
class SharedPerson:
    """The review item: one person in two hub households, for the joint meeting to decide
    whether they are one household. Until it is decided, household rules are checked across both."""

    item_id: str
    person_key: str
    first_household: str
    second_household: str
    status: str
    raised_at: datetime
    raised_by_event: str
    belongs_to: str | None = None
    decision_note: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None

    @classmethod
    def raised(cls, person_key: str, one: str, other: str, cause_event_id: str, now: datetime) -> SharedPerson:
        first, second = sorted((one, other))
        return cls(item_id=shared_person_id(person_key, first, second), person_key=person_key, first_household=first,
                   second_household=second, status=SharedPersonStatus.OPEN.value, raised_at=now, raised_by_event=cause_event_id)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> SharedPerson:
        return cls(**row)

    def to_row(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @property
    def households(self) -> tuple[str, str]:
        return self.first_household, self.second_household

    def decided(self, decision: str, belongs_to: str | None, note: str, by: str, now: datetime) -> SharedPerson:
        if decision not in SHARED_PERSON_DECISIONS:
            raise SharedPersonError(f"{decision!r} is not a decision on a person in two households")
        if self.status != SharedPersonStatus.OPEN:
            raise SharedPersonAlreadyDecided(f"item {self.item_id} was already decided: {self.status} by {self.decided_by}")
        if decision == SharedPersonStatus.TWO_HOUSEHOLDS and belongs_to not in self.households:
            raise SharedPersonError(f"belongs_to must be one of {', '.join(self.households)}")
        if decision == SharedPersonStatus.ONE_HOUSEHOLD:
            belongs_to = None
        return SharedPerson(**{**self.__dict__, "status": decision, "belongs_to": belongs_to, "decision_note": note,
                               "decided_by": by, "decided_at": now})
