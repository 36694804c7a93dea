"""The FHIR Task states of a match, tested directly: every allowed transition, every other one
refused, and the deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.charity.matches import (
    TRANSITIONS,
    Action,
    ImpossibleTransition,
    MatchState,
    check_decline_reason,
    is_overdue,
    mask_free_text,
    next_state,
    passes_through_start,
)

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=1)

ALLOWED = [
    (MatchState.REQUESTED, Action.ACCEPT, MatchState.ACCEPTED),
    (MatchState.REQUESTED, Action.DECLINE, MatchState.REJECTED),
    (MatchState.REQUESTED, Action.CANCEL, MatchState.CANCELLED),
    (MatchState.REQUESTED, Action.EXPIRE, MatchState.EXPIRED),
    (MatchState.ACCEPTED, Action.START, MatchState.IN_PROGRESS),
    (MatchState.ACCEPTED, Action.FULFIL, MatchState.COMPLETED),
    (MatchState.ACCEPTED, Action.FAIL, MatchState.FAILED),
    (MatchState.ACCEPTED, Action.CANCEL, MatchState.CANCELLED),
    (MatchState.IN_PROGRESS, Action.FULFIL, MatchState.COMPLETED),
    (MatchState.IN_PROGRESS, Action.FAIL, MatchState.FAILED),
]


@pytest.mark.parametrize(("state", "action", "after"), ALLOWED)
def test_allowed_transitions(state: MatchState, action: Action, after: MatchState) -> None:
    assert next_state(state, action, NOW, LATER) is after


def test_the_table_is_exactly_the_allowed_list() -> None:
    assert {(s, a): t for s, a, t in ALLOWED} == TRANSITIONS


@pytest.mark.parametrize(
    ("state", "action"),
    [(s, a) for s in MatchState for a in Action if (s, a) not in TRANSITIONS],
)
def test_every_other_transition_is_impossible_with_a_message(state: MatchState, action: Action) -> None:
    with pytest.raises(ImpossibleTransition, match=state.value):
        next_state(state, action, NOW, LATER)


def test_fulfilling_a_declined_match_says_it_was_declined() -> None:
    with pytest.raises(ImpossibleTransition, match="declined"):
        next_state(MatchState.REJECTED, Action.FULFIL, NOW, LATER)


@pytest.mark.parametrize("action", [Action.ACCEPT, Action.DECLINE])
def test_answering_after_the_deadline_is_impossible(action: Action) -> None:
    with pytest.raises(ImpossibleTransition, match="deadline passed"):
        next_state(MatchState.REQUESTED, action, LATER, NOW)


def test_matching_may_cancel_after_the_deadline() -> None:
    assert next_state(MatchState.REQUESTED, Action.CANCEL, LATER, NOW) is MatchState.CANCELLED


def test_overdue_only_while_requested() -> None:
    assert is_overdue(MatchState.REQUESTED, LATER, NOW)
    assert not is_overdue(MatchState.REQUESTED, NOW, LATER)
    assert not is_overdue(MatchState.ACCEPTED, LATER, NOW)


def test_delivery_straight_from_accepted_passes_through_in_progress() -> None:
    assert passes_through_start(MatchState.ACCEPTED, Action.FULFIL)
    assert not passes_through_start(MatchState.IN_PROGRESS, Action.FULFIL)


def test_other_needs_text() -> None:
    with pytest.raises(ValueError, match="say why"):
        check_decline_reason("other", "  ")
    check_decline_reason("other", "volunteers away")
    check_decline_reason("no_capacity", "")


def test_numbers_in_free_text_are_masked() -> None:
    masked = mask_free_text("call 13812345678 or ID 11010519491231002X")
    assert "13812345678" not in masked and "11010519491231002X" not in masked
    assert masked.startswith("call 13*")
    assert mask_free_text("room 12, 3 parcels") == "room 12, 3 parcels"
