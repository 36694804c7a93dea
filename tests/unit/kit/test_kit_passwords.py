"""kit.passwords: Argon2 hashes, the lock after repeated failed sign-ins, and one attempt at a
password as both the staff front and the charity pages count it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from kit.passwords import Attempt, Lockout, Passwords, attempt

NOW = datetime(2026, 12, 2, 9, tzinfo=UTC)
PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    return Passwords()


@dataclass
class Row:
    password_hash: str
    failed_attempts: int = 0
    locked_until: datetime | None = None


def test_lockout_after_repeated_failures_for_a_while() -> None:
    lockout = Lockout(after=3, duration=timedelta(minutes=15))
    assert lockout.after_failure(0, NOW) == (1, None)
    assert lockout.after_failure(1, NOW) == (2, None)
    failed, until = lockout.after_failure(2, NOW)
    assert failed == 0 and until == NOW + timedelta(minutes=15)
    assert lockout.is_locked(until, NOW + timedelta(minutes=14)) and not lockout.is_locked(until, NOW + timedelta(minutes=15))
    assert not lockout.is_locked(None, NOW)


def test_passwords_are_argon2_hashes(passwords: Passwords) -> None:
    stored = passwords.hash(PASSWORD)
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert passwords.verify(PASSWORD, stored) and not passwords.verify("another password", stored)


def test_passwords_cost_argon2s_standard_unless_set_minimal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_PASSWORD_HASH_COST", raising=False)  # the suite sets it minimal
    standard = Passwords().hash(PASSWORD)
    assert "$m=65536,t=3,p=4$" in standard
    monkeypatch.setenv("HUB_PASSWORD_HASH_COST", "minimal")
    cheap = Passwords()
    assert "$m=8,t=1,p=1$" in cheap.hash("x") and cheap.verify(PASSWORD, standard)


def test_failures_are_counted_on_the_row_until_it_locks_and_the_right_password_waits(passwords: Passwords) -> None:
    lockout, row = Lockout(after=2, duration=timedelta(minutes=15)), Row(passwords.hash(PASSWORD))
    assert attempt(passwords, lockout, row, "wrong one", NOW) == Attempt.WRONG and row.failed_attempts == 1
    assert attempt(passwords, lockout, row, "wrong two", NOW) == Attempt.LOCKED
    assert row.locked_until == NOW + timedelta(minutes=15) and row.failed_attempts == 0
    assert attempt(passwords, lockout, row, PASSWORD, NOW + timedelta(minutes=14)) == Attempt.LOCKED  # not even checked
    assert row.locked_until == NOW + timedelta(minutes=15)
    assert attempt(passwords, lockout, row, PASSWORD, NOW + timedelta(minutes=15)) == Attempt.ACCEPTED
    assert (row.failed_attempts, row.locked_until) == (0, None)


def test_a_success_clears_the_count_and_no_account_is_a_wrong_password(passwords: Passwords) -> None:
    lockout, row = Lockout(after=3, duration=timedelta(minutes=15)), Row(passwords.hash(PASSWORD))
    attempt(passwords, lockout, row, "wrong", NOW)
    assert row.failed_attempts == 1
    assert attempt(passwords, lockout, row, PASSWORD, NOW) == Attempt.ACCEPTED and row.failed_attempts == 0
    assert attempt(passwords, lockout, None, PASSWORD, NOW) == Attempt.WRONG
