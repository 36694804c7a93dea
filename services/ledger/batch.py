"""One batch of canonical events applied to the ledger in one transaction.

The affected households are taken from the cache of recent households or loaded in bulk, each
event goes to its household's domain objects in the order it arrived (one household's events share
a partition, so their order is kept), and at the end what changed is written back in bulk (new rows
inserted, changed rows updated, the rest left alone): the events applied (in `ledger_event`, which
is also how a redelivered event is recognised), the alerts raised or closed, and each changed
household's new state in the outbox.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
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
    HouseholdRecorded,
    HouseholdStateV2,
    MatchFulfilled,
    NeedRecorded,
)
from contracts.topics import ALERTS, HOUSEHOLD_STATE, Topic
from kit.logs import get_logger, loggable_id, loggable_text
from kit.settings import HubSettings
from services.ledger.cache import RecentHouseholds
from services.ledger.domain import (
    Benefit,
    BenefitChange,
    Conflict,
    HouseholdLedger,
    LedgerError,
    diff_alerts,
)
from services.ledger.households import (
    Person,
    Profile,
    alert_id,
    merge_members,
    met_needs,
    received_in_year,
    programmes_held,
)
from services.ledger.policy import StackingPolicy
from services.ledger.repository import (
    LedgerAlert,
    LedgerBenefit,
    LedgerEvent,
    LedgerHousehold,
    LedgerMember,
    LedgerNeed,
    LedgerRepository,
)

log = get_logger(__name__)

BENEFIT_EVENTS = (BenefitRecorded, BenefitAmended, BenefitStopped, MatchFulfilled)
LEDGER_EVENTS = (HouseholdRecorded, NeedRecorded, *BENEFIT_EVENTS)
SERVICE = "ledger"


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
    alerts_closed: int = 0


# --- canonical events -> domain records ---------------------------------------------------------


def benefit_of(event: BenefitRecorded | MatchFulfilled) -> Benefit:
    household_id = event.household_id or ""
    if isinstance(event, MatchFulfilled):
        data = event.data
        return Benefit(
            benefit_id=f"M:{data.match_id}",
            household_id=household_id,
            programme=data.programme,
            source=data.charity_id,
            source_kind="charity",
            amount_fen=data.amount_fen,
            in_kind=data.in_kind,
            period_start=data.delivered_on,
            period_end=data.delivered_on,
            need_id=data.need_id,
            event_id=event.event_id,
            occurred_at=event.occurred_at,
        )
    grant = event.data
    return Benefit(
        benefit_id=grant.benefit_id,
        household_id=household_id,
        programme=grant.programme,
        source=grant.source,
        source_kind=grant.source_kind,
        person_key=grant.person_key,
        amount_fen=grant.amount_fen,
        in_kind=grant.in_kind,
        period_start=grant.period_start,
        period_end=grant.period_end,
        need_id=grant.need_id,
        event_id=event.event_id,
        occurred_at=event.occurred_at,
    )


def change_of(event: BenefitAmended | BenefitStopped) -> BenefitChange:
    household_id = event.household_id or ""
    if isinstance(event, BenefitStopped):
        return BenefitChange.ending(
            event_id=event.event_id,
            household_id=household_id,
            benefit_id=event.data.benefit_id,
            ended_on=event.data.ended_on,
            occurred_at=event.occurred_at,
        )
    # An amendment names only what changes: a field left empty keeps its value.
    wanted = {"amount_fen": event.data.amount_fen, "in_kind": event.data.in_kind, "period_end": event.data.period_end}
    return BenefitChange(
        event_id=event.event_id,
        household_id=household_id,
        benefit_id=event.data.benefit_id,
        updates={name: value for name, value in wanted.items() if value is not None},
        occurred_at=event.occurred_at,
    )


def profile_of(event: HouseholdRecorded) -> Profile:
    data = event.data
    return Profile(
        district=data.district,
        subdistrict=data.subdistrict,
        category=data.category.value if data.category else None,
        colour=data.colour.value if data.colour else None,
        income_fen=data.monthly_income_per_capita_fen,
        as_of=event.occurred_at,
        event_id=event.event_id,
    )


def people_of(event: HouseholdRecorded) -> list[Person]:
    return [
        Person(m.person_key, m.display_name, m.masked_resident_id, m.birth_year, m.sex, m.relation)
        for m in event.data.members
    ]


def summary_of(event: Event) -> dict[str, Any]:
    """What the timeline shows of a non-benefit event; nothing personal beyond masked values."""
    if isinstance(event, HouseholdRecorded):
        data = event.data
        return {
            "kind": "household",
            "department": data.department,
            "district": data.district,
            "category": data.category,
            "colour": data.colour,
            "members": len(data.members),
        }
    if isinstance(event, NeedRecorded):
        data = event.data
        return {"kind": "need", "need_id": data.need_id, "category": data.category, "urgency": data.urgency}
    return {"kind": event.type}


def ledger_from_records(household_id: str, records: Iterable[dict[str, Any]], policy: StackingPolicy) -> HouseholdLedger:
    """A household's ledger from its stored grant and change records (`ledger_event.record`)."""
    grants: list[Benefit] = []
    changes: list[BenefitChange] = []
    for row in records:
        record = row["record"]
        if record.get("kind") == "grant":
            grants.append(Benefit.from_dict(record["benefit"]))
        elif record.get("kind") == "change":
            changes.append(BenefitChange.from_dict(record["change"]))
    return HouseholdLedger(household_id, policy, grants=grants, changes=changes)


