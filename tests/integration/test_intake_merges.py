"""Order independence on a real database, through the handler's transactions (no broker: the
outbox is read back): the same department records in any order give the same persons, because a
provisional person is merged into whoever a later record proves them to be."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa

from bench.intake_events import EventFactory
from contracts.hub import HUB_EVENTS, HouseholdMerged, HouseholdRecorded, PersonMerged
from kit.outbox import OutboxMessage
from services.intake.domain import Accepted, Incoming, Pending, is_provisional
from services.intake.resident_id import check_character
from tests.integration.test_intake_repository import handlers_on

NOW = datetime.now(UTC)


def numbered(first17: str) -> str:
    return first17 + check_character(first17)


def one_slip(number: str) -> str:
    digit = "7" if number[15] != "7" else "8"
    return number[:15] + digit + number[16:]


A = numbered("31011519620314201")  # 王建国, heads the family at 张杨路
B = numbered("31011519650822202")  # 李秀英, his wife
D = numbered("31010619620314301")  # another 王建国, born the same day, elsewhere
HOME = "浦东新区张杨路1234弄5号601室"


def household(department: str, ref: str, members: list[tuple[str, str | None, str, str]], address: str = HOME) -> dict[str, Any]:
    f = EventFactory(department, seed=hash(ref) % 1000, now=NOW)
    event = f.household_reported()
    event["household_id"] = ref
    event["data"].update(district="310115", address=address)
    event["data"]["members"] = [
        {"name": name, "resident_id": number, "birth_date": born, "relation": relation}
        for name, number, born, relation in members
    ]
    return event


RECORDS = [
    household("CA", "ca-1", [("王建国", A, "1962-03-14", "head"), ("李秀英", B, "1965-08-22", "spouse")]),
    household("HEALTH", "he-1", [("王 建国", None, "1962-03-14", "head"), ("李秀英", None, "1965-08-22", "spouse")],
              address="上海市浦东新区张杨路1234弄5号楼601"),
    household("HOUSING", "ho-1", [("王建國", one_slip(A), "1962-03-14", "head")], address="浦东新区张杨路１２３４弄5号601室"),
    household("EDU", "ed-1", [("王建国", D, "1962-03-14", "head")], address="静安区江宁路88弄3号201室"),
    household("DPF", "dp-1", [("王建国", None, "1962-03-14", "head")], address="静安区江宁路88弄3号201室"),
]
# who each member of each record truly is
TRUTH = {("ca-1", 0): "A", ("ca-1", 1): "B", ("he-1", 0): "A", ("he-1", 1): "B", ("ho-1", 0): "A", ("ed-1", 0): "D", ("dp-1", 0): "D"}
DEPARTMENT_OF = {"ca": "CA", "he": "HEALTH", "ho": "HOUSING", "ed": "EDU", "dp": "DPF"}


def receive_one_by_one(handlers, records: list[dict[str, Any]]) -> None:  # type: ignore[no-untyped-def]
    for index, record in enumerate(records):
        department = record["source"]
        outcome = handlers._receive([Incoming(orjson.dumps(record), "http", department, f"r#{index}")])[0]
        assert isinstance(outcome, Accepted | Pending), outcome  # held: settled when the person appears


def published(handlers) -> list[Any]:  # type: ignore[no-untyped-def]
    with handlers._runtime.engine.connect() as connection:
        rows = connection.execute(sa.select(OutboxMessage.__table__.c.value).order_by(OutboxMessage.__table__.c.id))
        return [HUB_EVENTS.parse(orjson.loads(value)) for (value,) in rows]


def persons_downstream(events: list[Any], handlers) -> dict[tuple[str, int], str]:  # type: ignore[no-untyped-def]
    """Each record member's person key as a consumer holds it after following every merge, by the
    department's own household reference (republished as a keyed pseudonym, read back here)."""
    own_ref = {handlers._keys.household_ref(DEPARTMENT_OF[ref[:2]], ref): ref for ref, _ in TRUTH}
    survivor: dict[str, str] = {}
    keys: dict[tuple[str, int], str] = {}
    for event in events:
        if isinstance(event, HouseholdRecorded):
            for index, member in enumerate(event.data.members):
                keys[(own_ref.get(event.data.department_household_ref, event.data.department_household_ref), index)] = member.person_key
        elif isinstance(event, PersonMerged):
            for merged in event.data.merged_person_keys:
                survivor[merged] = event.data.surviving_person_key

    def final(key: str) -> str:
        while key in survivor:
            key = survivor[key]
        return key

    return {member: final(key) for member, key in keys.items()}


