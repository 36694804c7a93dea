"""Garbage collection around batches: none while a batch runs, its survivors frozen after it,
cycles freed by the young collection (where the loop runs meanwhile) or the periodic full one."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from kit.service import BatchSurvivors


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> weakref.ref[Node]:
    """A reference cycle that is garbage as soon as this returns; the weak reference tells."""
    first, second = Node(), Node()
    first.other, second.other = second, first
    return weakref.ref(first)


@pytest.fixture(autouse=True)
def unfrozen_afterwards() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_what_survives_a_batch_is_frozen_and_a_cycle_dropped_later_waits_for_the_full_collection() -> None:
    survivors = BatchSurvivors(full_every=3600)
    with survivors.batch():
        kept = [Node() for _ in range(100)]
        first, second = Node(), Node()
        first.other, second.other = second, first
    assert gc.get_freeze_count() >= len(kept)
    dropped = weakref.ref(first)
    del first, second
    gc.collect()
    assert dropped() is not None  # frozen: ordinary collections leave it alone
    with BatchSurvivors(full_every=0).batch():
        pass
    assert dropped() is None  # the full collection freed it


def test_no_collection_runs_during_a_batch_and_collections_resume_after_it_even_when_it_fails() -> None:
    survivors = BatchSurvivors(full_every=3600)
    with pytest.raises(RuntimeError), survivors.batch():
        assert not gc.isenabled()
        kept = [Node() for _ in range(100)]
        raise RuntimeError("the batch failed")
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(kept)  # what it left alive is frozen all the same


def test_where_the_loop_runs_meanwhile_cycles_already_garbage_are_freed_before_freezing() -> None:
    with BatchSurvivors(full_every=3600, loop_runs_meanwhile=True).batch():
        garbage = cycle()
    assert garbage() is None


def test_where_nothing_runs_meanwhile_a_batch_cycle_waits_frozen_for_the_full_collection() -> None:
    with BatchSurvivors(full_every=3600).batch():
        garbage = cycle()
    gc.collect()
    assert garbage() is not None
    with BatchSurvivors(full_every=0).batch():
        pass
    assert garbage() is None
