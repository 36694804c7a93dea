"""A person recorded in two hub households (one department reports them as head of their own,
another as a member of a relative's): person rules follow the person into both, household rules
are checked across the two until staff decide, a review item is raised once, and the order in
which the departments report does not matter. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from contracts.envelope import Event
from contracts.hub import BenefitRecorded, HouseholdMerged, HouseholdRecorded, PersonMerged
from kit.auth import Principal
from kit.database import make_engine, migrate
from kit.outbox import UnitOfWork
from services.ledger import pre_grant as use_case
from services.ledger import review
from services.ledger.app import MIGRATIONS
from services.ledger.batch import HouseholdCache, apply_batch
from services.ledger.persons import SharedPersonError
from services.ledger.repository import LedgerRepository
from tests.integration.test_ledger_store import HUB, POLICY, outbox

H1, H2 = "hh-own", "hh-relative"  # H1 sorts first
P, R = "p_person", "p_relative"


def reported(household_id: str, members: list[tuple[str, str]], event_id: str) -> HouseholdRecorded:
    return HouseholdRecorded(event_id=event_id, occurred_at="2026-01-01T00:00:00Z", source="intake", household_id=household_id, data={
        "department": "CA", "department_household_ref": household_id, "district": "310104", "category": "dibao",
        "members": [{"person_key": key, "display_name": "王*", "relation": relation} for key, relation in members]})


def granted(household_id: str, benefit_id: str, programme: str, person_key: str | None) -> BenefitRecorded:
    return BenefitRecorded(event_id=f"e-{benefit_id}", occurred_at="2026-01-02T00:00:00Z", source="intake", household_id=household_id,
                           data={"benefit_id": benefit_id, "programme": programme, "source": benefit_id.split(":")[0],
                                 "person_key": person_key, "amount_fen": 140_000, "period_start": date(2026, 3, 1)})


OWN = reported(H1, [(P, "head")], "e-own")
RELATIVE = reported(H2, [(R, "head"), (P, "parent")], "e-relative")
EXTREME = granted(H1, "CA:x1", "EXTREME_POVERTY", P)
DISABILITY = granted(H2, "DPF:d1", "SEVERE_DISABILITY", P)
UNION = granted(H1, "UNION:u1", "UNION_HARDSHIP", None)
EXPENDITURE = granted(H2, "CA:ep1", "EXPENDITURE_POVERTY", None)


@pytest.fixture
def engine(database_url: str) -> sa.Engine:
    engine = make_engine(database_url)
    migrate(engine, MIGRATIONS)
    yield engine
    engine.dispose()


def run(engine: sa.Engine, *batches: list[Event], cache: HouseholdCache | None = None) -> None:
    for events in batches:
        with UnitOfWork(engine, HUB) as unit:
            apply_batch(unit, events, POLICY, cache=cache)
            unit.commit()


def alerts(engine: sa.Engine) -> list[sa.Row]:
    with engine.connect() as connection:
        return connection.execute(sa.text("SELECT household_id, rule_id, status, active FROM ledger_alert ORDER BY rule_id")).all()


ORDERS = {
    "own-first": [[OWN, EXTREME], [RELATIVE], [DISABILITY]],
    "relative-first": [[RELATIVE, DISABILITY], [OWN], [EXTREME]],
    "grants-before-link": [[OWN, EXTREME], [DISABILITY], [RELATIVE]],  # the link is found after both grants
    "one-batch": [[RELATIVE, DISABILITY, OWN, EXTREME]],
}


@pytest.mark.parametrize("kept", [False, True], ids=["read-back", "kept"])
@pytest.mark.parametrize("order", list(ORDERS))
def test_a_person_rule_across_two_households_raises_exactly_one_alert(engine: sa.Engine, order: str, kept: bool) -> None:
    run(engine, *ORDERS[order], cache=HouseholdCache(10) if kept else None)
    assert alerts(engine) == [(H1, "R-EXCL-EXTREME-DISABILITY", "open", True)]
    raised = [e for e in outbox(engine) if e.type == "alert.raised"]
    assert len(raised) == 1
    assert {b.benefit_id for b in raised[0].data.benefits} == {"CA:x1", "DPF:d1"}


@pytest.mark.parametrize("order", ["own-first", "relative-first"])
def test_a_household_rule_across_two_households_raises_exactly_one_alert(engine: sa.Engine, order: str) -> None:
    if order == "own-first":
        run(engine, [OWN, UNION], [RELATIVE], [EXPENDITURE])
    else:
        run(engine, [RELATIVE, EXPENDITURE], [OWN], [UNION])
    assert alerts(engine) == [(H1, "R-EXCL-UNION-EXPENDITURE", "open", True)]


def test_the_person_in_two_households_raises_one_review_item(engine: sa.Engine) -> None:
    run(engine, [OWN], [RELATIVE], [RELATIVE.model_copy(update={"event_id": "e-relative-again"})])
    with engine.connect() as connection:
        items = connection.execute(sa.text("SELECT person_key, first_household, second_household, status FROM ledger_shared_person")).all()
    assert items == [(P, H1, H2, "open")]


def test_persons_in_one_household_each_raise_nothing_across(engine: sa.Engine) -> None:
    other = reported(H2, [(R, "head")], "e-relative")
    run(engine, [OWN, EXTREME], [other], [granted(H2, "DPF:d1", "SEVERE_DISABILITY", R)])
    assert alerts(engine) == []


# --- the pre-grant check by person looks at every household the person is in ------------------------


def pre_grant(engine: sa.Engine, programme: str, person_key: str | None = P) -> use_case.PreGrantResult:
    proposal = use_case.Proposal(programme=programme, source="DPF", person_key=None, amount_fen=140_000,
                                 period_start=date(2026, 4, 1), period_end=None)
    with Session(engine) as session:
        return use_case.check_person(LedgerRepository(session), POLICY, person_key or "", proposal)


@pytest.mark.parametrize("order", ["own-first", "relative-first"])
def test_the_pre_grant_check_by_person_refuses_whatever_the_order_and_names_the_households(engine: sa.Engine, order: str) -> None:
    run(engine, *([[OWN, EXTREME], [RELATIVE]] if order == "own-first" else [[RELATIVE], [OWN, EXTREME]]))
    result = pre_grant(engine, "SEVERE_DISABILITY")
    assert not result.allowed
    assert result.households == [H1, H2]
    assert [c.rule_id for c in result.conflicts] == ["R-EXCL-EXTREME-DISABILITY"]


def test_the_pre_grant_check_refuses_a_household_rule_across_the_two(engine: sa.Engine) -> None:
    run(engine, [OWN, UNION], [RELATIVE])
    result = pre_grant(engine, "EXPENDITURE_POVERTY")
    assert [c.rule_id for c in result.conflicts] == ["R-EXCL-UNION-EXPENDITURE"]


def test_the_pre_grant_check_allows_what_breaks_no_rule_and_knows_no_stranger(engine: sa.Engine) -> None:
    run(engine, [OWN, EXTREME], [RELATIVE])
    assert pre_grant(engine, "MEDICAL").allowed
    unknown = pre_grant(engine, "SEVERE_DISABILITY", "p_nobody")
    assert unknown.allowed and unknown.households == []


# --- intake's merges ------------------------------------------------------------------------------


def household_merged(survivor: str, merged: str, event_id: str = "e-hh-merged") -> HouseholdMerged:
    return HouseholdMerged(event_id=event_id, occurred_at="2026-01-03T00:00:00Z", source="intake", household_id=survivor,
                           data={"surviving_household_id": survivor, "merged_household_ids": [merged], "reason": "person_merged"})


def person_merged(household_id: str, survivor: str, merged: str, event_id: str = "e-p-merged") -> PersonMerged:
    return PersonMerged(event_id=event_id, occurred_at="2026-01-03T00:00:00Z", source="intake", household_id=household_id,
                        data={"surviving_person_key": survivor, "merged_person_keys": [merged], "reason": "numbered_record"})


def rows(engine: sa.Engine, query: str) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text(query))]


@pytest.mark.parametrize("kept", [False, True], ids=["read-back", "kept"])
def test_a_household_merged_into_another_moves_what_it_holds_and_its_later_events_follow(engine: sa.Engine, kept: bool) -> None:
    cache = HouseholdCache(10) if kept else None
    other = reported(H2, [(R, "head")], "e-relative")
    run(engine, [OWN, UNION], [other, EXPENDITURE], cache=cache)
    assert alerts(engine) == []  # two households, no member shared: nothing to check across
    run(engine, [household_merged(H1, H2)], cache=cache)
    assert alerts(engine) == [(H1, "R-EXCL-UNION-EXPENDITURE", "open", True)]  # the merge reveals it
    assert rows(engine, "SELECT DISTINCT household_id FROM ledger_benefit") == [(H1,)]
    assert rows(engine, "SELECT household_id FROM ledger_household") == [(H1,)]
    assert sorted(rows(engine, "SELECT person_key FROM ledger_member")) == [(P,), (R,)]
    assert rows(engine, "SELECT DISTINCT household_id FROM ledger_event") == [(H1,)]
    # An event still keyed by the merged id goes to the survivor, in a later batch.
    run(engine, [granted(H2, "CA:d1", "DIBAO", None)], cache=cache)
    assert rows(engine, "SELECT household_id FROM ledger_benefit WHERE benefit_id = 'CA:d1'") == [(H1,)]
    assert rows(engine, "SELECT household_id FROM ledger_household") == [(H1,)]
    # Redelivered, the merge changes nothing.
    before = rows(engine, "SELECT alert_id, status FROM ledger_alert ORDER BY alert_id")
    run(engine, [household_merged(H1, H2)], cache=cache)
    assert rows(engine, "SELECT alert_id, status FROM ledger_alert ORDER BY alert_id") == before


def test_events_after_a_merge_in_the_same_batch_go_to_the_survivor(engine: sa.Engine) -> None:
    other = reported(H2, [(R, "head")], "e-relative")
    run(engine, [OWN, UNION, other, household_merged(H1, H2), EXPENDITURE])
    assert alerts(engine) == [(H1, "R-EXCL-UNION-EXPENDITURE", "open", True)]
    assert rows(engine, "SELECT DISTINCT household_id FROM ledger_benefit") == [(H1,)]


def test_persons_merged_are_rekeyed_and_the_rules_rechecked(engine: sa.Engine) -> None:
    twin = "p_provisional"  # intake's provisional key for the same person, later found to be P
    other = reported(H2, [(R, "head"), (twin, "parent")], "e-relative")
    run(engine, [OWN, EXTREME], [other, granted(H2, "DPF:d1", "SEVERE_DISABILITY", twin)])
    assert alerts(engine) == []  # two keys: two persons, as far as the ledger knows
    run(engine, [person_merged(H1, P, twin)])
    assert alerts(engine) == [(H1, "R-EXCL-EXTREME-DISABILITY", "open", True)]
    assert rows(engine, "SELECT household_id, person_key FROM ledger_benefit WHERE benefit_id = 'DPF:d1'") == [(H2, P)]
    assert sorted(rows(engine, f"SELECT person_key FROM ledger_member WHERE household_id = '{H2}'")) == [(P,), (R,)]
    run(engine, [person_merged(H1, P, twin)])  # redelivered: nothing more
    assert len(alerts(engine)) == 1
    # Rebuilt from its own records, the household still has the benefit under the survivor.
    run(engine, [granted(H2, "DPF:d2", "MEDICAL", R)], cache=None)
    assert rows(engine, "SELECT person_key FROM ledger_benefit WHERE benefit_id = 'DPF:d1'") == [(P,)]


# --- the joint meeting decides ------------------------------------------------------------------------


def test_staff_deciding_two_households_stops_household_rules_across_them_but_not_person_rules(engine: sa.Engine) -> None:
    run(engine, [OWN, UNION, EXTREME], [RELATIVE, EXPENDITURE, DISABILITY])
    assert [a[1] for a in alerts(engine)] == ["R-EXCL-EXTREME-DISABILITY", "R-EXCL-UNION-EXPENDITURE"]
    reviewer = Principal("reviewer-1", "staff", None)
    with Session(engine) as session:
        (item,) = review.list_shared_persons(session, "open", reviewer, 10, 0)
    assert [h["household_id"] for h in item["households"]] == [H1, H2]
    assert "person_key" not in item and all("王*" == m["display_name"] for m in item["households"][0]["members"])
    assert item["households"][1]["sources"] == ["department:CA", "department:DPF"]
    with pytest.raises(SharedPersonError, match="belongs_to"):
        review.decide_shared_person(lambda: UnitOfWork(engine, HUB), item["item_id"], "two_households", "hh-else", "no", reviewer)
    decided = review.decide_shared_person(lambda: UnitOfWork(engine, HUB), item["item_id"], "two_households", H1,
                                          "she lives alone; registered at her son's", reviewer)
    assert (decided["status"], decided["belongs_to"]) == ("two_households", H1)
    run(engine, [granted(H2, "CA:m1", "MEDICAL", R)])  # the next event for either household re-checks
    assert [a[1:] for a in alerts(engine)] == [("R-EXCL-EXTREME-DISABILITY", "open", True), ("R-EXCL-UNION-EXPENDITURE", "resolved", False)]
