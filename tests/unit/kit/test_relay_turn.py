"""Only one process at a time relays a SQLite database's outbox."""

from __future__ import annotations

from pathlib import Path

from kit.outbox import RelayTurn


def test_the_turn_is_held_by_one_holder_until_it_gives_up(tmp_path: Path) -> None:
    first = RelayTurn.for_database(str(tmp_path / "intake.db"))
    second = RelayTurn.for_database(str(tmp_path / "intake.db"))
    assert first is not None and second is not None
    assert first.taken()
    assert first.taken()  # holding it, it keeps it
    assert not second.taken()
    first.give_up()
    assert second.taken()
    assert not first.taken()
    second.give_up()


def test_a_database_in_memory_needs_no_turn() -> None:
    assert RelayTurn.for_database(":memory:") is None
    assert RelayTurn.for_database(None) is None
