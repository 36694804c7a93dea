"""Duplicate-service alerts: what one is, the states it goes through, and the transitions between
them. The only place that changes an alert; batches, reviewers' decisions and rebuilds all go
through these functions.

    open --(conflict gone)--> resolved            (decided by the ledger itself: decided_by "ledger")
    open --(reviewer)--> confirmed_duplicate | justified
    resolved --(reviewer)--> confirmed_duplicate | justified   (a reviewer may still record why)
    confirmed_duplicate | justified --(new conflicting benefits)--> open, marked new evidence

An alert is one conflict: the same rule about the same person or household in the same period
window (`Conflict.alert_key`). Benefits that join or leave it while it lasts change its evidence
(`alert.updated`), not its identity. `active` says whether the conflict still exists, whatever
the status.

Pure Python: no Kafka, no HTTP, no SQL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from services.ledger.domain import Conflict, ConflictKey, joined


class AlertStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    CONFIRMED_DUPLICATE = "confirmed_duplicate"
    JUSTIFIED = "justified"


REVIEW_DECISIONS: Final = (AlertStatus.CONFIRMED_DUPLICATE, AlertStatus.JUSTIFIED)
DECIDABLE: Final = (AlertStatus.OPEN, AlertStatus.RESOLVED)
LEDGER: Final = "ledger"  # decided_by of what the ledger closed itself


class AlertError(ValueError):
    """A transition the alert's state does not allow."""


class AlertAlreadyDecided(AlertError):
    def __init__(self, alert: Alert) -> None:
        super().__init__(f"alert {alert.alert_id} was already decided: {alert.status} by {alert.decided_by}")
        self.alert = alert


def alert_id(household_id: str, conflict_key: ConflictKey, ordinal: int) -> str:
    """The same conflict raised for the n-th time in a household has the same id on every replay."""
    digest = hashlib.sha256(f"{household_id}\x1f{conflict_key}\x1f{ordinal}".encode()).hexdigest()
    return f"A-{digest[:24]}"


@dataclass(frozen=True, kw_only=True)
class Alert:
    """One duplicate-service alert, as stored in `ledger_alert` (one field per column)."""

    alert_id: str
    household_id: str
    conflict_key: ConflictKey
    rule_id: str
    severity: str
    district: str | None
    programmes: str  # ",A,B,": one LIKE finds a programme
    description: str
    benefits: list[dict[str, Any]] = field(hash=False)
    status: str
    active: bool
    raised_at: datetime
    raised_by_event: str
    resolved_at: datetime | None = None
    decision_note: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    new_evidence: bool = False  # decided, then new conflicting benefits joined: back in the queue
    updated_at: datetime | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Alert:
        return cls(**row)

    def to_row(self) -> dict[str, Any]:
        return dict(self.__dict__)  # shallow: dataclasses.asdict deep-copies, a tenth of a batch

    @property
    def is_open(self) -> bool:
        return self.status == AlertStatus.OPEN

    # -- transitions: each returns the alert as it is afterwards

    @property
    def benefit_ids(self) -> frozenset[str]:
        return frozenset(b["benefit_id"] for b in self.benefits)

    def closed_by_ledger(self, now: datetime, note: str = "") -> Alert:
        """The conflict is gone: the alert is no longer active, and an open one is resolved by
        the ledger (which says so in `decided_by`)."""
        if not self.active:
            raise AlertError(f"alert {self.alert_id} is already closed")
        if self.status == AlertStatus.OPEN:
            return replace(self, active=False, resolved_at=now, status=AlertStatus.RESOLVED.value, decided_by=LEDGER,
                           decided_at=now, decision_note=note or self.decision_note, new_evidence=False)
        return replace(self, active=False, resolved_at=now)

    def with_evidence(self, conflict: Conflict, benefits: list[dict[str, Any]], now: datetime) -> Alert:
        """The conflict now holds these benefits. New ones after a reviewer's decision send the
        alert back to the queue, marked new evidence (the earlier decision stays readable)."""
        joined = {b["benefit_id"] for b in benefits} - self.benefit_ids
        requeue = bool(joined) and self.status in REVIEW_DECISIONS
        return replace(
            self, benefits=benefits, description=conflict.description, severity=str(conflict.severity),
            programmes=_programmes(benefits), updated_at=now,
            status=AlertStatus.OPEN.value if requeue else self.status,
            new_evidence=self.new_evidence or requeue,
        )

    def decided(self, decision: str, note: str, by: str, now: datetime) -> Alert:
        """A reviewer's decision: once per alert."""
        if decision not in REVIEW_DECISIONS:
            raise AlertError(f"{decision!r} is not a decision a reviewer makes")
        if self.status not in DECIDABLE:
            raise AlertAlreadyDecided(self)
        return replace(self, status=decision, decision_note=note, decided_by=by, decided_at=now, new_evidence=False)

    def restored(self, decision: str, note: str, by: str, at: datetime) -> Alert:
        """A decision read back from the alerts topic when the ledger is rebuilt (it was checked
        when it was made, so only its kind is checked now)."""
        if decision not in REVIEW_DECISIONS:
            return self
        return replace(self, status=decision, decision_note=note, decided_by=by, decided_at=at, new_evidence=False)

    def restored_requeue(self) -> Alert:
        """An `alert.updated` read back when the ledger is rebuilt that sent a decided alert back
        to the queue (the replay raised its evidence before any decision was restored)."""
        if self.status not in REVIEW_DECISIONS:
            return self
        return replace(self, status=AlertStatus.OPEN.value, new_evidence=True)