# --- one household during a batch ------------------------------------------------------------------

Row = dict[str, Any]
Rows = tuple[list[Row], list[Row]]  # (to insert, to update)


@dataclass
class Household:
    """A household's rows turned into domain objects, and what the batch changed.

    What was stored before the batch (`stored_*`) tells which rows to insert and which to update,
    and what the batch touched tells which rows to write at all."""

    household_id: str
    profile: Profile
    person_count: int
    ledger: HouseholdLedger
    needs: dict[str, Row]
    alerts: list[Row]
    applied: set[str] = field(default_factory=set)  # ids of the events applied to it
    members: dict[str, Person] | None = None
    revision: int = 0  # as stored; every write raises it
    is_new: bool = False
    stored_benefits: frozenset[str] = frozenset()
    stored_needs: dict[str, str] = field(default_factory=dict)  # need id -> status
    stored_members: dict[str, Person] = field(default_factory=dict)
    touched_benefits: set[str] = field(default_factory=set)
    recorded_needs: set[str] = field(default_factory=set)
    new_alerts: list[Row] = field(default_factory=list)
    closed_alerts: list[Row] = field(default_factory=list)
    changed: bool = False

    def active_keys(self) -> set[str]:
        return {alert["conflict_key"] for alert in self.alerts if alert["active"]}

    def times_raised(self, conflict_key: str) -> int:
        return sum(1 for alert in self.alerts if alert["conflict_key"] == conflict_key)

    def need_statuses(self) -> dict[str, str]:
        return {need_id: need["status"] for need_id, need in self.needs.items()}

    def settled(self) -> Household:
        """The household as it is now stored, ready for the next batch."""
        return Household(
            household_id=self.household_id,
            profile=self.profile,
            person_count=self.person_count,
            ledger=self.ledger,
            needs=self.needs,
            alerts=self.alerts,
            applied=self.applied,
            members=self.members,
            revision=self.revision,
            stored_benefits=self.ledger.benefit_ids,
            stored_needs=self.need_statuses(),
            stored_members=dict(self.members or {}),
        )


HouseholdCache = RecentHouseholds[Household]


