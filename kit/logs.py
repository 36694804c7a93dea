"""structlog set-up: readable lines in development, one JSON object per line in deployment.

Per message, the event id, household id and correlation id are bound to the context, so every
log line written while handling that message carries them.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import structlog

# Keys that must never reach a log line; pseudonymised keys are fine, raw identities are not.
FORBIDDEN_KEYS = frozenset({"resident_id", "id_number", "name", "address"})


# An id a caller chose is logged as given only if it is plainly an id: the envelope's id pattern,
# and no run of 11 or more digits (a phone number, a resident ID number) inside it.
_PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")
_LONG_DIGITS = re.compile(r"[0-9]{11,}")


def _is_plain_id(value: str) -> bool:
    return bool(_PLAIN_ID.fullmatch(value)) and not _LONG_DIGITS.search(value)


def loggable_id(value: str | None) -> str | None:
    """A caller-supplied id as a log line may show it: as given when it is plainly an id, else
    `sha256:` and the first 16 hex digits of its digest (the same id always gives the same
    digest, so lines about one record can still be found together)."""
    if value is None or _is_plain_id(value):
        return value
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:16]


def loggable_event_id(raw: bytes, header: bytes | None = None) -> str | None:
    """The event id a record that could not be read as an event carries, for its log line: its
    `event_id` header, else the "event_id" field of a JSON object. Only a plain id is given (the
    envelope's id pattern, no long digit run); anything else is caller text, and None says that
    no id could be read. Not a digest: a resident ID number's digest can be found by trying them."""
    if header is not None and _is_plain_id(from_header := header.decode("utf-8", "replace")):
        return from_header
    carried = _event_id_field(raw)
    return carried if carried is not None and _is_plain_id(carried) else None


def _event_id_field(raw: bytes) -> str | None:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:  # not JSON, or not UTF-8
        return None
    event_id = body.get("event_id") if isinstance(body, dict) else None
    return event_id if isinstance(event_id, str) else None


def loggable_error(error: BaseException) -> str:
    """An exception as a log line may show it: a database error's text repeats the statement's
    parameters (names, addresses, payloads), so it is given by its types only; others by their
    text, with long digit runs replaced."""
    original = getattr(error, "orig", None)
    if original is not None or type(error).__module__.startswith(("sqlalchemy", "sqlite3", "psycopg")):
        return f"{type(error).__name__}({type(original).__name__ if original is not None else ''})"
    return loggable_text(repr(error))[:500]


def loggable_text(text: str) -> str:
    """A message that may quote what a caller sent, with every run of 11 or more digits (a phone
    number, a resident ID number) replaced by `[number]`."""
    return _LONG_DIGITS_X.sub("[number]", text)


_LONG_DIGITS_X = re.compile(r"[0-9]{11,}[0-9Xx]?")


def _drop_personal_data(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key in FORBIDDEN_KEYS & event_dict.keys():
        event_dict[key] = "[redacted]"
    return event_dict


def _json(value: Any, **_: Any) -> bytes:
    return orjson.dumps(value, default=str)


def configure_logging(service: str, log_format: str = "console", level: str = "INFO") -> None:
    # JSON lines go out as bytes: intake writes one per event, and text costs a third more.
    renderer: Any
    if log_format == "json":
        renderer, factory = structlog.processors.JSONRenderer(serializer=_json), structlog.BytesLoggerFactory(sys.stderr.buffer)
    else:
        renderer, factory = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()), structlog.PrintLoggerFactory(sys.stderr)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _drop_personal_data,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level]),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
    logging.basicConfig(level=max(logging.getLevelNamesMapping()[level], logging.WARNING), stream=sys.stderr)


@contextmanager
def bound_to_event(event_id: str | None, household_id: str | None, correlation_id: str | None) -> Iterator[None]:
    """Bind one message's identifiers for the log lines written inside the block."""
    with structlog.contextvars.bound_contextvars(
        event_id=event_id, household_id=household_id, correlation_id=correlation_id
    ):
        yield


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
