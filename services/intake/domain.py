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
from collections.abc import Callable, Iterable, Sequence
from itertools import combinations
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal

from contracts.department import (
    DEPARTMENT_EVENTS,
    DepartmentEvent,
    HouseholdReported,
    ReportedMember,
)
from contracts.envelope import Publishable
from contracts.hub import DataQualityNotice, HouseholdMerged, IdentityReviewRequested, PersonMerged
from contracts.pseudonyms import normalise_resident_id, person_key
from contracts.topics import CANONICAL, DATA_QUALITY, IDENTITY_REVIEWS, REJECTIONS, Topic
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
from services.intake.masking import mask_text
from services.intake.rejections import Channel, rejection_event, rejection_id
from services.intake.resident_id import IdReason, birth_date_of, is_usable, mask_resident_id, single_edit_repairs
from services.intake.validation import BENEFICIARY, Invalid, Problem, ReasonCode, Valid, Verdict, flawed_member

Ref = tuple[str, str]  # (department, the department's own household reference)
SOURCE = "intake"
# Keys of people known without a usable number; numbered keys are "p_" and hex, never "p_u_".
PROVISIONAL = "p_u_"
NO_DAY = date(9999, 12, 31)


@dataclass(frozen=True)
class Incoming:
    """One department event as it arrived, by either way in."""

    raw: bytes
    channel: Channel
    department: str  # whose topic it came from, or whose API key posted it
    position: str  # kafka: topic/partition/offset; http: request id and item index
    topic: str | None = None
    stamped: int = -1  # kafka: the record's timestamp (ms); with its bytes, what the record is


MemberOutcome = Literal["linked", "held_for_review", "new_person"]


@dataclass(frozen=True)
class Notice:
    """A flaw the event was used despite, for the department to correct in its register."""

    code: str
    message: str
    field: str
    masked_resident_id: str | None
    outcome: MemberOutcome


@dataclass(frozen=True)
class Accepted:
    event_id: str
    household_id: str
    canonical_event_id: str
    notices: tuple[Notice, ...] = ()
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
    notices: tuple[Notice, ...] = ()
    status: Literal["pending"] = "pending"


Outcome = Accepted | Duplicate | Rejected | Pending


@dataclass
class KnownState:
    """What the hub already knows that a batch may touch, loaded by the handler."""

    households: dict[Ref, str] = field(default_factory=dict)
    held: set[Ref] = field(default_factory=set)
    person_households: dict[str, str | None] = field(default_factory=dict)
    candidates: CandidateIndex = field(default_factory=CandidateIndex)
    household_members: dict[str, set[str]] = field(default_factory=dict)  # hub household -> person keys
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
    relation: str | None = None


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
    blocks: frozenset[str] = frozenset()  # the held member's blocking keys: a new person sharing one settles it


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
    fresh: set[str] = field(default_factory=set)  # persons first seen in this batch: the merge pass checks them
    apart: set[frozenset[str]] = field(default_factory=set)  # members of one report: never one person


@dataclass(frozen=True)
class Lookups:
    """What to load into a `KnownState` for a batch."""

    refs: set[Ref]
    person_keys: set[str]
    blocking_keys: set[str]
    repair_refs: set[Ref] = field(default_factory=set)  # a need's or benefit's number to repair: load the members


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
        """A new person seen without a (usable) number: a provisional key from where they were
        first reported, until a numbered record or a reviewer shows who they are."""
        return PROVISIONAL + self._digest(f"unnumbered:{event_key}#{member_index}")[:30]

    def household(self, ref: Ref) -> str:
        return "hh-" + self._digest(f"household:{ref[0]}:{ref[1]}")[:24]

    def household_ref(self, department: str, own_ref: str) -> str:
        """What a department's own household reference is republished as: keyed like person
        keys, so it cannot be read back (a department may key households by ID number)."""
        return f"{department}-ref-" + self._digest(f"household-ref:{department}:{own_ref}")[:24]

    def _digest(self, text: str) -> str:
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()[:32]


def is_provisional(person_key: str) -> bool:
    return person_key.startswith(PROVISIONAL)


