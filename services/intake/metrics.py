"""Intake's counters, served on /metrics with the runtime's registry."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter

from services.intake.domain import (
    Accepted,
    Duplicate,
    Incoming,
    Outcome,
    Pending,
    Rejected,
)


class IntakeMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.accepted = Counter(
            "intake_events_accepted", "Department events accepted and published as canonical events",
            ["department", "channel"], registry=registry,
        )
        self.rejected = Counter(
            "intake_events_rejected", "Department events rejected (published to the rejection topic)",
            ["department", "channel"], registry=registry,
        )
        self.reasons = Counter(
            "intake_rejection_reasons", "Reasons given in rejections, by reason code", ["reason"], registry=registry
        )
        self.pending = Counter(
            "intake_events_pending_identity", "Department events held for identity review (or behind one)",
            ["department"], registry=registry,
        )
        self.duplicates = Counter(
            "intake_events_duplicate", "Redelivered or resent events skipped as already processed",
            ["channel"], registry=registry,
        )
        self.released = Counter(
            "intake_events_released", "Held events accepted after staff resolved an identity review", registry=registry
        )

    def count(self, items: Sequence[Incoming], outcomes: Sequence[Outcome]) -> None:
        for item, outcome in zip(items, outcomes, strict=True):
            match outcome:
                case Accepted():
                    self.accepted.labels(item.department, item.channel).inc()
                case Rejected():
                    self.rejected.labels(item.department, item.channel).inc()
                    for problem in outcome.problems:
                        self.reasons.labels(str(problem.code)).inc()
                case Pending():
                    self.pending.labels(item.department).inc()
                case Duplicate():
                    self.duplicates.labels(item.channel).inc()

    def count_released(self, outcomes: Sequence[Outcome]) -> None:
        self.released.inc(sum(isinstance(o, Accepted) for o in outcomes))
