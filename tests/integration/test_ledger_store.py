"""The ledger's batches on real databases (SQLite and PostgreSQL): idempotent, tolerant of
out-of-order arrival whatever the batch boundaries, one alert per conflict, closed when resolved,
and the statistics queries run on both."""

from __future__ import annotations

import json
from datetime import date

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from contracts.envelope import Event
from contracts.hub import (
    HUB_EVENTS,
    BenefitRecorded,
    BenefitStopped,
    HouseholdRecorded,
    MatchFulfilled,
    NeedClosed,
    NeedRecorded,
)
from kit.auth import Principal
from kit.database import make_engine, migrate
from kit.outbox import UnitOfWork
from kit.settings import HubSettings
from services.ledger.app import MIGRATIONS
from services.ledger.batch import Batch, HouseholdCache, Outcome, apply_batch
from services.ledger.http import LedgerContext, PreGrantQuery, check_pre_grant
from services.ledger.review import record_decision
from services.ledger.policy import load_policy
from services.ledger.rebuild import ledger_snapshot
from services.ledger.repository import LedgerBenefit, LedgerRepository
from services.ledger.statistics import (
    Month,
    benefits_by_district_programme,
    cliff,
    open_alert_counts,
)
from tests.migrations import migrate_to

POLICY = load_policy()
HUB = HubSettings(topic_namespace="test.")
H = "hh-1"


def household(colour: str = "yellow", at: str = "2026-01-01T00:00:00Z", event_id: str = "e-hh") -> HouseholdRecorded:
    return HouseholdRecorded(event_id=event_id, occurred_at=at, source="intake", household_id=H, data={
        "department": "CA", "department_household_ref": "CA-1", "district": "310115", "category": "dibao", "colour": colour,
        "monthly_income_per_capita_fen": 100_000,
        "members": [{"person_key": "p_a", "display_name": "李*"}, {"person_key": "p_b", "display_name": "李*"}],
    })


def grant(event_id: str, benefit_id: str, programme: str, start: date, amount: int = 107_000, at: str = "2026-01-02T00:00:00Z",
          need_id: str | None = None) -> BenefitRecorded:
    return BenefitRecorded(event_id=event_id, occurred_at=at, source="intake", household_id=H, data={
        "benefit_id": benefit_id, "programme": programme, "source": benefit_id.split(":")[0], "person_key": "p_a",
        "amount_fen": amount, "period_start": start, "need_id": need_id})


def stop(event_id: str, benefit_id: str, ended_on: date, at: str = "2026-03-01T00:00:00Z") -> BenefitStopped:
    return BenefitStopped(event_id=event_id, occurred_at=at, source="intake", household_id=H,
                          data={"benefit_id": benefit_id, "ended_on": ended_on})


NEED = NeedRecorded(event_id="e-need", occurred_at="2026-01-01T01:00:00Z", source="intake", household_id=H, data={
    "need_id": "CA:n1", "department": "CA", "category": "food", "description": "food", "urgency": 3, "assessed_on": date(2026, 1, 1)})
FOOD = MatchFulfilled(event_id="e-food", occurred_at="2026-02-03T00:00:00Z", source="charity", household_id=H, data={
    "match_id": "m1", "offering_id": "o1", "need_id": "CA:n1", "charity_id": "ch-1", "programme": "CHARITY_FOOD",
    "quantity": 1, "in_kind": "food parcel", "delivered_on": date(2026, 2, 3)})
DIBAO = grant("e-dibao", "CA:d1", "DIBAO", date(2026, 1, 1))
EXTREME = grant("e-extreme", "CA:x1", "EXTREME_POVERTY", date(2026, 2, 1), amount=140_000, at="2026-02-01T00:00:00Z")
STOP_EXTREME = stop("e-stop", "CA:x1", date(2026, 1, 31))  # cancelled before it began: the conflict goes away


@pytest.fixture
def engine(database_url: str) -> sa.Engine:
    engine = make_engine(database_url)
    migrate(engine, MIGRATIONS)
    yield engine
    engine.dispose()


def run(engine: sa.Engine, *batches: list[Event], cache: HouseholdCache | None = None) -> list[Outcome]:
    outcomes = []
    for events in batches:
        with UnitOfWork(engine, HUB) as unit:
            outcomes.append(apply_batch(unit, events, POLICY, cache=cache))
            unit.commit()
    return outcomes