class Batch:
    """Applies events to the households they are about, then writes every change back."""

    def __init__(
        self, unit: WorkUnit, policy: StackingPolicy, hub: HubSettings, publish: bool = True, cache: HouseholdCache | None = None
    ) -> None:
        self.unit = unit
        self.cache = cache
        self.repository = LedgerRepository(unit.session)
        self.policy = policy
        self.hub = hub
        self.publish = publish
        self.now = utc_now()
        self.state_ids = _numbered_ids()
        self.timeline: Callable[[Row], None]  # where `apply` writes the events it applied
        self.households: dict[str, Household] = {}
        self.outcome = Outcome()

    # -- loading

    def load(self, events: Sequence[Event]) -> None:
        """Each household the events are about: kept from an earlier batch if its copy is still
        the stored revision, otherwise read from its rows, or new if it has none (a household
        with rows in any ledger table has its `ledger_household` row). Members are read only for
        households whose members a report may change."""
        ids = {event.household_id for event in events if event.household_id}
        with_members = {e.household_id for e in events if isinstance(e, HouseholdRecorded) and e.household_id}
        stored = self.repository.households(ids)
        if self.cache is not None:
            self.households.update(self.cache.take({h: row["revision"] for h, row in stored.items()}))
        self._read({h: row for h, row in stored.items() if h not in self.households})
        for household_id in ids - self.households.keys():
            self.households[household_id] = self._household(household_id, None, [])
        self._read_members({h for h in with_members if self.households[h].members is None})

    def _read(self, rows: dict[str, Row]) -> None:
        """The rest of these stored households' rows (`rows`: their `ledger_household` rows)."""
        if not rows:
            return
        ids = rows.keys()
        events = self.repository.events_applied(ids)
        needs = self.repository.needs(ids)
        alerts = self.repository.alerts(ids)
        for household_id in ids:
            applied = events.get(household_id, [])
            household = self._household(household_id, rows[household_id], [e for e in applied if e["record"] is not None])
            household.applied = {event["event_id"] for event in applied}
            household.needs = {need["need_id"]: need for need in needs.get(household_id, [])}
            household.stored_needs = household.need_statuses()
            household.alerts = alerts.get(household_id, [])
            self.households[household_id] = household

    def _read_members(self, ids: set[str]) -> None:
        members = self.repository.members(ids) if ids else {}
        for household_id in ids:
            household = self.households[household_id]
            household.stored_members = {m["person_key"]: _person(m) for m in members.get(household_id, [])}
            household.members = dict(household.stored_members)

    def _household(self, household_id: str, row: Row | None, records: list[Row]) -> Household:
        profile = Profile()
        if row is not None:
            profile = Profile(
                row["district"], row["subdistrict"], row["category"], row["colour"], row["income_fen"],
                row["profile_at"], row["profile_event_id"],
            )
        ledger = ledger_from_records(household_id, records, self.policy)
        return Household(
            household_id=household_id,
            profile=profile,
            person_count=row["person_count"] if row else 0,
            ledger=ledger,
            needs={},
            alerts=[],
            members=None if row else {},
            revision=row["revision"] if row else 0,
            is_new=row is None,
            stored_benefits=ledger.benefit_ids,
            changed=row is None,
        )

    # -- applying

    def apply(self, event: Event) -> None:
        household = self.households[event.household_id or ""]
        if event.event_id in household.applied:  # redelivered, or twice in this batch
            self.outcome.duplicates += 1
            return
        try:
            self._apply(household, event)
        except LedgerError as error:
            self.outcome.refused += 1
            log.warning("event refused by the ledger", event_id=loggable_id(event.event_id), event_type=event.type,
                        reason=loggable_text(str(error)))
            return
        household.changed = True
        self.outcome.applied += 1

    def _apply(self, household: Household, event: Event) -> None:
        if isinstance(event, HouseholdRecorded):
            self._record_household(household, event)
        elif isinstance(event, NeedRecorded):
            self._record_need(household, event)
        else:
            self._record_benefit(household, event)

    def _record_household(self, household: Household, event: HouseholdRecorded) -> None:
        report = profile_of(event)
        merged = household.profile.merge(report)
        newer = merged.event_id == report.event_id
        household.profile = merged
        household.members = merge_members(household.members or {}, people_of(event), newer)
        household.person_count = len(household.members)
        self._add_event(household, self._timeline_row(event, summary_of(event)))

    def _record_need(self, household: Household, event: NeedRecorded) -> None:
        data = event.data
        household.needs[data.need_id] = {
            "need_id": data.need_id,
            "household_id": household.household_id,
            "department": data.department,
            "category": data.category.value,
            "description": data.description,
            "urgency": data.urgency,
            "assessed_on": data.assessed_on,
            "person_key": data.person_key,
            "status": "open",
            "event_id": event.event_id,
        }
        household.recorded_needs.add(data.need_id)
        self._add_event(household, self._timeline_row(event, summary_of(event)))

    def _record_benefit(self, household: Household, event: Event) -> None:
        if isinstance(event, BenefitRecorded | MatchFulfilled):
            grant = benefit_of(event)
            conflicts = household.ledger.grant(grant)
            record = {"kind": "grant", "benefit": grant.to_dict()}
            benefit_id = grant.benefit_id
        else:
            assert isinstance(event, BenefitAmended | BenefitStopped)
            change = change_of(event)
            conflicts = household.ledger.apply(change)
            record = {"kind": "change", "change": change.to_dict()}
            benefit_id = change.benefit_id
        household.touched_benefits.add(benefit_id)
        self._add_event(household, self._timeline_row(event, record, benefit_id))
        self._follow_conflicts(household, event, conflicts)

    def _add_event(self, household: Household, row: Row) -> None:
        """An event this batch applied: into `ledger_event`, and known from now on as applied."""
        household.applied.add(row["event_id"])
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

    # -- alerts

    def _follow_conflicts(self, household: Household, cause: Event, conflicts: list[Conflict]) -> None:
        raised, resolved = diff_alerts(household.active_keys(), conflicts)
        for conflict in raised:
            self._raise(household, cause, conflict)
        for key in resolved:
            for alert in household.alerts:
                if alert["active"] and alert["conflict_key"] == key:
                    self._close(household, cause, alert)

    def _raise(self, household: Household, cause: Event, conflict: Conflict) -> None:
        benefits = [household.ledger.benefit(benefit_id) for benefit_id in conflict.benefit_ids]
        listed = [
            {"benefit_id": b.benefit_id, "programme": b.programme, "source": b.source, "source_kind": b.source_kind}
            for b in benefits
            if b is not None
        ]
        alert: Row = {
            "alert_id": alert_id(household.household_id, conflict.conflict_key, household.times_raised(conflict.conflict_key)),
            "household_id": household.household_id,
            "conflict_key": conflict.conflict_key,
            "rule_id": conflict.rule_id,
            "severity": str(conflict.severity),
            "district": household.profile.district,
            "programmes": "," + ",".join(sorted({b["programme"] for b in listed})) + ",",
            "description": conflict.description,
            "benefits": listed,
            "status": "open",
            "active": True,
            "raised_at": self.now,
            "raised_by_event": cause.event_id,
            "resolved_at": None,
            "decision_note": None,
            "decided_by": None,
            "decided_at": None,
        }
        household.alerts.append(alert)
        household.new_alerts.append(alert)
        self.outcome.alerts_raised += 1
        self._emit(ALERTS, cause.caused(
            DuplicateServiceAlertRaised,
            source=SERVICE,
            household_id=household.household_id,
            data={
                "alert_id": alert["alert_id"],
                "rule_id": alert["rule_id"],
                "severity": alert["severity"],
                "description": alert["description"],
                "district": alert["district"],
                "benefits": listed,
            },
        ))

    def _close(self, household: Household, cause: Event, alert: Row) -> None:
        alert["active"] = False
        alert["resolved_at"] = self.now
        if alert["status"] == "open":
            alert["status"] = "resolved"
        if not any(new is alert for new in household.new_alerts):
            household.closed_alerts.append(alert)
        self.outcome.alerts_closed += 1
        self._emit(ALERTS, cause.caused(
            DuplicateServiceAlertDecided,
            source=SERVICE,
            household_id=household.household_id,
            data={
                "alert_id": alert["alert_id"],
                "decision": "resolved",
                "note": f"a later change ({cause.type} {cause.event_id}) resolved the conflict",
                "decided_by": SERVICE,
                "decided_at": self.now,
            },
        ))

    def _emit(self, topic: Topic, event: Publishable) -> None:
        if self.publish:
            self.unit.emit(topic, event, event.household_id)

    # -- storing

    def store(self) -> None:
        """Write only what the batch changed: new rows inserted, changed rows updated in place."""
        changed = [h for h in self.households.values() if h.changed]
        for household in changed:
            household.revision += 1
        self._store_parts(LedgerHousehold, [self._household_rows(h) for h in changed])
        self._store_parts(LedgerMember, [_member_rows(h) for h in changed if h.members is not None])
        self._store_parts(LedgerBenefit, [_benefit_rows(h) for h in changed if h.touched_benefits])
        self._store_parts(LedgerNeed, [_need_rows(h) for h in changed if h.needs])
        self.repository.save(LedgerAlert, [a for h in changed for a in h.new_alerts], [a for h in changed for a in h.closed_alerts])
        for household in changed:
            self._emit(HOUSEHOLD_STATE, self._state(household))
        if self.cache is not None:
            self.unit.after_commit(self._keep)

    def _keep(self) -> None:
        assert self.cache is not None
        self.cache.keep({h.household_id: (h.revision, h.settled()) for h in self.households.values()})

    def _store_parts(self, model: type[SQLModel], parts: list[Rows]) -> None:
        self.repository.save(model, [row for new, _ in parts for row in new], [row for _, changed in parts for row in changed])

    def _household_rows(self, household: Household) -> Rows:
        row = self._household_row(household)
        return ([row], []) if household.is_new else ([], [row])

    def _household_row(self, household: Household) -> Row:
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
            "revision": household.revision,
            "updated_at": self.now,
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
                "programmes": programmes_held(household.ledger.benefits, self.now.date()),
                "open_needs": sorted(n["need_id"] for n in household.needs.values() if n["status"] == "open"),
                "person_count": household.person_count,
                "as_of": self.now,
                "received_this_year": received_in_year(household.ledger.benefits, self.now.year),
            },
        )


