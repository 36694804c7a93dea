"""What the department is told about an event the hub could not accept.

The rejection carries the reasons, the original event id and the original payload with every
resident ID number and phone number masked (`services.intake.masking`) (first 6 and last 4 kept, so the department can find its record), or,
for a payload too large to repeat, a reference to where the original is.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Literal

from contracts.envelope import EVENT_ID_PATTERN
from contracts.hub import EventRejected, Reason
from services.intake.masking import mask_payload, mask_text
from services.intake.validation import Invalid, Problem

SOURCE = "intake"
MAX_RAW_TEXT = 4000
_EVENT_ID = re.compile(EVENT_ID_PATTERN)

Channel = Literal["kafka", "http"]


def rejection_event(
    invalid: Invalid, channel: Channel, topic: str | None, payload_ref: str | None, event_id: str | None = None
) -> EventRejected:
    """`event_id` fixes the rejection's own id (so a redelivered record gives the same one)."""
    data: dict[str, Any] = {
        "original_event_id": mask_text(invalid.event_id or "")[:128] or None,
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


def rejection_id(department: str, raw: bytes, position: str, stamped: int = -1) -> str:
    """A rejection's id from what the record is: its department, its timestamp and a digest of its
    bytes. A record delivered twice (the same stored record) is rejected once; the same bytes
    published again are a new record, and the department is told again. Never from where the
    record was: a new broker, or a topic deleted and created again, starts offsets at 0 again,
    and new records would take the positions of old ones. A record with no bytes of its own (a
    held event released) is named by `position`, which is then its event key."""
    what = f"{stamped}:{hashlib.sha256(raw).hexdigest()}" if raw else position
    return "rejected-" + hashlib.sha256(f"{department}\0{what}".encode()).hexdigest()[:32]


def _masked(invalid: Invalid) -> dict[str, Any] | None:
    if invalid.too_large:
        return None
    if invalid.payload is not None:
        return mask_payload(invalid.payload)
    if invalid.raw_text is not None:
        return {"raw_text": mask_text(invalid.raw_text)[:MAX_RAW_TEXT]}
    return None
