"""What people and systems do with the charity service, as plain functions: the JSON routes call
them, and so can pages or a command line. Each writing use case is one unit of work: the rows and
the events they cause (through the outbox) commit together or not at all.

Errors are domain errors (`NotFound`, `Refused`, `Conflict`, `FieldProblem`); the HTTP layer
turns them into 404, 403, 409 and 422. Nothing here logs caller-supplied text: only ids and codes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from sqlalchemy.engine import Engine
from sqlmodel import Session

from contracts.envelope import Event, new_id, utc_now
from contracts.hub import (
    MatchAccepted,
    MatchDeclinedV2,
    MatchFailed,
    MatchFulfilled,
    MatchStarted,
    OfferingChangedV2,
    OfferingClosed,
    OfferingDataV2,
    OfferingPublishedV2,
    OfferingWithdrawn,
)
from contracts.topics import MATCHES, OFFERINGS
from kit.auth import decided_by
from kit.database import SqliteWriters, sqlite_file
from kit.logs import get_logger
from kit.outbox import UnitOfWork
from services.charity import organisations as rules
from services.charity.key_cache import KeyCache
from services.charity.matches import (
    Action,
    DeclineReason,
    ImpossibleTransition,
    MatchState,
    is_overdue,
    mask_free_text,
    next_state,
    passes_through_start,
)
from services.charity.offerings import CapacityProblem, OfferingChanges, OfferingInput, check_capacity, check_period, settle
from services.charity.statistics import social_forces
from services.charity.repository import (
    CharityRepository,
    MatchEntry,
    Offering,
    OfferingFilter,
    Organisation,
    OrganisationKey,
    inbox_rows,
    key_holder,
    offering_rows,
)

log = get_logger(__name__)
SOURCE = "charity"


class NotFound(Exception):
    pass


class Refused(Exception):
    """The caller may not do this (HTTP 403)."""


class Conflict(Exception):
    """The record is not in a state that allows this (HTTP 409)."""


class FieldProblem(ValueError):
    """A field's value is not acceptable given what is stored (HTTP 422 naming the field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Caller:
    """Who is asking: an organisation (by one of its keys) or a person/system from the keys file."""

    id: str
    role: Literal["organisation", "staff", "department", "charity"]
    organisation_id: str | None = None
    organisation_status: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.role == "staff"


@dataclass
class Charity:
    """What the use cases work with: the database and a unit of work on it."""

    engine: Engine
    unit_of_work: Callable[[], AbstractContextManager[UnitOfWork]]
    published: Callable[[], None] = field(default=lambda: None)  # rows are in the outbox: wake the relay
    keys: KeyCache[Caller] = field(default_factory=lambda: KeyCache(2.0))  # HUB_CHARITY_KEY_CACHE_SECONDS

    def __post_init__(self) -> None:
        database = sqlite_file(self.engine)
        if database is not None:
            self.unit_of_work = one_writer_at_a_time(self.unit_of_work, SqliteWriters(database))

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)


def one_writer_at_a_time(
    make: Callable[[], AbstractContextManager[UnitOfWork]], writers: SqliteWriters,
) -> Callable[[], AbstractContextManager[UnitOfWork]]:
    """The use cases' units of work queue for SQLite's one writer (kit.database.SqliteWriters):
    with 100 clients publishing, waiting in SQLite's busy handler made a publication's p99 over a
    second in one process, and 135 ms with two processes on one file. This service's consumer and
    outbox relay still meet the others in the busy handler."""

    @contextmanager
    def queued() -> Iterator[UnitOfWork]:
        with writers.turn(), make() as unit:
            yield unit

    return queued


# --- organisations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Registration:
    name: str
    kind: rules.OrganisationKind
    credit_code: str
    districts: list[str]
    contact_name: str
    contact_phone: str


def register(charity: Charity, registration: Registration) -> tuple[Organisation, rules.IssuedKey]:
    """A new organisation, pending until staff decide, with its first API key (shown once)."""
    with charity.unit_of_work() as unit:
        organisation = add_organisation(unit.session, registration)
        issued = _add_key(unit.session, organisation.organisation_id, "first key", organisation.registered_at)
        unit.commit()
    log.info("organisation registered", organisation_id=organisation.organisation_id, kind=registration.kind)
    return organisation, issued


