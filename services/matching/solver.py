"""The assignment: which needs get which offerings' units, as a min-cost flow. Pure; numpy in, numpy out.

The graph: source -> each need (capacity 1: one proposal per need) -> each offering it may have
(capacity 1, cost = minus the pair's priority) -> sink (capacity = the offering's units not yet
promised). A bypass arc source -> sink at cost 0 lets needs go unserved. Maximising total
priority is minimising total cost. The graph goes to OR-Tools through its array interface (add_arcs_with_capacity_and_unit_cost, set_nodes_supplies): one
call per kind of arc, never one Python call per arc.

Ties: pairs are put in one canonical order (need index, offering index) whatever order they
came in (callers index needs in the order they were recorded, offerings by id), and the
solver is deterministic, so the same pool always yields the same proposals. Among assignments
of equal total priority, which one is returned is the one that order and the algorithm reach;
a cost key for ties was tried and dropped: to keep it below one point in every sum it needs a
scale of needs squared, and larger costs made the solve 1.7 times slower at 100,000 needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from ortools.graph.python import min_cost_flow

IntArray = NDArray[np.int64]


class SolverFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Pairs:
    """Candidate pairs: parallel arrays of need index, offering index and priority points."""

    need: IntArray
    offering: IntArray
    priority: IntArray

    def __len__(self) -> int:
        return int(self.need.shape[0])

    def canonical(self) -> Pairs:
        order = np.lexsort((self.offering, self.need))
        return Pairs(self.need[order], self.offering[order], self.priority[order])


@dataclass(frozen=True)
class Assignment:
    """The chosen pairs (indices into the arrays given) and their total priority."""

    need: IntArray
    offering: IntArray
    priority: IntArray

    @property
    def total(self) -> int:
        return int(self.priority.sum())

    def __len__(self) -> int:
        return int(self.need.shape[0])


def solve(pairs: Pairs, capacity: IntArray, needs: int, offering_group: IntArray | None = None) -> Assignment:
    """The assignment of greatest total priority: each need at most once, each offering at most
    its capacity. `needs` is the number of need indices (pairs refer to 0..needs-1).

    `offering_group` (a label per offering, e.g. its category) splits the problem into
    independent flows, one per label, when no need has candidates in two groups: smaller graphs
    solve faster than one large one, and the optimum is the same (it is checked, not assumed)."""
    if len(pairs) == 0 or needs == 0:
        return _empty()
    pairs = pairs.canonical()
    if offering_group is None:
        return _solve_one(pairs, capacity)
    pair_group = offering_group[pairs.offering]
    first = np.full(needs, -1, dtype=np.int64)
    first[pairs.need[::-1]] = pair_group[::-1]
    if np.any(first[pairs.need] != pair_group):
        return _solve_one(pairs, capacity)  # a need spans groups: one flow for all
    parts = [_solve_one(_subset(pairs, pair_group == g), capacity) for g in np.unique(pair_group).tolist()]
    return Assignment(*(np.concatenate([getattr(a, name) for a in parts]) for name in ("need", "offering", "priority")))


def _subset(pairs: Pairs, mask: NDArray[np.bool_]) -> Pairs:
    return Pairs(pairs.need[mask], pairs.offering[mask], pairs.priority[mask])


def _solve_one(pairs: Pairs, capacity: IntArray) -> Assignment:
    """One min-cost flow over the needs and offerings these (canonically ordered) pairs name."""
    need_ids, need_node = np.unique(pairs.need, return_inverse=True)
    offering_ids, offering_node = np.unique(pairs.offering, return_inverse=True)
    needs, offerings = need_ids.shape[0], offering_ids.shape[0]
    source, sink = needs + offerings, needs + offerings + 1
    tails = np.concatenate([np.full(needs, source), need_node, needs + np.arange(offerings), [source]]).astype(np.int32)
    heads = np.concatenate([np.arange(needs), needs + offering_node, np.full(offerings, sink), [sink]]).astype(np.int32)
    caps = np.concatenate([np.ones(needs), np.ones(len(pairs)), np.maximum(capacity[offering_ids], 0), [needs]]).astype(np.int64)
    costs = np.concatenate([np.zeros(needs), -pairs.priority, np.zeros(offerings), [0]]).astype(np.int64)
    flow = min_cost_flow.SimpleMinCostFlow()
    arcs = flow.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    supplies = np.zeros(needs + offerings + 2, dtype=np.int64)
    supplies[source], supplies[sink] = needs, -needs
    flow.set_nodes_supplies(np.arange(supplies.shape[0], dtype=np.int32), supplies)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise SolverFailed(f"min-cost flow ended with status {status}")
    chosen = np.flatnonzero(flow.flows(arcs[needs : needs + len(pairs)]) > 0)
    return Assignment(pairs.need[chosen], pairs.offering[chosen], pairs.priority[chosen])


def greedy(pairs: Pairs, capacity: IntArray, needs: int) -> Assignment:
    """The baseline a pass in priority order gives: take the best remaining pair whose need is
    unserved and whose offering has units left. For the benchmark and tests only."""
    if len(pairs) == 0:
        return _empty()
    pairs = pairs.canonical()
    order = np.lexsort((pairs.offering, pairs.need, -pairs.priority))
    left = capacity.astype(np.int64).copy()
    served = np.zeros(needs, dtype=bool)
    chosen: list[int] = []
    need_list, offering_list = pairs.need.tolist(), pairs.offering.tolist()
    for index in order.tolist():
        n, o = need_list[index], offering_list[index]
        if not served[n] and left[o] > 0:
            served[n] = True
            left[o] -= 1
            chosen.append(index)
    picked = np.array(chosen, dtype=np.int64)
    return Assignment(pairs.need[picked], pairs.offering[picked], pairs.priority[picked])


def _empty() -> Assignment:
    nothing = np.zeros(0, dtype=np.int64)
    return Assignment(nothing, nothing, nothing)
