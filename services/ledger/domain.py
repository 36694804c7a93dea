"""The ledger's domain: benefits from every source, the stacking rules applied to them, and the
household ledger that keeps them.

Pure Python: no Kafka, no HTTP, no SQL. The household aggregate (`households.Household`) holds a
`HouseholdLedger`; alerts follow its conflicts (`alerts.follow`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime
from itertools import combinations
from typing import Any, Final, Literal, TypeAlias

from services.ledger.policy import (
    AmountCapRule,
    CapPeriod,
    ExclusiveRule,
    OncePerPeriodRule,
    Rule,
    Scope,
    Severity,
    StackingPolicy,
)

SourceKind: TypeAlias = Literal["department", "charity"]
BenefitStatus: TypeAlias = Literal["active", "ended"]
ConflictKey: TypeAlias = str

SOURCE_KINDS: Final = ("department", "charity")
STATUSES: Final = ("active", "ended")
ALERT_TEXT_LIMIT: Final = 500  # contracts.hub.AlertRaisedData.description
HOUSEHOLD_SUBJECT: Final = "household"


class LedgerError(ValueError):
    """A record the ledger cannot take: wrong household, unknown field, impossible value."""


# --- benefits ---------------------------------------------------------------------------------


def _is_day(value: object) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


def _is_optional_text(value: object) -> bool:
    return value is None or (isinstance(value, str) and value != "")


def _is_optional_fen(value: object) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)


# The fields a change event may set, each with the test its value must pass.
_CHANGEABLE: Final[dict[str, Callable[[object], bool]]] = {
    "person_key": _is_optional_text,
    "amount_fen": _is_optional_fen,
    "in_kind": _is_optional_text,
    "period_start": _is_day,
    "period_end": lambda value: value is None or _is_day(value),
    "status": lambda value: value in STATUSES,
    "need_id": _is_optional_text,
}
CHANGEABLE_FIELDS: Final = frozenset(_CHANGEABLE)
_DAY_FIELDS: Final = ("period_start", "period_end")
_TIME_FIELDS: Final = (*_DAY_FIELDS, "occurred_at")


def _check_field(name: str, value: object) -> None:
    if not _CHANGEABLE[name](value):
        raise LedgerError(f"{name} cannot be {value!r}")


def _require_text(owner: object, *names: str) -> None:
    for name in names:
        value = getattr(owner, name)
        if not isinstance(value, str) or not value:
            raise LedgerError(f"{type(owner).__name__}.{name} must be a non-empty string, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class Benefit:
    """One benefit or service that a household, or one of its members, receives from one source."""

    benefit_id: str  # chosen by the source, e.g. the department's grant id
    household_id: str
    programme: str
    source: str  # department code or charity id
    source_kind: SourceKind
    period_start: date
    event_id: str  # the event that created or last changed it
    person_key: str | None = None  # None: the whole household
    amount_fen: int | None = None
    in_kind: str | None = None
    period_end: date | None = None  # last day included; None: open-ended
    status: BenefitStatus = "active"
    need_id: str | None = None
    occurred_at: datetime | None = None  # when `event_id` happened

    def __post_init__(self) -> None:
        _require_text(self, "benefit_id", "household_id", "programme", "source", "event_id")
        if self.source_kind not in SOURCE_KINDS:
            raise LedgerError(f"source_kind cannot be {self.source_kind!r}")
        for name in CHANGEABLE_FIELDS:
            _check_field(name, getattr(self, name))
        if self.occurred_at is not None and not isinstance(self.occurred_at, datetime):
            raise LedgerError(f"occurred_at cannot be {self.occurred_at!r}")

    @property
    def in_effect(self) -> bool:
        """False for a grant ended before it began (cancelled): it never ran, so it never conflicts."""
        return self.period_end is None or self.period_end >= self.period_start

    @property
    def last_day(self) -> date:
        return self.period_end if self.period_end is not None else date.max

    def overlaps(self, other: Benefit) -> bool:
        """Whether both ran on at least one common day."""
        if not (self.in_effect and other.in_effect):
            return False
        return self.period_start <= other.last_day and other.period_start <= self.last_day

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready values: dates and times as ISO strings."""
        values = {name: getattr(self, name) for name in _BENEFIT_FIELDS}
        for name in _TIME_FIELDS:
            if values[name] is not None:
                values[name] = values[name].isoformat()
        return values

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Benefit:
        values = dict(data)
        for name in _DAY_FIELDS:
            if name in values:
                values[name] = _as_day(values[name])
        values["occurred_at"] = _as_time(values.get("occurred_at"))
        return cls(**values)


