"""The organisation's side of a match, as a FHIR Task: every state and every transition is here.

    requested --accept--> accepted --start--> in-progress --fulfil--> completed
        |                    |                     `------fail------> failed
        |                    |--fulfil--> completed  (delivery recorded without a separate start:
        |                    |                        passes through in-progress)
        |                    |--fail----> failed
        |--decline--> rejected
        |--cancel---> cancelled   (matching withdrew it; also from accepted)
        `--expire---> expired     (matching expired it, or its deadline passed)

Anything else is an ImpossibleTransition (HTTP 409). An organisation answering a proposal after
its deadline gets ImpossibleTransition too: the proposal has expired even if matching has not
said so yet.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Literal

DeclineReason = Literal["no_capacity", "outside_area", "not_eligible", "unreachable", "other"]
DECLINE_REASONS: tuple[DeclineReason, ...] = ("no_capacity", "outside_area", "not_eligible", "unreachable", "other")


class MatchState(StrEnum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Action(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    START = "start"
    FULFIL = "fulfil"
    FAIL = "fail"
    CANCEL = "cancel"
    EXPIRE = "expire"


S, A = MatchState, Action
TRANSITIONS: dict[tuple[MatchState, Action], MatchState] = {
    (S.REQUESTED, A.ACCEPT): S.ACCEPTED,
    (S.REQUESTED, A.DECLINE): S.REJECTED,
    (S.REQUESTED, A.CANCEL): S.CANCELLED,
    (S.REQUESTED, A.EXPIRE): S.EXPIRED,
    (S.ACCEPTED, A.START): S.IN_PROGRESS,
    (S.ACCEPTED, A.FULFIL): S.COMPLETED,
    (S.ACCEPTED, A.FAIL): S.FAILED,
    (S.ACCEPTED, A.CANCEL): S.CANCELLED,
    (S.IN_PROGRESS, A.FULFIL): S.COMPLETED,
    (S.IN_PROGRESS, A.FAIL): S.FAILED,
}
OPEN_STATES = frozenset({S.REQUESTED, S.ACCEPTED, S.IN_PROGRESS})
PROMISED_STATES = frozenset({S.ACCEPTED, S.IN_PROGRESS})  # capacity held for these
ANSWERS = frozenset({A.ACCEPT, A.DECLINE})  # what an organisation may do only before the deadline

_WORDS = {
    A.ACCEPT: "accept", A.DECLINE: "decline", A.START: "start delivering", A.FULFIL: "record delivery for",
    A.FAIL: "report a failed delivery for", A.CANCEL: "cancel", A.EXPIRE: "expire",
}


class ImpossibleTransition(Exception):
    """The match is not in a state that allows this; the message says why, for a person."""


def next_state(state: MatchState, action: Action, now: datetime, expires_at: datetime) -> MatchState:
    """The state after `action`, or ImpossibleTransition."""
    if action in ANSWERS and state is S.REQUESTED and now >= expires_at:
        raise ImpossibleTransition(
            f"this proposal's deadline passed at {expires_at.isoformat()}: it can no longer be answered"
        )
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise ImpossibleTransition(f"cannot {_WORDS[action]} a match that is {state.value}{_hint(state)}") from None


def _hint(state: MatchState) -> str:
    return {
        S.REQUESTED: ": accept it first",
        S.REJECTED: ": it was declined",
        S.COMPLETED: ": delivery is already recorded",
        S.CANCELLED: ": matching withdrew it",
        S.EXPIRED: ": its deadline passed",
        S.FAILED: ": its delivery was reported failed",
    }.get(state, "")


def passes_through_start(state: MatchState, action: Action) -> bool:
    """Recording delivery straight from accepted also starts it (MatchStarted, then MatchFulfilled)."""
    return state is S.ACCEPTED and action is A.FULFIL


def is_overdue(state: MatchState, now: datetime, expires_at: datetime) -> bool:
    """A proposal nobody answered before its deadline: the periodic check expires it."""
    return state is S.REQUESTED and now >= expires_at


def check_decline_reason(code: DeclineReason, text: str) -> None:
    if code == "other" and not text.strip():
        raise ValueError("with reason_code 'other', say why in `reason`")


# Long digit runs are phone or ID numbers; an ID number may end in X.
_NUMBERS = re.compile(r"\d{6,}[\dXx]?")


def mask_free_text(text: str) -> str:
    """Free text travels on a shared topic: numbers that could be a phone or an ID are masked."""
    return _NUMBERS.sub(lambda m: m.group()[:2] + "*" * (len(m.group()) - 2), text.strip())