def outbox(engine: sa.Engine) -> list[Event]:
    with engine.connect() as connection:
        return [HUB_EVENTS.parse(v) for (v,) in connection.execute(sa.text("SELECT value FROM outbox_message ORDER BY id"))]


@pytest.mark.parametrize("kept", [False, True], ids=["read-back", "kept-in-memory"])
def test_a_conflict_raises_one_alert_and_redelivery_raises_none(engine: sa.Engine, kept: bool) -> None:
    cache = HouseholdCache(10) if kept else None
    first, again = run(engine, [household(), DIBAO, EXTREME], [household(), DIBAO, EXTREME, DIBAO], cache=cache)
    assert (first.applied, first.alerts_raised) == (3, 1)
    assert (again.applied, again.duplicates, again.alerts_raised) == (0, 4, 0)
    types = [e.type for e in outbox(engine)]
    assert types.count("alert.raised") == 1
    assert types.count("household.state") == 1  # one household changed in the batch, one state


def test_event_and_need_ids_belong_to_their_household(engine: sa.Engine) -> None:
    """An id is unique within its household: another household's event or need under the same
    id is its own (the id is the producer's business), never a duplicate or a failed batch."""
    other = [e.model_copy(update={"household_id": "hh-2"}) for e in (household(), NEED)]
    (outcome,) = run(engine, [household(), NEED, *other])
    assert (outcome.applied, outcome.duplicates) == (4, 0)
    with engine.connect() as connection:
        needs = connection.execute(sa.text("SELECT household_id, need_id FROM ledger_need ORDER BY household_id")).all()
    assert needs == [(H, "CA:n1"), ("hh-2", "CA:n1")]


def test_a_later_change_that_resolves_the_conflict_closes_the_alert(engine: sa.Engine) -> None:
    run(engine, [household(), DIBAO, EXTREME], [STOP_EXTREME])
    snapshot = ledger_snapshot(engine)["tables"]
    (alert,) = snapshot["ledger_alert"]
    assert alert[5] == "resolved"
    decided = [e for e in outbox(engine) if e.type == "alert.decided"]
    assert [e.data.decision for e in decided] == ["resolved"]
    assert decided[0].data.decided_by == "ledger"


def test_a_stop_before_its_grant_is_applied_once_both_are_in(engine: sa.Engine) -> None:
    run(engine, [STOP_EXTREME], [household()], [EXTREME, DIBAO])
    benefits = {row[1]: row for row in ledger_snapshot(engine)["tables"]["ledger_benefit"]}
    assert benefits["CA:x1"][10] == "ended" and benefits["CA:x1"][9] == "2026-01-31"
    assert ledger_snapshot(engine)["counts"]["ledger_alert"] == 0  # never ran together


@pytest.mark.parametrize("split", [1, 2, 3, 7])
def test_the_same_events_in_any_batch_split_and_order_give_the_same_ledger(database_url: str, databases, split: int) -> None:
    events: list[Event] = [household(), NEED, DIBAO, EXTREME, FOOD, STOP_EXTREME, household("red", "2026-02-01T00:00:00Z", "e-hh2")]
    reference = make_engine(databases.new_url("reference"))
    migrate(reference, MIGRATIONS)
    run(reference, events)
    shuffled = list(reversed(events))
    engine = make_engine(database_url)
    migrate(engine, MIGRATIONS)
    run(engine, *[shuffled[i : i + split] for i in range(0, len(shuffled), split)])
    mine, theirs = ledger_snapshot(engine)["tables"], ledger_snapshot(reference)["tables"]
    for table in ("ledger_household", "ledger_member", "ledger_need", "ledger_benefit", "ledger_event"):
        assert mine[table] == theirs[table], table
    assert mine["ledger_household"][0][4] == "red"  # the newer report's colour, whatever came first
    assert mine["ledger_need"][0][5] == "met"  # the charity's delivery met the need


