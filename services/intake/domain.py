"""Intake's decisions for a batch of department events: accept, reject, hold for review, or skip
as already done; and who each person and household is.

Pure: the handler loads what the hub already knows about the batch's households and people into a
`KnownState`, this module decides and records the `Changes`, and the handler writes them in one
transaction. Nothing here reads a clock, a database or a broker.

Choices made here (documented in docs/intake.md):
- A need or benefit event for a household reference intake has never seen is rejected with
  `household.unknown`: the department must report the household first, then resend.
- An event for a household reference that has a record waiting for identity review is held
  behind it, so that a household's events flow on in their original order once staff decide.
- A rejected event is not remembered by its event id (the department may fix it and resend it
  with the same id); a Kafka record is remembered by what it is (its department and a digest of
  its bytes, never its position), so a redelivered record is rejected once.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from contracts.department import (
    DEPARTMENT_EVENTS,
    DepartmentEvent,
    HouseholdReported,
    ReportedMember,
)
from contracts.envelope import Publishable
from contracts.hub import IdentityReviewRequested
from contracts.pseudonyms import normalise_resident_id, person_key
from contracts.topics import CANONICAL, IDENTITY_REVIEWS, REJECTIONS, Topic
from services.intake.canonical import to_canonical
from services.intake.linking import (
    Candidate,
    CandidateIndex,
    Linked,
    NeedsReview,
    PersonRecord,
    blocking_keys,
    decide,
)
from services.intake.rejections import Channel, rejection_event, rejection_id
from services.intake.validation import Invalid, Problem, ReasonCode, Valid, Verdict

Ref = tuple[str, str]  # (department, the department's own household reference)
SOURCE = "intake"


@dataclass(frozen=True)
class Incoming:
    """One department event as it arrived, by either way in."""

    raw: bytes
    channel: Channel
    department: str  # whose topic it came from, or whose API key posted it
    position: str  # kafka: topic/partition/offset; http: request id and item index
    topic: str | None = None
    stamped: int = -1  # kafka: the record's timestamp (ms); with its bytes, what the record is


@dataclass(frozen=True)
class Accepted:
    event_id: str
    household_id: str
    canonical_event_id: str
    status: Literal["accepted"] = "accepted"


@dataclass(frozen=True)
class Duplicate:
    event_id: str | None
    status: Literal["duplicate"] = "duplicate"


@dataclass(frozen=True)
class Rejected:
    event_id: str | None
    department: str | None
    problems: tuple[Problem, ...]
    rejection_event_id: str
    status: Literal["rejected"] = "rejected"


@dataclass(frozen=True)
class Pending:
    """Held: waiting for staff to say who members are (review ids), or behind such a record."""

    event_id: str
    department: str
    review_ids: tuple[str, ...]
    status: Literal["pending"] = "pending"


Outcome = Accepted | Duplicate | Rejected | Pending


@dataclass
class KnownState:
    """What the hub already knows that a batch may touch, loaded by the handler."""

    households: dict[Ref, str] = field(default_factory=dict)
    held: set[Ref] = field(default_factory=set)
    person_households: dict[str, str | None] = field(default_factory=dict)
    candidates: CandidateIndex = field(default_factory=CandidateIndex)
    linking: bool = False  # some record in the batch has no number: index new people at once


@dataclass(frozen=True)
class PersonRow:
    person_key: str
    household_id: str
    name: str
    birth_date: date | None
    address: str
    district: str | None
    indexed: bool


@dataclass(frozen=True)
class HeldEvent:
    event_key: str
    department: str
    household_ref: str
    event_type: str
    payload: dict[str, Any]
    channel: Channel


@dataclass(frozen=True)
class ReviewRow:
    record_id: str
    event_key: str
    member_index: int
    candidates: tuple[tuple[str, float], ...]


@dataclass
class Changes:
    """Everything one transaction writes."""

    applied: list[str] = field(default_factory=list)
    new_refs: dict[Ref, str] = field(default_factory=dict)
    new_households: set[str] = field(default_factory=set)
    persons: dict[str, PersonRow] = field(default_factory=dict)
    blocking: set[tuple[str, str]] = field(default_factory=set)
    outbox: list[tuple[Topic, Publishable, str | None]] = field(default_factory=list)
    held: list[HeldEvent] = field(default_factory=list)
    reviews: list[ReviewRow] = field(default_factory=list)
    released: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Lookups:
    """What to load into a `KnownState` for a batch."""

    refs: set[Ref]
    person_keys: set[str]
    blocking_keys: set[str]


def applied_key(department: str, event_id: str) -> str:
    """The id an accepted department event is remembered by: DEPT:event_id (hashed if too long)."""
    key = f"{department}:{event_id}"
    return key if len(key) <= 128 else f"{department}:sha256:{hashlib.sha256(event_id.encode()).hexdigest()}"


class PersonKeys:
    """Person keys (HMAC of the normalised number) and other pseudonymous ids, with a cache."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._cache: dict[str, str] = {}

    def of(self, resident_id: str) -> str:
        number = normalise_resident_id(resident_id)
        found = self._cache.get(number)
        if found is None:
            found = self._cache[number] = person_key(number, self._secret)
        return found

    def trim(self, most: int = 200_000) -> None:
        """Keep the cache bounded; keys are cheap to recompute."""
        if len(self._cache) > most:
            self._cache.clear()

    def unnumbered(self, event_key: str, member_index: int) -> str:
        """A new person seen without a number: a key from where they were first reported."""
        return "p_" + self._digest(f"unnumbered:{event_key}#{member_index}")

    def household(self, ref: Ref) -> str:
        return "hh-" + self._digest(f"household:{ref[0]}:{ref[1]}")[:24]

    def household_ref(self, department: str, own_ref: str) -> str:
        """What a department's own household reference is republished as: keyed like person
        keys, so it cannot be read back (a department may key households by ID number)."""
        return f"{department}-ref-" + self._digest(f"household-ref:{department}:{own_ref}")[:24]

    def _digest(self, text: str) -> str:
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()[:32]