def review_id(event_key: str, member_index: int) -> str:
    return "review-" + hashlib.sha256(f"{event_key}#{member_index}".encode()).hexdigest()[:24]


def lookups_for(events: Iterable[DepartmentEvent], keys: PersonKeys, today: date = NO_DAY) -> Lookups:
    refs: set[Ref] = set()
    person_keys: set[str] = set()
    blocks: set[str] = set()
    repair: set[Ref] = set()
    for event in events:
        refs.add((event.source, event.household_id or ""))
        number = getattr(event.data, "resident_id", None)
        if number and not is_usable(number, today):
            repair.add((event.source, event.household_id or ""))
        if isinstance(event, HouseholdReported):
            for member in event.data.members:
                if member.resident_id and is_usable(member.resident_id, today):
                    person_keys.add(keys.of(member.resident_id))
                else:
                    blocks |= blocking_keys(_record_of(member, event, keys, today))
    return Lookups(refs, person_keys, blocks, repair)


class Intake:
    """Decides each event of a batch in order, against the known state it keeps up to date."""

    def __init__(self, state: KnownState, keys: PersonKeys, today: date = NO_DAY) -> None:
        self.state = state
        self.keys = keys
        self.today = today  # repairs of a damaged number must be born by today
        self.changes = Changes()
        self._seen: set[str] = set()
        self._how: dict[int, MemberOutcome] = {}  # the last household report's members: how each was identified

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
            notices = self._notify(verdict, incoming.channel, {})
            return Pending(verdict.event.event_id, verdict.department, (), notices)
        outcome = self._apply(key, verdict.event, verdict.payload, incoming.channel, {})
        if isinstance(outcome, Rejected):
            return self._reject_applied(incoming, verdict, outcome.problems, already_applied)
        self.changes.applied.append(key)
        if verdict.flaws and isinstance(outcome, Accepted | Pending):
            outcome = replace(outcome, notices=self._notify(verdict, incoming.channel, self._how))
        return outcome

    def _notify(self, verdict: Valid, channel: Channel, how: dict[int, MemberOutcome]) -> tuple[Notice, ...]:
        """One data-quality notice per flaw, to the department's topic and in the HTTP answer."""
        event = verdict.event
        by_member: dict[int, list[Problem]] = {}
        for flaw in verdict.flaws:
            by_member.setdefault(flawed_member(flaw), []).append(flaw)
        notices = []
        for index, flaws in by_member.items():  # one notice a member: the first code, every message
            number = event.data.resident_id if index < 0 else event.data.members[index].resident_id  # type: ignore[attr-defined]
            masked = mask_resident_id(number) if number else None
            message = " ".join(f.message for f in flaws)
            notice = Notice(str(flaws[0].code), message, flaws[0].field or "", masked, how.get(index, "held_for_review"))
            notices.append(notice)
            self.changes.outbox.append((DATA_QUALITY, _notice_event(event, channel, notice), event.source))
        return tuple(notices)

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
        number = getattr(event.data, "resident_id", None)
        if number and not is_usable(number, self.today):
            return self._accept_repaired(event, household_id, number)
        return self._accept(event, household_id, [])

    def _accept_repaired(self, event: DepartmentEvent, household_id: str, number: str) -> Outcome:
        """A need or benefit whose number fails its check character: the one member of the
        household whose number is one keying slip from it, or a rejection."""
        near = {self.keys.of(r) for r in single_edit_repairs(number, self.today)}
        members = near & self.state.household_members.get(household_id, set())
        if len(members) != 1:
            message = "The check character does not match, and no one member of this household has a number one keying slip from it."
            problem = Problem(str(IdReason.CHECKSUM), message, BENEFICIARY)
            return Rejected(event.event_id, event.source, (problem,), "")
        (member,) = members
        self._how = {-1: "linked"}
        return self._accept(event, household_id, [], lambda n: member if n == number else self.keys.of(n))

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
        if len(member_keys) > 1:
            self.changes.apart.update(frozenset(pair) for pair in combinations(set(member_keys), 2))
        return self._accept(event, household_id, member_keys)

    def _accept(
        self, event: DepartmentEvent, household_id: str, member_keys: list[str], key_of: Callable[[str], str] | None = None
    ) -> Accepted:
        canonical = to_canonical(event, household_id, member_keys, key_of or self.keys.of, self.keys.household_ref)
        self.changes.outbox.append((CANONICAL, canonical, household_id))
        return Accepted(event.event_id, household_id, canonical.event_id)

    # --- identity -------------------------------------------------------------------------

    def _resolve_members(
        self, key: str, event: HouseholdReported, chosen: dict[int, str]
    ) -> tuple[list[str], list[ReviewRow]]:
        """Numbered members first, then the others by name, birth date and address (a damaged
        number's one-slip repairs count in favour), never as a person another member is."""
        members = event.data.members
        member_keys = [""] * len(members)
        by_name: list[int] = []
        self._how: dict[int, MemberOutcome] = {}
        for index, member in enumerate(members):
            if index in chosen:
                member_keys[index] = chosen[index]
            elif member.resident_id and is_usable(member.resident_id, self.today):
                member_keys[index] = self.keys.of(member.resident_id)
            else:
                by_name.append(index)
            self._how[index] = "linked"
        reviews: list[ReviewRow] = []
        for index in by_name:
            record = _record_of(members[index], event, self.keys, self.today)
            others = set(member_keys)
            candidates = [c for c in self.state.candidates.candidates_for(record) if c.person_key not in others]
            decision = decide(record, candidates)
            if isinstance(decision, Linked):
                member_keys[index] = decision.person_key
            elif isinstance(decision, NeedsReview):
                scored = tuple((s.candidate.person_key, round(s.score, 4)) for s in decision.candidates)
                reviews.append(ReviewRow(review_id(key, index), key, index, scored, frozenset(blocking_keys(record))))
                self._how[index] = "held_for_review"
            else:
                member_keys[index] = self.keys.unnumbered(key, index)
                self._how[index] = "new_person"
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
                    "original_event_id": mask_text(event.event_id)[:128],  # masked as rejections are
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
            fresh = key not in self.state.person_households
            indexed = self.state.linking and fresh
            born = member.birth_date or _encoded_birth_date(member.resident_id, self.today)
            if indexed:
                candidate = Candidate(key, name, born, event.data.address)
                self.changes.blocking.update((block, key) for block in blocking_keys(candidate))
                self.state.candidates.add(candidate)
            if fresh:
                self.changes.fresh.add(key)
            previous = self.changes.persons.get(key)
            self.changes.persons[key] = PersonRow(
                key, household_id, name, born, event.data.address, event.data.district,
                indexed or (previous is not None and previous.indexed), member.relation,
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


def _record_of(member: ReportedMember, event: HouseholdReported, keys: PersonKeys, today: date) -> PersonRecord:
    """A member without a usable number as linking sees them: the keys of their damaged
    number's one-slip repairs are hints, and a date the number encodes stands in for a missing one."""
    number = member.resident_id
    near = frozenset(keys.of(r) for r in single_edit_repairs(number, today)) if number else frozenset()
    born = member.birth_date or _encoded_birth_date(number, today)
    return PersonRecord(None, member.name, born, event.data.address, event.data.district, near)


def _encoded_birth_date(number: str | None, today: date) -> date | None:
    if not number:
        return None
    try:
        return birth_date_of(number, today)
    except ValueError:
        return None


def _notice_event(event: DepartmentEvent, channel: Channel, notice: Notice) -> DataQualityNotice:
    return DataQualityNotice(
        event_id="notice-" + hashlib.sha256(f"{event.source}:{event.event_id}:{notice.field}".encode()).hexdigest()[:32],
        source=SOURCE,
        correlation_id=event.correlation_id,
        data={
            "original_event_id": mask_text(event.event_id)[:128],  # a department's own words: masked as rejections are
            "department": event.source,
            "department_household_ref": mask_text(event.household_id or "")[:64],
            "channel": channel,
            "code": notice.code,
            "message": notice.message[:500],
            "field": notice.field,
            "masked_resident_id": notice.masked_resident_id,
            "outcome": notice.outcome,
        },
    )


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


# --- merges: two keys found to be one person -------------------------------------------------


@dataclass(frozen=True)
class Merge:
    survivor: str
    merged: str
    reason: Literal["numbered_record", "reviewer_decision", "concurrent_link"]


def survivor_of_pair(a: str, b: str) -> str:
    """The key that survives, the same whichever record came first: a numbered key over a
    provisional one; between provisional keys, the smaller."""
    if is_provisional(a) != is_provisional(b):
        return b if is_provisional(a) else a
    return min(a, b)


def plan_merges(fresh: Sequence[Candidate], index: CandidateIndex, apart: set[frozenset[str]]) -> list[Merge]:
    """Which persons first seen in a batch are someone already known (or the other way round).

    A provisional person is merged into the one person `decide` would link their record to now;
    a numbered person takes over every provisional person whose record `decide` would now link
    to them. Either way the decision is the provisional record's own, against everyone it could
    be, so twins and namesakes stay apart exactly as when the numbered record came first. Members
    of one report (`apart`) are never merged."""
    merges: list[Merge] = []
    gone: set[str] = set()
    for person in fresh:
        if is_provisional(person.person_key):
            target = _linked_to(person, index, apart)
            pairs = [(person.person_key, target)] if target else []
        else:
            record = PersonRecord(None, person.name, person.birth_date, person.address)
            provisional = {c.person_key: c for c in index.candidates_for(record) if is_provisional(c.person_key)}
            pairs = [(p, person.person_key) for p, c in sorted(provisional.items()) if _linked_to(c, index, apart) == person.person_key]
        for one, other in pairs:
            if one in gone or other in gone:
                continue
            survivor = survivor_of_pair(one, other)
            merged = other if survivor == one else one
            reason = "concurrent_link" if is_provisional(survivor) else "numbered_record"
            merges.append(Merge(survivor, merged, reason))  # type: ignore[arg-type]
            gone.add(merged)
    return merges


def _linked_to(person: Candidate, index: CandidateIndex, apart: set[frozenset[str]]) -> str | None:
    record = PersonRecord(None, person.name, person.birth_date, person.address)
    others = [
        c for c in index.candidates_for(record)
        if c.person_key != person.person_key and frozenset((c.person_key, person.person_key)) not in apart
    ]
    decision = decide(record, others)
    return decision.person_key if isinstance(decision, Linked) else None


def merge_events(
    merge: Merge, survivor_household: str | None, merged_household: str | None, decided_by: str | None
) -> list[tuple[Topic, Publishable, str | None]]:
    """person.merged, and household.merged when a household followed, keyed by the survivor's
    household; ids from what was merged, so a merge told twice is one event."""
    digest = hashlib.sha256(f"{merge.merged}>{merge.survivor}".encode()).hexdigest()[:32]
    person = PersonMerged(
        event_id=f"person-merged-{digest}",
        source=SOURCE,
        household_id=survivor_household,
        data={
            "surviving_person_key": merge.survivor,
            "merged_person_keys": [merge.merged],
            "reason": merge.reason,
            "decided_by": decided_by,
        },
    )
    events: list[tuple[Topic, Publishable, str | None]] = [(CANONICAL, person, survivor_household)]
    if merged_household and survivor_household:
        household = HouseholdMerged(
            event_id=f"household-merged-{digest}",
            source=SOURCE,
            household_id=survivor_household,
            data={"surviving_household_id": survivor_household, "merged_household_ids": [merged_household], "reason": "person_merged"},
        )
        events.append((CANONICAL, household, survivor_household))
    return events


def link_member(
    event: HouseholdReported, index: int, candidates_of: Callable[[set[str]], list[Candidate]], keys: PersonKeys, today: date
) -> str | None:
    """Who a held member is now, if `decide` is sure (never another member of the report)."""
    members = event.data.members
    record = _record_of(members[index], event, keys, today)
    others = {keys.of(m.resident_id) for i, m in enumerate(members) if i != index and m.resident_id and is_usable(m.resident_id, today)}
    candidates = [c for c in candidates_of(blocking_keys(record)) if c.person_key not in others]
    decision = decide(record, candidates)
    return decision.person_key if isinstance(decision, Linked) else None