def test_pre_grant_check_and_statistics_on_this_database(engine: sa.Engine) -> None:
    run(engine, [household(), NEED, DIBAO, FOOD])
    context = LedgerContext(engine, lambda: UnitOfWork(engine, HUB), None, POLICY, b"secret")  # type: ignore[arg-type]
    caller = Principal("ca-system", "department", "CA")
    with Session(engine) as session:
        repository = LedgerRepository(session)
        no = check_pre_grant(repository, context, PreGrantQuery(household_id=H, programme="EXTREME_POVERTY", period_start=date(2026, 3, 1)), caller)
        yes = check_pre_grant(repository, context, PreGrantQuery(household_id=H, programme="TEMPORARY", period_start=date(2026, 3, 1), amount_fen=1000), caller)
        rows = benefits_by_district_programme(session, [Month(2026, 1), Month(2026, 2)])
        near = cliff(session, Month(2026, 2), 107_000, 20_000, 10_000)
        alerts = open_alert_counts(session)
    assert not no.allowed and no.conflicts[0].rule_id == "R-EXCL-DIBAO-EXTREME"
    assert yes.allowed
    by_key = {(r["month"], r["programme"]): r for r in rows}
    assert by_key[("2026-01", "DIBAO")] == {"month": "2026-01", "district": "310115", "programme": "DIBAO", "households": 1, "persons": 1, "amount_fen": 107_000}
    assert ("2026-01", "CHARITY_FOOD") not in by_key and by_key[("2026-02", "CHARITY_FOOD")]["households"] == 1
    assert [b["households"] for b in near["bands"]] == [1]
    assert near["bands"][0]["mean_benefits_per_household_fen"] == 107_000
    assert alerts["total_open"] == 0


# --- the repository's bulk reads and writes, and what a batch writes -------------------------------


def benefit_row(benefit_id: str, amount: int, household_id: str = H) -> dict[str, object]:
    return {
        "household_id": household_id, "benefit_id": benefit_id, "programme": "MEDICAL", "source": "HEALTH",
        "source_kind": "department", "person_key": None, "amount_fen": amount, "in_kind": None,
        "period_start": date(2026, 1, 1), "period_end": None, "status": "active", "need_id": None,
        "event_id": f"e-{benefit_id}", "occurred_at": None,
    }


def stored_amounts(engine: sa.Engine) -> dict[tuple[str, str], int]:
    with engine.connect() as connection:
        query = sa.text("SELECT household_id, benefit_id, amount_fen FROM ledger_benefit")
        return {(household, benefit): amount for household, benefit, amount in connection.execute(query)}


def test_save_inserts_new_rows_and_updates_changed_ones_by_primary_key(engine: sa.Engine) -> None:
    with Session(engine) as session:
        LedgerRepository(session).save(LedgerBenefit, [benefit_row("b1", 100), benefit_row("b2", 200), benefit_row("b1", 300, "hh-2")], [])
        session.commit()
    with Session(engine) as session:
        LedgerRepository(session).save(LedgerBenefit, [benefit_row("b3", 400)], [benefit_row("b1", 150)])
        session.commit()
    assert stored_amounts(engine) == {(H, "b1"): 150, (H, "b2"): 200, (H, "b3"): 400, ("hh-2", "b1"): 300}


def test_an_update_rolled_back_leaves_the_next_one_working_on_the_same_connection(engine: sa.Engine) -> None:
    with Session(engine) as session:
        LedgerRepository(session).insert(LedgerBenefit, [benefit_row("b1", 100)])
        session.commit()
    with Session(engine) as session:
        LedgerRepository(session).update(LedgerBenefit, [benefit_row("b1", 999)])
        session.rollback()
    with Session(engine) as session:
        LedgerRepository(session).update(LedgerBenefit, [benefit_row("b1", 150)])
        session.commit()
    assert stored_amounts(engine) == {(H, "b1"): 150}


def test_rows_reads_only_the_named_households_however_many_are_named(engine: sa.Engine) -> None:
    households = [f"hh-{n}" for n in range(1200)]
    with Session(engine) as session:
        repository = LedgerRepository(session)
        repository.insert(LedgerBenefit, [benefit_row("b1", n, household) for n, household in enumerate(households)])
        wanted = set(households[::3]) | {"hh-unknown"}
        found = repository.rows(LedgerBenefit, wanted)
        nothing = repository.rows(LedgerBenefit, set())
    assert sorted(row["household_id"] for row in found) == sorted(households[::3])
    assert nothing == []