def review_id(event_key: str, member_index: int) -> str:
    return "review-" + hashlib.sha256(f"{event_key}#{member_index}".encode()).hexdigest()[:24]


def lookups_for(events: Iterable[DepartmentEvent], keys: PersonKeys) -> Lookups:
    refs: set[Ref] = set()
    person_keys: set[str] = set()
    blocks: set[str] = set()
    for event in events:
        refs.add((event.source, event.household_id or ""))
        if isinstance(event, HouseholdReported):
            for member in event.data.members:
                if member.resident_id:
                    person_keys.add(keys.of(member.resident_id))
                else:
                    blocks |= blocking_keys(_record_of(member, event))
    return Lookups(refs, person_keys, blocks)


class Intake:
    """Decides each event of a batch in order, against the known state it keeps up to date."""

    def __init__(self, state: KnownState, keys: PersonKeys) -> None:
        self.state = state
        self.keys = keys
        self.changes = Changes()
        self._seen: set[str] = set()

    def receive(self, incoming: Incoming, verdict: Verdict, already_applied: set[str]) -> Outcome:
        if isinstance(verdict, Invalid):
            return self._reject(incoming, verdict, already_applied)
        key = applied_key(verdict.department, verdict.event.event_id)
        if key in already_applied or key in self._seen:
            return Duplicate(verdict.event.event_id)
        self._seen.add(key)
        ref = (verdict.department, verdict.household_ref)
        if ref in self.state.held:
            self.changes.applied.append(key)
            self.changes.held.append(_held(key, verdict.event, verdict.payload, incoming.channel))
            return Pending(verdict.event.event_id, verdict.department, ())
        outcome = self._apply(key, verdict.event, verdict.payload, incoming.channel, {})
        if isinstance(outcome, Rejected):
            return self._reject_applied(incoming, verdict, outcome.problems, already_applied)
        self.changes.applied.append(key)
        return outcome

    def release(
        self, held: Sequence[HeldEvent], resolutions: dict[tuple[str, int], str], undecided: set[str]
    ) -> list[Outcome]:
        """Let a household's held events flow on, in order, after staff resolved a review;
        stop at the first that still needs someone to decide."""
        outcomes: list[Outcome] = []
        for record in held:
            event = DEPARTMENT_EVENTS.parse(record.payload)
            if record.event_key in undecided:
                outcomes.append(Pending(event.event_id, record.department, ()))
                break
            chosen = {index: key for (event_key, index), key in resolutions.items() if event_key == record.event_key}
            outcome = self._apply(record.event_key, event, record.payload, record.channel, chosen, releasing=True)  # type: ignore[arg-type]
            if isinstance(outcome, Rejected):
                outcome = self._reject_released(record, event, outcome.problems)
            outcomes.append(outcome)
            if isinstance(outcome, Pending):
                break
            self.changes.released.append(record.event_key)
        return outcomes

    # --- one event -------------------------------------------------------------------------

    def _apply(
        self,
        key: str,
        event: DepartmentEvent,
        payload: dict[str, Any],
        channel: Channel,
        chosen: dict[int, str],
        releasing: bool = False,
    ) -> Outcome:
        ref = (event.source, event.household_id or "")
        if isinstance(event, HouseholdReported):
            return self._household_reported(key, event, payload, channel, chosen, releasing)
        household_id = self.state.households.get(ref)
        if household_id is None:
            message = "No household with this reference has been reported by the department; report it first, then resend."
            problem = Problem(ReasonCode.HOUSEHOLD_UNKNOWN, message, "household_id")
            return Rejected(event.event_id, event.source, (problem,), "")
        return self._accept(event, household_id, [])

    def _household_reported(
        self,
        key: str,
        event: HouseholdReported,
        payload: dict[str, Any],
        channel: Channel,
        chosen: dict[int, str],
        releasing: bool,
    ) -> Outcome:
        ref = (event.source, event.household_id or "")
        member_keys, reviews = self._resolve_members(key, event, chosen)
        if reviews:
            return self._hold_for_review(key, event, payload, channel, reviews, releasing)
        household_id = self.state.households.get(ref) or self._new_household(ref, event, member_keys)
        self._record_persons(event, member_keys, household_id)
        return self._accept(event, household_id, member_keys)

    def _accept(self, event: DepartmentEvent, household_id: str, member_keys: list[str]) -> Accepted:
        canonical = to_canonical(event, household_id, member_keys, self.keys.of, self.keys.household_ref)
        self.changes.outbox.append((CANONICAL, canonical, household_id))
        return Accepted(event.event_id, household_id, canonical.event_id)

    # --- identity -------------------------------------------------------------------------

    def _resolve_members(
        self, key: str, event: HouseholdReported, chosen: dict[int, str]
    ) -> tuple[list[str], list[ReviewRow]]:
        member_keys: list[str] = []
        reviews: list[ReviewRow] = []
        for index, member in enumerate(event.data.members):
            if index in chosen:
                member_keys.append(chosen[index])
            elif member.resident_id:
                member_keys.append(self.keys.of(member.resident_id))
            else:
                decision = decide(_record_of(member, event), self.state.candidates.candidates_for(_record_of(member, event)))
                if isinstance(decision, Linked):
                    member_keys.append(decision.person_key)
                elif isinstance(decision, NeedsReview):
                    scored = tuple((s.candidate.person_key, round(s.score, 4)) for s in decision.candidates)
                    reviews.append(ReviewRow(review_id(key, index), key, index, scored))
                    member_keys.append("")
                else:
                    member_keys.append(self.keys.unnumbered(key, index))
        return member_keys, reviews

    def _hold_for_review(
        self,
        key: str,
        event: HouseholdReported,
        payload: dict[str, Any],
        channel: Channel,
        reviews: list[ReviewRow],
        releasing: bool,
    ) -> Pending:
        ref = (event.source, event.household_id or "")
        self.state.held.add(ref)
        if not releasing:
            self.changes.held.append(_held(key, event, payload, channel))
        self.changes.reviews.extend(reviews)
        household_id = self.state.households.get(ref)
        for review in reviews:
            request = IdentityReviewRequested(
                event_id=review.record_id,
                source=SOURCE,
                household_id=household_id,
                correlation_id=event.correlation_id,
                data={
                    "record_id": review.record_id,
                    "department": event.source,
                    "original_event_id": event.event_id,
                    "candidates": [{"person_key": k, "score": min(1.0, s)} for k, s in review.candidates],
                },
            )
            self.changes.outbox.append((IDENTITY_REVIEWS, request, household_id or review.record_id))
        return Pending(event.event_id, event.source, tuple(r.record_id for r in reviews))

    def _new_household(self, ref: Ref, event: HouseholdReported, member_keys: list[str]) -> str:
        household_id = existing_household(event.data.members, member_keys, self.state.person_households)
        if household_id is None:
            household_id = self.keys.household(ref)
            self.changes.new_households.add(household_id)
        self.state.households[ref] = household_id
        self.changes.new_refs[ref] = household_id
        return household_id

    def _record_persons(self, event: HouseholdReported, member_keys: list[str], household_id: str) -> None:
        """Who lives where now. A new person's blocking keys are written at once only when this
        batch links records by name; otherwise the handler indexes them off the hot path."""
        for member, key in zip(event.data.members, member_keys, strict=True):
            name = member.name  # normalised when indexed: not on the hot path
            indexed = self.state.linking and key not in self.state.person_households
            if indexed:
                candidate = Candidate(key, name, member.birth_date, event.data.address)
                self.changes.blocking.update((block, key) for block in blocking_keys(candidate))
                self.state.candidates.add(candidate)
            previous = self.changes.persons.get(key)
            self.changes.persons[key] = PersonRow(
                key, household_id, name, member.birth_date, event.data.address, event.data.district,
                indexed or (previous is not None and previous.indexed),
            )
            self.state.person_households[key] = household_id

    # --- rejections --------------------------------------------------------------------------

    def _reject_applied(
        self, incoming: Incoming, verdict: Valid, problems: tuple[Problem, ...], already_applied: set[str]
    ) -> Outcome:
        self._seen.discard(applied_key(verdict.department, verdict.event.event_id))
        event = verdict.event
        invalid = Invalid(
            list(problems), event.event_id, event.correlation_id, verdict.department, event.household_id, verdict.payload
        )
        return self._reject(incoming, invalid, already_applied)

    def _reject_released(self, record: HeldEvent, event: DepartmentEvent, problems: tuple[Problem, ...]) -> Outcome:
        incoming = Incoming(b"", record.channel, record.department, f"held/{record.event_key}")
        invalid = Invalid(list(problems), event.event_id, event.correlation_id, record.department, event.household_id, record.payload)
        return self._reject(incoming, invalid, set())

    def _reject(self, incoming: Incoming, invalid: Invalid, already_applied: set[str]) -> Outcome:
        fixed_id = fixed_rejection_id(incoming)
        if fixed_id is not None:
            if fixed_id in already_applied or fixed_id in self._seen:
                return Duplicate(invalid.event_id)
            self._seen.add(fixed_id)
            self.changes.applied.append(fixed_id)
        rejection = rejection_event(invalid, incoming.channel, incoming.topic, _payload_ref(incoming), fixed_id)
        self.changes.outbox.append((REJECTIONS, rejection, invalid.department))
        return Rejected(invalid.event_id, invalid.department, tuple(invalid.problems), rejection.event_id)


