"""Intake's counters, served on /metrics with the runtime's registry."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry

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
        self.accepted = prometheus_client.Counter(
            "intake_events_accepted", "Department events accepted and published as canonical events",
            ["department", "channel"], registry=registry,
        )
        self.rejected = prometheus_client.Counter(
            "intake_events_rejected", "Department events rejected (published to the rejection topic)",
            ["department", "channel"], registry=registry,
        )
        self.reasons = prometheus_client.Counter(
            "intake_rejection_reasons", "Reasons given in rejections, by reason code", ["reason"], registry=registry
        )
        self.pending = prometheus_client.Counter(
            "intake_events_pending_identity", "Department events held for identity review (or behind one)",
            ["department"], registry=registry,
        )
        self.duplicates = prometheus_client.Counter(
            "intake_events_duplicate", "Redelivered or resent events skipped as already processed",
            ["channel"], registry=registry,
        )
        self.notices = prometheus_client.Counter(
            "intake_data_quality_notices", "Events used despite a damaged resident ID number, by code and what intake did",
            ["code", "outcome"], registry=registry,
        )
        self.released = prometheus_client.Counter(
            "intake_events_released", "Held events accepted after staff resolved an identity review", registry=registry
        )

    def count(self, items: Sequence[Incoming], outcomes: Sequence[Outcome]) -> None:
        """Tallied per batch first: a counter increment per event cost more than the tally."""
        tally: Counter[tuple[Any, ...]] = Counter()
        for item, outcome in zip(items, outcomes, strict=True):
            tally.update((self.notices, n.code, n.outcome) for n in getattr(outcome, "notices", ()))
            match outcome:
                case Accepted():
                    tally[(self.accepted, item.department, item.channel)] += 1
                case Rejected():
                    tally[(self.rejected, item.department, item.channel)] += 1
                    tally.update((self.reasons, str(problem.code)) for problem in outcome.problems)
                case Pending():
                    tally[(self.pending, item.department)] += 1
                case Duplicate():
                    tally[(self.duplicates, item.channel)] += 1
        for (counter, *labels), count in tally.items():
            counter.labels(*labels).inc(count)

    def count_released(self, outcomes: Sequence[Outcome]) -> None:
        self.released.inc(sum(isinstance(o, Accepted) for o in outcomes))
