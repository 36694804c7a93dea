"""Events in -> the pool -> one commit (rows, applied ids, outbox); rounds and the timer.

Everything that changes the pool runs on the event loop, one step at a time, so the pool needs
no locks. The one slow step, a round's candidates and solve, runs in a worker process (a kit
job) while the loop goes on consuming and answering HTTP; when it returns, its choice is checked
against the pool as it is then and committed. If a commit fails, the pool is read back from
the database (the events that caused it are redelivered).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka import KafkaMessage
from prometheus_client import CollectorRegistry, Counter, Histogram

from contracts.envelope import Event, utc_now
from contracts.hub import HUB_EVENTS
from contracts.topics import MATCHES, Topic
from kit.broker import Delivery, client_options, deliveries_of, log_unreadable
from kit.jobs import JobRunner
from kit.logs import bound_to_event, get_logger
from kit.service import BatchSurvivors, ServiceRuntime
from services.matching.candidates import RoundPlan
from services.matching.explain import AreaIndex, why_unmatched
from services.matching.lifecycle import ImpossibleTransition
from services.matching.pool import Pool, UnknownProposal
from services.matching.rounds import chosen, prepare
from services.matching.priority import PriorityWeights
from services.matching.repository import load_pool, save_changes
from services.matching.settings import MatchingSettings

log = get_logger("services.matching")
ROUND_JOB = "matching.round"
EMITTED_KEPT = 500_000
COMMIT_CHUNK = 2000  # proposals per transaction when a round commits


@dataclass(frozen=True)
class MatchingMetrics:
    events: Counter
    proposals: Counter
    round_seconds: Histogram

    @classmethod
    def on(cls, registry: CollectorRegistry) -> MatchingMetrics:
        return cls(
            events=Counter("matching_events", "Records seen by matching, by outcome", ["outcome"], registry=registry),
            proposals=Counter("matching_proposals", "Proposals made", registry=registry),
            round_seconds=Histogram("matching_round_seconds", "Round time, snapshot to commit", registry=registry),
        )


@dataclass
class CatchUp:
    """Rounds wait until the consumer has read what the topics held at start, so that a proposal
    is never made from half a picture (a household's state not yet read)."""

    ends: dict[tuple[str, int], int] = field(default_factory=dict)
    seen: dict[tuple[str, int], int] = field(default_factory=dict)
    deadline: float = 0.0
    done: bool = False

    def saw(self, deliveries: Sequence[Delivery]) -> None:
        for d in deliveries:
            place = (d.topic, d.partition)
            self.seen[place] = max(self.seen.get(place, -1), d.offset)

    def caught_up(self) -> bool:
        if not self.done:
            self.done = time.monotonic() >= self.deadline or all(self.seen.get(p, -1) >= end - 1 for p, end in self.ends.items())
        return self.done


class Matching:
    def __init__(
        self, runtime: ServiceRuntime, settings: MatchingSettings, weights: PriorityWeights, jobs: JobRunner,
        metrics: MatchingMetrics, topics: list[Topic], group_id: str, clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.group_id = group_id
        self.runtime = runtime
        self.settings = settings
        self.weights = weights
        self.jobs = jobs
        self.metrics = metrics
        self.topics = topics
        self.clock = clock
        self.pool = self._new_pool()
        self.catch_up = CatchUp()
        # The broker's consumer starts before `start` has read the pool: until it has, a batch
        # would be applied to an empty pool (answers skipped as unknown, rows of the one in use
        # overwritten or left unwritten) and recorded as applied.
        self._loaded = asyncio.Event()
        self._poked = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        # Events this process published, until it reads them back (or forgets the oldest): those
        # need no parsing and no applied-id row. After a restart they are applied as seen.
        self._emitted: dict[str, bool] = {}
        # The pool is hundreds of thousands of long-lived objects: no collection walks them
        # again and again while a batch or a round allocates (see kit.service.BatchSurvivors).
        self._survivors = BatchSurvivors()
        self.rounds = 0
        self.round_running = False
        self.last_round: dict[str, object] = {}

    def _new_pool(self) -> Pool:
        return Pool(self.weights, timedelta(seconds=self.settings.proposal_deadline_seconds))

    def caught_up(self) -> bool:
        """The pool is loaded and the consumer has read what the topics held at start."""
        return self._loaded.is_set() and self.catch_up.caught_up()

    def load(self) -> None:
        """Read the pool from the database; it replaces the one in use only once complete."""
        pool = self._new_pool()
        load_pool(self.runtime.engine, pool)
        self.pool = pool

    # --- start and stop -------------------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.to_thread(self.load)
        self.catch_up = CatchUp(ends=await self._end_offsets(), deadline=time.monotonic() + self.settings.catch_up_seconds)
        self._loaded.set()
        log.info("pool loaded", needs=len(self.pool.needs), offerings=len(self.pool.offerings), proposals=len(self.pool.proposals))
        self._tasks = [
            asyncio.create_task(self.jobs.warm_up(), name="matching-warm-up"),  # the first round need not wait for a worker to start
            asyncio.create_task(self._rounds(), name="matching-rounds"),
            asyncio.create_task(self._timer(), name="matching-timer"),
        ]
        self._poked.set()  # a first round over whatever the database held

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        await self.jobs.stop()

    async def _end_offsets(self) -> dict[tuple[str, int], int]:
        """The backlog at start: each partition's end, where the group has not read up to it."""
        consumer = AIOKafkaConsumer(**client_options(self.runtime.settings.hub), group_id=self.group_id, enable_auto_commit=False)
        try:
            await consumer.start()
            await consumer.topics()
            names = [self.runtime.topic_name(t) for t in self.topics]
            partitions = [TopicPartition(n, p) for n in names for p in sorted(consumer.partitions_for_topic(n) or ())]
            ends = await consumer.end_offsets(partitions) if partitions else {}
            behind = {}
            for tp, end in ends.items():
                committed = await consumer.committed(tp) if end > 0 else None
                if end > 0 and (committed is None or committed < end):
                    behind[(tp.topic, tp.partition)] = end
            return behind
        except Exception as error:  # without the figures, rounds wait out catch_up_seconds
            log.warning("could not read the topics' end offsets", error=repr(error))
            return {("unknown", 0): 1 << 62}
        finally:
            await consumer.stop()

    # --- events in --------------------------------------------------------------------------------

    async def on_events(self, message: KafkaMessage) -> None:
        await self._loaded.wait()
        deliveries = deliveries_of(message)
        try:
            with self._survivors.batch():
                self._apply(self._read(deliveries))
        except Exception as error:
            log.error("batch failed, nothing recorded; it will be redelivered", error=type(error).__name__,
                      first=deliveries[0].position, last=deliveries[-1].position)
            await asyncio.to_thread(self.load)
            raise
        self.catch_up.saw(deliveries)
        self.runtime.relay.wake()
        if self.pool.waiting or self.pool.fresh_categories:
            self._poked.set()

    def _read(self, deliveries: Sequence[Delivery]) -> list[Event]:
        events = []
        for delivery in deliveries:
            try:
                body = orjson.loads(delivery.value)
                if isinstance(body, dict) and self._emitted.pop(body.get("event_id"), None) is not None:
                    self.metrics.events.labels("own").inc()  # ours, read back: already in the pool and the database
                    continue
                events.append(HUB_EVENTS.parse_latest(body))
            except ValueError as error:  # JSON, validation and unknown types are all ValueErrors
                self.metrics.events.labels("unreadable").inc()
                log_unreadable(log, delivery, error)
        return events

    def _apply(self, events: list[Event]) -> None:
        now = self.clock()
        with self.runtime.unit_of_work() as uow:
            already = uow.already_applied(e.event_id for e in events)
            for event in events:
                if event.event_id in already:
                    self.metrics.events.labels("duplicate").inc()
                    continue
                with bound_to_event(event.event_id, event.household_id, event.correlation_id):
                    try:
                        acted = self.pool.apply(event, now)
                    except (UnknownProposal, ImpossibleTransition) as error:
                        log.warning("answer skipped", type=event.type, error=type(error).__name__, detail=str(error)[:120])
                        self.metrics.events.labels("skipped").inc()
                        acted = True  # recorded as seen: the same answer again is skipped at once
                if acted:
                    already.add(event.event_id)
                    uow.mark_applied(event.event_id)
                    self.metrics.events.labels("applied").inc()
                else:
                    self.metrics.events.labels("ignored").inc()
            self._write(uow)
            uow.commit()

    def _write(self, uow) -> None:  # type: ignore[no-untyped-def]
        changes = self.pool.take_changes()
        save_changes(uow.session.connection(), self.pool, changes)
        for event in changes.events:
            uow.emit(MATCHES, event)
            self._emitted[event.event_id] = True
        while len(self._emitted) > EMITTED_KEPT:
            del self._emitted[next(iter(self._emitted))]

    def _commit_pool_changes(self) -> None:
        try:
            with self.runtime.unit_of_work() as uow:
                self._write(uow)
                uow.commit()
        except Exception:
            self.load()
            raise
        self.runtime.relay.wake()

    # --- rounds -----------------------------------------------------------------------------------

    async def _rounds(self) -> None:
        while True:
            await self._poked.wait()
            await asyncio.sleep(self.settings.round_window_seconds)  # let the events of one burst gather
            self._poked.clear()
            if not self.caught_up():
                await asyncio.sleep(0.2)
                self._poked.set()
                continue
            try:
                self.round_running = True
                await self.run_round()
            except Exception as error:
                log.error("round failed; its needs wait for the next", error=repr(error))
                await asyncio.sleep(1.0)
            finally:
                self.round_running = False

    async def run_round(self) -> int:
        """One round over the work the pool has gathered; returns how many proposals it made."""
        started = time.perf_counter()
        with self._survivors.batch():
            prepared = prepare(self.pool, self.clock(), self.settings.candidates_per_need)
        if prepared is None:
            return 0
        snapshot = time.perf_counter() - started
        try:
            plan: RoundPlan = await self.jobs.run(ROUND_JOB, prepared.input)
        except Exception:
            self.pool.waiting |= {n.need_id for n in prepared.needs}
            raise
        picks = chosen(prepared, plan)
        made = []
        for start in range(0, len(picks), COMMIT_CHUNK):  # a large round must not hold the loop for long
            with self._survivors.batch():
                made += self.pool.commit_round(picks[start : start + COMMIT_CHUNK], self.clock())
                self._commit_pool_changes()
            await asyncio.sleep(0)
        self.rounds += 1
        self.metrics.proposals.inc(len(made))
        seconds = time.perf_counter() - started
        self.metrics.round_seconds.observe(seconds)
        self.last_round = {
            "needs": len(prepared.needs), "offerings": len(prepared.offerings), "candidates": plan.candidates,
            "chosen": len(picks), "proposed": len(made), "snapshot_seconds": round(snapshot, 3),
            **{f"{k}_seconds": v for k, v in plan.seconds.items()}, "total_seconds": round(seconds, 3),
        }
        log.info("round committed", **self.last_round)
        return len(made)

    # --- the timer ---------------------------------------------------------------------------------

    async def _timer(self) -> None:
        while True:
            await asyncio.sleep(self.settings.timer_seconds)
            try:
                self.tick()
            except Exception as error:
                log.error("timer tick failed; the next one retries", error=repr(error))

    def tick(self) -> None:
        now = self.clock()
        expired = self.pool.expire(now)
        index = AreaIndex(self.pool, now.date())
        warned = self.pool.overdue(now, lambda need: why_unmatched(self.pool, need, now.date(), index)[0], self.settings.overdue_per_tick)
        if self.pool.changes:
            self._commit_pool_changes()
        if expired or warned:
            log.info("timer", closed=expired, overdue=warned)
        if self.pool.waiting or self.pool.fresh_categories:
            self._poked.set()