def add_organisation(session: Session, registration: Registration) -> Organisation:
    """The new organisation's row, pending, in the caller's transaction (which commits it)."""
    if CharityRepository(session).organisation_by_code(registration.credit_code) is not None:
        raise FieldProblem("credit_code", "an organisation with this credit code is already registered; ask staff if this is a mistake")
    organisation = Organisation(
        organisation_id=f"org-{new_id()[:12]}", name=registration.name, kind=registration.kind,
        credit_code=registration.credit_code, districts=registration.districts, contact_name=registration.contact_name,
        contact_phone=registration.contact_phone, status="pending", registered_at=utc_now(),
    )
    session.add(organisation)
    session.flush()
    return organisation


def show_organisation(charity: Charity, caller: Caller, organisation_id: str) -> Organisation:
    with charity.session() as session:
        return _own_organisation(CharityRepository(session), caller, organisation_id)


def list_organisations(charity: Charity, status: str | None, limit: int, offset: int) -> list[Organisation]:
    with charity.session() as session:
        return list(CharityRepository(session).organisations(status, limit, offset))


def change_organisation(charity: Charity, caller: Caller, organisation_id: str, changes: dict[str, object]) -> Organisation:
    with charity.unit_of_work() as unit:
        organisation = _own_organisation(CharityRepository(unit.session), caller, organisation_id, for_change=True)
        for name, value in changes.items():
            setattr(organisation, name, value)
        unit.session.add(organisation)
        unit.commit()
    log.info("organisation changed", organisation_id=organisation_id, fields=sorted(changes))
    return organisation


def decide_registration(charity: Charity, staff: Caller, organisation_id: str, approve: bool, reason: str,
                        acting_user: str | None = None) -> Organisation:
    """`acting_user`: the person acting through the staff key (the web front names them), recorded
    in `decided_by` with the key's id: the organisation's record is this decision's audit trail."""
    with charity.unit_of_work() as unit:
        organisation = CharityRepository(unit.session).one_for_change(Organisation, organisation_id)
        if organisation is None:
            raise NotFound(f"no organisation {organisation_id}")
        if organisation.status != "pending":
            raise Conflict(f"organisation {organisation_id} was already {organisation.status} by {organisation.decided_by}")
        organisation.status = "approved" if approve else "refused"
        organisation.status_reason = reason or None
        organisation.decided_by, organisation.decided_at = decided_by(staff.id, acting_user), utc_now()
        unit.session.add(organisation)
        unit.commit()
    charity.keys.forget_all()  # its keys now stand for an approved (or refused) organisation
    log.info("organisation decided", organisation_id=organisation_id, status=organisation.status, staff=staff.id, acting_user=acting_user)
    return organisation


def _own_organisation(repository: CharityRepository, caller: Caller, organisation_id: str, for_change: bool = False) -> Organisation:
    """The organisation if the caller is it or staff; another organisation's record is 'not found'.
    `for_change`: held until the commit (`CharityRepository.for_change`)."""
    organisation = repository.one_for_change(Organisation, organisation_id) if for_change else repository.organisation(organisation_id)
    if organisation is None or not (caller.is_staff or caller.organisation_id == organisation_id):
        raise NotFound(f"no organisation {organisation_id} among those you may see")
    return organisation


# --- API keys --------------------------------------------------------------------------------


def _add_key(session: Session, organisation_id: str, label: str, now: datetime) -> rules.IssuedKey:
    issued = rules.issue_key()
    session.add(OrganisationKey(key_id=issued.key_id, organisation_id=organisation_id, sha256=issued.digest, label=label, created_at=now))
    return issued


def create_key(charity: Charity, caller: Caller, organisation_id: str, label: str) -> tuple[OrganisationKey, rules.IssuedKey]:
    with charity.unit_of_work() as unit:
        repository = CharityRepository(unit.session)
        _own_organisation(repository, caller, organisation_id)
        issued = _add_key(unit.session, organisation_id, label, utc_now())
        unit.commit()
        key = repository.key(organisation_id, issued.key_id)
    assert key is not None
    log.info("api key created", organisation_id=organisation_id, key_id=issued.key_id, by=caller.id)
    return key, issued


def list_keys(charity: Charity, caller: Caller, organisation_id: str) -> list[OrganisationKey]:
    with charity.session() as session:
        repository = CharityRepository(session)
        _own_organisation(repository, caller, organisation_id)
        return list(repository.keys_of(organisation_id))


