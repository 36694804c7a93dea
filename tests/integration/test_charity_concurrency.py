"""Concurrent changes to one offering, on SQLite and PostgreSQL: deliveries, acceptances and
capacity changes run at the same time in threads, each with its own session, as concurrent HTTP
requests do in the service's worker threads, and alternately through two instances of the service
on the one database (each its own engine and, on SQLite, its own queue of writers: as two
processes). Nothing may be lost: the remaining capacity ends at the start minus what was
delivered, never below zero, and each change has its one offering event."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest

from contracts.hub import MatchAccepted, MatchFulfilled, OfferingChangedV2, OfferingClosed
from services.charity.matches import Action
from services.charity.offerings import OfferingChanges
from kit.database import make_engine
from kit.outbox import UnitOfWork
from services.charity.usecases import Caller, Charity, Conflict, Delivery, FieldProblem, answer, change_offering
from tests.integration.charity_support import CharityUnderTest, charity_under_test, outbox

T = TypeVar("T")
THREADS = 8


@pytest.fixture
def api(database_url: str) -> Iterator[CharityUnderTest]:
    with charity_under_test(database_url) as under_test:
        yield under_test


@pytest.fixture
def instances(api: CharityUnderTest, database_url: str) -> Iterator[list[Charity]]:
    engine = make_engine(database_url)
    try:
        yield [api.charity, Charity(engine=engine, unit_of_work=lambda: UnitOfWork(engine, api.hub))]
    finally:
        engine.dispose()


def all_at_once(calls: list[Callable[[], T]]) -> list[T | Exception]:
    """Run the calls in threads released together; each call's result or the exception it raised."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T | Exception:
        start.wait()
        try:
            return call()
        except (Conflict, FieldProblem) as refused:
            return refused

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def organisation_with_matches(api: CharityUnderTest, total: int, matches: int, accepted: bool = True) -> tuple[Caller, str]:
    organisation_id, key = api.register()
    offering_id = api.publish(key, quantity_total=total)["offering_id"]
    for n in range(matches):
        api.propose(offering_id, organisation_id, f"m-{n}", household_id=f"hh-{n}")
        if accepted:
            assert api.client.post(f"/inbox/m-{n}/accept", headers=key).status_code == 200
    return Caller(id=f"{organisation_id}/k", role="organisation", organisation_id=organisation_id, organisation_status="approved"), offering_id


def offering_events(api: CharityUnderTest, offering_id: str) -> list[OfferingChangedV2 | OfferingClosed]:
    return [e for t, _, e in outbox(api.charity) if isinstance(e, (OfferingChangedV2, OfferingClosed)) and e.data.offering_id == offering_id]


def remaining(api: CharityUnderTest, offering_id: str, caller: Caller) -> int:
    from services.charity.usecases import show_offering

    return show_offering(api.charity, caller, offering_id)[0].quantity_remaining


def test_concurrent_deliveries_on_one_offering_lose_nothing(api: CharityUnderTest, instances: list[Charity]) -> None:
    caller, offering_id = organisation_with_matches(api, total=20, matches=THREADS)
    quantities = [1 + n % 3 for n in range(THREADS)]  # 15 in all
    done = all_at_once([
        lambda n=n: answer(instances[n % 2], caller, f"m-{n}", Action.FULFIL, delivery=Delivery(quantity=quantities[n])) for n in range(THREADS)
    ])
    assert [getattr(d, "state", d) for d in done] == ["completed"] * THREADS
    assert remaining(api, offering_id, caller) == 20 - sum(quantities)
    changes = offering_events(api, offering_id)
    assert len(changes) == THREADS  # one offering event per delivery, each with what was left after it
    assert sorted((e.data.quantity_remaining for e in changes), reverse=True) == [e.data.quantity_remaining for e in changes]
    assert changes[-1].data.quantity_remaining == 20 - sum(quantities)
    fulfilled = [e for _, _, e in outbox(api.charity) if isinstance(e, MatchFulfilled)]
    assert sorted(e.data.quantity for e in fulfilled) == sorted(quantities)


