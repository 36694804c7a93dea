"""Every transition of a proposal, and the impossible ones."""

from __future__ import annotations

import itertools

import pytest

from services.matching.lifecycle import (
    ACTIONS,
    FINAL,
    OPEN,
    STATES,
    TRANSITIONS,
    ImpossibleTransition,
    holds_units,
    next_state,
    repools_need,
)

ALLOWED = [
    ("proposed", "accept", "accepted"),
    ("proposed", "decline", "declined"),
    ("proposed", "expire", "expired"),
    ("proposed", "cancel", "cancelled"),
    ("proposed", "fulfil", "fulfilled"),
    ("accepted", "start", "in_progress"),
    ("accepted", "fulfil", "fulfilled"),
    ("accepted", "decline", "declined"),
    ("accepted", "fail", "failed"),
    ("accepted", "cancel", "cancelled"),
    ("in_progress", "fulfil", "fulfilled"),
    ("in_progress", "fail", "failed"),
    ("in_progress", "cancel", "cancelled"),
]


@pytest.mark.parametrize(("state", "action", "after"), ALLOWED)
def test_each_allowed_transition(state: str, action: str, after: str) -> None:
    assert next_state(state, action) == after


def test_the_table_is_exactly_the_allowed_list() -> None:
    assert {(s, a): t for s, a, t in ALLOWED} == TRANSITIONS


@pytest.mark.parametrize(
    ("state", "action"),
    [(s, a) for s, a in itertools.product(sorted(STATES), sorted(ACTIONS)) if (s, a) not in TRANSITIONS],
)
def test_every_other_transition_is_impossible(state: str, action: str) -> None:
    with pytest.raises(ImpossibleTransition):
        next_state(state, action)


def test_final_states_have_no_way_out() -> None:
    assert not [key for key in TRANSITIONS if key[0] in FINAL]


def test_open_states_hold_units_and_final_ones_release_them() -> None:
    assert all(holds_units(s) for s in OPEN) and not any(holds_units(s) for s in FINAL)


def test_which_final_states_put_the_need_back() -> None:
    assert {s for s in FINAL if repools_need(s)} == {"declined", "expired", "failed", "cancelled"}
