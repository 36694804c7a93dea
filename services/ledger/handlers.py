"""Canonical events and charity fulfilments in: one batch, one unit of work, one commit, then the
outbox is flushed and FastStream commits the offsets.

Input the ledger cannot read is counted, logged (its position and the event id it carries when
that can be read safely, never the payload) and skipped: intake has already checked what it
publishes, and a poison message must never stop the ledger.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from faststream.kafka import KafkaMessage
from prometheus_client import CollectorRegistry, Counter

from contracts.envelope import Event
from contracts.hub import HUB_EVENTS
from kit.broker import Delivery, deliveries_of, log_unreadable
from kit.logs import get_logger
from kit.service import BatchSurvivors, ServiceRuntime
from services.ledger.batch import HouseholdCache, Outcome, apply_batch
from services.ledger.policy import StackingPolicy

log = get_logger(__name__)


@dataclass(frozen=True)
class LedgerMetrics:
    events: Counter
    alerts: Counter

    @classmethod
    def on(cls, registry: CollectorRegistry) -> LedgerMetrics:
        return cls(
            events=Counter("ledger_events", "Events seen by the ledger, by outcome", ["outcome"], registry=registry),
            alerts=Counter("ledger_alerts", "Duplicate-service alerts raised, updated or closed", ["change"], registry=registry),
        )

    def count(self, outcome: Outcome, unreadable: int) -> None:
        for name in ("applied", "duplicates", "ignored", "refused"):
            self.events.labels(name).inc(getattr(outcome, name))
        self.events.labels("unreadable").inc(unreadable)
        self.alerts.labels("raised").inc(outcome.alerts_raised)
        self.alerts.labels("updated").inc(outcome.alerts_updated)
        self.alerts.labels("closed").inc(outcome.alerts_closed)


def read_events(deliveries: Sequence[Delivery]) -> tuple[list[Event], int]:
    """The events in these records, and how many records could not be read as events."""
    events: list[Event] = []
    unreadable = 0
    for delivery in deliveries:
        try:
            events.append(HUB_EVENTS.parse(delivery.value))
        except ValueError as error:  # JSON, validation and unknown-type errors are all ValueErrors
            unreadable += 1
            log_unreadable(log, delivery, error)
    return events, unreadable


def apply_and_commit(runtime: ServiceRuntime, events: Sequence[Event], policy: StackingPolicy, cache: HouseholdCache) -> Outcome:
    with runtime.unit_of_work() as unit:
        outcome = apply_batch(unit, events, policy, cache=cache)
        unit.commit()
    return outcome


def make_on_events(
    runtime: ServiceRuntime, policy: StackingPolicy, metrics: LedgerMetrics, cache: HouseholdCache
) -> Callable[[KafkaMessage], Awaitable[None]]:
    survivors = BatchSurvivors(loop_runs_meanwhile=True)  # the batch runs in a thread

    # Batches come one at a time, so only one thread at a time uses the cache.
    async def on_events(message: KafkaMessage) -> None:
        started = time.perf_counter()
        with survivors.batch():
            events, unreadable = read_events(deliveries_of(message))
            outcome = await asyncio.to_thread(apply_and_commit, runtime, events, policy, cache)
        metrics.count(outcome, unreadable)
        log.info(
            "batch applied", events=len(events), applied=outcome.applied, duplicates=outcome.duplicates,
            refused=outcome.refused, alerts_raised=outcome.alerts_raised, alerts_updated=outcome.alerts_updated,
            alerts_closed=outcome.alerts_closed,
            commit_seconds=round(time.perf_counter() - started, 3),
        )
        await runtime.relay.flush()

    return on_events
