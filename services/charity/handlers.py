"""Match events in: proposals for our organisations' offerings enter their inboxes; matching's
cancellations and expiries take them out, with the reason. One batch, one unit of work, one
commit, then FastStream commits the offsets.

Every event is applied once by its event id. A record that cannot be read, or an event of a type
this service does not act on, is logged with its position and id and skipped: a poison record
never stops the consumer. The service's own events come back on the same topic and are skipped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from faststream.kafka import KafkaMessage
from prometheus_client import CollectorRegistry, Counter

from contracts.envelope import Event, utc_now
from contracts.hub import HUB_EVENTS, MatchCancelled, MatchExpired, MatchProposedV2
from kit.broker import Delivery, deliveries_of, log_unreadable
from kit.database import insert_rows
from kit.logs import get_logger
from kit.outbox import UnitOfWork
from kit.service import BatchSurvivors, ServiceRuntime
from services.charity.matches import Action, ImpossibleTransition, MatchState, next_state
from services.charity.repository import CharityRepository, MatchEntry

log = get_logger(__name__)
CONSUMED = (MatchProposedV2, MatchCancelled, MatchExpired)


@dataclass
class Outcome:
    proposed: int = 0
    closed: int = 0
    duplicates: int = 0
    skipped: int = 0


@dataclass(frozen=True)
class InboxMetrics:
    events: Counter

    @classmethod
    def on(cls, registry: CollectorRegistry) -> InboxMetrics:
        return cls(events=Counter("charity_match_events", "Match events seen by the charity service, by outcome", ["outcome"], registry=registry))

    def count(self, outcome: Outcome, unreadable: int) -> None:
        for name in ("proposed", "closed", "duplicates", "skipped"):
            self.events.labels(name).inc(getattr(outcome, name))
        self.events.labels("unreadable").inc(unreadable)


def read_events(deliveries: Sequence[Delivery]) -> tuple[list[Event], int]:
    events: list[Event] = []
    unreadable = 0
    for delivery in deliveries:
        try:
            events.append(HUB_EVENTS.parse_latest(delivery.value))
        except ValueError as error:  # JSON, validation and unknown types
            unreadable += 1
            log_unreadable(log, delivery, error, "unreadable match record skipped")
    return events, unreadable


def apply_batch(unit: UnitOfWork, events: Sequence[Event]) -> Outcome:
    outcome = Outcome()
    ours = [e for e in events if isinstance(e, CONSUMED)]
    seen = unit.already_applied(e.event_id for e in ours)
    fresh: dict[str, Event] = {}
    for event in ours:
        if event.event_id in seen or event.event_id in fresh:
            outcome.duplicates += 1
        else:
            fresh[event.event_id] = event
    repository = CharityRepository(unit.session)
    proposals = [e for e in fresh.values() if isinstance(e, MatchProposedV2)]
    closings = [e for e in fresh.values() if not isinstance(e, MatchProposedV2)]
    _take_proposals(unit, repository, proposals, outcome)
    _take_closings(unit, repository, closings, outcome)
    unit.mark_applied(*fresh)
    return outcome


def _take_proposals(unit: UnitOfWork, repository: CharityRepository, proposals: list[MatchProposedV2], outcome: Outcome) -> None:
    offerings = repository.offerings_among({p.data.offering_id for p in proposals})
    known = repository.matches_among({p.data.match_id for p in proposals})
    now = utc_now()
    rows = []
    for event in proposals:
        data = event.data
        offering = offerings.get(data.offering_id)
        if offering is None or offering.organisation_id != data.charity_id:
            outcome.skipped += 1
            log.warning("proposal for an offering not on record skipped", event_id=event.event_id, match_id=data.match_id,
                        offering_id=data.offering_id, household_id=event.household_id)
            continue
        if data.match_id in known:
            outcome.duplicates += 1  # the same match proposed again under another event id
            continue
        known[data.match_id] = None  # type: ignore[assignment]
        rows.append({
            "match_id": data.match_id, "organisation_id": data.charity_id, "offering_id": data.offering_id,
            "need_id": data.need_id, "household_id": event.household_id, "category": str(data.category),
            "district": data.district, "subdistrict": data.subdistrict, "household_size": data.household_size,
            "urgency": data.urgency, "quantity": data.quantity, "priority": data.priority, "expires_at": data.expires_at,
            "state": MatchState.REQUESTED.value, "correlation_id": event.correlation_id, "proposed_at": event.occurred_at,
            "updated_at": now,
        })
        outcome.proposed += 1
    insert_rows(unit.session.connection(), MatchEntry.__table__, rows)  # type: ignore[attr-defined]


def _take_closings(unit: UnitOfWork, repository: CharityRepository, closings: list[Event], outcome: Outcome) -> None:
    entries = repository.for_change(MatchEntry, {e.data.match_id for e in closings})  # type: ignore[attr-defined]
    now = utc_now()
    for event in closings:
        entry = entries.get(event.data.match_id)  # type: ignore[attr-defined]
        action = Action.CANCEL if isinstance(event, MatchCancelled) else Action.EXPIRE
        if entry is None:
            outcome.skipped += 1
            log.info("closing of a match not in any inbox skipped", event_id=event.event_id, type=event.type)
            continue
        try:
            entry.state = next_state(MatchState(entry.state), action, now, entry.expires_at)
        except ImpossibleTransition:
            outcome.skipped += 1
            log.info("match closing does not apply", event_id=event.event_id, match_id=entry.match_id, state=entry.state, type=event.type)
            continue
        entry.reason_code = event.data.reason_code if isinstance(event, MatchCancelled) else "expired_by_matching"
        entry.updated_at = now
        unit.session.add(entry)
        outcome.closed += 1


def apply_and_commit(runtime: ServiceRuntime, events: Sequence[Event]) -> Outcome:
    with runtime.unit_of_work() as unit:
        outcome = apply_batch(unit, events)
        unit.commit()
    return outcome


def make_on_matches(runtime: ServiceRuntime, metrics: InboxMetrics) -> Callable[[KafkaMessage], Awaitable[None]]:
    survivors = BatchSurvivors(loop_runs_meanwhile=True)

    async def on_matches(message: KafkaMessage) -> None:
        started = time.perf_counter()
        with survivors.batch():
            events, unreadable = read_events(deliveries_of(message))
            outcome = await asyncio.to_thread(apply_and_commit, runtime, events)
        metrics.count(outcome, unreadable)
        if outcome.proposed or outcome.closed:
            log.info("match batch applied", events=len(events), proposed=outcome.proposed, closed=outcome.closed,
                     duplicates=outcome.duplicates, skipped=outcome.skipped, seconds=round(time.perf_counter() - started, 3))

    return on_matches
