"""Matching as a process on the real broker: the test plays the other services (intake's
canonical events, the ledger's household state, the organisation's offerings and answers) and
reads what matching publishes on hub.matches.v1."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from bench.ledger_tools import read_until
from contracts.envelope import Event
from contracts.hub import MatchExpired, MatchProposedV2
from contracts.topics import CANONICAL, HOUSEHOLD_STATE, MATCHES, OFFERINGS
from tests.matching_events import (
    declined,
    household_state,
    metric,
    need_recorded,
    offering_published,
    publish,
    wait_applied,
)

STAFF = {"X-API-Key": "dev-staff-key"}
FAST = {"HUB_MATCHING_ROUND_WINDOW_SECONDS": "0.1", "HUB_MATCHING_TIMER_SECONDS": "1"}
# The matching rules do not touch the database; what the pool writes and reads back on PostgreSQL
# is proved by tests/integration/test_matching_store.py. PostgreSQL here: rebuild and redelivery.
SQLITE_ONLY = pytest.mark.parametrize("databases", ["sqlite"], indirect=True)


def proposals(events: list[Event]) -> list[MatchProposedV2]:
    """In the order they were made (a topic's partitions are read in no particular order)."""
    return sorted((e for e in events if isinstance(e, MatchProposedV2)), key=lambda e: e.occurred_at)


def count_at_least(n: int) -> Callable[[list[Event]], bool]:
    return lambda events: len(proposals(events)) >= n


@SQLITE_ONLY
async def test_a_need_and_an_offering_give_one_proposal_and_its_explanation(start_service, hub, database_url) -> None:
    matching = start_service("matching", database_url, **FAST)
    await publish(hub, HOUSEHOLD_STATE, [household_state("h1")])
    await publish(hub, CANONICAL, [need_recorded("CA:n1", "h1")])
    await publish(hub, OFFERINGS, [offering_published("o1", units=5, charity_id="charity-7")])
    (proposal,) = proposals(await read_until(hub, MATCHES, count_at_least(1), timeout=20))
    assert (proposal.household_id, proposal.data.need_id, proposal.data.offering_id, proposal.data.charity_id) == ("h1", "CA:n1", "o1", "charity-7")
    time.sleep(1.0)
    assert len(proposals(await read_until(hub, MATCHES, lambda e: False, timeout=1))) == 1
    with httpx.Client(base_url=matching.url, headers=STAFF, timeout=10) as client:
        why = client.get(f"/matches/{proposal.data.match_id}/explanation").json()
        assert all(rule["passed"] for rule in why["rules"]) and {r["rule"] for r in why["rules"]} >= {"service_area", "capacity", "not_already_served"}
        assert set(why["priority_terms"]) == {"urgency", "colour", "waiting", "received", "nearness"}
        assert client.get("/needs/CA:n1/explanation").json()["reason"] == "proposed"
        assert client.get("/matches/nope/explanation").status_code == 404
        assert client.get("/reports/fairness", params={"days": 0}).status_code == 422
        assert client.get("/reports/unmet-needs", headers={"X-API-Key": "dev-charity-key"}).status_code == 403
        assert client.get("/reports/unmet-needs", headers={"X-API-Key": "dev-ca-key"}).status_code == 403


@SQLITE_ONLY
async def test_decline_proposes_the_next_best_household_never_the_declined_one_again(start_service, hub, database_url) -> None:
    start_service("matching", database_url, **FAST)
    await publish(hub, HOUSEHOLD_STATE, [household_state("h1"), household_state("h2"), household_state("h3")])
    await publish(hub, CANONICAL, [need_recorded("CA:n1", "h1", urgency=5), need_recorded("CA:n2", "h2", urgency=4),
                                   need_recorded("CA:n3", "h3", urgency=1)])
    await publish(hub, OFFERINGS, [offering_published("o1", units=1)])
    (first,) = proposals(await read_until(hub, MATCHES, count_at_least(1), timeout=20))
    assert first.household_id == "h1"
    await publish(hub, MATCHES, [declined("h1", first.data.match_id, "o1", "CA:n1")])
    (_, second) = proposals(await read_until(hub, MATCHES, count_at_least(2), timeout=20))
    assert (second.household_id, second.data.offering_id) == ("h2", "o1")
    await publish(hub, MATCHES, [declined("h2", second.data.match_id, "o1", "CA:n2")])
    third = proposals(await read_until(hub, MATCHES, count_at_least(3), timeout=20))[2]
    assert third.household_id == "h3"
    await publish(hub, MATCHES, [declined("h3", third.data.match_id, "o1", "CA:n3")])
    time.sleep(2.0)
    made = proposals(await read_until(hub, MATCHES, lambda e: False, timeout=1))
    assert [p.household_id for p in made] == ["h1", "h2", "h3"]  # none proposed to o1 again


@SQLITE_ONLY
async def test_capacity_three_and_five_eligible_needs_propose_exactly_the_three_highest(start_service, hub, database_url) -> None:
    matching = start_service("matching", database_url, **FAST)
    urgency = {"h1": 2, "h2": 5, "h3": 1, "h4": 4, "h5": 3}
    await publish(hub, HOUSEHOLD_STATE, [household_state(h) for h in urgency])
    await publish(hub, CANONICAL, [need_recorded(f"CA:n-{h}", h, urgency=u) for h, u in urgency.items()])
    wait_applied(matching.url, 10)
    await publish(hub, OFFERINGS, [offering_published("o1", units=3)])
    await read_until(hub, MATCHES, count_at_least(3), timeout=20)
    time.sleep(1.5)
    made = proposals(await read_until(hub, MATCHES, lambda e: False, timeout=1))
    assert sorted(p.household_id for p in made) == ["h2", "h4", "h5"]
    with httpx.Client(base_url=matching.url, headers=STAFF, timeout=10) as client:
        report = client.get("/reports/unmet-needs").json()
        assert report["total"] == 2 and report["cells"][0]["reasons"]["no_capacity"] == 2
        assert client.get("/needs/CA:n-h3/explanation").json()["reason"] == "no_capacity"


@SQLITE_ONLY
async def test_a_household_already_served_in_the_category_is_never_proposed(start_service, hub, database_url) -> None:
    matching = start_service("matching", database_url, **FAST)
    await publish(hub, HOUSEHOLD_STATE, [household_state("h1", programmes=("GRAIN_OIL",)), household_state("h2")])
    wait_applied(matching.url, 2)
    await publish(hub, CANONICAL, [need_recorded("CA:n1", "h1", urgency=5), need_recorded("CA:n2", "h2", urgency=1)])
    await publish(hub, OFFERINGS, [offering_published("o1", units=5)])
    await read_until(hub, MATCHES, count_at_least(1), timeout=20)
    time.sleep(1.5)
    made = proposals(await read_until(hub, MATCHES, lambda e: False, timeout=1))
    assert [p.household_id for p in made] == ["h2"]
    with httpx.Client(base_url=matching.url, headers=STAFF, timeout=10) as client:
        assert client.get("/needs/CA:n1/explanation").json()["reason"] == "already_served"


@SQLITE_ONLY
async def test_no_answer_by_the_deadline_expires_and_the_need_goes_elsewhere(start_service, hub, database_url) -> None:
    start_service("matching", database_url, HUB_MATCHING_ROUND_WINDOW_SECONDS="0.1", HUB_MATCHING_TIMER_SECONDS="0.5",
                  HUB_MATCHING_PROPOSAL_DEADLINE_SECONDS="2")
    await publish(hub, HOUSEHOLD_STATE, [household_state("h1")])
    await publish(hub, CANONICAL, [need_recorded("CA:n1", "h1")])
    await publish(hub, OFFERINGS, [offering_published("o1", units=1, area={"subdistricts": ["310104-01"]}),
                                   offering_published("o2", units=1)])
    events = await read_until(hub, MATCHES, count_at_least(2), timeout=30)
    first, second = proposals(events)
    assert (first.data.offering_id, second.data.offering_id) == ("o1", "o2")
    (expired,) = [e for e in events if isinstance(e, MatchExpired)]
    assert expired.data.match_id == first.data.match_id


async def test_a_new_database_rebuilds_the_pool_from_the_topics(start_service, hub, databases) -> None:
    first_url, second_url = databases.new_url("one"), databases.new_url("two")
    first = start_service("matching", first_url, **FAST)
    await publish(hub, HOUSEHOLD_STATE, [household_state("h1"), household_state("h2")])
    await publish(hub, CANONICAL, [need_recorded("CA:n1", "h1", urgency=5), need_recorded("CA:n2", "h2", urgency=1)])
    await publish(hub, OFFERINGS, [offering_published("o1", units=1)])
    (proposal,) = proposals(await read_until(hub, MATCHES, count_at_least(1), timeout=20))
    time.sleep(1.0)
    first.stop()

    second = start_service("matching", second_url, **FAST)  # an empty database: everything from the topics
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=second.url, headers=STAFF, timeout=10) as client:
        while client.get("/needs/CA:n2/explanation").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert client.get("/needs/CA:n1/explanation").json()["reason"] == "proposed"
        assert client.get(f"/matches/{proposal.data.match_id}/explanation").json()["state"] == "proposed"
        assert client.get("/needs/CA:n2/explanation").json()["reason"] == "no_capacity"
    time.sleep(1.5)
    assert len(proposals(await read_until(hub, MATCHES, lambda e: False, timeout=1))) == 1  # o1's one unit is not promised twice
    second.stop()

    # The same database again: it resumes where its group stopped and proposes without waiting.
    start_service("matching", second_url, **FAST)
    started = time.monotonic()
    await publish(hub, OFFERINGS, [offering_published("o2", units=1)])
    made = proposals(await read_until(hub, MATCHES, count_at_least(2), timeout=20))
    assert [p.household_id for p in made] == ["h1", "h2"] and time.monotonic() - started < 15