def raised(
    household_id: str, conflict: Conflict, ordinal: int, district: str | None, benefits: list[dict[str, Any]],
    cause_event_id: str, now: datetime,
) -> Alert:
    return Alert(
        alert_id=alert_id(household_id, conflict.alert_key, ordinal),
        household_id=household_id,
        conflict_key=conflict.alert_key,
        rule_id=conflict.rule_id,
        severity=str(conflict.severity),
        district=district,
        programmes=_programmes(benefits),
        description=conflict.description,
        benefits=benefits,
        status=AlertStatus.OPEN.value,
        active=True,
        raised_at=now,
        raised_by_event=cause_event_id,
    )


@dataclass
class AlertChanges:
    """What following a household's conflicts did to its alerts."""

    raised: list[Alert] = field(default_factory=list)
    updated: list[Alert] = field(default_factory=list)
    closed: list[Alert] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.raised or self.updated or self.closed)


BenefitListing = Callable[[Conflict], list[dict[str, Any]]]


def follow(
    alerts: list[Alert], household_id: str, district: str | None, conflicts: Sequence[Conflict],
    listing: BenefitListing, cause_event_id: str, now: datetime, note: str = "",
) -> AlertChanges:
    """Bring a household's alerts (changed in place in `alerts`) in line with the conflicts open
    now (joined by alert key, see `domain.joined`): a conflict with no active alert raises one, an
    active alert whose benefits changed takes the new evidence, one whose conflict is gone closes."""
    changes = AlertChanges()
    active = {alert.conflict_key: index for index, alert in enumerate(alerts) if alert.active}
    for conflict in joined(conflicts):
        index = active.pop(conflict.alert_key, None)
        if index is None:
            alert = raised(household_id, conflict, _times_raised(alerts, conflict.alert_key), district, listing(conflict),
                           cause_event_id, now)
            alerts.append(alert)
            changes.raised.append(alert)
        elif alerts[index].benefit_ids != frozenset(conflict.benefit_ids):
            alerts[index] = alerts[index].with_evidence(conflict, listing(conflict), now)
            changes.updated.append(alerts[index])
    for key in sorted(active):
        index = active[key]
        alerts[index] = alerts[index].closed_by_ledger(now, note)
        changes.closed.append(alerts[index])
    return changes


def _programmes(benefits: Iterable[dict[str, Any]]) -> str:
    return "," + ",".join(sorted({b["programme"] for b in benefits})) + ","


def _times_raised(alerts: Iterable[Alert], conflict_key: ConflictKey) -> int:
    return sum(1 for alert in alerts if alert.conflict_key == conflict_key)
