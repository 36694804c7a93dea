"""`hub simulate`: a year of Shanghai's department events through the running hub, as the
departments' own systems would send them, and an account of what the hub made of them.

The year comes from `hub.simulate_year` (the papers' figures). Civil affairs, health, housing and
human resources publish to their own Kafka topics (keyed by their household reference); education,
the disabled persons' federation and the trade unions post to intake's `POST /events` in batches,
retrying while intake does not answer (as a department's system would). Meanwhile the hub's
output topics are read from where they stood at the start: canonical events, rejections (by
reason), identity reviews (held events) and duplicate-service alerts. An event is accounted for
when it came out canonical, rejected for the reason it was made with, or held; a seeded overlap
when an alert names both of its grants. Anything else makes the exit code 1.

The charity stage (`hub.simulate_charity`: organisations, offerings, answers; driven over HTTP by
`hub.simulate_organisations`) registers the organisations and publishes their offerings before the
year is played, answers the proposals matching makes while it is played and after, and asks the
ledger for every delivery. It runs when the charity service answers, and is skipped with a note
otherwise (or with --no-charity).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from datetime import date
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import httpx
import orjson
import typer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from contracts.topics import ALERTS, CANONICAL, IDENTITY_REVIEWS, MATCHES, REJECTIONS, department_topic
from hub.simulate_charity import MET_SHARE, CharityPlan, CharityTally, MatchLog, needs_by_category, plan_charities
from hub.simulate_organisations import Endpoints, Organisations, StageError, matching_idle, with_retries
from hub.simulate_year import ACCEPTED, ASSISTED_HOUSEHOLDS, Overlap, Planned, Year, plan_year
from kit.broker import client_options, ensure_topics, make_producer
from kit.settings import DEFAULT_PORTS, HubSettings
from services.intake.canonical import canonical_event_id

HTTP_BATCH = 500  # events per POST /events (intake takes up to 1,000)
IN_FLIGHT = 5000  # Kafka records sent before waiting for their acknowledgements
WATCHED = (CANONICAL, REJECTIONS, IDENTITY_REVIEWS, ALERTS, MATCHES)
console = Console(stderr=True)


def dev_key(department: str) -> str:
    """The development key of `config/dev-api-keys.toml` (`make run`); pass --api-key for others."""
    return f"dev-{department.lower()}-key"


# --- what the hub made of it -------------------------------------------------------------------


@dataclass
class HubOutput:
    """Everything read from the hub's output topics since the simulation began."""

    canonical: set[str] = field(default_factory=set)
    rejections: dict[str, tuple[str | None, frozenset[str]]] = field(default_factory=dict)  # rejection id -> (original id, codes)
    held: set[str] = field(default_factory=set)  # original event ids held for an identity review
    alerts: dict[str, tuple[str, frozenset[str]]] = field(default_factory=dict)  # alert id -> (rule, benefit ids)
    matches: Counter[str] = field(default_factory=Counter)
    changed: float = field(default_factory=time.monotonic)  # when something last arrived
    fresh: list[tuple[str, str | None, frozenset[str]]] = field(default_factory=list)  # (kind, id, codes) not yet counted

    def take(self, topic: str, value: bytes, headers: dict[str, bytes], names: dict[str, str]) -> None:
        self.changed = time.monotonic()
        kind = names.get(topic)
        if kind == CANONICAL.name:
            event_id = headers.get("event_id", b"").decode() or orjson.loads(value)["event_id"]
            self.canonical.add(event_id)
            self.fresh.append(("canonical", event_id, frozenset()))
            return
        event = orjson.loads(value)
        data = event.get("data") or {}
        if kind == REJECTIONS.name:
            codes = frozenset(r["code"] for r in data.get("reasons", []))
            if event["event_id"] not in self.rejections:
                self.fresh.append(("rejected", data.get("original_event_id"), codes))
            self.rejections[event["event_id"]] = (data.get("original_event_id"), codes)
        elif kind == IDENTITY_REVIEWS.name:
            self.held.add(data.get("original_event_id", ""))
            self.fresh.append(("held", data.get("original_event_id", ""), frozenset()))
        elif kind == ALERTS.name and event.get("type") == "alert.raised":
            self.alerts[data["alert_id"]] = (data["rule_id"], frozenset(b["benefit_id"] for b in data["benefits"]))
        elif kind == MATCHES.name:
            self.matches[event.get("type", "?")] += 1