def revoke_key(charity: Charity, caller: Caller, organisation_id: str, key_id: str) -> OrganisationKey:
    with charity.unit_of_work() as unit:
        repository = CharityRepository(unit.session)
        _own_organisation(repository, caller, organisation_id)
        key = repository.key(organisation_id, key_id)
        if key is None:
            raise NotFound(f"no key {key_id} of organisation {organisation_id}")
        if key.revoked_at is None:
            key.revoked_at = utc_now()
            unit.session.add(key)
        unit.commit()
    charity.keys.forget_all()
    log.info("api key revoked", organisation_id=organisation_id, key_id=key_id, by=caller.id)
    return key


def organisation_of_key(charity: Charity, secret: str) -> Caller | None:
    """The caller an organisation key stands for, or None; a revoked key stands for no one (at
    once in this process; within `charity.keys.seconds` in another: see `key_cache`)."""
    digest = rules.key_digest(secret)
    return charity.keys.get(digest, lambda: _key_holder(charity, digest))


def _key_holder(charity: Charity, digest: str) -> Caller | None:
    with charity.engine.connect() as connection:
        found = key_holder(connection, digest)
    if found is None:
        return None
    return Caller(id=f"{found['organisation_id']}/{found['key_id']}", role="organisation",
                  organisation_id=found["organisation_id"], organisation_status=found["status"])


# --- offerings -------------------------------------------------------------------------------


def offering_data(offering: Offering) -> OfferingDataV2:
    return OfferingDataV2(
        offering_id=offering.offering_id, charity_id=offering.organisation_id, title=offering.title,
        description=offering.description, category=offering.category, programme=offering.programme, kind=offering.kind,
        unit=offering.unit, quantity_total=offering.quantity_total, quantity_remaining=offering.quantity_remaining,
        value_fen_per_unit=offering.value_fen_per_unit, eligibility=offering.eligibility,
        service_area={"districts": offering.districts, "subdistricts": offering.subdistricts},
        valid_from=offering.valid_from, valid_until=offering.valid_until, status=offering.status,
        closed_reason=offering.closed_reason, capacity_confirmed_at=offering.capacity_confirmed_at,
        confirm_every_days=offering.confirm_every_days,
    )


def _emit_offering(unit: UnitOfWork, event: Event, offering: Offering) -> None:
    unit.emit(OFFERINGS, event, key=offering.offering_id)


def _settle_and_emit(unit: UnitOfWork, offering: Offering, now: datetime, changed: bool, correlation_id: str | None = None) -> None:
    """Bring the offering's status up to date and emit what happened: closed, or changed."""
    before = offering.status
    offering.status, offering.closed_reason = settle(
        offering.status, offering.closed_reason, offering.quantity_remaining, offering.valid_until,  # type: ignore[arg-type]
        offering.capacity_confirmed_at, offering.confirm_every_days, now,
    )
    if not changed and offering.status == before:
        return
    offering.updated_at = now
    unit.session.add(offering)
    ids = {"correlation_id": correlation_id} if correlation_id else {}
    event_type = OfferingClosed if offering.status == "closed" and before != "closed" else OfferingChangedV2
    _emit_offering(unit, event_type(source=SOURCE, data=offering_data(offering), **ids), offering)
    log.info("offering updated", offering_id=offering.offering_id, status=offering.status, closed_reason=offering.closed_reason)


def create_offering(charity: Charity, caller: Caller, given: OfferingInput) -> Offering:
    if caller.organisation_id is None:
        raise Refused("only an organisation publishes offerings")
    if not rules.may_publish(caller.organisation_status):  # type: ignore[arg-type]
        raise Refused(f"your organisation is {caller.organisation_status}: only an approved organisation may publish offerings")
    now = utc_now()
    if given.valid_until < now.date():
        raise FieldProblem("valid_until", f"valid_until ({given.valid_until}) has already passed")
    offering = Offering(
        offering_id=f"off-{new_id()[:16]}", organisation_id=caller.organisation_id, title=given.title,
        description=given.description, category=given.category, programme=given.programme, kind=given.kind,
        unit=given.unit, quantity_total=given.quantity_total, quantity_remaining=given.quantity_total,
        value_fen_per_unit=given.value_fen_per_unit, eligibility=given.eligibility.model_dump(mode="json"),
        districts=list(given.service_area.districts), subdistricts=list(given.service_area.subdistricts),
        valid_from=given.valid_from, valid_until=given.valid_until, status="open", capacity_confirmed_at=now,
        confirm_every_days=given.confirm_every_days, created_at=now, updated_at=now,
    )
    published = OfferingPublishedV2(source=SOURCE, data=offering_data(offering))  # made before the write turn: it is short
    with charity.unit_of_work() as unit:
        CharityRepository(unit.session).add_offering(offering)
        _emit_offering(unit, published, offering)
        unit.commit()
    charity.published()
    log.info("offering published", offering_id=offering.offering_id, organisation_id=caller.organisation_id)
    return offering


