"""Deliveries in -> one unit of work -> domain -> commit (state, applied ids, outbox) -> relay.

Both ways in (a Kafka batch, an HTTP batch) call `IntakeHandlers.receive`; the Kafka offset is
committed by FastStream only after it returns, so only after the database commit. A whole batch
is one transaction with bulk queries, run in the event loop itself: one batch at a time per
process, and no thread fighting the loop for the GIL (measured: 60% more events per second).
Instances scaled out coordinate through database constraints (a conflict rolls the batch back
and Kafka redelivers it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.exc import DBAPIError

from contracts.department import DEPARTMENT_EVENTS, HouseholdReported
from contracts.envelope import utc_now
from kit.database import OtherWriters
from kit.logs import get_logger, loggable_error, loggable_id
from kit.outbox import UnitOfWork
from kit.service import BatchSurvivors, ServiceRuntime
from services.intake.canonical import display_name
from services.intake.domain import (
    SOURCE,
    Accepted,
    Changes,
    Duplicate,
    Incoming,
    Intake,
    Merge,
    Outcome,
    Pending,
    PersonKeys,
    Rejected,
    applied_key,
    fixed_rejection_id,
    is_provisional,
    link_member,
    lookups_for,
    merge_events,
    plan_merges,
)
from services.intake.linking import CandidateIndex, blocking_keys
from services.intake.metrics import IntakeMetrics
from services.intake.repository import IntakeIdentityReview, IntakePendingRecord, IntakeRepository
from services.intake.validation import CHINA_TIME, Limits, Valid, Verdict, validate

log = get_logger("services.intake")
INDEX_CHUNK = 2000


class ReviewNotFound(LookupError):
    pass


class ReviewAlreadyResolved(ValueError):
    pass


class UnknownPerson(ValueError):
    pass


@dataclass(frozen=True)
class Resolution:
    record_id: str
    person_key: str
    released: list[Outcome]


class IntakeHandlers:
    def __init__(
        self, runtime: ServiceRuntime, metrics: IntakeMetrics, limits: Limits, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._runtime = runtime
        self._metrics = metrics
        self._limits = limits
        self._clock = clock
        self._keys = PersonKeys(runtime.settings.hub.person_key_secret.get_secret_value().encode())
        self._last_batch = 0.0
        self._survivors = BatchSurvivors()

    async def receive(self, items: Sequence[Incoming]) -> list[Outcome]:
        """Validate, decide and commit a batch; the outbox relay then publishes what it produced
        while the next batch is worked on."""
        started = time.perf_counter()
        with self._survivors.batch():
            outcomes = self._receive(items)  # in the loop: a thread would only fight it for the GIL
        self._runtime.relay.wake()
        self._metrics.count(items, outcomes)
        log.info(
            "batch handled", events=len(items), first=items[0].position, last=items[-1].position,
            commit_seconds=round(time.perf_counter() - started, 3), **Counter(o.status for o in outcomes),
        )
        return outcomes

    async def resolve_review(self, record_id: str, person_key: str | None, by: str) -> Resolution:
        """Staff say who a held member is (a known person key, or None for a new person);
        the household's held events then flow on in their original order."""
        resolution = self._resolve(record_id, person_key, by)
        self._runtime.relay.wake()
        self._metrics.count_released(resolution.released)
        return resolution

    def open_reviews(self) -> list[dict[str, Any]]:
        with self._runtime.unit_of_work() as uow:
            repo = IntakeRepository(uow.session)
            reviews = repo.open_reviews()
            survivors = repo.survivors_of({c["person_key"] for r in reviews for c in r.candidates})
            known = repo.person_details([survivors.get(c["person_key"], c["person_key"]) for r in reviews for c in r.candidates])
            return [_review_view(r, known, survivors) for r in reviews]

    def held_records(self) -> list[dict[str, Any]]:
        """Every held department event, and why: its own member awaits review, or it waits
        behind such a record of its household (events flow on in their original order)."""
        with self._runtime.unit_of_work() as uow:
            repo = IntakeRepository(uow.session)
            waiting: dict[tuple[str, str], list[IntakeIdentityReview]] = {}
            for review in repo.open_reviews(limit=10_000):
                waiting.setdefault((review.department, review.department_ref), []).append(review)
            return [_held_view(record, waiting.get((record.department, record.department_ref), [])) for record in repo.held_records()]

    # --- synchronous: one database transaction each ---------------------------------------------

    def _receive(self, items: Sequence[Incoming]) -> list[Outcome]:
        now = self._clock()
        today = now.astimezone(CHINA_TIME).date()
        verdicts = [validate(i.raw, i.department, now, self._limits) for i in items]
        lookups = lookups_for([v.event for v in verdicts if isinstance(v, Valid)], self._keys, today)
        with self._runtime.unit_of_work() as uow:
            repo = IntakeRepository(uow.session)
            if lookups.blocking_keys:
                _index_everyone(repo)  # a record is linked by name: no known person may be missed
            already = uow.already_applied(_possible_applied_keys(items, verdicts))
            intake = Intake(repo.known_state(lookups), self._keys, today)
            outcomes = [intake.receive(i, v, already) for i, v in zip(items, verdicts, strict=True)]
            self._write(uow, repo, intake.changes)
            fresh, apart = intake.changes.fresh, intake.changes.apart
            self._merge_pass(uow, repo, fresh, apart, today)
            uow.commit()
        if fresh:
            self._catch_races(fresh, apart, today)
        self._keys.trim()
        self._last_batch = time.monotonic()
        _log_outcomes(items, outcomes)
        return outcomes

    @staticmethod
    def _write(uow: UnitOfWork, repo: IntakeRepository, changes: Changes) -> None:
        """State, applied ids and outgoing events: all in the caller's one transaction."""
        repo.save(changes)
        uow.mark_applied(*changes.applied)
        for topic, event, key in changes.outbox:
            uow.emit(topic, event, key)

    # --- blocking keys off the hot path ---------------------------------------------------------

    async def index_when_idle(self, interval: float = 1.0) -> None:
        """Write the blocking keys of people recorded by number while no batch is arriving here
        and no other process is writing (on SQLite, the one writer stays with a busy peer)."""
        others = OtherWriters(self._runtime.engine)
        try:
            while True:
                await asyncio.sleep(interval)
                try:
                    while time.monotonic() - self._last_batch >= interval and not others.wrote():
                        done = self._index_chunk()
                        others.absorb()
                        if done < INDEX_CHUNK:
                            break
                        await asyncio.sleep(0)  # let a waiting batch or request in
                except Exception as error:  # the next record linked by name catches up anyway
                    log.warning("indexing people failed, will retry", error=loggable_error(error))
        finally:
            others.close()

    def _index_chunk(self) -> int:
        with self._runtime.unit_of_work() as uow:
            done = _index_some(IntakeRepository(uow.session), INDEX_CHUNK)
            uow.commit()
        return done

    def _resolve(self, record_id: str, person_key: str | None, by: str) -> Resolution:
        today = self._clock().astimezone(CHINA_TIME).date()
        with self._runtime.unit_of_work() as uow:
            repo = IntakeRepository(uow.session)
            review = _open_review(repo, record_id)
            chosen = self._chosen_person(repo, review, person_key)
            released = self._settle(uow, repo, review, chosen, by, today)
            uow.commit()
        log.info("identity review resolved", record_id=record_id, by=by, released=len(released))
        return Resolution(record_id, chosen, released)

    def _settle(
        self, uow: UnitOfWork, repo: IntakeRepository, review: IntakeIdentityReview, chosen: str, by: str, today: date
    ) -> list[Outcome]:
        """Record who a held member is; the household's held events then flow on in order."""
        repo.resolve(review, chosen, by)
        ref = (review.department, review.department_ref)
        decided, undecided = repo.resolutions(ref)
        held = repo.held_events(ref)
        events = [DEPARTMENT_EVENTS.parse(h.payload) for h in held]
        lookups = lookups_for(events, self._keys, today)  # type: ignore[arg-type]
        if lookups.blocking_keys:
            _index_everyone(repo)
        intake = Intake(repo.known_state(lookups), self._keys, today)
        released = intake.release(held, decided, undecided)
        self._write(uow, repo, intake.changes)
        self._merge_pass(uow, repo, intake.changes.fresh, intake.changes.apart, today, settle=False)
        return released

    def _chosen_person(self, repo: IntakeRepository, review: IntakeIdentityReview, person_key: str | None) -> str:
        if person_key is None:
            return self._keys.unnumbered(review.event_key, review.member_index)
        candidates = {c["person_key"] for c in review.candidates}
        if person_key not in candidates and not repo.person_exists(person_key):
            raise UnknownPerson(f"no person with key {person_key!r} is known to intake")
        return repo.survivor_of(person_key)  # a candidate merged since the review was opened

    # --- merges ----------------------------------------------------------------------------------

    def _merge_pass(
        self,
        uow: UnitOfWork,
        repo: IntakeRepository,
        fresh: Collection[str],
        apart: set[frozenset[str]],
        today: date,
        settle: bool = True,
    ) -> list[Merge]:
        """Merge the persons first seen in this unit of work with whoever they prove to be, then
        settle the open reviews the merges made clear. Costs a query when nobody is provisional."""
        if not fresh or (
            not any(is_provisional(k) for k in fresh) and not repo.any_provisional() and not repo.any_open_review()
        ):
            return []
        _index_everyone(repo)
        people = repo.persons(fresh)
        blocks = set().union(*(blocking_keys(p) for p in people))
        found = repo.candidates(blocks)
        provisional = [c for c in found if is_provisional(c.person_key)]
        found += repo.candidates(set().union(*(blocking_keys(c) for c in provisional)) - blocks)
        index = CandidateIndex()
        for candidate in [*found, *people]:
            index.add(candidate)
        merges = plan_merges(people, index, apart)
        for merge in merges:
            self._merge(uow, repo, merge, None)
        if settle:
            self._settle_reviews(uow, repo, repo.reviews_touching(blocks), today)
        return merges

    def _merge(self, uow: UnitOfWork, repo: IntakeRepository, merge: Merge, decided_by: str | None) -> None:
        done = repo.merge_person(merge, decided_by)
        for topic, event, key in merge_events(merge, done.survivor_household, done.merged_household, decided_by):
            uow.emit(topic, event, key)
        log.info("persons merged", survivor=merge.survivor, merged=merge.merged, reason=merge.reason,
                 household_id=done.survivor_household, household_merged=done.merged_household)

    def _settle_reviews(self, uow: UnitOfWork, repo: IntakeRepository, reviews: list[IntakeIdentityReview], today: date) -> None:
        """An open review that a merge or a new person may have made clear (its candidates are
        one person now, or someone new fits) is decided as the record would be if it came now:
        linked when clear, left to staff otherwise."""
        for review in reviews:
            payload = repo.held_payload(review.event_key)
            event = DEPARTMENT_EVENTS.parse(payload) if payload else None
            if not isinstance(event, HouseholdReported) or review.resolved_person_key:
                continue
            chosen = link_member(event, review.member_index, repo.candidates, self._keys, today)
            if chosen is not None:
                self._settle(uow, repo, review, chosen, SOURCE, today)
                log.info("identity review settled by a merge", record_id=review.record_id, person_key=chosen)

    def _catch_races(self, fresh: Collection[str], apart: set[frozenset[str]], today: date) -> None:
        """Once more after the commit, when another instance's batch committed meanwhile is
        visible: a person it recorded at the same moment is merged now rather than never."""
        try:
            with self._runtime.unit_of_work() as uow:
                repo = IntakeRepository(uow.session)
                if self._merge_pass(uow, repo, fresh, apart, today):
                    uow.commit()
        except DBAPIError as error:  # another instance merged the same pair first
            log.info("merge pass lost a race, the other instance merged", error=type(error).__name__)
        except Exception as error:  # the batch is committed: its answer must not turn into a 500
            log.warning("merge pass after the commit failed; the batch stands", error=loggable_error(error))

    async def merge_persons(self, survivor: str, merged: str, by: str) -> Merge:
        """A reviewer says two known persons are one."""
        with self._runtime.unit_of_work() as uow:
            repo = IntakeRepository(uow.session)
            for key in (survivor, merged):
                if not repo.person_exists(key):
                    raise UnknownPerson(f"no person with key {key!r} is known to intake")
            if survivor == merged:
                raise UnknownPerson("a person cannot be merged into themself")
            merge = Merge(survivor, merged, "reviewer_decision")
            self._merge(uow, repo, merge, by)
            uow.commit()
        self._runtime.relay.wake()
        return merge


