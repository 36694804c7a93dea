"""Passwords people choose: hashed with Argon2 (pwdlib), and locked out after repeated failures.
Service-neutral: a service keeps its own accounts and calls these."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

# The test suite hashes hundreds of passwords; at Argon2's own cost (3 passes over 64 MiB, about
# 0.2 s each on the CI machine) that alone took minutes. HUB_PASSWORD_HASH_COST=minimal (set by
# tests/conftest.py, never by default) makes each hash a millisecond. Any stored hash verifies
# whatever the setting: its cost is written in it.
MINIMAL = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}


def password_hash() -> PasswordHash:
    """Argon2id at its standard cost, or at its least if HUB_PASSWORD_HASH_COST=minimal."""
    minimal = os.environ.get("HUB_PASSWORD_HASH_COST", "standard") == "minimal"
    return PasswordHash((Argon2Hasher(**MINIMAL) if minimal else Argon2Hasher(),))


class Passwords:
    """Argon2 hashes; `verify_nobody` costs what a real check costs, so an unknown name takes as
    long as a wrong password (no telling which usernames exist from the time taken)."""

    def __init__(self) -> None:
        self.hasher = password_hash()
        self._dummy = self.hasher.hash(secrets.token_hex(16))

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, password: str, stored_hash: str) -> bool:
        return self.hasher.verify(password, stored_hash)

    def verify_nobody(self, password: str) -> None:
        self.hasher.verify(password, self._dummy)


@dataclass(frozen=True)
class Lockout:
    """Failed sign-ins in a row lock an account for a while; a success clears the count."""

    after: int
    duration: timedelta

    def is_locked(self, locked_until: datetime | None, now: datetime) -> bool:
        return locked_until is not None and locked_until > now

    def after_failure(self, failed_attempts: int, now: datetime) -> tuple[int, datetime | None]:
        """The new count of failures and, once it reaches the limit, until when the account is locked."""
        failed = failed_attempts + 1
        if failed >= self.after:
            return 0, now + self.duration
        return failed, None


class Guarded(Protocol):
    """An account row with a password: what `attempt` reads and updates."""

    password_hash: str
    failed_attempts: int
    locked_until: datetime | None


class Attempt(StrEnum):
    ACCEPTED = "accepted"
    WRONG = "wrong"  # an unknown account, or a wrong password counted
    LOCKED = "locked"  # locked already, or by this failure


def attempt(passwords: Passwords, lockout: Lockout, account: Guarded | None, password: str, now: datetime) -> Attempt:
    """A password typed for `account` (None: no such account, which takes as long as a wrong
    password). A locked account is not checked; a failure is counted on the row and a success clears
    the count: the caller commits."""
    if account is None:
        passwords.verify_nobody(password)
        return Attempt.WRONG
    if lockout.is_locked(account.locked_until, now):
        return Attempt.LOCKED
    if not passwords.verify(password, account.password_hash):
        account.failed_attempts, account.locked_until = lockout.after_failure(account.failed_attempts, now)
        return Attempt.LOCKED if account.locked_until else Attempt.WRONG
    account.failed_attempts, account.locked_until = 0, None
    return Attempt.ACCEPTED