def test_a_batch_rewrites_only_the_benefits_its_events_touched(engine: sa.Engine) -> None:
    run(engine, [household(), DIBAO, grant("e-med", "HEALTH:m1", "MEDICAL", date(2026, 1, 5))])
    with engine.begin() as connection:  # a mark a rewrite of the dibao row would erase
        connection.execute(sa.text("UPDATE ledger_benefit SET in_kind = 'untouched' WHERE benefit_id = 'CA:d1'"))
    run(engine, [stop("e-stop-med", "HEALTH:m1", date(2026, 1, 20))])
    benefits = {row[1]: row for row in ledger_snapshot(engine)["tables"]["ledger_benefit"]}
    assert benefits["CA:d1"][7] == "untouched"
    assert benefits["HEALTH:m1"][10] == "ended" and benefits["HEALTH:m1"][9] == "2026-01-20"


def test_a_newer_household_report_updates_known_members_and_adds_new_ones(engine: sa.Engine) -> None:
    newer = HouseholdRecorded(event_id="e-hh2", occurred_at="2026-02-01T00:00:00Z", source="intake", household_id=H, data={
        "department": "CA", "department_household_ref": "CA-1", "district": "310115", "category": "dibao",
        "members": [{"person_key": "p_a", "display_name": "王*"}, {"person_key": "p_c", "display_name": "李*"}],
    })
    run(engine, [household()], [newer])
    members = {row[1]: row[2] for row in ledger_snapshot(engine)["tables"]["ledger_member"]}
    assert members == {"p_a": "王*", "p_b": "李*", "p_c": "李*"}
    assert ledger_snapshot(engine)["tables"]["ledger_household"][0][6] == "3"  # person_count


def test_each_household_changed_in_a_batch_publishes_one_state_with_its_own_id(engine: sa.Engine) -> None:
    other = NeedRecorded(event_id="e-need-2", occurred_at="2026-01-01T01:00:00Z", source="intake", household_id="hh-2", data={
        "need_id": "CA:n2", "department": "CA", "category": "food", "description": "food", "urgency": 1, "assessed_on": date(2026, 1, 1)})
    run(engine, [household(), NEED, other])
    states = [e for e in outbox(engine) if e.type == "household.state"]
    assert sorted(e.household_id for e in states) == ["hh-1", "hh-2"]
    assert len({e.event_id for e in states}) == 2
    assert {e.household_id: e.data.open_needs for e in states} == {"hh-1": ["CA:n1"], "hh-2": ["CA:n2"]}


# --- households kept in memory between batches ------------------------------------------------------


def test_households_kept_between_batches_give_the_same_ledger_and_events_as_households_read_back(
    database_url: str, databases
) -> None:
    events: list[Event] = [household(), NEED, DIBAO, EXTREME, FOOD, STOP_EXTREME, household("red", "2026-02-01T00:00:00Z", "e-hh2")]
    batches = [events[i : i + 2] for i in range(0, len(events), 2)]
    read_back = make_engine(databases.new_url("read-back"))
    migrate(read_back, MIGRATIONS)
    run(read_back, *batches)
    kept = make_engine(database_url)
    migrate(kept, MIGRATIONS)
    cache = HouseholdCache(10)
    run(kept, *batches, cache=cache)
    assert len(cache) == 1
    assert ledger_snapshot(kept)["tables"] == ledger_snapshot(read_back)["tables"]
    assert [(e.type, e.household_id) for e in outbox(kept)] == [(e.type, e.household_id) for e in outbox(read_back)]


def test_a_reviewers_decision_is_not_overwritten_by_a_kept_copy_of_its_household(engine: sa.Engine) -> None:
    cache = HouseholdCache(10)
    run(engine, [household(), DIBAO, EXTREME], cache=cache)
    (alert,) = ledger_snapshot(engine)["tables"]["ledger_alert"]
    reviewer = Principal("reviewer-1", "staff", None)
    record_decision(lambda: UnitOfWork(engine, HUB), alert[0], "confirmed_duplicate", "recover January", reviewer)
    run(engine, [STOP_EXTREME], cache=cache)  # resolves the conflict: the alert closes, the decision stays
    with engine.connect() as connection:
        row = connection.execute(sa.text("SELECT status, active, decided_by FROM ledger_alert")).one()
    assert (row.status, bool(row.active), row.decided_by) == ("confirmed_duplicate", False, "reviewer-1")