def _own_offering(repository: CharityRepository, caller: Caller, offering_id: str, for_change: bool = False) -> Offering:
    offering = repository.one_for_change(Offering, offering_id) if for_change else repository.offering(offering_id)
    if offering is None or not (caller.is_staff or offering.organisation_id == caller.organisation_id):
        raise NotFound(f"no offering {offering_id} among those you may see")
    return offering


def _changeable(repository: CharityRepository, caller: Caller, offering_id: str) -> Offering:
    """The caller's offering, open or stale, held until the commit: what it checks stays true."""
    offering = _own_offering(repository, caller, offering_id, for_change=True)
    if caller.organisation_id != offering.organisation_id:
        raise Refused("only the organisation that published an offering may change it")
    if offering.status in ("closed", "withdrawn"):
        raise Conflict(f"offering {offering_id} is {offering.status}{_closed_why(offering)}: publish a new one instead")
    return offering


def _closed_why(offering: Offering) -> str:
    return f" ({offering.closed_reason})" if offering.closed_reason else ""


def show_offering(charity: Charity, caller: Caller, offering_id: str) -> tuple[Offering, int]:
    with charity.session() as session:
        repository = CharityRepository(session)
        offering = _own_offering(repository, caller, offering_id)
        return offering, repository.promised(offering_id)


def list_offerings(charity: Charity, caller: Caller, filters: OfferingFilter) -> list[dict[str, object]]:
    """Staff see all, an organisation its own (anyone else: `public_offerings`), as OfferingOut rows."""
    if not caller.is_staff:
        filters = OfferingFilter(**{**filters.__dict__, "organisation_id": caller.organisation_id})
    with charity.engine.connect() as connection:
        return offering_rows(connection, filters)


def public_offerings(charity: Charity, category: str | None, district: str | None, limit: int, offset: int) -> list[tuple[Offering, str]]:
    """Open offerings with their organisation's name; never a contact."""
    filters = OfferingFilter(category=category, district=district, status="open", limit=limit, offset=offset)
    with charity.session() as session:
        repository = CharityRepository(session)
        found = repository.offerings(filters)
        names = {o.organisation_id: o.name for o in repository.all_organisations()} if found else {}
        return [(o, names.get(o.organisation_id, "")) for o in found]


def change_offering(charity: Charity, caller: Caller, offering_id: str, changes: OfferingChanges) -> Offering:
    given = changes.given()
    with charity.unit_of_work() as unit:
        repository = CharityRepository(unit.session)
        offering = _changeable(repository, caller, offering_id)
        for name in ("eligibility", "service_area"):
            if name in given and given[name] is None:
                raise FieldProblem(name, f"{name} cannot be null: send {{}} for 'anyone'/'citywide'")
        for name, value in given.items():
            if name == "service_area":
                offering.districts, offering.subdistricts = list(value["districts"]), list(value["subdistricts"])
            elif name == "quantity_total":
                delivered = offering.quantity_total - offering.quantity_remaining
                try:
                    offering.quantity_remaining = check_capacity(value, delivered, repository.promised(offering_id))
                except CapacityProblem as problem:
                    raise FieldProblem(problem.field, str(problem)) from None
                offering.quantity_total = value
            elif value is not None:
                setattr(offering, name, value)
        try:
            check_period(offering.valid_from, offering.valid_until)
        except ValueError as error:
            raise FieldProblem("valid_until", str(error)) from None
        _settle_and_emit(unit, offering, utc_now(), changed=True)
        unit.commit()
    charity.published()
    return offering


