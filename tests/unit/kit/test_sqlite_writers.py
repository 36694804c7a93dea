"""Writers of one SQLite file queue in turn, across threads and across processes (each process
opens the lock file on its own: two `SqliteWriters` on one file stand for two processes)."""

from __future__ import annotations

import fcntl
import threading
import time
from pathlib import Path

from kit.database import SqliteWriters


def test_a_second_process_waits_for_the_first_to_finish_writing(tmp_path: Path) -> None:
    database = str(tmp_path / "charity.db")
    first, second = SqliteWriters(database), SqliteWriters(database)
    order: list[str] = []
    holding = threading.Event()

    def other_process() -> None:
        holding.wait()
        with second.turn():
            order.append("second writes")

    waiting = threading.Thread(target=other_process)
    waiting.start()
    with first.turn():
        holding.set()
        time.sleep(0.2)  # long enough for the other to be waiting, were it not blocked
        order.append("first done")
    waiting.join(5)
    assert order == ["first done", "second writes"]


def test_a_unit_of_work_inside_another_keeps_the_turn(tmp_path: Path) -> None:
    database = str(tmp_path / "charity.db")
    writers, other = SqliteWriters(database), SqliteWriters(database)
    took: list[bool] = []

    def try_other() -> None:  # the other process may not write while the outer unit still runs
        with other._threads:
            try:
                fcntl.flock(other._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                took.append(True)
                fcntl.flock(other._file, fcntl.LOCK_UN)
            except BlockingIOError:
                took.append(False)

    with writers.turn():
        with writers.turn():
            pass
        probe = threading.Thread(target=try_other)
        probe.start()
        probe.join(5)
    assert took == [False]
    probe = threading.Thread(target=try_other)
    probe.start()
    probe.join(5)
    assert took == [False, True]
