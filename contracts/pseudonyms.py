"""How a resident ID number becomes a person key: part of the contract between intake (which
makes keys) and the ledger (whose pre-grant check accepts a number and must find the same key).

"p_" and the first 32 hex characters of HMAC-SHA256, keyed with HUB_PERSON_KEY_SECRET, over the
normalised number. Keyed, so that enumerating every possible number cannot reverse it.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


def normalise_resident_id(raw: str) -> str:
    """Full-width digits and X to ASCII, whitespace and zero-width characters removed, x raised."""
    if raw.isascii() and raw.isalnum():  # the usual case, and already in normal form but for case
        return raw.upper()
    folded = unicodedata.normalize("NFKC", raw).translate(_INVISIBLE)
    return "".join(folded.split()).upper()


def person_key(id_number: str, secret: bytes) -> str:
    if not secret:
        raise ValueError("a person key needs a non-empty secret")
    message = normalise_resident_id(id_number).encode("utf-8")
    return "p_" + hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]