def _numbered_ids() -> Iterator[str]:
    """Unique event ids for a batch's states: one random prefix, numbered (a uuid for each state
    event costs more than building the event)."""
    prefix = new_id()
    return (f"{prefix}-{number}" for number in count())


def _person(row: Row) -> Person:
    return Person(row["person_key"], row["display_name"], row["masked_resident_id"], row["birth_year"], row["sex"], row["relation"])


def _member_rows(household: Household) -> Rows:
    """The members a household report added or changed."""
    new: list[Row] = []
    changed: list[Row] = []
    for key, person in (household.members or {}).items():
        stored = household.stored_members.get(key)
        if stored is None:
            new.append(_member_row(household.household_id, person))
        elif stored != person:
            changed.append(_member_row(household.household_id, person))
    return new, changed


def _benefit_rows(household: Household) -> Rows:
    """The benefits the batch's grants and changes touched (a change still pending has no row)."""
    new: list[Row] = []
    changed: list[Row] = []
    for benefit_id in sorted(household.touched_benefits):
        benefit = household.ledger.benefit(benefit_id)
        if benefit is not None:
            (changed if benefit_id in household.stored_benefits else new).append(_benefit_row(benefit))
    return new, changed


def _need_rows(household: Household) -> Rows:
    """Needs recorded in the batch, and needs whose status the household's benefits changed."""
    met = met_needs(household.ledger.benefits)
    new: list[Row] = []
    changed: list[Row] = []
    for need_id, need in household.needs.items():
        need["status"] = "met" if need_id in met else "open"
        stored = household.stored_needs.get(need_id)
        if stored is None:
            new.append(need)
        elif need_id in household.recorded_needs or stored != need["status"]:
            changed.append(need)
    return new, changed


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
    return {name: getattr(benefit, name) for name in BENEFIT_COLUMNS}