def test_a_batch_rolled_back_leaves_no_copy_of_its_households_behind(engine: sa.Engine) -> None:
    cache = HouseholdCache(10)
    run(engine, [household(), DIBAO], cache=cache)
    with pytest.raises(RuntimeError), UnitOfWork(engine, HUB) as unit:
        apply_batch(unit, [EXTREME], POLICY, cache=cache)
        raise RuntimeError("the commit never happens")
    assert len(cache) == 0
    (outcome,) = run(engine, [EXTREME], cache=cache)  # read back from its rows: applied once, as new
    assert (outcome.applied, outcome.alerts_raised) == (1, 1)
    assert len(cache) == 1



def test_migration_0004_keys_events_and_needs_by_household_and_keeps_them(databases) -> None:
    engine = make_engine(databases.new_url("migrated"))
    migrate_to(engine, MIGRATIONS, "0003")
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO ledger_event VALUES ('e-1', :h, 'benefit.recorded', 'intake', :at, 'CA:d1', '{}')"),
                           {"h": H, "at": "2026-01-02T00:00:00+00:00"})
        connection.execute(sa.text("INSERT INTO ledger_need VALUES ('CA:n1', :h, 'CA', 'food', 'food', 3, :on, NULL, 'open', 'e-2')"),
                           {"h": H, "on": date(2026, 1, 1)})
    migrate(engine, MIGRATIONS)
    assert _keys(engine, "ledger_event") == (["household_id", "event_id"], [])
    assert _keys(engine, "ledger_need") == (["household_id", "need_id"], [])
    migrate_to(engine, MIGRATIONS, "0003", down=True)
    assert _keys(engine, "ledger_event") == (["event_id"], [["household_id"]])
    assert _keys(engine, "ledger_need") == (["need_id"], [["household_id"]])
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT event_id, household_id, benefit_id FROM ledger_event")).all() == [("e-1", H, "CA:d1")]
        assert connection.execute(sa.text("SELECT need_id, household_id, status FROM ledger_need")).all() == [("CA:n1", H, "open")]
    engine.dispose()


def test_migration_0005_drops_the_unused_processed_event_table(databases) -> None:
    engine = make_engine(databases.new_url("migrated"))
    migrate(engine, MIGRATIONS)
    assert "processed_event" not in sa.inspect(engine).get_table_names()
    migrate_to(engine, MIGRATIONS, "0004", down=True)
    assert "processed_event" in sa.inspect(engine).get_table_names()
    engine.dispose()


def _keys(engine: sa.Engine, table: str) -> tuple[list[str], list[list[str]]]:
    """The table's primary key columns, and the columns of each of its other indexes."""
    inspector = sa.inspect(engine)
    key = inspector.get_pk_constraint(table)["constrained_columns"]
    return key, [index["column_names"] for index in inspector.get_indexes(table)]


