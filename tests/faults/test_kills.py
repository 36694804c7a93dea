"""Random SIGKILL of intake and of the ledger, in turn and together, while a simulated year is
being played: afterwards every event is accounted for, and the ledger holds exactly what an
uninterrupted run with the same seed holds, table by table, with no event applied twice."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter

import pytest

from bench.hub_run import HubProcesses
from hub.simulate import Simulation
from hub.simulate_year import plan_year
from tests.faults.conftest import FULL, SCALE, applied_event_ids, differences, figures, ledger_tables

pytestmark = [pytest.mark.faults, pytest.mark.timeout(7200 if FULL else 420)]
SEED = 14
TARGETS = (("intake",), ("ledger",), ("intake", "ledger"))


async def play(processes: HubProcesses, year, rate: float, kills: int = 0, every: float = 0.0):  # type: ignore[no-untyped-def]
    """Play the year; meanwhile SIGKILL intake, the ledger or both, `kills` times, `every`
    seconds (with a seeded jitter), each time starting what was killed again at once."""
    settings = processes.simulation_settings(rate=rate, settle=90)
    settings.wait_for_ledger = False  # its counters restart with it: the database says what it applied
    simulation = Simulation(settings)
    playing = asyncio.create_task(simulation.play(year, f"s{SEED}"))
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
    return phases[0], survived


def wait_for_ledger(url: str, expected: set[str], timeout: float = 180) -> list[str]:
    """The ledger's applied event ids once it has all of `expected` (or once the time is up)."""
    deadline = time.monotonic() + timeout
    while True:
        applied = applied_event_ids(url)
        if expected <= set(applied) or time.monotonic() > deadline:
            return applied
        time.sleep(0.5)


def test_the_ledger_after_kills_equals_the_ledger_of_an_uninterrupted_run(hub_processes, sent_in) -> None:  # type: ignore[no-untyped-def]
    year = plan_year(SCALE.households, SEED)
    sent_in.add_year(year)

    calm = hub_processes("calm").start("intake", "ledger")
    calm_phase, _ = asyncio.run(play(calm, year, rate=0))
    assert not calm_phase.verdict.problems, calm_phase.verdict.problems
    canonical = {e for e in applied_event_ids(calm.databases["ledger"])}
    patience = max(180.0, len(year.events) / 300)  # the full run's ledger may still be working through a backlog
    expected_ids = set(wait_for_ledger(calm.databases["ledger"], canonical, patience))
    calm.stop()
    expected = ledger_tables(calm.databases["ledger"])

    # The same year, sent slowly enough that the kills land while it is being played.
    rate = len(year.events) / (SCALE.kills * SCALE.kill_every)
    stormy = hub_processes("stormy").start("intake", "ledger")
    stormy_phase, survived = asyncio.run(play(stormy, year, rate=rate, kills=SCALE.kills, every=SCALE.kill_every))
    applied = wait_for_ledger(stormy.databases["ledger"], expected_ids, patience)
    stormy.stop()
    actual = ledger_tables(stormy.databases["ledger"])

    lost = len(expected_ids - set(applied)) + len(stormy_phase.verdict.unaccounted) + stormy_phase.verdict.unaccounted_unreadable
    doubled = len(applied) - len(set(applied))
    differing = differences(expected, actual)
    figures(
        "SIGKILL during a simulated run", events=len(year.events), kills_survived=sum(survived.values()),
        of_intake=survived["intake"], of_ledger=survived["ledger"], events_lost=lost, events_doubled=doubled,
        ledger_rows=sum(len(rows) for rows in actual.values()), tables_differing=len(differing),
    )
    assert sum(survived.values()) >= SCALE.kills  # a kill of both counts twice
    assert not stormy_phase.verdict.problems, stormy_phase.verdict.problems
    assert lost == 0 and doubled == 0
    assert not differing, differing