@dataclass
class Account:
    """The events sent against what came out."""

    accepted: dict[str, Planned]  # canonical id -> event expected accepted
    refused: dict[str, Planned]  # event id -> event expected rejected
    unreadable: Counter[str]  # reason -> count of events without a readable id
    overlaps: list[Overlap]
    tag: str
    _waiting: set[str] | None = None  # canonical ids and event ids not yet accounted for
    _canonical_of: dict[str, str] = field(default_factory=dict)
    _anonymous: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, events: Iterable[Planned], overlaps: Sequence[Overlap], tag: str) -> Account:
        accepted, refused, unreadable = {}, {}, Counter()
        for event in events:
            if event.resend:
                continue
            if event.expected == ACCEPTED:
                accepted[canonical_event_id(event.department, event.event_id or "")] = event
            elif event.event_id is None:
                unreadable[event.expected] += 1
            else:
                refused[event.event_id] = event
        return cls(accepted, refused, unreadable, list(overlaps), tag)

    @property
    def total(self) -> int:
        return len(self.accepted) + len(self.refused) + sum(self.unreadable.values())

    def accounted(self, out: HubOutput) -> int:
        """How many events are accounted for so far: counts only what arrived since the last call."""
        if self._waiting is None:
            self._waiting = set(self.accepted) | set(self.refused)
            self._canonical_of = {e.event_id: cid for cid, e in self.accepted.items()}
            self._anonymous = Counter()
        fresh, out.fresh = out.fresh, []
        for kind, event_id, codes in fresh:
            if kind == "canonical":
                self._waiting.discard(event_id)
            elif event_id is None:
                self._anonymous.update(codes)
            else:
                self._waiting.discard(event_id)
                self._waiting.discard(self._canonical_of.get(event_id, ""))
        unreadable = sum(min(n, self._anonymous[code]) for code, n in self.unreadable.items())
        return len(self.accepted) + len(self.refused) - len(self._waiting) + unreadable

    def _rejected_by_original(self, out: HubOutput) -> dict[str, frozenset[str]]:
        found: dict[str, frozenset[str]] = {}
        for original, codes in out.rejections.values():
            if original is not None:
                found[original] = found.get(original, frozenset()) | codes
        return found

    def verdict(self, out: HubOutput) -> Verdict:
        by_original = self._rejected_by_original(out)
        verdict = Verdict()
        for cid, event in self.accepted.items():
            if cid in out.canonical:
                verdict.canonical += 1
            elif event.event_id in out.held:
                verdict.held += 1
            elif event.event_id in by_original:
                verdict.wrongly_rejected[",".join(sorted(by_original[event.event_id]))] += 1
            else:
                verdict.unaccounted.append(event)
        for event_id, event in self.refused.items():
            codes = by_original.get(event_id)
            if codes is None:
                verdict.unaccounted.append(event)
            elif event.expected in codes:
                verdict.rejected[event.expected] += 1
            else:
                verdict.wrong_reason[f"{event.expected} -> {','.join(sorted(codes))}"] += 1
        anonymous = Counter(code for original, codes in out.rejections.values() if original is None for code in codes)
        for code, count in self.unreadable.items():
            verdict.rejected[code] += min(count, anonymous[code])
            verdict.unaccounted_unreadable += max(0, count - anonymous[code])
        for _, codes in out.rejections.values():
            for code in codes:
                verdict.rejections_seen[code] += 1
        verdict.alerts_by_rule, verdict.missed_overlaps, verdict.unexplained_alerts = self._alerts(out)
        return verdict

    def _alerts(self, out: HubOutput) -> tuple[dict[str, tuple[int, int]], list[Overlap], list[str]]:
        ours = {alert_id: (rule, ids) for alert_id, (rule, ids) in out.alerts.items()
                if any(_own_id(b, self.tag) for b in ids)}
        seeded = {(o.rule_id, frozenset(o.benefit_ids)): o for o in self.overlaps}
        by_benefit: dict[str, list[str]] = {}
        for alert_id, (_, ids) in ours.items():
            for benefit_id in ids:
                by_benefit.setdefault(benefit_id, []).append(alert_id)
        explained: set[str] = set()
        found: dict[str, int] = Counter()
        missed = []
        for key, overlap in seeded.items():
            candidates = by_benefit.get(overlap.benefit_ids[0], [])
            hits = [a for a in candidates if ours[a][0] == key[0] and key[1] <= ours[a][1]]
            if hits:
                found[overlap.rule_id] += 1
                explained.update(hits)
            else:
                missed.append(overlap)
        seeded_by_rule = Counter(o.rule_id for o in self.overlaps)
        by_rule = {rule: (seeded_by_rule[rule], found[rule]) for rule in sorted(seeded_by_rule)}
        return by_rule, missed, sorted(set(ours) - explained)


