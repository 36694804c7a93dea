"""The stacking policy: which programmes exclude each other, how often a grant may repeat, and
how much a household may receive.

The rules are data (`policy.toml` beside this module), versioned so that an alert can say which
policy raised it. Everything is checked when the file is loaded: a bad policy stops the service
at start with one line naming the file, the rule and the problem, rather than raising wrong
alerts later.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from contracts.catalogue import PROGRAMMES

DEFAULT_POLICY_PATH = Path(__file__).with_name("policy.toml")
AT_STAKE_CACHE_SIZE = 4096


class PolicyError(ValueError):
    """The policy file cannot be used: the message is one line naming the file, rule and problem."""


class Severity(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for the most severe, so that sorting by rank puts high first."""
        return list(Severity).index(self)


class Scope(StrEnum):
    HOUSEHOLD = "household"
    PERSON = "person"


class CapPeriod(StrEnum):
    MONTH = "month"
    YEAR = "year"


RuleId = Annotated[str, Field(pattern=r"^R-[A-Z0-9]+(-[A-Z0-9]+)*$", max_length=64)]
# Strict: TOML has real integers, so `true` or `7.0` here is a mistake, not a value to coerce.
PositiveInt = Annotated[int, Field(strict=True, gt=0)]
Text = Annotated[str, Field(min_length=1, max_length=300)]


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    min_programmes: ClassVar[int] = 1
    held_to_break: ClassVar[int] = 1  # how many of its programmes must be held before it can be broken

    id: RuleId
    severity: Severity
    programmes: tuple[str, ...]
    description: Text
    description_zh: Text

    @field_validator("programmes")
    @classmethod
    def _known_and_distinct(cls, programmes: tuple[str, ...]) -> tuple[str, ...]:
        for code in programmes:
            if code not in PROGRAMMES:
                raise ValueError(f"unknown programme code {code!r}")
        repeated = sorted({code for code in programmes if programmes.count(code) > 1})
        if repeated:
            raise ValueError(f"programme {repeated[0]!r} is listed twice")
        if len(programmes) < cls.min_programmes:
            raise ValueError(f"needs at least {cls.min_programmes} programmes, got {len(programmes)}")
        return programmes

    def covers(self, programme: str) -> bool:
        return programme in self.programmes

    def at_stake(self, programmes: frozenset[str]) -> bool:
        """Whether benefits of these programmes could break the rule: they hold at least
        `held_to_break` of its programmes."""
        return len(programmes.intersection(self.programmes)) >= self.held_to_break


class ExclusiveRule(_Rule):
    """No two of these programmes for the same household (or person) over overlapping periods."""

    min_programmes: ClassVar[int] = 2
    held_to_break: ClassVar[int] = 2  # benefits of one programme never break it

    scope: Scope


class OncePerPeriodRule(_Rule):
    """Grants of these programmes, together, at most once per window."""

    scope: Scope = Scope.HOUSEHOLD
    window_days: PositiveInt


class AmountCapRule(_Rule):
    """The amounts of these programmes, together, at most `cap_fen` per household per period."""

    period: CapPeriod
    cap_fen: PositiveInt


Rule: TypeAlias = ExclusiveRule | OncePerPeriodRule | AmountCapRule

# The TOML array-of-tables name of each kind of rule.
RULE_KINDS: dict[str, type[_Rule]] = {
    "exclusive": ExclusiveRule,
    "once_per_period": OncePerPeriodRule,
    "amount_cap": AmountCapRule,
}


class StackingPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Annotated[str, Field(min_length=1, max_length=32)]
    effective_from: date
    exclusive: tuple[ExclusiveRule, ...] = ()
    once_per_period: tuple[OncePerPeriodRule, ...] = ()
    amount_cap: tuple[AmountCapRule, ...] = ()

    @model_validator(mode="after")
    def _unique_ids(self) -> StackingPolicy:
        duplicate = _first_duplicate(rule.id for rule in self.rules)
        if duplicate is not None:
            raise ValueError(f"duplicate rule id {duplicate!r}")
        return self

    @property
    def rules(self) -> tuple[Rule, ...]:
        return (*self.exclusive, *self.once_per_period, *self.amount_cap)

    def rules_at_stake(self, programmes: frozenset[str]) -> tuple[Rule, ...]:
        """The rules that benefits of these programmes could break, in policy order: no other
        needs checking (an exclusive rule only once two of its programmes are held; a household
        in dibao alone is not checked against every programme dibao excludes).

        Remembered per set of programmes (a policy never changes once loaded), since the ledger
        asks after every grant and households hold few distinct combinations."""
        remembered = self._remembered_at_stake
        found = remembered.get(programmes)
        if found is None:
            if len(remembered) >= AT_STAKE_CACHE_SIZE:
                remembered.clear()
            found = tuple(rule for rule in self.rules if rule.at_stake(programmes))
            remembered[programmes] = found
        return found

    @cached_property
    def _remembered_at_stake(self) -> dict[frozenset[str], tuple[Rule, ...]]:
        # Kept in the instance's __dict__: a plain attribute read, where a pydantic private
        # attribute goes through __getattr__ at every call.
        return {}

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


def load_policy(path: Path | None = None) -> StackingPolicy:
    """Read and check the policy file (by default the one shipped beside this module)."""
    source = path if path is not None else DEFAULT_POLICY_PATH
    return parse_policy(_read_toml(source), source=str(source))


def parse_policy(document: Mapping[str, Any], source: str = "<policy>") -> StackingPolicy:
    """Check a parsed policy document; `source` names it in error messages."""
    rules = {kind: _parse_rules(document, kind, source) for kind in RULE_KINDS}
    _reject_duplicate_ids(rules, source)
    header = {key: value for key, value in document.items() if key not in RULE_KINDS}
    try:
        return StackingPolicy.model_validate({**header, **rules})
    except ValidationError as error:
        raise PolicyError(f"{source}: {_first_problem(error)}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise PolicyError(f"{path}: cannot read the policy file: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise PolicyError(f"{path}: the policy file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"{path}: not valid TOML: {error}") from None


def _parse_rules(document: Mapping[str, Any], kind: str, source: str) -> tuple[_Rule, ...]:
    tables = document.get(kind, [])
    if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
        raise PolicyError(f"{source}: {kind} must be written as [[{kind}]] tables")
    model = RULE_KINDS[kind]
    return tuple(
        _parse_rule(model, table, f"{kind} #{number}", source) for number, table in enumerate(tables, start=1)
    )


def _parse_rule(model: type[_Rule], table: dict[str, Any], position: str, source: str) -> _Rule:
    try:
        return model.model_validate(table)
    except ValidationError as error:
        # A rule is named by its id when it has a usable one, otherwise by its place in the file.
        rule_id = table.get("id")
        label = rule_id if isinstance(rule_id, str) and rule_id.strip() else position
        raise PolicyError(f"{source}: rule {label}: {_first_problem(error)}") from None


def _reject_duplicate_ids(rules: Mapping[str, tuple[_Rule, ...]], source: str) -> None:
    duplicate = _first_duplicate(rule.id for kind_rules in rules.values() for rule in kind_rules)
    if duplicate is not None:
        raise PolicyError(f"{source}: rule {duplicate}: duplicate rule id (ids are unique across all rules)")


def _first_duplicate(ids: Any) -> str | None:
    seen: set[str] = set()
    for rule_id in ids:
        if rule_id in seen:
            return str(rule_id)
        seen.add(rule_id)
    return None


def _first_problem(error: ValidationError) -> str:
    """One line out of pydantic's report: where, what, and how many more problems there are."""
    # A misspelt key also shows up as a required key missing: name the misspelling first.
    problems = sorted(error.errors(include_url=False), key=lambda found: found["type"] != "extra_forbidden")
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    text = f"{where}: {message}" if where else message
    if len(problems) > 1:
        text += f" (and {len(problems) - 1} more)"
    return " ".join(text.split())
