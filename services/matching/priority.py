"""Priority: how much a (need, offering) pair is preferred, as whole points, term by term.

The weights are data (`priority.toml` beside this module), checked when loaded: a bad file stops
the service at start with one line naming the key and the problem. `terms` is the one rule;
the round's vectorised scoring (candidates.py) is tested against it.
"""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from services.matching.model import COLOUR_STEPS, Household, Need

DEFAULT_PRIORITY_PATH = Path(__file__).with_name("priority.toml")

Points = Annotated[int, Field(strict=True, ge=0, le=10_000_000)]


class PriorityError(ValueError):
    """The weights file cannot be used; the message is one line."""


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class UrgencyWeights(_Section):
    points_per_level: Points


class ColourWeights(_Section):
    points_per_step: Points


class WaitingWeights(_Section):
    points_per_day: Points
    max_days: Annotated[int, Field(strict=True, ge=1, le=3650)]


class ReceivedWeights(_Section):
    points_per_step: Points
    max_counted: Annotated[int, Field(strict=True, ge=1, le=100)]


class NearnessWeights(_Section):
    same_subdistrict: Points
    same_district: Points
    citywide: Points

    @model_validator(mode="after")
    def _nearer_is_more(self) -> NearnessWeights:
        if not self.same_subdistrict >= self.same_district >= self.citywide:
            raise ValueError("must give same_subdistrict >= same_district >= citywide")
        return self


class PriorityWeights(_Section):
    version: Annotated[str, Field(min_length=1, max_length=32)]
    strict_order: bool = True
    urgency: UrgencyWeights
    colour: ColourWeights
    waiting: WaitingWeights
    received: ReceivedWeights
    nearness: NearnessWeights
    overdue_days: dict[str, Annotated[int, Field(strict=True, ge=1, le=3650)]]

    @field_validator("overdue_days")
    @classmethod
    def _every_urgency(cls, days: dict[str, int]) -> dict[str, int]:
        if set(days) != {"1", "2", "3", "4", "5"}:
            raise ValueError("must give days for each urgency 1 to 5, and nothing else")
        return days

    @model_validator(mode="after")
    def _order_holds(self) -> PriorityWeights:
        if not self.strict_order:
            return self
        nearness = self.nearness.same_subdistrict - self.nearness.citywide
        received = self.received.points_per_step * self.received.max_counted
        waiting = self.waiting.points_per_day * self.waiting.max_days
        colour = self.colour.points_per_step * max(COLOUR_STEPS.values())
        steps = [
            ("received.points_per_step", self.received.points_per_step, "nearness", nearness),
            ("waiting.points_per_day", self.waiting.points_per_day, "received", received),
            ("colour.points_per_step", self.colour.points_per_step, "waiting", waiting),
            ("urgency.points_per_level", self.urgency.points_per_level, "colour", colour),
        ]
        for step_name, step, below, most in steps:
            if step <= most:
                raise ValueError(
                    f"strict_order: {step_name} ({step}) must exceed the most the {below} term can give ({most})"
                )
        return self

    def overdue_after(self, urgency: int) -> int:
        return self.overdue_days[str(urgency)]


def load_weights(path: Path = DEFAULT_PRIORITY_PATH) -> PriorityWeights:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise PriorityError(f"{path}: cannot be read ({error.strerror or error})") from None
    except tomllib.TOMLDecodeError as error:
        raise PriorityError(f"{path}: not valid TOML ({error})") from None
    try:
        return PriorityWeights.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(file)"
        raise PriorityError(f"{path}: {where}: {first['msg']}") from None


# --- the terms ------------------------------------------------------------------------------


def waiting_days(need: Need, today: date) -> int:
    return max(0, (today - need.assessed_on).days)


def nearness_of(household: Household | None, districts: list[str], subdistricts: list[str]) -> str:
    if household is not None and household.subdistrict and household.subdistrict in subdistricts:
        return "same_subdistrict"
    if household is not None and household.district and household.district in districts:
        return "same_district"
    return "citywide"


def need_terms(need: Need, household: Household | None, weights: PriorityWeights, today: date) -> dict[str, dict[str, object]]:
    """The terms that depend on the need and its household only."""
    colour = household.colour if household else None
    received = (household.received.get(need.category, 0) if household else 0)
    days = waiting_days(need, today)
    counted_received = min(received, weights.received.max_counted)
    return {
        "urgency": {"value": need.urgency, "points": need.urgency * weights.urgency.points_per_level},
        "colour": {"value": colour, "points": COLOUR_STEPS.get(colour or "green", 0) * weights.colour.points_per_step},
        "waiting": {"value": days, "points": min(days, weights.waiting.max_days) * weights.waiting.points_per_day},
        "received": {
            "value": received,
            "points": (weights.received.max_counted - counted_received) * weights.received.points_per_step,
        },
    }


def terms(
    need: Need, household: Household | None, districts: list[str], subdistricts: list[str], weights: PriorityWeights, today: date
) -> dict[str, dict[str, object]]:
    """Every term of a pair's priority: its value and the points it gives."""
    found = need_terms(need, household, weights, today)
    nearness = nearness_of(household, districts, subdistricts)
    found["nearness"] = {"value": nearness, "points": getattr(weights.nearness, nearness)}
    return found


def total(found: dict[str, dict[str, object]]) -> int:
    return sum(int(term["points"]) for term in found.values())  # type: ignore[call-overload]
