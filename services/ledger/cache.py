"""The households the ledger wrote most recently, kept in memory as domain objects.

A department's events about one household tend to come close together, so the next batch about a
household usually finds it here and skips loading and rebuilding it from its rows (about a fifth
of the ledger's work per event, measured). Three rules keep a kept copy honest:

- it is used only while its revision is still the stored one: every write to a household's rows
  raises the stored revision (a batch, a reviewer's decision, another ledger instance after a
  partition moved), and a copy with an older revision is dropped;
- a batch takes its households out while it works on them, and they come back only after its
  commit, so a batch that rolls back leaves nothing half-applied behind;
- it holds at most `capacity` households, dropping the least recently written first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Generic, TypeVar

Kept = TypeVar("Kept")


class RecentHouseholds(Generic[Kept]):
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._kept: OrderedDict[str, tuple[int, Kept]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._kept)

    def take(self, revisions: Mapping[str, int]) -> dict[str, Kept]:
        """Take out the kept households whose revision is the stored one (household id ->
        stored revision); kept copies of the others are stale and dropped."""
        found: dict[str, Kept] = {}
        for household_id, revision in revisions.items():
            entry = self._kept.pop(household_id, None)
            if entry is not None and entry[0] == revision:
                found[household_id] = entry[1]
        return found

    def keep(self, households: Mapping[str, tuple[int, Kept]]) -> None:
        """Keep these households (id -> (revision now stored, household)), newest last."""
        if self.capacity <= 0:
            return
        for household_id, entry in households.items():
            self._kept.pop(household_id, None)
            self._kept[household_id] = entry
        while len(self._kept) > self.capacity:
            self._kept.popitem(last=False)
