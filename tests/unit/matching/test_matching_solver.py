"""The solver on small cases whose optimum is known by hand, against the greedy baseline."""

from __future__ import annotations

import itertools
import random

import numpy as np

from services.matching.solver import Pairs, greedy, solve


def pairs(*triples: tuple[int, int, int]) -> Pairs:
    need, offering, priority = zip(*triples, strict=True)
    return Pairs(np.array(need, dtype=np.int64), np.array(offering, dtype=np.int64), np.array(priority, dtype=np.int64))


def chosen(assignment) -> set[tuple[int, int]]:  # type: ignore[no-untyped-def]
    return set(zip(assignment.need.tolist(), assignment.offering.tolist(), strict=True))


def brute_force(p: Pairs, capacity: list[int], needs: int) -> int:
    """The best total by trying every choice (one offering or none per need)."""
    options = {n: [None] + [(int(o), int(s)) for nn, o, s in zip(p.need, p.offering, p.priority, strict=True) if nn == n] for n in range(needs)}
    best = 0
    for combo in itertools.product(*options.values()):
        used = [0] * len(capacity)
        score = 0
        for pick in combo:
            if pick is not None:
                used[pick[0]] += 1
                score += pick[1]
        if all(u <= c for u, c in zip(used, capacity, strict=True)):
            best = max(best, score)
    return best


def test_greedy_is_worse_where_the_best_need_takes_the_only_offering_another_could_use() -> None:
    # Need 0 may use offering 0 (3 points) or 1 (2 points); need 1 only offering 0 (2 points); one unit each.
    p = pairs((0, 0, 3), (0, 1, 2), (1, 0, 2))
    optimum, baseline = solve(p, np.array([1, 1]), 2), greedy(p, np.array([1, 1]), 2)
    assert chosen(optimum) == {(0, 1), (1, 0)} and optimum.total == 4
    assert chosen(baseline) == {(0, 0)} and baseline.total == 3


def test_capacity_limits_an_offering_and_each_need_gets_one() -> None:
    p = pairs((0, 0, 5), (1, 0, 9), (2, 0, 7), (0, 1, 1))
    result = solve(p, np.array([2, 5]), 3)
    assert chosen(result) == {(1, 0), (2, 0), (0, 1)}
    assert result.total == 17


def test_nothing_to_give_gives_nothing() -> None:
    p = pairs((0, 0, 5), (1, 0, 9))
    assert len(solve(p, np.array([0]), 2)) == 0


def test_ties_are_broken_the_same_way_whatever_the_input_order() -> None:
    # Four needs of equal priority for two offerings of one unit each: any two would do.
    triples = [(n, o, 10) for n in range(4) for o in range(2)]
    first = chosen(solve(pairs(*triples), np.array([1, 1]), 4))
    assert len(first) == 2
    rng = random.Random(1)
    for _ in range(10):
        rng.shuffle(triples)
        assert chosen(solve(pairs(*triples), np.array([1, 1]), 4)) == first


def test_split_by_group_gives_the_same_optimum() -> None:
    rng = random.Random(2)
    triples = []
    for n in range(40):
        group = n % 3
        for o in rng.sample(range(group * 5, group * 5 + 5), 3):
            triples.append((n, o, rng.randint(1, 50)))
    capacity = np.array([rng.randint(0, 4) for _ in range(15)])
    whole = solve(pairs(*triples), capacity, 40)
    split = solve(pairs(*triples), capacity, 40, offering_group=np.arange(15) // 5)
    assert whole.total == split.total


def test_optimum_matches_brute_force_and_beats_or_equals_greedy_on_random_small_cases() -> None:
    rng = random.Random(3)
    for _ in range(40):
        needs, offerings = rng.randint(1, 5), rng.randint(1, 3)
        triples = {(n, o): rng.randint(1, 20) for n in range(needs) for o in range(offerings) if rng.random() < 0.7}
        if not triples:
            continue
        p = pairs(*((n, o, s) for (n, o), s in triples.items()))
        capacity = [rng.randint(0, 2) for _ in range(offerings)]
        optimum = solve(p, np.array(capacity), needs)
        assert optimum.total == brute_force(p, capacity, needs)
        assert optimum.total >= greedy(p, np.array(capacity), needs).total
        used = np.bincount(optimum.offering, minlength=offerings)
        assert all(used <= capacity) and len(set(optimum.need.tolist())) == len(optimum)