def confirm_capacity(charity: Charity, caller: Caller, offering_id: str, remaining: int | None) -> Offering:
    """The organisation says the capacity is right (or what it now is): a stale offering opens again."""
    with charity.unit_of_work() as unit:
        repository = CharityRepository(unit.session)
        offering = _changeable(repository, caller, offering_id)
        if remaining is not None:
            promised = repository.promised(offering_id)
            if remaining < promised:
                raise FieldProblem("quantity_remaining", f"{remaining} left is less than the {promised} promised to accepted matches")
            delivered = offering.quantity_total - offering.quantity_remaining
            offering.quantity_remaining, offering.quantity_total = remaining, delivered + remaining
        now = utc_now()
        offering.capacity_confirmed_at = now
        if offering.status == "stale":
            offering.status = "open"
        _settle_and_emit(unit, offering, now, changed=True)
        unit.commit()
    charity.published()
    return offering


def withdraw_offering(charity: Charity, caller: Caller, offering_id: str, reason: str) -> Offering:
    with charity.unit_of_work() as unit:
        repository = CharityRepository(unit.session)
        offering = _changeable(repository, caller, offering_id)
        offering.status, offering.updated_at = "withdrawn", utc_now()
        unit.session.add(offering)
        data = {"offering_id": offering_id, "charity_id": offering.organisation_id, "reason": mask_free_text(reason)[:200]}
        _emit_offering(unit, OfferingWithdrawn(source=SOURCE, data=data), offering)
        unit.commit()
    charity.published()
    log.info("offering withdrawn", offering_id=offering_id)
    return offering


@dataclass(frozen=True)
class Sweep:
    closed: int = 0
    stale: int = 0
    proposals_expired: int = 0


def sweep(charity: Charity, now: datetime | None = None) -> Sweep:
    """The periodic check: offerings past their validity close (`expired`), offerings not
    confirmed in time go stale, proposals not answered by their deadline expire."""
    now = now or utc_now()
    closed = stale = expired = 0
    with charity.unit_of_work() as unit:
        repository = CharityRepository(unit.session)
        for offering in repository.live_offerings_for_change():
            before = offering.status
            _settle_and_emit(unit, offering, now, changed=False)
            closed += offering.status == "closed" and before != "closed"
            stale += offering.status == "stale" and before != "stale"
        for entry in repository.overdue_proposals_for_change(now):
            entry.state, entry.reason_code, entry.updated_at = MatchState.EXPIRED, "deadline_passed", now
            unit.session.add(entry)
            expired += 1
        unit.commit()
    if closed or stale:
        charity.published()
    return Sweep(closed, stale, expired)


# --- the organisation's side of a match ----------------------------------------------------------


def inbox(charity: Charity, caller: Caller, state: str | None, limit: int, offset: int) -> list[dict[str, object]]:
    """The caller's inbox (staff: everyone's), newest first, as MatchOut rows: no household id."""
    organisation_id = None if caller.is_staff else caller.organisation_id
    with charity.engine.connect() as connection:
        return inbox_rows(connection, organisation_id, state, limit, offset)


def _own_match(repository: CharityRepository, caller: Caller, match_id: str) -> MatchEntry:
    entry = repository.match(match_id)
    if entry is None or not (caller.is_staff or entry.organisation_id == caller.organisation_id):
        raise NotFound(f"no match {match_id} in your inbox")
    return entry


def show_match(charity: Charity, caller: Caller, match_id: str) -> MatchEntry:
    with charity.session() as session:
        return _own_match(CharityRepository(session), caller, match_id)


@dataclass(frozen=True)
class Delivery:
    quantity: int | None = None
    delivered_on: date | None = None
    note: str = ""


def answer(
    charity: Charity, caller: Caller, match_id: str, action: Action,
    reason_code: DeclineReason | None = None, reason: str = "", delivery: Delivery | None = None,
) -> MatchEntry:
    """The organisation moves one of its matches on (accept, decline, start, fulfil, fail); each
    step is an event on the matches topic, keyed by household, in the same commit."""
    now = utc_now()
    with charity.unit_of_work() as unit:
        repository = CharityRepository(unit.session)
        entry = _own_match(repository, caller, match_id)
        if caller.organisation_id != entry.organisation_id:
            raise Refused("only the organisation the match was proposed to may answer it")
        # Held until the commit, the offering first (as everywhere): two answers at once on one
        # offering run one after the other, each from what the other left.
        offering = repository.one_for_change(Offering, entry.offering_id)
        entry = repository.one_for_change(MatchEntry, match_id)  # type: ignore[assignment]
        assert offering is not None and entry is not None  # inbox entries exist only for known offerings, and stay
        state = MatchState(entry.state)
        try:
            after = next_state(state, action, now, entry.expires_at)
        except ImpossibleTransition as impossible:
            if is_overdue(state, now, entry.expires_at):
                entry.state, entry.reason_code, entry.updated_at = MatchState.EXPIRED, "deadline_passed", now
                unit.session.add(entry)
                unit.commit()
            raise Conflict(str(impossible)) from None
        events = _events_for(repository, entry, offering, state, action, reason_code, reason, delivery, now)
        entry.state, entry.updated_at = after, now
        unit.session.add(entry)
        for event in events:
            unit.emit(MATCHES, event, key=entry.household_id)
        if action is Action.FULFIL:
            _settle_and_emit(unit, offering, now, changed=True, correlation_id=entry.correlation_id)
        unit.commit()
    charity.published()
    log.info("match answered", match_id=match_id, action=action.value, state=after.value,
             household_id=entry.household_id, correlation_id=entry.correlation_id)
    return entry


