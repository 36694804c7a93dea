"""The households the ledger keeps in memory between batches."""

from __future__ import annotations

from services.ledger.cache import RecentHouseholds


def test_a_kept_household_is_taken_only_at_the_revision_it_was_kept_at() -> None:
    cache: RecentHouseholds[str] = RecentHouseholds(10)
    cache.keep({"a": (3, "A"), "b": (3, "B")})
    assert cache.take({"a": 3, "b": 4}) == {"a": "A"}
    assert len(cache) == 0  # taken out while a batch works on it; the stale one dropped


def test_the_cache_holds_at_most_its_capacity_dropping_the_least_recently_written() -> None:
    cache: RecentHouseholds[str] = RecentHouseholds(2)
    cache.keep({"a": (1, "A1"), "b": (1, "B1")})
    cache.keep({"c": (1, "C1")})
    assert len(cache) == 2
    assert cache.take({"a": 1, "b": 1, "c": 2}) == {"b": "B1"}  # a dropped for room, c stale


def test_a_cache_of_no_capacity_keeps_nothing() -> None:
    cache: RecentHouseholds[str] = RecentHouseholds(0)
    cache.keep({"a": (1, "A")})
    assert cache.take({"a": 1}) == {}
