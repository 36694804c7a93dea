from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import structlog

from kit.broker import Delivery, log_unreadable
from kit.logs import bound_to_event, configure_logging, get_logger, loggable_event_id


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


@pytest.mark.parametrize(("raw", "header", "expected"), [
    (b'{"event_id": "ev-1", "type": "no.such.event"}', None, "ev-1"),
    (b'{"event_id": "ev-1", "data": {"amount_fen": "a lot"}}', b"from-header", "from-header"),
    (b"\xff\xfe not utf-8", b"ev-2", "ev-2"),
    (b'{"event_id": "cut-off', None, None),
    (b"\xff\xfe not utf-8", None, None),
    (b"[1, 2, 3]", None, None),
    (b'"ev-1"', None, None),
    (b"", None, None),
    (b'{"data": {"event_id": "nested-is-not-the-record-s"}}', None, None),
    (b'{"event_id": 12}', None, None),
    (b'{"event_id": "' + b"x" * 129 + b'"}', None, None),
])
def test_an_unreadable_record_gives_the_event_id_it_carries_when_there_is_one(raw: bytes, header: bytes | None, expected: str | None) -> None:
    assert loggable_event_id(raw, header) == expected


@pytest.mark.parametrize("caller_text", ["张三", "310104199001011234", "ev 1", "ev-1\nforged line", "ev-13912345678", "-leading-dash"])
def test_an_event_id_that_is_not_plainly_an_id_is_never_given(caller_text: str) -> None:
    body = json.dumps({"event_id": caller_text}).encode()
    assert loggable_event_id(body) is None
    assert loggable_event_id(body, caller_text.encode()) is None  # an unsafe header falls back to the body, unsafe too


def test_an_unreadable_record_is_logged_with_its_position_and_id_never_its_payload(capsys) -> None:
    configure_logging("ledger", "json", "INFO")
    payload = json.dumps({"event_id": "ev-9", "type": "benefit.granted", "data": {"name": "张三", "resident_id": "310104199001011234"}})
    unsafe = json.dumps({"event_id": "张三-310104199001011234"})
    log = get_logger("test")
    for offset, value, header in ((7, payload.encode(), ()), (8, b"not json", (("event_id", b"ev-10"),)), (9, unsafe.encode(), ())):
        log_unreadable(log, Delivery("hub.canonical", 2, offset, b"k", value, headers=header), ValueError(value))
    output = capsys.readouterr().err
    lines = [json.loads(line) for line in output.strip().splitlines()]
    assert [(line["event"], line["position"], line["event_id"], line["error"]) for line in lines] == [
        ("unreadable record skipped", "hub.canonical/2/7", "ev-9", "ValueError"),
        ("unreadable record skipped", "hub.canonical/2/8", "ev-10", "ValueError"),
        ("unreadable record skipped", "hub.canonical/2/9", None, "ValueError"),
    ]
    assert "张三" not in output and "310104199001011234" not in output and "\\u5f20" not in output