TIMELINE_COLUMNS = ("event_id", "household_id", "type", "source", "occurred_at", "benefit_id", "record")  # of `_timeline_row`
BENEFIT_COLUMNS = (
    "household_id", "benefit_id", "programme", "source", "source_kind", "person_key", "amount_fen", "in_kind",
    "period_start", "period_end", "status", "need_id", "event_id", "occurred_at",
)


def apply_batch(
    unit: WorkUnit,
    events: Sequence[Event],
    policy: StackingPolicy,
    hub: HubSettings,
    publish: bool = True,
    cache: HouseholdCache | None = None,
) -> Outcome:
    """Apply the events the ledger has not applied yet, in order; the caller commits.

    An event is known as applied by its household (`ledger_event` holds every event applied,
    written in the same transaction as its effect). The events applied and the outgoing events
    are written with the state at commit; the households go back into the cache (if one is
    given) once the commit succeeded."""
    relevant = [e for e in events if isinstance(e, LEDGER_EVENTS) and e.household_id]
    batch = Batch(unit, policy, hub, publish, cache)
    batch.outcome.ignored = len(events) - len(relevant)
    batch.load(relevant)
    # The events applied go into `ledger_event` as they are applied (see `inserting`).
    with batch.repository.inserting(LedgerEvent, TIMELINE_COLUMNS) as timeline:
        batch.timeline = timeline
        for event in relevant:
            batch.apply(event)
    batch.store()
    return batch.outcome