def _own_id(benefit_id: str, tag: str) -> bool:
    return benefit_id.split(":", 1)[-1].startswith(f"{tag}-")


@dataclass
class Verdict:
    canonical: int = 0
    held: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # as expected, by reason
    rejections_seen: Counter[str] = field(default_factory=Counter)  # every rejection read, by reason
    wrongly_rejected: Counter[str] = field(default_factory=Counter)
    wrong_reason: Counter[str] = field(default_factory=Counter)
    unaccounted: list[Planned] = field(default_factory=list)
    unaccounted_unreadable: int = 0
    alerts_by_rule: dict[str, tuple[int, int]] = field(default_factory=dict)  # rule -> (seeded, alerted)
    missed_overlaps: list[Overlap] = field(default_factory=list)
    unexplained_alerts: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        found = []
        if self.unaccounted or self.unaccounted_unreadable:
            found.append(f"{len(self.unaccounted) + self.unaccounted_unreadable} event(s) neither canonical nor rejected nor held")
        if self.wrongly_rejected:
            found.append(f"{sum(self.wrongly_rejected.values())} valid event(s) rejected: {dict(self.wrongly_rejected)}")
        if self.wrong_reason:
            found.append(f"{sum(self.wrong_reason.values())} rejection(s) for another reason: {dict(self.wrong_reason)}")
        if self.missed_overlaps:
            found.append(f"{len(self.missed_overlaps)} seeded overlap(s) with no alert")
        if self.unexplained_alerts:
            found.append(f"{len(self.unexplained_alerts)} alert(s) on this run's grants that no seeded overlap explains")
        return found


# --- sending -------------------------------------------------------------------------------------


class Pace:
    """Holds the sender to `rate` events a second (0: as fast as the hub takes them)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.started = time.monotonic()
        self.sent = 0

    async def step(self, count: int = 1) -> None:
        self.sent += count
        if self.rate > 0:
            ahead = self.started + self.sent / self.rate - time.monotonic()
            if ahead > 0.005:
                await asyncio.sleep(ahead)


class HttpDepartment:
    """One department's system posting its events to intake in order, a batch at a time,
    retrying a batch while intake does not answer (sending again is harmless: intake knows
    what it accepted)."""

    def __init__(self, client: httpx.AsyncClient, department: str, key: str, answers: Counter[str], retry_for: float) -> None:
        self.client, self.department, self.key = client, department, key
        self.answers = answers
        self.retry_for = retry_for
        self.pending: list[bytes] = []
        self.queue: asyncio.Queue[list[bytes] | None] = asyncio.Queue(maxsize=4)
        self.worker = asyncio.create_task(self._post_all())
        self.held: set[str] = set()

    async def add(self, value: bytes) -> None:
        self.pending.append(value)
        if len(self.pending) >= HTTP_BATCH:
            await self.flush()

    async def flush(self) -> None:
        if self.pending:
            batch, self.pending = self.pending, []
            await self.queue.put(batch)

    async def close(self) -> None:
        await self.flush()
        await self.queue.put(None)
        await self.worker

    async def _post_all(self) -> None:
        while (batch := await self.queue.get()) is not None:
            body = b"[" + b",".join(batch) + b"]"
            answer = await self._post(body)
            for result in answer.get("results", []):
                self.answers[result["status"]] += 1
                if result["status"] == "pending":
                    self.held.add(result.get("event_id", ""))

    async def _post(self, body: bytes) -> dict[str, Any]:
        response = await with_retries(
            lambda: self.client.post("/events", content=body, headers={"X-API-Key": self.key, "Content-Type": "application/json"}),
            self.retry_for, retry=lambda r: r.status_code >= 500 or r.status_code == 429, noted=lambda what: self.answers.update([what]),
        )
        if response is None:
            raise SimulationError(f"intake did not take {self.department}'s batch for {self.retry_for:.0f} s")
        if response.status_code != 200:
            self.answers[f"http {response.status_code}"] += 1
            raise SimulationError(f"intake answered {self.department}'s batch with {response.status_code}: {response.text[:300]}")
        return response.json()


class SimulationError(RuntimeError):
    pass


class Watcher:
    """Reads the hub's output topics from where they stood when it started."""

    def __init__(self, hub: HubSettings) -> None:
        self.hub = hub
        self.out = HubOutput()
        self.names = {hub.topic_name(t): t.name for t in WATCHED}
        self._consumer = AIOKafkaConsumer(**client_options(hub), group_id=None, enable_auto_commit=False,
                                          max_partition_fetch_bytes=4 << 20)
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self.match_log = MatchLog()  # kept across phases: the charity stage spans them

    async def start(self) -> None:
        await ensure_topics(self.hub, WATCHED)
        await self._consumer.start()
        await self._consumer.topics()
        partitions = [TopicPartition(name, p) for name in self.names for p in sorted(self._consumer.partitions_for_topic(name) or [])]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)
        for partition in partitions:
            await self._consumer.position(partition)  # fix the starting point now, before anything is sent
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while not self._stop.is_set():
            batches = await self._consumer.getmany(timeout_ms=200, max_records=20_000)
            for records in batches.values():
                for record in records:
                    self.out.take(record.topic, record.value, dict(record.headers or ()), self.names)
                    if self.names.get(record.topic) == MATCHES.name and self.match_log.offerings:
                        self._log_match(record.value)
            await asyncio.sleep(0)

    def _log_match(self, value: bytes) -> None:
        try:
            event = orjson.loads(value)
        except orjson.JSONDecodeError:
            return
        if isinstance(event, dict):
            self.match_log.take(event)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        await self._consumer.stop()


