"""Masking what free text and echoed payloads may carry: resident ID numbers (first 6 and last 4
kept, so a department can find its record) and phone numbers (first 3 and last 4 kept).

Used for every payload a rejection repeats and every free-text field a canonical event carries.
Names cannot be recognised reliably in free text: departments must not write them there
(docs/intake.md).
"""

from __future__ import annotations

import re
from typing import Any

from services.intake.resident_id import mask_resident_id

# Anything that looks like a resident ID number (18 or 15 characters), wherever it appears.
_ID_LIKE = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])|(?<![0-9])[0-9]{15}(?![0-9])")
# Mainland mobile numbers (11 digits from 13..19, optionally +86 / 86 and separators) and
# landlines with an area code (0xx-xxxxxxxx); digits run into others are left to _ID_LIKE.
_PHONE_LIKE = re.compile(
    r"(?<![0-9])(?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]){8}(?![0-9])"
    r"|(?<![0-9])0[0-9]{2,3}[ -]?[0-9]{7,8}(?![0-9])"
)


def mask_payload(value: Any, key: str | None = None) -> Any:
    """A copy with resident ID numbers and phone numbers masked: `resident_id` fields and any
    ID-like or phone-like text."""
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
    masked = _ID_LIKE.sub(lambda m: mask_resident_id(m.group()), text)
    return _PHONE_LIKE.sub(_mask_phone, masked)


def _mask_phone(match: re.Match[str]) -> str:
    digits = match.group()
    kept = [i for i, ch in enumerate(digits) if ch.isdigit()]
    hidden = set(kept[3:-4])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(digits))