def test_an_error_partway_through_a_batch_writes_none_of_it(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The events applied before the error were already on their way to `ledger_event`."""
    run(engine, [household()])

    def broken(self: Batch, household: object, event: NeedRecorded) -> None:
        raise RuntimeError("a fault partway through the batch")

    monkeypatch.setattr(Batch, "_record_need", broken)
    with pytest.raises(RuntimeError), UnitOfWork(engine, HUB) as unit:
        apply_batch(unit, [DIBAO, NEED, EXTREME], POLICY)
        unit.commit()
    monkeypatch.undo()
    assert ledger_snapshot(engine)["counts"]["ledger_event"] == 1
    (outcome,) = run(engine, [DIBAO, NEED, EXTREME])
    assert (outcome.applied, outcome.duplicates, outcome.alerts_raised) == (3, 0, 1)


# --- an alert is one conflict: it grows, it does not resolve and reopen ---------------------------


def cash(event_id: str, benefit_id: str, programme: str, day: int, amount: int) -> BenefitRecorded:
    return BenefitRecorded(event_id=event_id, occurred_at=f"2026-04-{day:02d}T00:00:00Z", source="intake", household_id=H, data={
        "benefit_id": benefit_id, "programme": programme, "source": benefit_id.split(":")[0], "amount_fen": amount,
        "period_start": date(2026, 4, day), "period_end": date(2026, 4, day)})


def alert_rows(engine: sa.Engine) -> list[sa.Row]:
    with engine.connect() as connection:
        return connection.execute(sa.text(
            "SELECT alert_id, rule_id, status, active, benefits, new_evidence, decided_by FROM ledger_alert ORDER BY raised_at")).all()


@pytest.mark.parametrize("one_batch", [False, True], ids=["three-batches", "one-batch"])
def test_a_cap_breached_by_a_second_grant_and_grown_by_a_third_is_one_alert_with_three_benefits(engine: sa.Engine, one_batch: bool) -> None:
    grants = [cash("e-t1", "CA:t1", "TEMPORARY", 1, 200_000), cash("e-c1", "ch1:c1", "CHARITY_MONEY", 5, 200_000),
              cash("e-c2", "ch1:c2", "CHARITY_MONEY", 10, 100_000)]
    if one_batch:
        run(engine, [household(), *grants])
    else:
        run(engine, [household(), grants[0]], [grants[1]], [grants[2]])
    (alert,) = alert_rows(engine)
    benefits = alert.benefits if isinstance(alert.benefits, list) else json.loads(alert.benefits)
    assert alert.rule_id == "R-CAP-CASH-MONTH" and alert.status == "open" and bool(alert.active)
    assert sorted(b["benefit_id"] for b in benefits) == ["CA:t1", "ch1:c1", "ch1:c2"]
    sent = [e for e in outbox(engine) if e.type.startswith("alert.")]
    assert [e.type for e in sent] == ["alert.raised", "alert.updated"]
    assert all(e.data.alert_id == alert.alert_id for e in sent)
    assert "alert.decided" not in [e.type for e in sent]  # never "resolved" in between


def test_a_confirmed_duplicate_that_grows_returns_to_the_queue_marked_new_evidence(engine: sa.Engine) -> None:
    run(engine, [household(), cash("e-t1", "CA:t1", "TEMPORARY", 1, 200_000), cash("e-c1", "ch1:c1", "CHARITY_MONEY", 5, 200_000)])
    (alert,) = alert_rows(engine)
    reviewer = Principal("reviewer-1", "staff", None)
    record_decision(lambda: UnitOfWork(engine, HUB), alert.alert_id, "confirmed_duplicate", "recover April", reviewer)
    run(engine, [cash("e-c2", "ch1:c2", "CHARITY_MONEY", 10, 100_000)])
    (grown,) = alert_rows(engine)
    assert (grown.alert_id, grown.status, bool(grown.new_evidence)) == (alert.alert_id, "open", True)
    assert grown.decided_by == "reviewer-1"  # the earlier decision stays readable
    (updated,) = [e for e in outbox(engine) if e.type == "alert.updated"]
    assert updated.data.new_evidence_since_decision and updated.data.status == "open"
    decided = record_decision(lambda: UnitOfWork(engine, HUB), alert.alert_id, "confirmed_duplicate", "recover all three", reviewer)
    assert (decided["status"], decided["new_evidence"]) == ("confirmed_duplicate", False)


def test_an_alert_the_ledger_closed_itself_says_decided_by_ledger(engine: sa.Engine) -> None:
    run(engine, [household(), DIBAO, EXTREME], [STOP_EXTREME])
    (alert,) = alert_rows(engine)
    assert (alert.status, bool(alert.active), alert.decided_by) == ("resolved", False, "ledger")


# --- a department closes a need ------------------------------------------------------------------

CLOSE_NEED = NeedClosed(event_id="e-need-closed", occurred_at="2026-01-05T00:00:00Z", source="intake", household_id=H,
                        data={"need_id": "CA:n1", "department": "CA", "reason": "withdrawn"})


@pytest.mark.parametrize("order", ["recorded-first", "closed-first"])
def test_a_closed_need_is_no_longer_open_in_the_household_state(engine: sa.Engine, order: str) -> None:
    events = [NEED, CLOSE_NEED] if order == "recorded-first" else [CLOSE_NEED, NEED]
    run(engine, [household()], [events[0]], [events[1]])
    last_state = [e for e in outbox(engine) if e.type == "household.state"][-1]
    assert last_state.data.open_needs == []
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT need_id, status FROM ledger_need")).all() == [("CA:n1", "closed")]