@dataclass
class Settings:
    hub: HubSettings
    intake_url: str
    ledger_url: str
    charity_url: str
    matching_url: str = "http://127.0.0.1:1"
    staff_key: str = "dev-staff-key"
    rate: float = 0.0
    settle: float = 60.0  # seconds without news from the hub before giving up on the rest
    keys: dict[str, str] = field(default_factory=dict)
    quiet: bool = False
    wait_for_ledger: bool = True  # a phase ends when the ledger has applied what intake published


@dataclass
class Phase:
    name: str
    sent: int
    seconds: float  # from the first event sent to the last one accounted for
    sending_seconds: float
    verdict: Verdict


class Simulation:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.answers: Counter[str] = Counter()
        self.held_http: set[str] = set()
        self.baseline = ledger_handled(settings.ledger_url) if settings.wait_for_ledger else None
        self.canonical_so_far = 0
        self.charity: CharityTally | None = None
        self.match_log = MatchLog()
        self.ready = asyncio.Event()  # the organisations are registered (at once without a charity plan)

    async def play(self, year: Year, tag: str, burst: bool = False, charity: CharityPlan | None = None) -> list[Phase]:
        """The year (and the burst); with a charity plan, its organisations register first and
        answer what matching proposes while the year is played and after."""
        watcher = Watcher(self.settings.hub)
        self.match_log = watcher.match_log
        await watcher.start()
        organisations = answering = None
        done = asyncio.Event()
        try:
            if charity is not None:
                self.charity = CharityTally()
                organisations = Organisations(charity, self._endpoints(), watcher.match_log, self.charity)
                await organisations.register_all()
                answering = asyncio.create_task(organisations.answer_until(
                    done, quiet=3.0, matching_idle=lambda: matching_idle(self.settings.matching_url, self.settings.staff_key)))
            self.ready.set()
            phases = [await self._phase("year", year.events, Account.of(year.events, year.overlaps, tag), watcher)]
            if burst:
                phases.append(await self._phase("1 April burst", year.burst, Account.of(year.burst, [], tag), watcher))
            if organisations is not None and answering is not None:
                done.set()
                await answering
                await organisations.check_ledger()
                await organisations.read_unmet()
        except StageError as error:
            raise SimulationError(f"charity stage: {error}") from None
        finally:
            if answering is not None and not answering.done():
                answering.cancel()
            if organisations is not None:
                await organisations.close()
            await watcher.stop()
        return phases

    def _endpoints(self) -> Endpoints:
        s = self.settings
        return Endpoints(s.charity_url, s.matching_url, s.ledger_url, s.staff_key, patience=max(s.settle, 30.0))

    async def _phase(self, name: str, events: Sequence[Planned], account: Account, watcher: Watcher) -> Phase:
        watcher.out = HubOutput()  # each phase is judged on what came out while it ran
        started = time.monotonic()
        with _Progress(name, len(events), account.total, self.settings.quiet) as progress:
            sending = asyncio.create_task(self._send(events, progress.sent))
            while not sending.done():
                progress.accounted(self._accounted(account, watcher.out))
                await asyncio.wait({sending}, timeout=0.5)
            sending.result()
            sent_at = time.monotonic()
            watcher.out.changed = time.monotonic()
            while (done := self._accounted(account, watcher.out)) < account.total or not self._alerted(account, watcher.out):
                progress.accounted(done)
                if time.monotonic() - watcher.out.changed > self.settings.settle:
                    break
                await asyncio.sleep(0.2)
            progress.accounted(self._accounted(account, watcher.out))
            if self.settings.wait_for_ledger:
                await self._ledger_caught_up(watcher.out)
        finished = watcher.out.changed if watcher.out.changed > sent_at else time.monotonic()
        return Phase(name, len(events), finished - started, sent_at - started, account.verdict(self._with_http(watcher.out)))

    async def _ledger_caught_up(self, out: HubOutput) -> None:
        """Until the ledger has applied as many events as came out canonical in all (its own
        count, since it last started), or it stops moving."""
        if self.baseline is None:
            return
        target = self.baseline + self.canonical_so_far + len(out.canonical)
        last, still = -1.0, time.monotonic()
        while (applied := ledger_handled(self.settings.ledger_url)) is not None and applied < target:
            if applied != last:
                last, still = applied, time.monotonic()
            elif time.monotonic() - still > self.settings.settle:
                return
            await asyncio.sleep(0.1)
        out.changed = time.monotonic()
        self.canonical_so_far += len(out.canonical)

    def _accounted(self, account: Account, out: HubOutput) -> int:
        return account.accounted(self._with_http(out))

    def _with_http(self, out: HubOutput) -> HubOutput:
        for event_id in self.held_http - out.held:
            out.held.add(event_id)
            out.fresh.append(("held", event_id, frozenset()))
        return out

    @staticmethod
    def _alerted(account: Account, out: HubOutput) -> bool:
        return not account._alerts(out)[1]

    async def _send(self, events: Sequence[Planned], advance: Callable[[int], None]) -> None:
        hub = self.settings.hub
        idempotence = hub.kafka_idempotence if "kafka_idempotence" in hub.model_fields_set else False
        producer = make_producer(hub, "hub-simulate", idempotence=idempotence)
        await producer.start()
        pace = Pace(self.settings.rate)
        client = httpx.AsyncClient(base_url=self.settings.intake_url, timeout=60)
        http: dict[str, HttpDepartment] = {}
        pending: list[asyncio.Future[Any]] = []
        try:
            for event in events:
                if event.channel == "http":
                    if event.department not in http:
                        key = self.settings.keys.get(event.department, dev_key(event.department))
                        http[event.department] = HttpDepartment(client, event.department, key, self.answers, self.settings.settle)
                    await http[event.department].add(event.value)
                else:
                    pending.append(await _send_kafka(producer, hub, event))
                    if len(pending) >= IN_FLIGHT:
                        await asyncio.gather(*pending)
                        pending.clear()
                advance(1)
                await pace.step()
            await asyncio.gather(*pending)
            for department in http.values():
                await department.close()
                self.held_http |= department.held
        finally:
            await producer.stop()
            await client.aclose()


