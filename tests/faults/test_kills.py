"""Random SIGKILL of each service (intake, the ledger, matching, the charity service) in turn and
of all four together, while a simulated year is played and its organisations answer what matching
proposes: afterwards every event and every proposal is accounted for, and the ledger, the charity
inboxes and the matching pool hold exactly what an uninterrupted run with the same seed holds,
table by table, with no event applied twice."""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from dataclasses import replace
from datetime import date

import orjson
import pytest

from bench.hub_run import HubProcesses
from contracts.catalogue import PROGRAMMES
from hub.simulate import Simulation, charity_stage
from hub.simulate_charity import CharityPlan, needs_by_category, plan_charities
from hub.simulate_year import ACCEPTED, Planned, Year, plan_year
from tests.faults.conftest import (
    CHARITY_TABLES, FULL, MATCHING_TABLES, RANDOM_ID, SCALE, StableNames, applied_event_ids, differences, figures, ledger_tables,
    service_tables,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(7200 if FULL else 420)]
SEED = 14
SERVICES = ("intake", "ledger", "matching", "charity")
TARGETS = (*((name,) for name in SERVICES), SERVICES)
# Matching waits up to this long after a start for its topics' backlog before its first round
# (120 s by default); a restarted matching has little to catch up with.
SETTINGS = {"matching": {"HUB_MATCHING_CATCH_UP_SECONDS": "10"}}


def without_withdrawals(year: Year) -> Year:
    """A department's withdrawal of a need races matching's proposal of it by wall time, which two
    runs never share: played as fast as it goes, a withdrawal dated months after its need arrives
    before the need is proposed; played slowly, after the need was delivered. The compared runs
    leave withdrawals out (the simulation's own test plays them)."""
    return replace(year, events=[e for e in year.events if e.event_type != "need.withdrawn"])


HOUSEHOLD_NUMBER = re.compile(r"-HH-(\d+)$")  # the departments' references share the household's number


def without_needs_served_otherwise(year: Year) -> Year:
    """A need of a category in which a department grants the household an open-ended programme
    (rental housing, held in the ledger's state) races matching by wall time, whichever comes first
    in the year: matching learns of the grant from the ledger's state, on another topic than the
    need, and then cancels an unanswered proposal in that category or makes none. Whether it has
    read that state before it proposes the need, or the organisation delivers before it does,
    follows the pace of play and of the ledger. The compared runs leave such needs out."""
    served: set[tuple[str, str]] = set()
    for event in year.events:
        number = HOUSEHOLD_NUMBER.search(event.key)
        if event.event_type == "benefit.granted" and event.expected == ACCEPTED and number:
            data = orjson.loads(event.value)["data"]
            programme = PROGRAMMES.get(data.get("programme"))
            if programme is not None and "period_end" not in data:
                served.add((number.group(1), programme.category.value))

    def served_otherwise(event: Planned) -> bool:
        number = HOUSEHOLD_NUMBER.search(event.key)
        if event.event_type != "need.assessed" or event.expected != ACCEPTED or not number:
            return False
        return (number.group(1), orjson.loads(event.value)["data"]["category"]) in served

    return replace(year, events=[e for e in year.events if not served_otherwise(e)])


def charity_plan(year: Year) -> CharityPlan:
    """Each district served in each category by one offering, with units to spare: which offering
    a need meets then does not depend on when it arrived, so two runs can be compared."""
    needs = needs_by_category([e.value for e in year.events if e.event_type == "need.assessed" and e.expected == ACCEPTED and not e.resend])
    return plan_charities(needs, year.figures["households"], SEED, date.today(), coverage=2.0, exclusive=True)


async def play(processes: HubProcesses, year: Year, plan: CharityPlan, rate: float, kills: int = 0, every: float = 0.0):  # type: ignore[no-untyped-def]
    """Play the year with its organisations; once they are registered, SIGKILL one service or all
    four, `kills` times, `every` seconds (with a seeded jitter), each time starting them again at once."""
    began = time.monotonic()
    settings = processes.simulation_settings(rate=rate, settle=90)
    settings.wait_for_ledger = False  # its counters restart with it: the database says what it applied
    simulation = Simulation(settings)
    playing = asyncio.create_task(simulation.play(year, f"s{SEED}", charity=plan))
    await asyncio.wait({playing, asyncio.create_task(simulation.ready.wait())}, return_when=asyncio.FIRST_COMPLETED)
    rng = random.Random(SEED)
    survived: Counter[str] = Counter()
    for kill in range(kills):
        await asyncio.sleep(every * rng.uniform(0.6, 1.4))
        names = TARGETS[kill % len(TARGETS)]
        for name in names:
            processes[name].kill()
        await asyncio.sleep(rng.uniform(0.0, 1.0))
        for name in names:
            processes[name].start(wait=False)
        for name in names:
            await asyncio.to_thread(processes[name].wait_healthy)
            survived[name] += 1
    phases = await playing
    print(f"{processes.work.name}: played in {time.monotonic() - began:.0f} s", flush=True)
    return phases[0], charity_stage(simulation, None), survived