def existing_household(
    members: Sequence[ReportedMember], member_keys: Sequence[str], person_households: dict[str, str | None]
) -> str | None:
    """The hub household a newly referenced household already is, judged by its known members:
    the head's household, else one that more than half the members belong to. One member who
    moved in from elsewhere (人户分离) does not pull the household into theirs."""
    known = [(m.relation, person_households.get(k)) for m, k in zip(members, member_keys, strict=True)]
    for relation, household_id in known:
        if relation == "head" and household_id:
            return household_id
    counts = Counter(h for _, h in known if h)
    if counts:
        household_id, count = counts.most_common(1)[0]
        if count * 2 > len(members):
            return household_id
    return None


def _record_of(member: ReportedMember, event: HouseholdReported) -> PersonRecord:
    return PersonRecord(None, member.name, member.birth_date, event.data.address, event.data.district)


def _held(key: str, event: DepartmentEvent, payload: dict[str, Any], channel: Channel) -> HeldEvent:
    return HeldEvent(key, event.source, event.household_id or "", event.type, payload, channel)


def fixed_rejection_id(incoming: Incoming) -> str | None:
    """A Kafka record's rejection is remembered by what the record is, so a redelivered record
    is rejected once; a request over HTTP is answered each time it is sent."""
    if incoming.channel != "kafka":
        return None
    return rejection_id(incoming.department, incoming.raw, incoming.position, incoming.stamped)


def _payload_ref(incoming: Incoming) -> str:
    return f"{incoming.channel}:{incoming.position}"