async def test_unreadable_records_are_skipped_and_repeats_applied_once(start_service, hub, database_url) -> None:
    matching = start_service("matching", database_url, **FAST)
    from bench.ledger_tools import producer

    sender = producer(hub)
    await sender.start()
    try:
        for junk in (b"not json", b'{"type": "no.such.event", "schema_version": 1}', b'{"event_id": "poison-need", "type": "need.recorded", "schema_version": 1}'):
            await sender.send_and_wait(hub.topic_name(CANONICAL), junk, key=b"h1")
    finally:
        await sender.stop()
    need = need_recorded("CA:n1", "h1")
    await publish(hub, HOUSEHOLD_STATE, [household_state("h1")])
    await publish(hub, CANONICAL, [need, need])  # the same event twice
    await publish(hub, OFFERINGS, [offering_published("o1", units=5)])
    (proposal,) = proposals(await read_until(hub, MATCHES, count_at_least(1), timeout=20))
    assert proposal.data.need_id == "CA:n1"
    assert metric(matching.url, "matching_events_total", 'outcome="unreadable"') == 3
    assert metric(matching.url, "matching_events_total", 'outcome="duplicate"') == 1
    assert "poison-need" in matching.log_path.read_text()  # the event id the poison carries, to find it by
    assert matching.process is not None and matching.process.poll() is None