async def _send_kafka(producer: AIOKafkaProducer, hub: HubSettings, event: Planned) -> asyncio.Future[Any]:
    topic = hub.topic_name(department_topic(event.department))
    return await producer.send(topic, event.value, key=event.key.encode())


class _Progress:
    def __init__(self, name: str, events: int, expected: int, quiet: bool) -> None:
        self._progress = None if quiet else Progress(
            TextColumn("[bold]{task.description:<28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console)
        self._name, self._events, self._expected = name, events, expected

    def __enter__(self) -> _Progress:
        if self._progress is not None:
            self._progress.start()
            self._sent = self._progress.add_task(f"{self._name}: sent", total=self._events)
            self._done = self._progress.add_task(f"{self._name}: accounted for", total=self._expected)
        return self

    def sent(self, count: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._sent, count)

    def accounted(self, count: int) -> None:
        if self._progress is not None:
            self._progress.update(self._done, completed=count)

    def __exit__(self, *_: object) -> None:
        if self._progress is not None:
            self._progress.stop()


# --- the charity stage ---------------------------------------------------------------------------


@dataclass
class CharityStage:
    """What the charity stage did, or why it did not run."""

    ran: bool
    note: str
    figures: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def charity_unavailable(settings: Settings) -> str | None:
    """Why the charity stage cannot run against these services, or None if it can."""
    try:
        health = httpx.get(f"{settings.charity_url}/health", timeout=2)
    except httpx.HTTPError:
        return f"charity service not answering at {settings.charity_url}: charity stage skipped"
    if health.status_code != 200:
        return f"charity service at {settings.charity_url} answered {health.status_code}: charity stage skipped"
    if not any(p.startswith("/offerings") for p in _openapi_paths(settings.charity_url)):
        return "charity service answers but has no offerings API: charity stage skipped"
    try:
        httpx.get(f"{settings.matching_url}/health", timeout=2)
    except httpx.HTTPError:
        return f"matching not answering at {settings.matching_url}: charity stage skipped"
    return None


def plan_for(year: Year, seed: int, share: float, today: date) -> CharityPlan:
    """The organisations for this year: sized to its needs (the ones intake accepts)."""
    needs = [e.value for e in year.events if e.event_type == "need.assessed" and e.expected == ACCEPTED and not e.resend]
    return plan_charities(needs_by_category(needs), year.figures["households"], seed, today, coverage=share)


def charity_stage(simulation: Simulation, skipped: str | None) -> CharityStage:
    tally = simulation.charity
    if skipped is not None or tally is None:
        return CharityStage(False, skipped or "charity stage not run (--no-charity, or no organisations planned)")
    figures = tally.figures()
    return CharityStage(True, f"{figures['organisations']} organisations, {figures['offerings']} offerings", figures,
                        tally.problems(simulation.match_log))


def _openapi_paths(url: str) -> list[str]:
    try:
        return list(httpx.get(f"{url}/openapi.json", timeout=5).json().get("paths", {}))
    except (httpx.HTTPError, ValueError):
        return []


# --- the summary ---------------------------------------------------------------------------------


def summary(
    year: Year, phases: Sequence[Phase], answers: Counter[str], charity: CharityStage, out: Console, ledger_url: str
) -> bool:
    """Prints what went in and what the hub made of it; True when everything is accounted for."""
    figures = year.figures
    went_in = Table(title="What went in", show_header=False)
    went_in.add_row("households", f"{figures['households']:,}")
    by_category = ", ".join(f"{k.split('.', 1)[1]} {v:,}" for k, v in sorted(figures.items()) if k.startswith("households."))
    went_in.add_row("by category", by_category)
    went_in.add_row("by colour", ", ".join(f"{k.split('.', 1)[1]} {v:,}" for k, v in sorted(figures.items()) if k.startswith("colour.")))
    types = Counter(e.event_type for e in year.events if not e.resend and e.expected == ACCEPTED)
    went_in.add_row("valid events", f"{sum(types.values()):,}: " + ", ".join(f"{t} {n:,}" for t, n in sorted(types.items())))
    channels = Counter(f"{e.department} {e.channel}" for e in year.events)
    went_in.add_row("by department and way in", ", ".join(f"{k} {v:,}" for k, v in sorted(channels.items())))
    went_in.add_row("grants by programme", ", ".join(f"{k.split('.', 1)[1]} {v:,}" for k, v in sorted(figures.items()) if k.startswith("grants.")))
    invalid = Counter(e.expected for e in year.events if e.expected != ACCEPTED)
    went_in.add_row("invalid events", f"{sum(invalid.values()):,}: " + ", ".join(f"{k} {v}" for k, v in sorted(invalid.items())))
    went_in.add_row("retries (same event again)", f"{figures['resends']:,}")
    went_in.add_row("overlaps seeded", f"{len(year.overlaps):,}")
    if any(p.name != "year" for p in phases):
        went_in.add_row("1 April burst", f"{len(year.burst):,} dibao grants amended to 1,070 CNY per person from 2018-04-01")
    out.print(went_in)
    ok = True
    for phase in phases:
        verdict = phase.verdict
        made = Table(title=f"What the hub made of it: {phase.name}", show_header=False)
        made.add_row("sent", f"{phase.sent:,} in {phase.sending_seconds:.1f} s ({phase.sent / max(phase.sending_seconds, 1e-9):,.0f}/s)")
        made.add_row("all accounted for after", f"{phase.seconds:.1f} s ({phase.sent / max(phase.seconds, 1e-9):,.0f} events/s end to end)")
        made.add_row("canonical events (hub.canonical.v1)", f"{verdict.canonical:,}")
        made.add_row("held for identity review", f"{verdict.held:,}")
        made.add_row("rejected as expected, by reason", ", ".join(f"{k} {v}" for k, v in sorted(verdict.rejected.items())) or "none")
        made.add_row("rejections read (hub.rejections.v1)", ", ".join(f"{k} {v}" for k, v in sorted(verdict.rejections_seen.items())) or "none")
        for rule, (seeded, alerted) in verdict.alerts_by_rule.items():
            made.add_row(f"alerts {rule}", f"{alerted} of {seeded} overlaps seeded")
        made.add_row("unaccounted for", str(len(verdict.unaccounted) + verdict.unaccounted_unreadable))
        for problem in verdict.problems:
            made.add_row("[red]problem[/red]", problem)
            ok = False
        for event in verdict.unaccounted[:5]:
            made.add_row("  e.g.", f"{event.department} {event.event_id} {event.event_type} via {event.channel}, expected {event.expected}")
        out.print(made)
    counts = ledger_counts(ledger_url)
    if counts:
        out.print("the ledger's own counts (its /metrics, since it last started): " + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())))
    if answers:
        out.print("intake's HTTP answers: " + ", ".join(f"{k} {v:,}" for k, v in sorted(answers.items())))
    out.print(f"[bold]charity stage:[/bold] {charity.note}")
    if charity.ran:
        ok = _charity_table(charity, out) and ok
    out.print("[green]everything accounted for[/green]" if ok else "[red]not everything is accounted for[/red]")
    return ok


