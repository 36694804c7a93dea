"""Background jobs: CPU-heavy work run off the event loop, in worker processes.

A service registers named jobs (plain top-level functions, so that they can be sent to another
process) and runs them with `await jobs.run("name", *args)`. The event loop only waits on a
future meanwhile, so consumers keep their heartbeats and HTTP keeps answering while a job takes
seconds. Nothing here knows what a job does: matching's solver round is one job; intake's
background indexer or the ledger's rebuild could be others.

Worker processes are started with `spawn` (a fork of a process running an event loop, threads
and a database pool is unsafe) and only when the first job runs, so a service that never needs
one pays nothing. `stop()` waits for running jobs to end and then ends the workers; it is
meant for the service's stop hooks. A worker whose service is killed (SIGKILL, OOM) ends itself
within a second: nothing else would end it, as it waits on a queue that other workers keep open.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from kit.logs import get_logger

log = get_logger(__name__)


class UnknownJob(KeyError):
    pass


class JobsStopped(RuntimeError):
    """A job was asked for after `stop()`."""


@dataclass
class JobStats:
    runs: int = 0
    failures: int = 0
    last_seconds: float = 0.0


@dataclass
class JobRunner:
    """A small pool of worker processes running named jobs.

    `workers` processes at most run at once; more jobs wait in the pool's queue. A worker that
    dies (killed, out of memory) breaks the pool: the job that was running fails with
    BrokenProcessPool, and the next job starts a fresh pool."""

    workers: int = 1
    _jobs: dict[str, Callable[..., Any]] = field(default_factory=dict)
    _pool: ProcessPoolExecutor | None = None
    _stopped: bool = False
    stats: dict[str, JobStats] = field(default_factory=dict)

    def register(self, name: str, function: Callable[..., Any]) -> None:
        if name in self._jobs:
            raise ValueError(f"job {name!r} registered twice")
        if getattr(function, "__qualname__", "").count("<locals>"):
            raise ValueError(f"job {name!r}: a worker process can only run a module-level function")
        self._jobs[name] = function
        self.stats[name] = JobStats()

    async def run(self, name: str, *args: Any) -> Any:
        """Run the job in a worker process and return its result (or raise its exception)."""
        if self._stopped:
            raise JobsStopped(f"job {name!r} asked for after stop")
        try:
            function = self._jobs[name]
        except KeyError:
            raise UnknownJob(name) from None
        started = time.perf_counter()
        stats = self.stats[name]
        try:
            result = await asyncio.wrap_future(self._executor().submit(function, *args))
        except BrokenProcessPool:
            self._pool = None  # the next job starts a fresh pool
            stats.failures += 1
            raise
        except BaseException:
            stats.failures += 1
            raise
        stats.runs += 1
        stats.last_seconds = time.perf_counter() - started
        return result

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_end_with_service, initargs=(os.getpid(),),
            )
        return self._pool

    async def warm_up(self) -> None:
        """Start the workers now (spawning one costs an interpreter start and the imports)."""
        await asyncio.wrap_future(self._executor().submit(_nothing))

    async def stop(self) -> None:
        """Refuse new jobs, let running ones finish, end the workers."""
        self._stopped = True
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
        log.info("background jobs stopped", jobs={name: s.runs for name, s in self.stats.items()})


def _nothing() -> None:
    return None


def _end_with_service(service_pid: int) -> None:
    """In each worker: exit once the service that started it is gone (the worker is re-parented)."""

    def watch() -> None:
        while os.getppid() == service_pid:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="end-with-service", daemon=True).start()
