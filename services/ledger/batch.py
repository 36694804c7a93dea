"""One batch of canonical events applied to the ledger in one transaction: load, apply, store.

The affected households are taken from the cache of recent households or loaded in bulk, each
event goes to its household in the order it arrived (one household's events share a partition,
so their order is kept), and at the end what changed is written back in bulk (new rows inserted,
changed rows updated, the rest left alone): the events applied (in `ledger_event`, which is also
how a redelivered event is recognised), the alerts raised or closed, and each changed household's
new state in the outbox.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import count
from typing import Any, Protocol

from sqlmodel import SQLModel

from contracts.envelope import Event, Publishable, SerializedEvent, new_id, utc_now
from contracts.hub import (
    BenefitAmended,
    BenefitRecorded,
    BenefitStopped,
    DuplicateServiceAlertDecided,
    DuplicateServiceAlertRaised,
    DuplicateServiceAlertUpdated,
    HouseholdMerged,
    HouseholdRecorded,
    HouseholdStateV2,
    MatchFulfilled,
    NeedClosed,
    NeedRecorded,
    PersonMerged,
)
from contracts.topics import ALERTS, HOUSEHOLD_STATE, Topic
from kit.logs import get_logger, loggable_id, loggable_text
from services.ledger.alerts import LEDGER, Alert, AlertChanges, AlertStatus
from services.ledger.cache import RecentHouseholds
from services.ledger.domain import Benefit, BenefitChange, Conflict, LedgerError, conflicts_across
from services.ledger.households import Household, Need, Person, Profile
from services.ledger.persons import PersonIndex, SharedPerson
from services.ledger.policy import StackingPolicy
from services.ledger.records import (
    benefit_of,
    change_of,
    closed_need_of,
    ledger_from_records,
    need_of,
    people_of,
    profile_of,
    summary_of,
)
from services.ledger.repository import (
    LedgerAlert,
    LedgerBenefit,
    LedgerEvent,
    LedgerHousehold,
    LedgerMember,
    LedgerNeed,
    LedgerRepository,
    LedgerSharedPerson,
)

log = get_logger(__name__)

BENEFIT_EVENTS = (BenefitRecorded, BenefitAmended, BenefitStopped, MatchFulfilled)
LEDGER_EVENTS = (HouseholdRecorded, NeedRecorded, NeedClosed, HouseholdMerged, PersonMerged, *BENEFIT_EVENTS)
SERVICE = LEDGER


class WorkUnit(Protocol):
    """What the batch needs of kit.outbox.UnitOfWork. (Applied event ids are not the unit's
    business here: `ledger_event` keeps every event applied, keyed by its id, written in the same
    transaction as its effect, so it is the ledger's record of what it applied.)"""

    session: Any

    def emit(self, topic: Topic, event: Publishable, key: str | None = None) -> None: ...

    def after_commit(self, callback: Callable[[], None]) -> None: ...


@dataclass
class Outcome:
    applied: int = 0
    duplicates: int = 0
    ignored: int = 0
    refused: int = 0
    alerts_raised: int = 0
    alerts_updated: int = 0
    alerts_closed: int = 0


Row = dict[str, Any]
Rows = tuple[list[Row], list[Row]]  # (to insert, to update)


@dataclass
class Stored:
    """What a household's rows held when the batch read them (or kept it): a part of the
    household that is no longer the very object stored has changed and is written back."""

    revision: int
    is_new: bool
    benefits: dict[str, Benefit]
    needs: dict[str, Need]
    members: dict[str, Person]
    alerts: dict[str, Alert]

    @classmethod
    def of(cls, household: Household, revision: int, is_new: bool = False) -> Stored:
        return cls(
            revision=revision,
            is_new=is_new,
            benefits=household.benefits.current(),
            needs=dict(household.needs),
            members=dict(household.members or {}),
            alerts={alert.alert_id: alert for alert in household.alerts},
        )


HouseholdCache = RecentHouseholds[Household]


class Batch:
    """Loads the households the events are about, applies each event, then writes every change back."""

    def __init__(self, unit: WorkUnit, policy: StackingPolicy, publish: bool = True, cache: HouseholdCache | None = None) -> None:
        self.unit = unit
        self.cache = cache
        self.repository = LedgerRepository(unit.session)
        self.policy = policy
        self.publish = publish
        self.now = utc_now()
        self.state_ids = _numbered_ids()
        self.timeline: Callable[[Row], None]  # where `apply` writes the events it applied
        self.households: dict[str, Household] = {}
        self.stored: dict[str, Stored] = {}
        self.changed: set[str] = set()
        self.persons = PersonIndex()  # the persons of these households that another household shares
        self.two_households: set[frozenset[str]] = set()  # pairs staff decided are two households
        self.shared_persons: list[SharedPerson] = []  # review items raised in this batch
        self.merged: dict[str, str] = {}  # household id merged in this batch -> the survivor
        self.gone: list[str] = []  # stored households merged into another in this batch
        self.involved: set[str] = set()  # every household the batch loaded
        self.outcome = Outcome()

    # -- loading

    def load(self, events: Sequence[Event]) -> None:
        """Each household the events are about: kept from an earlier batch if its copy is still
        the stored revision, otherwise read from its rows, or new if it has none (a household
        with rows in any ledger table has its `ledger_household` row). Members are read only for
        households whose members a report may change. Households that share a member with them
        are loaded too: person rules follow a person into every household they are in."""
        stored, with_members = self._households_involved(events)
        if self.cache is not None:
            kept = self.cache.take({h: row["revision"] for h, row in stored.items()})
            for household_id, household in kept.items():
                self._loaded(household, stored[household_id]["revision"])
        self._read({h: row for h, row in stored.items() if h not in self.households})
        for household_id in self.involved - self.households.keys():
            self._loaded(Household(household_id, ledger_from_records(household_id, [], self.policy), members={}), 0, is_new=True)
            self.changed.add(household_id)
        self._read_members({h for h in with_members if self.households[h].members is None})

    def _households_involved(self, events: Sequence[Event]) -> tuple[dict[str, Row], set[str]]:
        """The stored rows of the households to load (those the events name, those intake merges,
        those the persons reported or merged are members of, and those that share a member with
        any of them: `linked_households` of their rows), and those whose members to read. Fills
        the person -> households index: one query, only for persons reports and merges name,
        and for the members of households that share one."""
        ids = {event.household_id for event in events if event.household_id}
        with_members = {e.household_id for e in events if isinstance(e, HouseholdRecorded | HouseholdMerged) and e.household_id}
        reported = {m.person_key for e in events if isinstance(e, HouseholdRecorded) for m in e.data.members}
        merged_persons = {k for e in events if isinstance(e, PersonMerged) for k in (e.data.surviving_person_key, *e.data.merged_person_keys)}
        merged_households = {h for e in events if isinstance(e, HouseholdMerged) for h in e.data.merged_household_ids}
        ids |= merged_households
        with_members |= merged_households
        named = self.repository.memberships(person_keys=reported | merged_persons) if reported or merged_persons else []
        ids |= {household_id for _, household_id in named}
        with_members |= {h for key, h in named if key in merged_persons}
        stored = self.repository.households(ids)
        linked = {h for row in stored.values() for h in _ids(row["linked_households"])}
        if linked - ids:
            stored |= self.repository.households(linked - ids)
            ids |= linked
        sharing = {h for h, row in stored.items() if row["linked_households"]}
        memberships = [*named, *self.repository.memberships(household_ids=sharing)] if sharing else named
        self.persons = PersonIndex(memberships)
        if sharing:
            self.two_households = self.repository.two_households(ids)
        self.involved = ids
        return stored, with_members

    def _loaded(self, household: Household, revision: int, is_new: bool = False) -> None:
        self.households[household.household_id] = household
        self.stored[household.household_id] = Stored.of(household, revision, is_new)

    def _read(self, rows: dict[str, Row]) -> None:
        """The rest of these stored households' rows (`rows`: their `ledger_household` rows)."""
        if not rows:
            return
        ids = rows.keys()
        events = self.repository.events_applied(ids)
        needs = self.repository.needs(ids)
        alerts = self.repository.alerts(ids)
        for household_id in ids:
            row = rows[household_id]
            applied = events.get(household_id, [])
            household = Household(
                household_id=household_id,
                benefits=ledger_from_records(household_id, (e for e in applied if e["record"] is not None), self.policy),
                profile=Profile(row["district"], row["subdistrict"], row["category"], row["colour"], row["income_fen"],
                                row["profile_at"], row["profile_event_id"]),
                person_count=row["person_count"],
                needs={need["need_id"]: Need.from_row(need) for need in needs.get(household_id, [])},
                alerts=[Alert.from_row(alert) for alert in alerts.get(household_id, [])],
                applied={event["event_id"] for event in applied},
                linked=frozenset(_ids(row["linked_households"])),
            )
            self._loaded(household, row["revision"])

    def _read_members(self, ids: set[str]) -> None:
        members = self.repository.members(ids) if ids else {}
        for household_id in ids:
            read = {m["person_key"]: _person(m) for m in members.get(household_id, [])}
            self.households[household_id].members = read
            self.stored[household_id].members = dict(read)

    # -- applying

    def apply(self, event: Event) -> None:
        survivor = self.merged.get(event.household_id or "")
        if survivor is not None:  # keyed by a household merged earlier in this batch
            event = event.model_copy(update={"household_id": survivor})
        household = self.households[event.household_id or ""]
        if household.has_applied(event.event_id):  # redelivered, or twice in this batch
            self.outcome.duplicates += 1
            return
        try:
            self._apply(household, event)
        except LedgerError as error:
            self.outcome.refused += 1
            log.warning("event refused by the ledger", event_id=loggable_id(event.event_id), event_type=event.type,
                        reason=loggable_text(str(error)))
            return
        self.changed.add(household.household_id)
        self.outcome.applied += 1

    def _apply(self, household: Household, event: Event) -> None:
        if isinstance(event, HouseholdRecorded):
            self._record_household(household, event)
        elif isinstance(event, NeedRecorded):
            self._record_need(household, event)
        elif isinstance(event, HouseholdMerged):
            self._merge_households(household, event)
        elif isinstance(event, PersonMerged):
            self._merge_persons(household, event)
        elif isinstance(event, NeedClosed):
            household.close_need(closed_need_of(event))
            self._add_event(household, self._timeline_row(event, summary_of(event)))
        else:
            self._record_benefit(household, event)

    def _record_household(self, household: Household, event: HouseholdRecorded) -> None:
        people = people_of(event)
        household.report(profile_of(event), people)
        self._add_event(household, self._timeline_row(event, summary_of(event)))
        for person in people:
            for other in sorted(self.persons.add(person.person_key, household.household_id)):
                self.shared_persons.append(SharedPerson.raised(person.person_key, household.household_id, other, event.event_id, self.now))
                self._link(household, self.households[other])
        if self.persons.linked(household.household_id):
            self._follow_group(household, event, household.benefits.conflicts())

    def _record_need(self, household: Household, event: NeedRecorded) -> None:
        household.record_need(need_of(event))
        self._add_event(household, self._timeline_row(event, summary_of(event)))

    def _record_benefit(self, household: Household, event: Event) -> None:
        if isinstance(event, BenefitRecorded | MatchFulfilled):
            grant = benefit_of(event)
            conflicts = household.grant(grant)
            record = _grant_record(grant)
            benefit_id = grant.benefit_id
        else:
            assert isinstance(event, BenefitAmended | BenefitStopped)
            change = change_of(event)
            conflicts = household.change(change)
            record = {"kind": "change", "change": change.to_dict()}
            benefit_id = change.benefit_id
        self._add_event(household, self._timeline_row(event, record, benefit_id))
        if self.persons.linked(household.household_id):
            self._follow_group(household, event, conflicts)
        else:
            self._follow(household, event, conflicts)

    def _follow(self, household: Household, cause: Event, conflicts: list[Conflict]) -> None:
        note = f"a later change ({cause.type} {cause.event_id}) resolved the conflict"
        self._publish_alerts(household, cause, household.follow_conflicts(conflicts, cause.event_id, self.now, note))

    def _follow_group(self, household: Household, cause: Event, conflicts: list[Conflict]) -> None:
        """A household that shares a member with others: the conflicts among their benefits that
        span households are checked too, and each is held by the first household it involves."""
        group = sorted({household.household_id} | self.persons.linked(household.household_id))
        benefits = [b for h in group for b in self.households[h].benefits.benefits]
        together = not any(frozenset((one, other)) in self.two_households for one in group for other in group if one < other)
        across = conflicts_across(benefits, self.persons.members(group), self.policy, household_rules=together)
        by_id = {b.benefit_id: b for b in benefits}
        note = f"a later change ({cause.type} {cause.event_id}) resolved the conflict"
        for household_id in group:
            member = self.households[household_id]
            own = conflicts if member is household else member.benefits.conflicts()
            held = own + [c for c in across if c.household_id == household_id]
            changes = member.follow_conflicts(held, cause.event_id, self.now, note, by_id.get)
            if changes:
                self.changed.add(household_id)
                self._publish_alerts(member, cause, changes)

    # -- intake's merges

    def _merge_households(self, survivor: Household, event: HouseholdMerged) -> None:
        """Hub households proved one: what the merged ones hold moves to the survivor, whose
        rules are then re-checked; events still keyed by a merged id go to the survivor."""
        note = f"{event.type} {event.event_id}: the households are one"
        for merged_id in sorted(set(event.data.merged_household_ids) - {survivor.household_id}):
            merged = self.households.pop(merged_id)
            stored = self.stored.pop(merged_id)
            self.changed.discard(merged_id)
            self.merged[merged_id] = survivor.household_id
            # Its alerts' rows are updated under the survivor, not inserted again.
            self.stored[survivor.household_id].alerts.update(stored.alerts)
            changes = AlertChanges(closed=survivor.absorb(merged, self.now, note))
            for other_id in survivor.linked:
                other = self.households.get(other_id)
                if other is not None and merged_id in other.linked:
                    other.linked = (other.linked - {merged_id}) | {survivor.household_id}
                    self.changed.add(other_id)
            self.persons.merge_households(survivor.household_id, merged_id)
            self._publish_alerts(survivor, event, changes)
            if not stored.is_new:
                self.gone.append(merged_id)
        merged_ids = sorted(set(event.data.merged_household_ids) - {survivor.household_id})
        self._add_event(survivor, self._timeline_row(event, {"kind": "household.merged", "merged": merged_ids}))
        self._recheck(survivor, event)

    def _merge_persons(self, household: Household, event: PersonMerged) -> None:
        """Person keys proved one person: every household's members and benefits under a merged
        key move to the survivor's, and each household's rules are re-checked (the merge may
        reveal a person in two households, or two benefits of one person)."""
        survivor, merged = event.data.surviving_person_key, set(event.data.merged_person_keys) - {event.data.surviving_person_key}
        affected = {h for key in merged | {survivor} for h in self.persons.households_of(key)} | {household.household_id}
        for key in sorted(merged):
            self.persons.merge_persons(survivor, key)
        for one in sorted(affected):
            for other in self.persons.linked(one):
                self._link(self.households[one], self.households[other])
        for household_id in sorted(affected):
            member = self.households[household_id]
            if member is not household and member.has_applied(event.event_id):
                continue
            for benefit_id in member.rekey_person(survivor, merged):
                change = BenefitChange(event_id=f"{event.event_id}/{benefit_id}", household_id=household_id, benefit_id=benefit_id,
                                       updates={"person_key": survivor}, occurred_at=event.occurred_at)
                member.change(change)
                self._add_event(member, {**self._timeline_row(event, {"kind": "change", "change": change.to_dict()}, benefit_id),
                                         "event_id": change.event_id, "household_id": household_id})
            if member is not household:
                self._add_event(member, {**self._timeline_row(event, {"kind": "person.merged"}), "household_id": household_id})
                self.changed.add(household_id)
        self._add_event(household, self._timeline_row(event, {"kind": "person.merged", "merged": sorted(merged)}))
        for household_id in sorted(affected):
            self._recheck(self.households[household_id], event)

    def _link(self, one: Household, other: Household) -> None:
        """Two households found to share a member: each names the other from now on."""
        if other.household_id not in one.linked:
            one.linked = one.linked | {other.household_id}
            other.linked = other.linked | {one.household_id}
            self.changed.update((one.household_id, other.household_id))

    def _recheck(self, household: Household, cause: Event) -> None:
        if self.persons.linked(household.household_id):
            self._follow_group(household, cause, household.benefits.conflicts())
        else:
            self._follow(household, cause, household.benefits.conflicts())

    def _add_event(self, household: Household, row: Row) -> None:
        """An event this batch applied: into `ledger_event`, and known from now on as applied."""
        household.mark_applied(row["event_id"])
        self.timeline(row)

    def _timeline_row(self, event: Event, record: Row, benefit_id: str | None = None) -> Row:
        return {
            "event_id": event.event_id,
            "household_id": event.household_id or "",
            "type": event.type,
            "source": event.source,
            "occurred_at": event.occurred_at,
            "benefit_id": benefit_id,
            "record": record,
        }

    # -- alerts out

    def _publish_alerts(self, household: Household, cause: Event, changes: AlertChanges) -> None:
        for alert in changes.raised:
            self.outcome.alerts_raised += 1
            self._emit(cause.caused(
                DuplicateServiceAlertRaised,
                source=SERVICE,
                household_id=household.household_id,
                data=_evidence(alert),
            ))
        for alert in changes.updated:
            self.outcome.alerts_updated += 1
            self._emit(cause.caused(
                DuplicateServiceAlertUpdated,
                source=SERVICE,
                household_id=household.household_id,
                data={**_evidence(alert), "status": alert.status, "new_evidence_since_decision": alert.new_evidence},
            ))
        for alert in changes.closed:
            self.outcome.alerts_closed += 1
            self._emit(cause.caused(
                DuplicateServiceAlertDecided,
                source=SERVICE,
                household_id=household.household_id,
                data={
                    "alert_id": alert.alert_id,
                    "decision": AlertStatus.RESOLVED.value,
                    "note": f"a later change ({cause.type} {cause.event_id}) resolved the conflict",
                    "decided_by": SERVICE,
                    "decided_at": self.now,
                },
            ))

    def _emit(self, event: Publishable, topic: Topic = ALERTS) -> None:
        if self.publish:
            self.unit.emit(topic, event, event.household_id)

    # -- storing

    def store(self) -> None:
        """Write only what the batch changed: new rows inserted, changed rows updated in place."""
        changed = [(self.households[h], self.stored[h]) for h in sorted(self.changed)]
        for household, stored in changed:
            household.settle_needs()
            stored.revision += 1
        self._store_merges()
        self._store_parts(LedgerHousehold, [self._household_rows(h, s) for h, s in changed])
        self._store_parts(LedgerMember, [_member_rows(h, s) for h, s in changed if h.members is not None])
        self.repository.delete_members([(h.household_id, key) for h, s in changed if h.members is not None
                                        for key in s.members.keys() - h.members.keys()])
        self._store_parts(LedgerBenefit, [_benefit_rows(h, s) for h, s in changed])
        self._store_parts(LedgerNeed, [_need_rows(h, s) for h, s in changed if h.needs])
        self._store_parts(LedgerAlert, [_alert_rows(h, s) for h, s in changed if h.alerts])
        self.repository.insert_new(LedgerSharedPerson, [item.to_row() for item in self.shared_persons])
        for household, _ in changed:
            self._emit(self._state(household), HOUSEHOLD_STATE)
        if self.cache is not None:
            self.unit.after_commit(self._keep)

    def _store_merges(self) -> None:
        """Households merged into another: their rows go (what they held is the survivor's now,
        written with it), their timeline moves to the survivor, and their ids lead to it."""
        if not self.merged:
            return
        for model in (LedgerHousehold, LedgerMember, LedgerBenefit, LedgerNeed):
            self.repository.delete(model, self.gone)
        self.repository.merge_households(self.merged, self.now)

    def _keep(self) -> None:
        assert self.cache is not None
        self.cache.keep({h: (self.stored[h].revision, household) for h, household in self.households.items() if h not in self.merged})

    def _store_parts(self, model: type[SQLModel], parts: list[Rows]) -> None:
        self.repository.save(model, [row for new, _ in parts for row in new], [row for _, changed in parts for row in changed])

    def _household_rows(self, household: Household, stored: Stored) -> Rows:
        row = self._household_row(household, stored.revision)
        return ([row], []) if stored.is_new else ([], [row])

    def _household_row(self, household: Household, revision: int) -> Row:
        profile = household.profile
        return {
            "household_id": household.household_id,
            "district": profile.district,
            "subdistrict": profile.subdistrict,
            "category": profile.category,
            "colour": profile.colour,
            "income_fen": profile.income_fen,
            "person_count": household.person_count,
            "profile_at": profile.as_of,
            "profile_event_id": profile.event_id,
            "revision": revision,
            "updated_at": self.now,
            "linked_households": "," + ",".join(sorted(household.linked)) + "," if household.linked else None,
        }

    def _state(self, household: Household) -> SerializedEvent:
        """A `HouseholdStateV2`, written straight to its wire form from values the ledger holds
        (building the model checked them all again: a tenth of the ledger's work per event)."""
        profile = household.profile
        event_id = next(self.state_ids)
        return SerializedEvent.of(
            HouseholdStateV2,
            event_id=event_id,
            correlation_id=event_id,  # each state is a flow of its own, as with a fresh correlation id
            occurred_at=self.now,
            source=SERVICE,
            household_id=household.household_id,
            data={
                "district": profile.district,
                "subdistrict": profile.subdistrict,
                "category": profile.category,
                "colour": profile.colour,
                "programmes": household.programmes_held(self.now.date()),
                "open_needs": household.open_needs(),
                "person_count": household.person_count,
                "as_of": self.now,
                "received_this_year": household.received_in_year(self.now.year),
            },
        )


def _evidence(alert: Alert) -> dict[str, Any]:
    """What `alert.raised` and `alert.updated` both say of an alert: its rule and its benefits."""
    return {
        "alert_id": alert.alert_id,
        "rule_id": alert.rule_id,
        "severity": alert.severity,
        "description": alert.description,
        "district": alert.district,
        "benefits": alert.benefits,
    }


def _numbered_ids() -> Iterator[str]:
    """Unique event ids for a batch's states: one random prefix, numbered (a uuid for each state
    event costs more than building the event)."""
    prefix = new_id()
    return (f"{prefix}-{number}" for number in count())


def _ids(listed: str | None) -> list[str]:
    """The ids of a ',A,B,' column."""
    return [part for part in listed.split(",") if part] if listed else []


def _person(row: Row) -> Person:
    return Person(row["person_key"], row["display_name"], row["masked_resident_id"], row["birth_year"], row["sex"], row["relation"])


def _split(household: Household, current: dict[str, Any], stored: dict[str, Any], to_row: Callable[[Any], Row]) -> Rows:
    """Rows of the parts not stored before (to insert) and of those no longer the stored object (to update)."""
    new: list[Row] = []
    changed: list[Row] = []
    for key, part in current.items():
        before = stored.get(key)
        if before is None:
            new.append(to_row(part))
        elif before is not part:
            changed.append(to_row(part))
    return new, changed


def _member_rows(household: Household, stored: Stored) -> Rows:
    """The members a household report added or changed."""
    current = household.members or {}
    changed = {k: p for k, p in current.items() if stored.members.get(k) != p}
    return _split(household, changed, stored.members, lambda person: _member_row(household.household_id, person))


def _benefit_rows(household: Household, stored: Stored) -> Rows:
    """The benefits the batch's grants and changes touched (a change still pending has no row)."""
    return _split(household, household.benefits.current(), stored.benefits, _benefit_row)


def _need_rows(household: Household, stored: Stored) -> Rows:
    """Needs recorded in the batch, and needs whose status the household's benefits changed."""
    return _split(household, household.needs, stored.needs, Need.to_row)


def _alert_rows(household: Household, stored: Stored) -> Rows:
    return _split(household, {a.alert_id: a for a in household.alerts}, stored.alerts, Alert.to_row)


def _member_row(household_id: str, person: Person) -> Row:
    return {
        "household_id": household_id,
        "person_key": person.person_key,
        "display_name": person.display_name,
        "masked_resident_id": person.masked_resident_id,
        "birth_year": person.birth_year,
        "sex": person.sex,
        "relation": person.relation,
    }


def _benefit_row(benefit: Benefit) -> Row:
    """Every field of a benefit is a column of `ledger_benefit`: a copy of its instance dict (reading
    the fields one by one cost ten times as much, for every benefit a batch touches)."""
    return dict(vars(benefit))


def _grant_record(benefit: Benefit) -> Row:
    """A grant as `ledger_event.record` keeps it: {"kind": "grant", "benefit": `Benefit.to_dict()`}.
    The benefit goes in as it is: the row is only written, and orjson writes a dataclass as that
    same JSON (its fields in order, dates and times in ISO form) at a tenth of `to_dict`'s cost."""
    return {"kind": "grant", "benefit": benefit}


TIMELINE_COLUMNS = ("event_id", "household_id", "type", "source", "occurred_at", "benefit_id", "record")  # of `_timeline_row`


def apply_batch(
    unit: WorkUnit,
    events: Sequence[Event],
    policy: StackingPolicy,
    publish: bool = True,
    cache: HouseholdCache | None = None,
) -> Outcome:
    """Apply the events the ledger has not applied yet, in order; the caller commits.

    An event is known as applied by its household (`ledger_event` holds every event applied,
    written in the same transaction as its effect). The events applied and the outgoing events
    are written with the state at commit; the households go back into the cache (if one is
    given) once the commit succeeded."""
    relevant = [e for e in events if isinstance(e, LEDGER_EVENTS) and e.household_id]
    batch = Batch(unit, policy, publish, cache)
    # Events still keyed by a household merged in an earlier batch go to its survivor.
    merged = batch.repository.aliases({e.household_id for e in relevant if e.household_id})
    relevant = [e.model_copy(update={"household_id": merged[e.household_id]}) if e.household_id in merged else e for e in relevant]
    batch.outcome.ignored = len(events) - len(relevant)
    batch.load(relevant)
    # The events applied go into `ledger_event` as they are applied (see `inserting`).
    with batch.repository.inserting(LedgerEvent, TIMELINE_COLUMNS) as timeline:
        batch.timeline = timeline
        for event in relevant:
            batch.apply(event)
    batch.store()
    return batch.outcome