def _charity_table(charity: CharityStage, out: Console) -> bool:
    f = charity.figures
    table = Table(title="The charity side: organisations' answers and what came of them", show_header=False)
    table.add_row("organisations registered and approved", f"{f['organisations']:,}, with {f['offerings']:,} offerings")
    table.add_row("proposals in their inboxes", f"{f['proposals']:,}")
    table.add_row("delivered", f"{f['delivered']:,} ({f['value_delivered_fen'] / 100:,.0f} CNY); in the ledger as charity benefits: {f['deliveries_in_ledger']:,}")
    table.add_row("declined, by reason", ", ".join(f"{k} {v}" for k, v in f["declined"].items()) or "none")
    table.add_row("delivery failed", f"{f['failed']:,}")
    table.add_row("cancelled or expired", f"{f['cancelled_or_expired']:,}")
    table.add_row("unanswered", f"{f['unanswered']:,}")
    unmet = "not read" if f["unmet_needs"] is None else f"{f['unmet_needs']:,}"
    table.add_row("unmet needs (matching, whole pool)", unmet + (": " + ", ".join(f"{k} {v}" for k, v in f["unmet_by_reason"].items()) if f["unmet_by_reason"] else ""))
    for problem in charity.problems:
        table.add_row("[red]problem[/red]", problem)
    out.print(table)
    return not charity.problems


