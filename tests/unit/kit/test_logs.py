from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import structlog

from kit.logs import bound_to_event, configure_logging, get_logger


@pytest.fixture(autouse=True)
def default_logging_afterwards() -> Iterator[None]:
    """These tests point structlog at capsys's stream, which is closed after them: put the
    defaults back, or the next test to log (in whatever order tests run) writes to a closed file."""
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def test_json_lines_carry_event_ids_and_never_personal_data(capsys) -> None:
    configure_logging("intake", "json", "INFO")
    with bound_to_event("e-1", "hh-9", "c-3"):
        get_logger("test").info("accepted", resident_id="110105194912310021", name="张三")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["event_id"] == "e-1"
    assert line["household_id"] == "hh-9"
    assert line["correlation_id"] == "c-3"
    assert line["service"] == "intake"
    assert line["resident_id"] == "[redacted]"
    assert line["name"] == "[redacted]"


def test_identifiers_are_unbound_after_the_message(capsys) -> None:
    configure_logging("ledger", "json", "INFO")
    with bound_to_event("e-1", "hh-9", "c-3"):
        pass
    get_logger("test").info("idle")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert "event_id" not in line
