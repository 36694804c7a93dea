"""kit.jobs: named jobs run in a worker process, results and errors come back, the loop stays free."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest

from kit.jobs import JobRunner, JobsStopped, UnknownJob


def pid_of_worker(x: int) -> tuple[int, int]:
    return os.getpid(), x * 2


def slow(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def fails() -> None:
    raise ValueError("bad input")


async def test_a_job_runs_in_another_process_and_returns_its_result() -> None:
    jobs = JobRunner()
    jobs.register("double", pid_of_worker)
    pid, value = await jobs.run("double", 21)
    assert value == 42 and pid != os.getpid()
    assert jobs.stats["double"].runs == 1
    await jobs.stop()


async def test_the_loop_keeps_running_while_a_job_works() -> None:
    jobs = JobRunner()
    jobs.register("slow", slow)
    await jobs.warm_up()
    ticks = 0

    async def count() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    counter = asyncio.create_task(count())
    assert await jobs.run("slow", 0.5) == 0.5
    counter.cancel()
    assert ticks >= 20  # the loop ticked through the job
    await jobs.stop()


async def test_errors_come_back_and_unknown_or_late_jobs_are_refused() -> None:
    jobs = JobRunner()
    jobs.register("fails", fails)
    with pytest.raises(ValueError, match="bad input"):
        await jobs.run("fails")
    assert jobs.stats["fails"].failures == 1
    with pytest.raises(UnknownJob):
        await jobs.run("nope")
    await jobs.stop()
    with pytest.raises(JobsStopped):
        await jobs.run("fails")


def test_only_module_level_functions_can_be_jobs() -> None:
    def local() -> None: ...

    with pytest.raises(ValueError, match="module-level"):
        JobRunner().register("local", local)


SERVICE_WITH_A_WORKER = """
import asyncio, sys
sys.path.insert(0, sys.argv[1])
from kit.jobs import JobRunner
from tests.unit.kit.test_jobs import pid_of_worker

async def main():
    jobs = JobRunner()
    jobs.register("double", pid_of_worker)
    pid, _ = await jobs.run("double", 1)
    print(pid, flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie waiting for its new parent counts as gone
        return stat.read().split(") ", 1)[1][0] != "Z"


def test_a_worker_ends_when_its_service_is_killed() -> None:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    service = subprocess.Popen([sys.executable, "-c", SERVICE_WITH_A_WORKER, root], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(service.stdout.readline())  # type: ignore[union-attr]
        assert alive(worker)
    finally:
        service.send_signal(signal.SIGKILL)
        service.wait()
    deadline = time.monotonic() + 10
    while alive(worker):
        assert time.monotonic() < deadline, f"worker {worker} outlived its killed service"
        time.sleep(0.1)