def ledger_counts(url: str) -> Counter[str] | None:
    """The ledger's own event counts by outcome (its /metrics, since it last started)."""
    try:
        text = httpx.get(f"{url}/metrics", timeout=2).text
    except httpx.HTTPError:
        return None
    counts: Counter[str] = Counter()
    for line in text.splitlines():
        if line.startswith("ledger_events_total{"):
            counts[line.split('"')[1]] = int(float(line.split()[-1]))
    return counts


def ledger_handled(url: str) -> int | None:
    """Events the ledger applied, ignored or refused (each once, whatever the redeliveries)."""
    counts = ledger_counts(url)
    return None if counts is None else counts["applied"] + counts["ignored"] + counts["refused"]


# --- the command -----------------------------------------------------------------------------------


def simulate(
    households: Annotated[int, typer.Option(min=1, help=f"Assisted households (Shanghai: about {ASSISTED_HOUSEHOLDS:,}); about 7 events each")] = 2000,
    seed: Annotated[int, typer.Option(help="The same seed makes the same year (use another on a hub that has seen it)")] = 0,
    rate: Annotated[float, typer.Option(min=0, help="Events per second; 0 = as fast as the hub takes them")] = 0.0,
    burst: Annotated[bool, typer.Option("--burst", help="Then the 1 April change: every running dibao grant amended at once")] = False,
    overlap_share: Annotated[float, typer.Option(min=0, max=0.1, help="Share of households given a seeded stacking-policy breach")] = 0.005,
    invalid_share: Annotated[float, typer.Option(min=0, max=0.5, help="Invalid events, as a share of the valid ones")] = 0.01,
    withdrawals: Annotated[bool, typer.Option(help="Include need.withdrawn events (intake republishes them as need.closed)")] = True,
    settle: Annotated[float, typer.Option(min=1, help="Seconds without news from the hub before the rest counts as unaccounted")] = 60.0,
    intake_url: Annotated[str | None, typer.Option(help="[default: http://HUB_HTTP_HOST:HUB_INTAKE_HTTP_PORT]")] = None,
    ledger_url: Annotated[str | None, typer.Option(help="[default: http://HUB_HTTP_HOST:HUB_LEDGER_HTTP_PORT]")] = None,
    charity_url: Annotated[str | None, typer.Option(help="[default: http://HUB_HTTP_HOST:HUB_CHARITY_HTTP_PORT]")] = None,
    matching_url: Annotated[str | None, typer.Option(help="[default: http://HUB_HTTP_HOST:HUB_MATCHING_HTTP_PORT]")] = None,
    charity: Annotated[bool, typer.Option(help="Organisations register, publish offerings and answer proposals (skipped if the charity service does not answer)")] = True,
    charity_share: Annotated[float, typer.Option(min=0.01, max=10, help="Units offered per need of the year, by category (Chengdu: 2,358 plans per 3,996 assessments)")] = round(MET_SHARE, 3),
    staff_key: Annotated[str, typer.Option(help="Staff key: approves the organisations, reads the ledger and matching's reports")] = "dev-staff-key",
    bootstrap: Annotated[str | None, typer.Option(help="Kafka bootstrap servers [default: HUB_KAFKA_BOOTSTRAP or 127.0.0.1:9092]")] = None,
    api_key: Annotated[list[str] | None, typer.Option(help="DEPT=KEY for a department posting over HTTP [default: the dev keys]")] = None,
    report: Annotated[Path | None, typer.Option(help="Also write the figures as JSON to this file")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars")] = False,
) -> None:
    """Play a year of department events through the running hub and account for every one."""
    hub = HubSettings(**({"kafka_bootstrap": bootstrap} if bootstrap else {}))
    settings = Settings(
        hub=hub, intake_url=intake_url or _url(hub, "intake"), ledger_url=ledger_url or _url(hub, "ledger"),
        charity_url=charity_url or _url(hub, "charity"), matching_url=matching_url or _url(hub, "matching"), staff_key=staff_key,
        rate=rate, settle=settle,
        keys=dict(item.split("=", 1) for item in api_key or []), quiet=quiet,
    )
    out = Console()
    made = time.monotonic()
    year = plan_year(households, seed, overlap_share=overlap_share, invalid_share=invalid_share, withdrawals=withdrawals)
    out.print(f"planned {len(year.events):,} events for {households:,} households (seed {seed}) in {time.monotonic() - made:.1f} s; "
              f"broker {hub.kafka_bootstrap}, intake {settings.intake_url}")
    skipped = charity_unavailable(settings) if charity else "charity stage not asked for (--no-charity)"
    plan = plan_for(year, seed, charity_share, date.today()) if skipped is None else None
    if plan is not None:
        out.print(f"charity stage: {len(plan.organisations)} organisations, {plan.figures['offerings']} offerings "
                  f"(units for {charity_share:.0%} of the year's needs), charity {settings.charity_url}, matching {settings.matching_url}")
    ok, figures = run(settings, year, f"s{seed}", burst, out, plan, skipped)
    if report is not None:
        report.write_text(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode())
    raise typer.Exit(0 if ok else 1)


def run(
    settings: Settings, year: Year, tag: str, burst: bool, out: Console, plan: CharityPlan | None = None, skipped: str | None = None,
) -> tuple[bool, dict[str, Any]]:
    """Play the year (and the burst, and the charity stage), print the summary; (all accounted for, figures)."""
    simulation = Simulation(settings)
    try:
        phases = asyncio.run(simulation.play(year, tag, burst, plan))
    except SimulationError as error:
        out.print(f"[red]hub simulate:[/red] {error}")
        return False, {"error": str(error)}
    charity = charity_stage(simulation, skipped)
    ok = summary(year, phases, simulation.answers, charity, out, settings.ledger_url)
    return ok, figures_of(year, phases, charity, ok)


def figures_of(year: Year, phases: Sequence[Phase], charity: CharityStage, ok: bool) -> dict[str, Any]:
    return {
        "ok": ok,
        "households": year.figures["households"],
        "overlaps_seeded": len(year.overlaps),
        "phases": [{
            "name": p.name, "events": p.sent, "seconds": round(p.seconds, 2), "sending_seconds": round(p.sending_seconds, 2),
            "events_per_second": round(p.sent / p.seconds, 1) if p.seconds else 0, "canonical": p.verdict.canonical,
            "held": p.verdict.held, "rejected": dict(p.verdict.rejected), "unaccounted": len(p.verdict.unaccounted) + p.verdict.unaccounted_unreadable,
            "alerts": {rule: {"seeded": s, "alerted": a} for rule, (s, a) in p.verdict.alerts_by_rule.items()},
            "problems": p.verdict.problems,
        } for p in phases],
        "charity": {"ran": charity.ran, "note": charity.note, **charity.figures, "problems": charity.problems},
    }


def _url(hub: HubSettings, name: str) -> str:
    port = os.environ.get(f"HUB_{name.upper()}_HTTP_PORT") or DEFAULT_PORTS[name]
    return f"http://{hub.http_host}:{port}"
