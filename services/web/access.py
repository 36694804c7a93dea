"""Sign-in, sessions and accounts: the use cases over the web front's own database."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from kit.logs import get_logger
from kit.pages import N_
from kit.passwords import Attempt, Lockout, Passwords, attempt
from services.web.accounts import FieldError, Permission, Role, StaffMember, check_new_account
from services.web.repository import AccountRepository, WebAccount, WebSession
from services.web.review import Forbidden
from services.web.tables import Column, Table

log = get_logger(__name__)
WRONG = N_("Wrong username or password")
LOCKED = N_("Too many failed attempts: this account is locked for a while")


@dataclass(frozen=True)
class SignedIn:
    session_id: str
    staff: StaffMember


@dataclass
class Access:
    engine: Engine
    lockout: Lockout
    session_length: timedelta
    passwords: Passwords = field(default_factory=Passwords)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def create_account(self, creator: StaffMember | None, username: str, password: str, role: str,
                       department: str | None) -> list[FieldError]:
        """`creator` None: the operator's `hub web create-admin`. Writes the account or nothing."""
        if creator is not None and not creator.may(Permission.MANAGE_ACCOUNTS):
            raise Forbidden(Permission.MANAGE_ACCOUNTS)
        department = department or None
        errors = check_new_account(username, password, role, department)
        if errors:
            return errors
        with Session(self.engine) as session:
            repository = AccountRepository(session)
            if repository.account(username) is not None:
                return [FieldError("username", N_("This username is taken"))]
            repository.add(WebAccount(
                username=username, password_hash=self.passwords.hash(password), role=role, department=department,
                created_at=self.clock(), created_by=creator.username if creator else "hub web create-admin",
            ))
            session.commit()
        log.info("account created", username=username, role=role, by=creator.username if creator else "operator")
        return []

    def sign_in(self, username: str, password: str) -> SignedIn | FieldError:
        now = self.clock()
        with Session(self.engine) as session:
            repository = AccountRepository(session)
            account = repository.account(username)
            outcome = attempt(self.passwords, self.lockout, account, password, now)
            if account is None:  # what was typed is not logged: it may be a password
                return FieldError("password", WRONG)
            if outcome != Attempt.ACCEPTED:
                session.commit()
                log.info("sign-in failed", username=username, outcome=outcome)
                return FieldError("password", LOCKED if outcome == Attempt.LOCKED else WRONG)
            session_id = secrets.token_urlsafe(32)
            repository.end_expired_sessions(now)
            repository.add(WebSession(session_id=session_id, username=username, created_at=now, expires_at=now + self.session_length))
            staff = _staff(account)
            session.commit()
        log.info("signed in", username=username)
        return SignedIn(session_id, staff)

    def staff_of_session(self, session_id: str) -> StaffMember | None:
        with Session(self.engine) as session:
            found = AccountRepository(session).live_session(session_id, self.clock())
            return _staff(found[1]) if found else None

    def sign_out(self, session_id: str) -> None:
        with Session(self.engine) as session:
            AccountRepository(session).end_session(session_id)
            session.commit()

    def accounts(self, staff: StaffMember) -> Table:
        if not staff.may(Permission.MANAGE_ACCOUNTS):
            raise Forbidden(Permission.MANAGE_ACCOUNTS)
        with Session(self.engine) as session:
            rows = [{
                "username": a.username, "role": a.role, "department": a.department, "created_by": a.created_by,
                "created_at": a.created_at.isoformat(timespec="seconds"),
                "locked": bool(a.locked_until and a.locked_until > self.clock()),
            } for a in AccountRepository(session).accounts()]
        return Table("accounts", [
            Column("username", N_("Username")), Column("role", N_("Role")), Column("department", N_("Department")),
            Column("created_by", N_("Created by")), Column("created_at", N_("Created")), Column("locked", N_("Locked")),
        ], rows)


def _staff(account: WebAccount) -> StaffMember:
    return StaffMember(account.username, Role(account.role), account.department)
