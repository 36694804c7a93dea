"""What the department is told about an event the hub could not accept.

The rejection carries the reasons, the original event id and the original payload with every
resident ID number masked (first 6 and last 4 kept, so the department can find its record), or,
for a payload too large to repeat, a reference to where the original is.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Literal

from contracts.envelope import EVENT_ID_PATTERN
from contracts.hub import EventRejected, Reason
from services.intake.resident_id import mask_resident_id
from services.intake.validation import Invalid, Problem

SOURCE = "intake"
MAX_RAW_TEXT = 4000
# Anything that looks like a resident ID number (18 or 15 characters), wherever it appears.
_ID_LIKE = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])|(?<![0-9])[0-9]{15}(?![0-9])")
_EVENT_ID = re.compile(EVENT_ID_PATTERN)

Channel = Literal["kafka", "http"]


def mask_payload(value: Any, key: str | None = None) -> Any:
    """A copy with resident ID numbers masked: `resident_id` fields and any ID-like text."""
    if isinstance(value, dict):
        return {k: mask_payload(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_payload(item) for item in value]
    if key == "resident_id" and value is not None:
        return mask_resident_id(str(value))
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, int) and not isinstance(value, bool) and _ID_LIKE.search(str(value)):
        return mask_text(str(value))  # a number written as a JSON number
    return value


def mask_text(text: str) -> str:
    return _ID_LIKE.sub(lambda m: mask_resident_id(m.group()), text)


def rejection_event(
    invalid: Invalid, channel: Channel, topic: str | None, payload_ref: str | None, event_id: str | None = None
) -> EventRejected:
    """`event_id` fixes the rejection's own id (so a redelivered record gives the same one)."""
    data: dict[str, Any] = {
        "original_event_id": (invalid.event_id or "")[:128] or None,
        "department": invalid.department,
        "topic": topic,
        "channel": channel,
        "reasons": [reason_of(p) for p in invalid.problems],
        "masked_payload": _masked(invalid),
        "payload_ref": payload_ref if invalid.too_large else None,
    }
    envelope: dict[str, Any] = {"source": SOURCE, "data": data}
    if invalid.correlation_id and _EVENT_ID.fullmatch(invalid.correlation_id):
        envelope["correlation_id"] = invalid.correlation_id
    if event_id:
        envelope["event_id"] = event_id
    return EventRejected(**envelope)


def reason_of(problem: Problem) -> Reason:
    return Reason(code=str(problem.code), message=problem.message[:500], field=(problem.field or None) and problem.field[:200])


def rejection_id(position: str) -> str:
    """A rejection's id from where the record was: the same record rejected twice, one id."""
    return "rejected-" + hashlib.sha256(position.encode()).hexdigest()[:32]


def _masked(invalid: Invalid) -> dict[str, Any] | None:
    if invalid.too_large:
        return None
    if invalid.payload is not None:
        return mask_payload(invalid.payload)
    if invalid.raw_text is not None:
        return {"raw_text": mask_text(invalid.raw_text)[:MAX_RAW_TEXT]}
    return None