def wait_for_ledger(url: str, expected: set[str], timeout: float = 180) -> list[str]:
    """The ledger's applied event ids once it has all of `expected` (or once the time is up)."""
    deadline = time.monotonic() + timeout
    while True:
        applied = applied_event_ids(url)
        if expected <= set(applied) or time.monotonic() > deadline:
            return applied
        time.sleep(0.5)


def hub_tables(processes: HubProcesses) -> dict[str, list[str]]:
    names = StableNames.of(processes.databases)
    return {**ledger_tables(processes.databases["ledger"], names),
            **service_tables(processes.databases["charity"], CHARITY_TABLES, names),
            **service_tables(processes.databases["matching"], MATCHING_TABLES, names)}


async def both(calm: HubProcesses, stormy: HubProcesses, year: Year, plan: CharityPlan):  # type: ignore[no-untyped-def]
    """The uninterrupted run and the disturbed one at once, each on its own services and topics
    (one after the other would take twice the wall time; the machine has two cores either way)."""
    rate = len(year.events) / (SCALE.kills * SCALE.kill_every)  # slow enough that the kills land while it is played
    return await asyncio.gather(play(calm, year, plan, rate=0), play(stormy, year, plan, rate=rate, kills=SCALE.kills, every=SCALE.kill_every))


def test_the_hub_after_kills_equals_the_hub_of_an_uninterrupted_run(hub_processes, sent_in) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    year = without_needs_served_otherwise(without_withdrawals(plan_year(SCALE.households, SEED)))
    plan = charity_plan(year)
    sent_in.add_year(year)

    calm, stormy = hub_processes("calm", env=SETTINGS), hub_processes("stormy", env=SETTINGS)
    for processes in (calm, stormy):
        processes.start(*SERVICES, wait=False)
    for processes in (calm, stormy):
        processes.wait_healthy()
    (calm_phase, calm_charity, _), (stormy_phase, stormy_charity, survived) = asyncio.run(both(calm, stormy, year, plan))
    assert not calm_phase.verdict.problems, calm_phase.verdict.problems
    assert not calm_charity.problems and calm_charity.figures["delivered"] > 0, calm_charity
    # A charity delivery's event id is made at random: the deliveries are accounted for by the charity stage.
    expected_ids = {i for i in applied_event_ids(calm.databases["ledger"]) if not RANDOM_ID.fullmatch(i)}
    patience = max(180.0, len(year.events) / 300)  # the full run's ledger may still be working through a backlog
    applied = wait_for_ledger(stormy.databases["ledger"], expected_ids, patience)
    calm.stop()
    stormy.stop()
    expected, actual = hub_tables(calm), hub_tables(stormy)

    lost = len(expected_ids - set(applied))
    lost += len(stormy_phase.verdict.unaccounted) + stormy_phase.verdict.unaccounted_unreadable
    doubled = len(applied) - len(set(applied))
    differing = differences(expected, actual)
    figures(
        "SIGKILL during a simulated run", events=len(year.events), kills_survived=sum(survived.values()),
        **{f"of_{name}": survived[name] for name in SERVICES}, events_lost=lost, events_doubled=doubled,
        proposals=stormy_charity.figures.get("proposals"), delivered=stormy_charity.figures.get("delivered"),
        charity_problems=len(stormy_charity.problems), tables_compared=len(expected),
        rows=sum(len(rows) for rows in actual.values()), tables_differing=len(differing),
        differing=", ".join(f"{t} (-{a}/+{b})" for t, (a, b, _) in differing.items()) or "none",
        wall_seconds=round(time.monotonic() - started),
    )
    assert sum(survived.values()) >= SCALE.kills  # a kill of all four counts four times
    assert not stormy_phase.verdict.problems, stormy_phase.verdict.problems
    assert not stormy_charity.problems, stormy_charity.problems
    assert lost == 0 and doubled == 0
    assert not differing, differing