def _open_review(repo: IntakeRepository, record_id: str) -> IntakeIdentityReview:
    review = repo.review(record_id)
    if review is None:
        raise ReviewNotFound(f"no identity review {record_id!r}")
    if review.resolved_person_key is not None:
        raise ReviewAlreadyResolved(f"identity review {record_id!r} was resolved by {review.resolved_by}")
    return review


def _possible_applied_keys(items: Sequence[Incoming], verdicts: Sequence[Verdict]) -> list[str]:
    keys = [applied_key(v.department, v.event.event_id) for v in verdicts if isinstance(v, Valid)]
    keys += [key for i in items if (key := fixed_rejection_id(i)) is not None]
    return keys


def _index_some(repo: IntakeRepository, limit: int) -> int:
    persons = repo.unindexed_persons(limit)
    blocks = {(block, p.person_key) for p in persons for block in blocking_keys(p)}
    repo.index_persons(blocks, [p.person_key for p in persons])
    return len(persons)


def _index_everyone(repo: IntakeRepository) -> None:
    while _index_some(repo, INDEX_CHUNK) == INDEX_CHUNK:
        pass


def _log_outcomes(items: Sequence[Incoming], outcomes: Sequence[Outcome]) -> None:
    """One line per event, ids and codes only, never a number or a name. Accepted events are
    logged at DEBUG: at thousands a second, INFO keeps what someone must act on (rejections,
    held events) and the per-batch line with its counts."""
    pairs = zip(items, outcomes, strict=True)
    if not log.is_enabled_for(logging.DEBUG):  # most events are accepted: skip them, not each call
        pairs = ((item, outcome) for item, outcome in pairs if not isinstance(outcome, Accepted))
    for item, outcome in pairs:
        match outcome:
            case Accepted():
                log.debug("event accepted", event_id=loggable_id(outcome.event_id), household_id=outcome.household_id,
                         department=item.department, channel=item.channel)
            case Rejected():
                codes = sorted({str(p.code) for p in outcome.problems})
                log.info("event rejected", event_id=loggable_id(outcome.event_id), department=item.department,
                         channel=item.channel, reasons=codes, rejection_id=outcome.rejection_event_id)
            case Pending():
                log.info("event held for identity review", event_id=loggable_id(outcome.event_id), department=item.department,
                         channel=item.channel, reviews=list(outcome.review_ids))
            case Duplicate():
                log.info("event already processed", event_id=loggable_id(outcome.event_id), department=item.department,
                         channel=item.channel)