def _events_for(
    repository: CharityRepository, entry: MatchEntry, offering: Offering, state: MatchState, action: Action,
    reason_code: DeclineReason | None, reason: str, delivery: Delivery | None, now: datetime,
) -> list[Event]:
    outcome = {"match_id": entry.match_id, "offering_id": entry.offering_id, "need_id": entry.need_id}
    envelope = {"source": SOURCE, "household_id": entry.household_id, "correlation_id": entry.correlation_id}
    if action is Action.ACCEPT:
        unpromised = offering.quantity_remaining - repository.promised(offering.offering_id)
        if offering.status in ("closed", "withdrawn"):
            raise Conflict(f"offering {offering.offering_id} is {offering.status}{_closed_why(offering)}: decline with no_capacity")
        if entry.quantity > unpromised:
            raise Conflict(f"only {max(unpromised, 0)} {offering.unit} left that are not promised; this match needs {entry.quantity}")
        return [MatchAccepted(**envelope, data=outcome)]
    if action is Action.DECLINE:
        assert reason_code is not None
        entry.reason_code, entry.reason = reason_code, mask_free_text(reason)[:200] or None
        return [MatchDeclinedV2(**envelope, data={**outcome, "reason_code": reason_code, "reason": entry.reason or ""})]
    if action is Action.START:
        return [MatchStarted(**envelope, data=outcome)]
    if action is Action.FAIL:
        entry.reason = mask_free_text(reason)[:200] or None
        return [MatchFailed(**envelope, data={**outcome, "reason": entry.reason or ""})]
    assert action is Action.FULFIL and delivery is not None
    return _fulfilment(entry, offering, state, delivery, envelope, outcome, now)


def _fulfilment(
    entry: MatchEntry, offering: Offering, state: MatchState, delivery: Delivery,
    envelope: dict[str, object], outcome: dict[str, str], now: datetime,
) -> list[Event]:
    quantity = delivery.quantity or entry.quantity
    if quantity > offering.quantity_remaining:
        raise FieldProblem("quantity", f"{quantity} delivered is more than the {offering.quantity_remaining} {offering.unit} left")
    delivered_on = delivery.delivered_on or now.date()
    if delivered_on > now.date():
        raise FieldProblem("delivered_on", f"delivered_on ({delivered_on}) is in the future")
    amount = offering.value_fen_per_unit * quantity if offering.value_fen_per_unit is not None else None
    in_kind = None if offering.kind == "cash" else f"{quantity} {offering.unit}: {offering.title}"[:200]
    entry.delivered_quantity, entry.delivered_on, entry.amount_fen = quantity, delivered_on, amount
    entry.note = mask_free_text(delivery.note)[:500] or None
    offering.quantity_remaining -= quantity
    fulfilled = MatchFulfilled(**envelope, data={  # type: ignore[arg-type]
        **outcome, "charity_id": entry.organisation_id, "programme": offering.programme, "quantity": quantity,
        "amount_fen": amount, "in_kind": in_kind, "delivered_on": delivered_on,
    })
    started = [MatchStarted(**envelope, data=outcome)] if passes_through_start(state, Action.FULFIL) else []  # type: ignore[arg-type]
    return [*started, fulfilled]



def statistics(charity: Charity, first_month: str | None, last_month: str | None) -> dict[str, object]:
    """The social-forces report (staff)."""
    with charity.session() as session:
        repository = CharityRepository(session)
        return social_forces(repository.all_organisations(), repository.all_offerings(), repository.all_matches(), first_month, last_month)
