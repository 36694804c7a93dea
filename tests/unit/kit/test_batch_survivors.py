"""Freezing what a batch leaves alive, and the periodic full collection that frees cycles."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from kit.service import BatchSurvivors


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture(autouse=True)
def unfrozen_afterwards() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_what_survives_a_batch_is_frozen_and_a_cycle_dropped_later_waits_for_the_full_collection() -> None:
    survivors = BatchSurvivors(full_every=3600)
    kept = [Node() for _ in range(100)]
    survivors.settle()
    assert gc.get_freeze_count() >= len(kept)
    first, second = Node(), Node()
    first.other, second.other = second, first
    survivors.settle()  # the cycle is alive now, so it is frozen with the rest
    cycle = weakref.ref(first)
    del first, second
    gc.collect()
    assert cycle() is not None  # frozen: ordinary collections leave it alone
    BatchSurvivors(full_every=0).settle()
    assert cycle() is None  # the full collection freed it


def test_no_collection_runs_during_a_batch_and_collections_resume_after_it_even_when_it_fails() -> None:
    survivors = BatchSurvivors(full_every=3600)
    with pytest.raises(RuntimeError), survivors.batch():
        assert not gc.isenabled()
        kept = [Node() for _ in range(100)]
        raise RuntimeError("the batch failed")
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(kept)  # what it left alive is frozen all the same