def _held_view(record: IntakePendingRecord, reviews: list[IntakeIdentityReview]) -> dict[str, Any]:
    own = [r.record_id for r in reviews if r.event_key == record.event_key]
    return {
        "department": record.department,
        "department_household_ref": record.department_ref,
        "event_id": record.event_key.split(":", 1)[1] if ":" in record.event_key else record.event_key,
        "event_type": record.event_type,
        "channel": record.channel,
        "received_at": record.received_at.isoformat(),
        "reason": "identity_review" if own else "behind_identity_review",
        "why": (
            "a member of this record may be someone already known: staff decide who"
            if own else "an earlier record of this household waits for an identity review; this one follows it, in order"
        ),
        "review_ids": own or [r.record_id for r in reviews],
    }


def _review_view(review: IntakeIdentityReview, known: dict[str, Any], survivors: dict[str, str]) -> dict[str, Any]:
    """Candidates merged since the review opened are shown as the person they now are, once."""
    best: dict[str, dict[str, Any]] = {}
    for entry in review.candidates:
        key = survivors.get(entry["person_key"], entry["person_key"])
        if key not in best or entry["score"] > best[key]["score"]:
            best[key] = {**entry, "person_key": key}

    def candidate(entry: dict[str, Any]) -> dict[str, Any]:
        person = known.get(entry["person_key"])
        return {
            "person_key": entry["person_key"],
            "score": entry["score"],
            "display_name": display_name(person.name) if person else None,
            "birth_year": person.birth_date.year if person and person.birth_date else None,
            "household_id": person.household_id if person else None,
        }

    return {
        "record_id": review.record_id,
        "department": review.department,
        "department_household_ref": review.department_ref,
        "event_key": review.event_key,
        "member_index": review.member_index,
        "candidates": [candidate(c) for c in sorted(best.values(), key=lambda c: -c["score"])],
        "created_at": review.created_at.isoformat(),
    }