_BENEFIT_FIELDS: Final = tuple(field.name for field in fields(Benefit))


@dataclass(frozen=True, kw_only=True)
class BenefitChange:
    """A change or end of one benefit, as its event said it.

    The ledger keeps every one, applied or still pending: a change that arrives late must still be
    put in its place among those already applied.
    """

    event_id: str
    household_id: str
    benefit_id: str
    updates: Mapping[str, Any]  # field name -> new value, for fields in CHANGEABLE_FIELDS
    occurred_at: datetime | None = None

    def __post_init__(self) -> None:
        _require_text(self, "event_id", "household_id", "benefit_id")
        for name, value in self.updates.items():
            if name not in CHANGEABLE_FIELDS:
                raise LedgerError(f"change {self.event_id}: {name!r} is not a field a change may set")
            _check_field(name, value)
        object.__setattr__(self, "updates", dict(self.updates))  # a private copy

    @classmethod
    def ending(
        cls,
        *,
        event_id: str,
        household_id: str,
        benefit_id: str,
        ended_on: date,
        occurred_at: datetime | None = None,
    ) -> BenefitChange:
        """The end of a benefit: `ended_on` is the last day it ran."""
        return cls(
            event_id=event_id,
            household_id=household_id,
            benefit_id=benefit_id,
            updates={"status": "ended", "period_end": ended_on},
            occurred_at=occurred_at,
        )

    def apply_to(self, benefit: Benefit) -> Benefit:
        return replace(benefit, **self.updates, event_id=self.event_id, occurred_at=self.occurred_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "household_id": self.household_id,
            "benefit_id": self.benefit_id,
            "updates": {name: _plain(value) for name, value in sorted(self.updates.items())},
            "occurred_at": _plain(self.occurred_at),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BenefitChange:
        updates = dict(data["updates"])
        for name in _DAY_FIELDS:
            if name in updates:
                updates[name] = _as_day(updates[name])
        return cls(
            event_id=data["event_id"],
            household_id=data["household_id"],
            benefit_id=data["benefit_id"],
            updates=updates,
            occurred_at=_as_time(data.get("occurred_at")),
        )


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _as_day(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _as_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


_EARLIEST: Final = datetime.min.replace(tzinfo=UTC)


def _event_order(occurred_at: datetime | None, event_id: str) -> tuple[datetime, str]:
    """The order in which events happened; the event id breaks ties so that the order is total."""
    # An event with no time sorts first; a naive time is read as UTC so that all keys compare.
    if occurred_at is None:
        return _EARLIEST, event_id
    if occurred_at.tzinfo is None:
        return occurred_at.replace(tzinfo=UTC), event_id
    return occurred_at, event_id


# --- conflicts ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Conflict:
    """Benefits that together break one stacking rule: of one household, or of households that
    share a member (`households`, sorted; `household_id` is the first, the one that holds the alert)."""

    rule_id: str
    severity: Severity
    household_id: str
    benefit_ids: tuple[str, ...]
    description: str
    subject: str = HOUSEHOLD_SUBJECT  # the person it is about (person rules), or the household
    window: str = ""  # the calendar period of a cap; empty for rules that compare periods
    households: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Sorted and without repeats, so that the same conflict found twice has the same key.
        object.__setattr__(self, "benefit_ids", tuple(sorted(set(self.benefit_ids))))
        object.__setattr__(self, "severity", Severity(self.severity))
        object.__setattr__(self, "households", tuple(sorted(set(self.households) | {self.household_id})))

    @property
    def conflict_key(self) -> ConflictKey:
        """This exact conflict: rule id and the benefits involved."""
        return "|".join((self.rule_id, *self.benefit_ids))

    @property
    def alert_key(self) -> ConflictKey:
        """The identity of the alert it raises: one alert is one conflict, the same rule about the
        same person or household in the same period window, however many benefits join it."""
        return f"{self.rule_id}|{self.subject}|{self.window}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "conflict_key": self.conflict_key,
            "rule_id": self.rule_id,
            "severity": str(self.severity),
            "household_id": self.household_id,
            "benefit_ids": list(self.benefit_ids),
            "description": self.description,
        }


def joined(conflicts: Iterable[Conflict]) -> list[Conflict]:
    """The conflicts as alerts see them: those with the same alert key joined into one (their
    benefits together), most severe first."""
    by_key: dict[ConflictKey, list[Conflict]] = defaultdict(list)
    for conflict in conflicts:
        by_key[conflict.alert_key].append(conflict)
    out = []
    for parts in by_key.values():
        if len(parts) == 1:
            out.append(parts[0])
            continue
        first = parts[0]
        ids = {benefit_id for part in parts for benefit_id in part.benefit_ids}
        households = {h for part in parts for h in part.households}
        description = _clipped(f"{len(ids)} benefits conflict: " + " ".join(part.description for part in parts))
        out.append(replace(first, benefit_ids=tuple(ids), description=description, household_id=min(households),
                           households=tuple(households)))
    return sorted(out, key=_conflict_order)


def _conflict_order(conflict: Conflict) -> tuple[int, str, tuple[str, ...]]:
    return conflict.severity.rank, conflict.rule_id, conflict.benefit_ids


def find_conflicts(benefits: Iterable[Benefit], policy: StackingPolicy) -> list[Conflict]:
    """Every conflict among these benefits under every rule, each once, most severe first."""
    households: dict[str, dict[str, Benefit]] = defaultdict(dict)
    for benefit in benefits:
        households[benefit.household_id][benefit.benefit_id] = benefit
    return _each_once(conflict for household in households.values() for conflict in _household_conflicts(household.values(), policy))


def _each_once(conflicts: Iterable[Conflict]) -> list[Conflict]:
    """Each conflict once (by its key), most severe first."""
    found = {conflict.conflict_key: conflict for conflict in conflicts}
    return sorted(found.values(), key=_conflict_order)


def check_grant(existing: Iterable[Benefit], proposed: Benefit, policy: StackingPolicy) -> list[Conflict]:
    """The pre-grant check: the conflicts that adding `proposed` would create.

    A proposed benefit with the id of an existing one replaces it, so re-checking a grant does
    not report the conflicts it already has.
    """
    current = list(existing)
    already = {conflict.conflict_key for conflict in find_conflicts(current, policy)}
    after = [benefit for benefit in current if benefit.benefit_id != proposed.benefit_id] + [proposed]
    return [
        conflict
        for conflict in find_conflicts(after, policy)
        if proposed.benefit_id in conflict.benefit_ids and conflict.conflict_key not in already
    ]


def conflicts_across(
    benefits: Iterable[Benefit], members: Mapping[str, Collection[str]], policy: StackingPolicy, household_rules: bool
) -> list[Conflict]:
    """The conflicts among the benefits of households that share a member (`members`: household
    id -> its person keys) that span more than one of them. Person rules follow each person into
    every household they are a member of; household rules take the households as one only when
    `household_rules` (until staff decide they are two)."""

    def same_scope(scope: Scope, one: Benefit, other: Benefit) -> bool:
        if one.household_id == other.household_id:
            return _same_scope(scope, one, other)
        if scope is Scope.HOUSEHOLD:
            return household_rules
        if one.person_key is not None and other.person_key is not None:
            return one.person_key == other.person_key
        # A household-level benefit covers the members of its own household.
        if one.person_key is not None:
            return one.person_key in members.get(other.household_id, ())
        if other.person_key is not None:
            return other.person_key in members.get(one.household_id, ())
        return True  # both households' benefits cover the member they share

    found = _household_conflicts(benefits, policy, same_scope, caps=household_rules)
    return sorted((c for c in found if len(c.households) > 1), key=_conflict_order)


ScopeCheck = Callable[[Scope, Benefit, Benefit], bool]


def _household_conflicts(
    benefits: Iterable[Benefit], policy: StackingPolicy, same_scope: ScopeCheck | None = None, caps: bool = True
) -> Iterator[Conflict]:
    running = [b for b in benefits if b.in_effect]
    rules = policy.rules_at_stake(frozenset(b.programme for b in running))
    if not rules:
        return
    scope = same_scope or _same_scope
    running.sort(key=lambda b: (b.period_start, b.benefit_id))
    for rule in rules:
        if isinstance(rule, ExclusiveRule):
            yield from _exclusive_conflicts(rule, running, scope)
        elif isinstance(rule, OncePerPeriodRule):
            yield from _repeat_conflicts(rule, running, scope)
        elif caps:
            yield from _cap_conflicts(rule, running)


def _exclusive_conflicts(rule: ExclusiveRule, benefits: Sequence[Benefit], same_scope: ScopeCheck) -> Iterator[Conflict]:
    covered = [benefit for benefit in benefits if rule.covers(benefit.programme)]
    for earlier, later in combinations(covered, 2):
        if earlier.programme == later.programme or not same_scope(rule.scope, earlier, later):
            continue
        if earlier.overlaps(later):
            detail = f"{_named(earlier)} and {_named(later)} both run from {later.period_start}"
            yield _conflict(rule, (earlier, later), detail, _subject(rule.scope, earlier, later))


def _repeat_conflicts(rule: OncePerPeriodRule, benefits: Sequence[Benefit], same_scope: ScopeCheck) -> Iterator[Conflict]:
    covered = [benefit for benefit in benefits if rule.covers(benefit.programme)]
    for earlier, later in combinations(covered, 2):
        days_apart = (later.period_start - earlier.period_start).days
        if days_apart < rule.window_days and same_scope(rule.scope, earlier, later):
            detail = f"{_named(earlier)} and {_named(later)} start {days_apart} days apart"
            yield _conflict(rule, (earlier, later), detail, _subject(rule.scope, earlier, later))


def _subject(scope: Scope, one: Benefit, other: Benefit) -> str:
    if scope is Scope.PERSON:
        return one.person_key or other.person_key or HOUSEHOLD_SUBJECT
    return HOUSEHOLD_SUBJECT


def _cap_conflicts(rule: AmountCapRule, benefits: Sequence[Benefit]) -> Iterator[Conflict]:
    periods: dict[str, list[Benefit]] = defaultdict(list)
    for benefit in benefits:
        if rule.covers(benefit.programme) and benefit.amount_fen is not None:
            periods[_calendar_period(rule.period, benefit.period_start)].append(benefit)
    for period, granted in sorted(periods.items()):
        total = sum(benefit.amount_fen or 0 for benefit in granted)
        if total > rule.cap_fen:
            detail = (
                f"{_yuan(total)} CNY in {period} from {len(granted)} grants, "
                f"over the cap of {_yuan(rule.cap_fen)}"
            )
            yield _conflict(rule, granted, detail, window=period)


def _same_scope(scope: Scope, one: Benefit, other: Benefit) -> bool:
    if scope is Scope.HOUSEHOLD:
        return True
    # A household-level benefit covers every member, so it meets each person's own benefits.
    return one.person_key is None or other.person_key is None or one.person_key == other.person_key


def _calendar_period(period: CapPeriod, day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}" if period is CapPeriod.MONTH else f"{day.year:04d}"


def _named(benefit: Benefit) -> str:
    return f"{benefit.programme} {benefit.benefit_id}"


def _yuan(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d}"


def _conflict(rule: Rule, benefits: Sequence[Benefit], detail: str, subject: str = HOUSEHOLD_SUBJECT, window: str = "") -> Conflict:
    households = {benefit.household_id for benefit in benefits}
    return Conflict(
        rule_id=rule.id,
        severity=rule.severity,
        household_id=min(households),
        benefit_ids=tuple(benefit.benefit_id for benefit in benefits),
        description=_clipped(f"{detail}. {rule.description}"),
        subject=subject,
        window=window,
        households=tuple(households),
    )


def _clipped(description: str) -> str:
    if len(description) > ALERT_TEXT_LIMIT:
        return description[: ALERT_TEXT_LIMIT - 1] + "…"
    return description


# --- the household ledger -------------------------------------------------------------------


class HouseholdLedger:
    """One household's benefits from every source, and the conflicts among them.

    The ledger keeps the records it was given (grants and changes), and a benefit is always its
    latest grant with every change applied on top in the order the changes happened. So the state
    depends on which events arrived, never on the order they came in: a change or end for a
    benefit not yet granted waits as pending until the grant arrives, a redelivered event (same
    event id) changes nothing, and a change that arrives late still takes its place in time.
    """

    def __init__(
        self,
        household_id: str,
        policy: StackingPolicy,
        *,
        grants: Iterable[Benefit] = (),
        changes: Iterable[BenefitChange] = (),
    ) -> None:
        self.household_id = household_id
        self.policy = policy
        self._grants: dict[str, list[Benefit]] = defaultdict(list)
        self._changes: dict[str, list[BenefitChange]] = defaultdict(list)
        self._event_ids: set[str] = set()
        self._benefits: dict[str, Benefit] = {}
        for benefit in grants:
            self._take_grant(benefit)
        for change in changes:
            self._take_change(change)

    # -- reading

    @property
    def benefits(self) -> list[Benefit]:
        """Every benefit as it stands now, by benefit id."""
        return [self._benefits[benefit_id] for benefit_id in sorted(self._benefits)]

    @property
    def pending(self) -> list[BenefitChange]:
        """Changes and ends waiting for their benefit's grant, in the order they happened."""
        waiting = (
            change
            for benefit_id, changes in self._changes.items()
            if benefit_id not in self._benefits
            for change in changes
        )
        return sorted(waiting, key=_change_order)

    @property
    def grants(self) -> list[Benefit]:
        """Every grant record received (to store): the benefits as they were granted."""
        every = (grant for grants in self._grants.values() for grant in grants)
        return sorted(every, key=lambda grant: (grant.benefit_id, _grant_order(grant)))

    @property
    def changes(self) -> list[BenefitChange]:
        """Every change record received, applied or pending (to store)."""
        every = (change for changes in self._changes.values() for change in changes)
        return sorted(every, key=lambda change: (change.benefit_id, _change_order(change)))

    @property
    def benefit_ids(self) -> frozenset[str]:
        return frozenset(self._benefits)

    def benefit(self, benefit_id: str) -> Benefit | None:
        return self._benefits.get(benefit_id)

    def current(self) -> dict[str, Benefit]:
        """Every benefit as it stands now, by benefit id (a copy: a changed benefit is a new object)."""
        return dict(self._benefits)

    def conflicts(self) -> list[Conflict]:
        """The conflicts open now among this household's benefits (`find_conflicts` for one
        household, whose benefits are already one per id)."""
        return _each_once(_household_conflicts(self._benefits.values(), self.policy))

    def check_grant(self, proposed: Benefit) -> list[Conflict]:
        """The conflicts that granting `proposed` would add to this household."""
        return check_grant(self._benefits.values(), proposed, self.policy)

    # -- changing: each returns the conflicts open afterwards

    def grant(self, benefit: Benefit) -> list[Conflict]:
        self._take_grant(benefit)
        return self.conflicts()

    def apply(self, change: BenefitChange) -> list[Conflict]:
        """Apply a change record: a change of some fields, or an end (`BenefitChange.ending`)."""
        self._take_change(change)
        return self.conflicts()

    def absorb(self, other: HouseholdLedger) -> None:
        """Take every record of another household's ledger (hub households found to be one)."""
        for grant in other.grants:
            self._take_grant(replace(grant, household_id=self.household_id))
        for change in other.changes:
            self._take_change(replace(change, household_id=self.household_id))

    # -- inside

    def _take_grant(self, benefit: Benefit) -> None:
        self._check_household(benefit.household_id, benefit.event_id)
        if benefit.event_id in self._event_ids:
            return
        self._event_ids.add(benefit.event_id)
        self._grants[benefit.benefit_id].append(benefit)
        self._rebuild(benefit.benefit_id)

    def _take_change(self, change: BenefitChange) -> None:
        self._check_household(change.household_id, change.event_id)
        if change.event_id in self._event_ids:
            return
        self._event_ids.add(change.event_id)
        self._changes[change.benefit_id].append(change)
        if change.benefit_id in self._grants:
            self._rebuild(change.benefit_id)

    def _rebuild(self, benefit_id: str) -> None:
        # A later grant of the same benefit restates it; changes always apply on top of the
        # grant, even one stamped earlier (clocks differ between departments).
        benefit = max(self._grants[benefit_id], key=_grant_order)
        for change in sorted(self._changes.get(benefit_id, ()), key=_change_order):
            benefit = change.apply_to(benefit)
        self._benefits[benefit_id] = benefit

    def _check_household(self, household_id: str, event_id: str) -> None:
        if household_id != self.household_id:
            raise LedgerError(
                f"event {event_id} is for household {household_id}, not this ledger's {self.household_id}"
            )


def _grant_order(grant: Benefit) -> tuple[datetime, str]:
    return _event_order(grant.occurred_at, grant.event_id)


def _change_order(change: BenefitChange) -> tuple[datetime, str]:
    return _event_order(change.occurred_at, change.event_id)
