"""The joint meeting's review, as use cases: list and show alerts, show a household, record a
decision, read the audit trail. Every view and decision is written to the append-only audit trail
in the same transaction. The JSON API (`http.py`) and the pages call these same functions; they
raise `NotFound` or an `alerts.AlertError`, and the caller says what that means to its user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from contracts.envelope import utc_now
from contracts.hub import DuplicateServiceAlertDecided
from contracts.topics import ALERTS
from kit.auth import Principal
from kit.outbox import UnitOfWork
from services.ledger.alerts import Alert
from services.ledger.persons import SharedPerson
from services.ledger.repository import (
    AlertFilter,
    LedgerAlert,
    LedgerAudit,
    LedgerMember,
    LedgerNeed,
    LedgerRepository,
    LedgerSharedPerson,
)


@dataclass(frozen=True)
class Reviewer(Principal):
    """A staff key, and the person acting through it (the staff web front names them): the audit
    trail records both."""

    acting_user: str | None = None


class NotFound(LookupError):
    """No such alert or household in the ledger."""


def list_alerts(session: Session, filters: AlertFilter, reviewer: Principal) -> list[dict[str, Any]]:
    repository = LedgerRepository(session)
    alerts = [alert_out(a) for a in repository.find_alerts(filters)]
    write_audit(repository, reviewer, "list_alerts", "alerts", "*", filters.model_dump(exclude_none=True, mode="json"))
    session.commit()
    return alerts


def show_alert(session: Session, alert_id: str, reviewer: Principal) -> dict[str, Any]:
    repository = LedgerRepository(session)
    shown = alert_out(existing_alert(repository, alert_id))
    write_audit(repository, reviewer, "view_alert", "alert", alert_id, {})
    session.commit()
    return shown


def show_household(session: Session, household_id: str, reviewer: Principal) -> dict[str, Any]:
    repository = LedgerRepository(session)
    view = household_view(repository, household_id)
    write_audit(repository, reviewer, "view_household", "household", household_id, {})
    session.commit()
    return view


def audit_trail(session: Session, target_id: str | None, actor: str | None, limit: int) -> list[dict[str, Any]]:
    return [e.model_dump(mode="json") for e in LedgerRepository(session).audit_trail(target_id, actor, limit)]


def record_decision(
    unit_of_work: Callable[[], UnitOfWork], alert_id: str, decision: str, note: str, reviewer: Principal
) -> dict[str, Any]:
    """The joint meeting's decision on an alert, published on the alerts topic with the reviewer's id."""
    with unit_of_work() as unit:
        repository = LedgerRepository(unit.session)
        stored = existing_alert(repository, alert_id)
        decided = Alert.from_row(stored.model_dump()).decided(decision, note, reviewer.id, utc_now())
        repository.update(LedgerAlert, [decided.to_row()])
        repository.touch(decided.household_id)  # a copy the ledger keeps in memory is stale now
        write_audit(repository, reviewer, "decide_alert", "alert", alert_id, {"decision": decision})
        unit.emit(ALERTS, DuplicateServiceAlertDecided(
            source="ledger", household_id=decided.household_id,
            data={"alert_id": alert_id, "decision": decided.status, "note": note, "decided_by": reviewer.id,
                  "decided_at": decided.decided_at},
        ), key=decided.household_id)
        unit.commit()
        return alert_out(LedgerAlert.model_validate(decided.to_row()))


def list_shared_persons(session: Session, status: str | None, reviewer: Principal, limit: int, offset: int) -> list[dict[str, Any]]:
    """Persons recorded in two hub households, newest first, each with both households' masked
    members and the sources of their benefits."""
    repository = LedgerRepository(session)
    items = [shared_person_out(repository, item) for item in repository.shared_persons(status, limit, offset)]
    write_audit(repository, reviewer, "list_shared_persons", "shared_person", "*", {"status": status} if status else {})
    session.commit()
    return items


def show_shared_person(session: Session, item_id: str, reviewer: Principal) -> dict[str, Any]:
    repository = LedgerRepository(session)
    shown = shared_person_out(repository, existing_shared_person(repository, item_id))
    write_audit(repository, reviewer, "view_shared_person", "shared_person", item_id, {})
    session.commit()
    return shown


def decide_shared_person(
    unit_of_work: Callable[[], UnitOfWork], item_id: str, decision: str, belongs_to: str | None, note: str, reviewer: Principal
) -> dict[str, Any]:
    """The joint meeting's decision: one household (intake merges them; until its
    `household.merged` arrives the ledger keeps checking across both) or two households, the
    person belonging to `belongs_to` (household rules are no longer checked across the two;
    person rules still follow the person into both)."""
    with unit_of_work() as unit:
        repository = LedgerRepository(unit.session)
        stored = existing_shared_person(repository, item_id)
        decided = SharedPerson.from_row(stored.model_dump()).decided(decision, belongs_to, note, reviewer.id, utc_now())
        repository.update(LedgerSharedPerson, [decided.to_row()])
        for household_id in decided.households:
            repository.touch(household_id)
        write_audit(repository, reviewer, "decide_shared_person", "shared_person", item_id,
                    {"decision": decision, "belongs_to": belongs_to})
        unit.commit()
        return shared_person_out(repository, LedgerSharedPerson.model_validate(decided.to_row()))


def existing_shared_person(repository: LedgerRepository, item_id: str) -> LedgerSharedPerson:
    item = repository.session.get(LedgerSharedPerson, item_id)
    if item is None:
        raise NotFound(f"no person-in-two-households item {item_id}")
    return item


def shared_person_out(repository: LedgerRepository, item: LedgerSharedPerson) -> dict[str, Any]:
    shown = item.model_dump(mode="json", exclude={"person_key"})
    shown["households"] = [_household_brief(repository, h) for h in (item.first_household, item.second_household)]
    return shown


def _household_brief(repository: LedgerRepository, household_id: str) -> dict[str, Any]:
    members = repository.session.exec(select(LedgerMember).where(LedgerMember.household_id == household_id)).all()
    benefits = repository.benefits_of(household_id)
    return {
        "household_id": household_id,
        "members": [m.model_dump(mode="json", include={"display_name", "masked_resident_id", "birth_year", "sex", "relation"})
                    for m in members],
        "sources": sorted({f"{b.source_kind}:{b.source}" for b in benefits}),
        "programmes": sorted({b.programme for b in benefits}),
    }


def household_view(repository: LedgerRepository, household_id: str) -> dict[str, Any]:
    """Profile, masked members, every benefit with its source, needs, alerts and the timeline."""
    household = repository.household(household_id)
    if household is None:
        raise NotFound(f"household {household_id} is not in the ledger")
    session = repository.session
    members = session.exec(select(LedgerMember).where(LedgerMember.household_id == household_id)).all()
    needs = session.exec(select(LedgerNeed).where(LedgerNeed.household_id == household_id)).all()
    alerts = session.exec(select(LedgerAlert).where(LedgerAlert.household_id == household_id)).all()
    return {
        "household": household.model_dump(mode="json"),
        "members": [m.model_dump(mode="json", exclude={"household_id"}) for m in members],
        "benefits": [b.model_dump(mode="json", exclude={"household_id"}) for b in repository.benefits_of(household_id)],
        "needs": [n.model_dump(mode="json", exclude={"household_id"}) for n in needs],
        "alerts": [alert_out(a) for a in alerts],
        "timeline": [e.model_dump(mode="json", exclude={"household_id"}) for e in repository.timeline(household_id)],
    }


def existing_alert(repository: LedgerRepository, alert_id: str) -> LedgerAlert:
    alert = repository.alert(alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    return alert


def alert_out(alert: LedgerAlert) -> dict[str, Any]:
    shown = alert.model_dump(mode="json", exclude={"conflict_key"})
    shown["programmes"] = [p for p in alert.programmes.split(",") if p]
    return shown


def write_audit(repository: LedgerRepository, who: Principal, action: str, target_type: str, target_id: str,
                detail: dict[str, Any]) -> None:
    if isinstance(who, Reviewer) and who.acting_user:
        detail = {**detail, "acting_user": who.acting_user}
    repository.add_audit(LedgerAudit(
        at=utc_now(), actor=who.id, role=who.role, action=action, target_type=target_type, target_id=target_id, detail=detail,
    ))
