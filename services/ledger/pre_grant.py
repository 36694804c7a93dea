"""The pre-grant check, as a use case: would granting this benefit break a stacking rule, given
everything the person's household (or households) already holds, and why.

A person recorded in several hub households is checked against every one of them, together as
the batch checks them (person rules follow the person; household rules span the households until
staff decide they are two), and the answer names the households looked at, in id order, so the
same question always gets the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from services.ledger.domain import Benefit, Conflict, HouseholdLedger, conflicts_across
from services.ledger.policy import StackingPolicy
from services.ledger.records import ledger_from_records
from services.ledger.repository import LedgerRepository
from services.ledger.review import NotFound

PROPOSED_ID = "PROPOSED"


@dataclass(frozen=True)
class Proposal:
    programme: str
    source: str
    person_key: str | None
    amount_fen: int | None
    period_start: date
    period_end: date | None


@dataclass(frozen=True)
class PreGrantResult:
    households: list[str]  # looked at, in id order; empty for a person the hub has never seen
    conflicts: list[Conflict]
    benefits: dict[str, Benefit]  # every benefit a conflict names, the proposed one under PROPOSED_ID

    @property
    def allowed(self) -> bool:
        return not self.conflicts


def check_household(repository: LedgerRepository, policy: StackingPolicy, household_id: str, proposal: Proposal) -> PreGrantResult:
    """The check for one hub household (`NotFound` if the ledger has never seen it)."""
    records = repository.benefit_records([household_id]).get(household_id, [])
    if not records and repository.household(household_id) is None:
        raise NotFound(f"household {household_id} is not in the ledger")
    return _check(repository, policy, {household_id: ledger_from_records(household_id, records, policy)}, proposal)


def check_person(repository: LedgerRepository, policy: StackingPolicy, person_key: str, proposal: Proposal) -> PreGrantResult:
    """The check for a person, in every household they are a member of."""
    households = repository.households_of_person(person_key)
    if not households:  # a person the hub has never seen holds nothing
        return PreGrantResult([], [], {})
    records = repository.benefit_records(households)
    ledgers = {h: ledger_from_records(h, records.get(h, []), policy) for h in households}
    return _check(repository, policy, ledgers, replace(proposal, person_key=person_key))


def _check(repository: LedgerRepository, policy: StackingPolicy, ledgers: dict[str, HouseholdLedger], proposal: Proposal) -> PreGrantResult:
    households = sorted(ledgers)
    proposed = {h: _proposed(h, proposal) for h in households}
    found: dict[str, Conflict] = {}
    for household_id, ledger in ledgers.items():
        for conflict in ledger.check_grant(proposed[household_id]):
            found.setdefault(conflict.conflict_key, conflict)
    benefits = {b.benefit_id: b for ledger in ledgers.values() for b in ledger.benefits}
    if len(households) > 1:
        for conflict in _across(repository, policy, ledgers, proposed[households[0]]):
            found.setdefault(conflict.conflict_key, conflict)
    benefits[PROPOSED_ID] = proposed[households[0]]
    conflicts = sorted(found.values(), key=lambda c: (c.severity.rank, c.rule_id, c.benefit_ids, c.household_id))
    return PreGrantResult(households, conflicts, benefits)


def _across(
    repository: LedgerRepository, policy: StackingPolicy, ledgers: dict[str, HouseholdLedger], proposed: Benefit
) -> list[Conflict]:
    """Conflicts the proposed benefit would add across the person's households."""
    members = {h: {proposed.person_key} if proposed.person_key else set() for h in ledgers}
    together = not repository.two_households(list(ledgers))
    existing = [b for ledger in ledgers.values() for b in ledger.benefits]
    before = {c.conflict_key for c in conflicts_across(existing, members, policy, together)}
    after = conflicts_across([*existing, proposed], members, policy, together)
    return [c for c in after if PROPOSED_ID in c.benefit_ids and c.conflict_key not in before]


def _proposed(household_id: str, proposal: Proposal) -> Benefit:
    return Benefit(
        benefit_id=PROPOSED_ID, household_id=household_id, programme=proposal.programme, source=proposal.source,
        source_kind="department", person_key=proposal.person_key, amount_fen=proposal.amount_fen,
        period_start=proposal.period_start, period_end=proposal.period_end, event_id="pre-grant-check",
    )
