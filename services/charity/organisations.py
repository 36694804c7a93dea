"""Organisations: who may register, what their record must hold, and their API keys.

Pure rules, no storage: the use cases (`usecases.py`) call these and the repository keeps the
result. The contact person and phone are personal data: they are kept for staff and the
organisation itself, never logged and never shown publicly.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Literal

from stdnum.cn import uscc
from stdnum.exceptions import ValidationError as CodeError

from contracts.catalogue import DISTRICTS

OrganisationKind = Literal["charity", "foundation", "company", "social_work_agency", "volunteer_group"]
OrganisationStatus = Literal["pending", "approved", "refused"]

# A mainland mobile number (11 digits from 1[3-9]) or a landline with its area code.
PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
KEY_PREFIX = "hubc"


def credit_code(text: str) -> str:
    """The unified social credit code in its compact form, or ValueError saying what is wrong."""
    try:
        return str(uscc.validate(text))
    except CodeError as error:
        raise ValueError(
            "not a valid unified social credit code (统一社会信用代码): 18 characters, "
            f"the last a check character; {_code_problem(error)}"
        ) from None


def _code_problem(error: CodeError) -> str:
    name = type(error).__name__
    return {
        "InvalidLength": "it does not have 18 characters",
        "InvalidFormat": "it has characters that may not appear in a credit code",
        "InvalidChecksum": "the check character does not match: check for a mistyped character",
        "InvalidComponent": "its registration department or region part is not one that exists",
    }.get(name, "it is not well formed")


def phone(text: str) -> str:
    compact = text.replace(" ", "")
    if not PHONE.match(compact):
        raise ValueError("a phone number is 11 digits for a mobile (13812345678) or area code and number (021-12345678)")
    return compact


def districts(codes: list[str]) -> list[str]:
    unknown = [c for c in codes if c not in DISTRICTS]
    if unknown:
        raise ValueError(f"unknown district code(s) {', '.join(unknown)}; use the 6-digit codes such as 310104 (Xuhui)")
    return sorted(set(codes))


@dataclass(frozen=True)
class IssuedKey:
    """A new API key: `secret` is shown once to the organisation, only `digest` is stored."""

    key_id: str
    secret: str
    digest: str


def issue_key() -> IssuedKey:
    key_id = secrets.token_hex(6)
    secret = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(24)}"
    return IssuedKey(key_id, secret, key_digest(secret))


def key_digest(secret: str) -> str:
    """SHA-256 is enough here: the keys are 192 random bits, not passwords a person chose."""
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_organisation_key(secret: str) -> bool:
    return secret.startswith(f"{KEY_PREFIX}_")


def may_publish(status: OrganisationStatus) -> bool:
    return status == "approved"
