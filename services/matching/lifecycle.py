"""A proposal's life, in one place: its states, what may move it, and where each move leads.

    proposed --accept--> accepted --start--> in_progress --fulfil--> fulfilled
       |                    |                     |
       |                    +--fulfil-------------+
       +--fulfil (delivered without a separate acceptance)
       +--decline--> declined          (also from accepted: the organisation could not do it after all)
       +--expire---> expired           (no answer by the deadline)
    accepted / in_progress --fail--> failed
    proposed --cancel--> cancelled     (offering withdrawn, closed or stale; need closed or met;
    accepted / in_progress --cancel--> cancelled   household now served in that category)

`proposed`, `accepted` and `in_progress` are open: each holds its units of the offering.
Every other state is final and releases them; after `declined`, `expired` or `failed` the need
goes back into the pool and is never proposed to that offering again. Any other move is
impossible and raises.
"""

from __future__ import annotations

OPEN = frozenset({"proposed", "accepted", "in_progress"})
FINAL = frozenset({"fulfilled", "declined", "expired", "failed", "cancelled"})
STATES = OPEN | FINAL
# Final states after which the offering is not asked again for the same need.
REFUSED = frozenset({"declined", "expired", "failed"})

TRANSITIONS: dict[tuple[str, str], str] = {
    ("proposed", "accept"): "accepted",
    ("proposed", "decline"): "declined",
    ("proposed", "expire"): "expired",
    ("proposed", "cancel"): "cancelled",
    ("proposed", "fulfil"): "fulfilled",
    ("accepted", "start"): "in_progress",
    ("accepted", "fulfil"): "fulfilled",
    ("accepted", "decline"): "declined",
    ("accepted", "fail"): "failed",
    ("accepted", "cancel"): "cancelled",
    ("in_progress", "fulfil"): "fulfilled",
    ("in_progress", "fail"): "failed",
    ("in_progress", "cancel"): "cancelled",
}
ACTIONS = frozenset(action for _, action in TRANSITIONS)


class ImpossibleTransition(ValueError):
    def __init__(self, state: str, action: str) -> None:
        super().__init__(f"a {state} proposal cannot {action}")
        self.state = state
        self.action = action


def next_state(state: str, action: str) -> str:
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise ImpossibleTransition(state, action) from None


def holds_units(state: str) -> bool:
    return state in OPEN


def repools_need(state: str) -> bool:
    """After this final state the need is open again for other offerings."""
    return state in REFUSED or state == "cancelled"