def partition(keys: dict[tuple[str, int], str]) -> set[frozenset[tuple[str, int]]]:
    groups: dict[str, set[tuple[str, int]]] = {}
    for member, key in keys.items():
        groups.setdefault(key, set()).add(member)
    return {frozenset(g) for g in groups.values()}


TRUE_PERSONS = partition(TRUTH)


def test_three_orders_give_the_same_persons(database_url: str, hub) -> None:  # type: ignore[no-untyped-def]
    orders = [RECORDS, list(reversed(RECORDS)), random.Random(5).sample(RECORDS, len(RECORDS))]
    found = []
    for order in orders:
        handlers = handlers_on(database_url, hub)
        try:
            receive_one_by_one(handlers, order)
            keys = persons_downstream(published(handlers), handlers)
            assert handlers.open_reviews() == [], "a record held while its person was unknown is settled by them"
        finally:
            _empty(handlers)
        assert partition(keys) == TRUE_PERSONS, [r["household_id"] for r in order]
        assert keys[("ca-1", 0)] == keys[("ho-1", 0)] and not is_provisional(keys[("ca-1", 0)])
        found.append(keys)
    assert found[0] == found[1] == found[2], "numbered persons keep their keys whatever the order"


def test_a_provisional_person_is_merged_by_a_later_numbered_record_and_the_household_follows(database_url: str, hub) -> None:  # type: ignore[no-untyped-def]
    handlers = handlers_on(database_url, hub)
    try:
        receive_one_by_one(handlers, [RECORDS[1], RECORDS[0]])
        events = published(handlers)
    finally:
        _empty(handlers)
    recorded = [e for e in events if isinstance(e, HouseholdRecorded)]
    health, civil = recorded
    merges = [e for e in events if isinstance(e, PersonMerged)]
    assert {(m.data.merged_person_keys[0], m.data.surviving_person_key) for m in merges} == {
        (health.data.members[0].person_key, civil.data.members[0].person_key),
        (health.data.members[1].person_key, civil.data.members[1].person_key),
    }
    assert all(m.data.reason == "numbered_record" and m.household_id == civil.household_id for m in merges)
    [follows] = [e for e in events if isinstance(e, HouseholdMerged)]
    assert follows.data.surviving_household_id == civil.household_id == follows.household_id
    assert follows.data.merged_household_ids == [health.household_id]


def test_a_namesake_born_the_same_day_elsewhere_is_not_merged(database_url: str, hub) -> None:  # type: ignore[no-untyped-def]
    handlers = handlers_on(database_url, hub)
    try:
        receive_one_by_one(handlers, [RECORDS[4], RECORDS[0], RECORDS[1]])
        keys = persons_downstream(published(handlers), handlers)
    finally:
        _empty(handlers)
    assert keys[("dp-1", 0)] != keys[("ca-1", 0)]
    assert is_provisional(keys[("dp-1", 0)])


def _empty(handlers) -> None:  # type: ignore[no-untyped-def]
    """The next order starts from an empty intake."""
    with handlers._runtime.engine.begin() as connection:
        names = sa.inspect(connection).get_table_names()
        for name in names:
            if not name.endswith("alembic_version"):  # the service's and the kit's migration records stay
                connection.execute(sa.text(f"DELETE FROM {name}"))
    handlers._runtime.engine.dispose()


def test_a_reviewer_merge_shows_in_open_reviews_as_one_candidate(database_url: str, hub) -> None:  # type: ignore[no-untyped-def]
    handlers = handlers_on(database_url, hub)
    try:
        one, two = numbered("31011519900501101"), numbered("31011519900501121")
        receive_one_by_one(handlers, [
            household("CA", "twin-1", [("李明", one, "1990-05-01", "head")]),
            household("CA", "twin-2", [("李鸣", two, "1990-05-01", "head")]),
            household("CA", "unclear", [("李明", None, "1990-05-01", "head")]),
        ])
        [review] = handlers.open_reviews()
        keys = [c["person_key"] for c in review["candidates"]]
        assert len(keys) == 2
        asyncio.run(handlers.merge_persons(keys[0], keys[1], "reviewer-1"))
        [after] = handlers.open_reviews()
        assert [c["person_key"] for c in after["candidates"]] == [keys[0]]
        merged = [e for e in published(handlers) if isinstance(e, PersonMerged)]
        assert [(m.data.reason, m.data.decided_by, m.data.merged_person_keys) for m in merged] == [
            ("reviewer_decision", "reviewer-1", [keys[1]])]
    finally:
        _empty(handlers)