def test_concurrent_deliveries_never_take_the_offering_below_zero(api: CharityUnderTest, instances: list[Charity]) -> None:
    caller, offering_id = organisation_with_matches(api, total=10, matches=THREADS)
    done = all_at_once([lambda n=n: answer(instances[n % 2], caller, f"m-{n}", Action.FULFIL, delivery=Delivery(quantity=3)) for n in range(THREADS)])
    delivered = [d for d in done if not isinstance(d, Exception)]
    refused = [d for d in done if isinstance(d, FieldProblem)]
    assert (len(delivered), len(refused)) == (3, THREADS - 3)
    assert all(r.field == "quantity" and "more than the 1 parcel left" in str(r) for r in refused)
    assert remaining(api, offering_id, caller) == 1
    assert [e.data.quantity_remaining for e in offering_events(api, offering_id)] == [7, 4, 1]


def test_the_last_delivery_closes_the_offering_once(api: CharityUnderTest, instances: list[Charity]) -> None:
    caller, offering_id = organisation_with_matches(api, total=THREADS, matches=THREADS)
    all_at_once([lambda n=n: answer(instances[n % 2], caller, f"m-{n}", Action.FULFIL, delivery=Delivery()) for n in range(THREADS)])
    events = offering_events(api, offering_id)
    assert [type(e) for e in events] == [OfferingChangedV2] * (THREADS - 1) + [OfferingClosed]
    assert (events[-1].data.status, events[-1].data.closed_reason, events[-1].data.quantity_remaining) == ("closed", "exhausted", 0)


def test_one_match_delivered_twice_at_once_is_recorded_once(api: CharityUnderTest, instances: list[Charity]) -> None:
    caller, offering_id = organisation_with_matches(api, total=10, matches=1)
    done = all_at_once([lambda n=n: answer(instances[n % 2], caller, "m-0", Action.FULFIL, delivery=Delivery()) for n in range(4)])
    assert sum(not isinstance(d, Exception) for d in done) == 1
    assert all("already recorded" in str(d) for d in done if isinstance(d, Conflict))
    assert remaining(api, offering_id, caller) == 9
    assert len([e for _, _, e in outbox(api.charity) if isinstance(e, MatchFulfilled)]) == 1


def test_concurrent_acceptances_promise_no_more_than_is_left(api: CharityUnderTest, instances: list[Charity]) -> None:
    caller, offering_id = organisation_with_matches(api, total=3, matches=THREADS, accepted=False)
    done = all_at_once([lambda n=n: answer(instances[n % 2], caller, f"m-{n}", Action.ACCEPT) for n in range(THREADS)])
    assert sum(not isinstance(d, Exception) for d in done) == 3
    assert all(isinstance(d, Conflict) and "only 0" in str(d) for d in done if isinstance(d, Exception))
    assert len([e for _, _, e in outbox(api.charity) if isinstance(e, MatchAccepted)]) == 3


def test_a_capacity_change_during_deliveries_keeps_every_delivery(api: CharityUnderTest, instances: list[Charity]) -> None:
    caller, offering_id = organisation_with_matches(api, total=20, matches=THREADS - 1)
    deliveries: list[Callable[[], object]] = [lambda n=n: answer(instances[n % 2], caller, f"m-{n}", Action.FULFIL, delivery=Delivery()) for n in range(THREADS - 1)]
    change = lambda: change_offering(instances[1], caller, offering_id, OfferingChanges(quantity_total=30))  # noqa: E731
    done = all_at_once([*deliveries, change])
    assert not [d for d in done if isinstance(d, Exception)]
    assert remaining(api, offering_id, caller) == 30 - (THREADS - 1)
    assert len(offering_events(api, offering_id)) == THREADS
