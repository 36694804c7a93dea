"""Organisation users and their page sessions, as use cases beside `usecases.py`: registering an
organisation with its first user (its administrator), signing in and out, who a session stands
for, administrators adding and disabling users, and each user changing their own password. A session
stands for a `Caller` of role organisation, so the pages call the very use cases the JSON routes
call, with the same rules (a pending organisation may not publish, another's record is not found).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from kit.logs import get_logger
from kit.passwords import Attempt, Lockout, Passwords, attempt
from services.charity.repository import Organisation
from services.charity.user_store import OrganisationUser, UserRepository, UserSession
from services.charity.usecases import Caller, Charity, FieldProblem, NotFound, Refused, Registration, add_organisation
from services.charity.users import (
    ADMINISTRATOR,
    DISABLED,
    LOCKED,
    USERNAME_TAKEN,
    WRONG,
    WRONG_CURRENT,
    check_new_password,
    check_new_user,
)

log = get_logger(__name__)


@dataclass(frozen=True)
class SignedIn:
    """Who is at the keyboard: the user, and the organisation they act for (as a use-case caller)."""

    username: str
    organisation_name: str
    caller: Caller
    session_id: str = ""
    administrator: bool = False

    @property
    def organisation_id(self) -> str:
        assert self.caller.organisation_id is not None
        return self.caller.organisation_id


@dataclass
class Accounts:
    charity: Charity
    lockout: Lockout
    session_length: timedelta
    passwords: Passwords = field(default_factory=Passwords)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def session(self) -> Session:
        return Session(self.charity.engine, expire_on_commit=False)


class UserProblems(ValueError):
    """The new user's fields are not acceptable: field -> message id."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__(", ".join(sorted(problems)))
        self.problems = problems


def register_with_user(accounts: Accounts, registration: Registration, username: str, password: str) -> Organisation:
    """A new organisation, pending until staff decide, and the person registering it as its first
    user: both rows or neither. No API key is issued: the user creates one on the keys page."""
    if problems := check_new_user(username, password):
        raise UserProblems(problems)
    password_hash = accounts.passwords.hash(password)
    with accounts.charity.unit_of_work() as unit:
        users = UserRepository(unit.session)
        if users.user(username) is not None:
            raise UserProblems({"username": USERNAME_TAKEN})
        organisation = add_organisation(unit.session, registration)
        users.add(OrganisationUser(username=username, organisation_id=organisation.organisation_id, role=ADMINISTRATOR,
                                   password_hash=password_hash, created_at=accounts.clock()))
        unit.commit()
    log.info("organisation registered on the pages", organisation_id=organisation.organisation_id, kind=registration.kind)
    return organisation


def sign_in(accounts: Accounts, username: str, password: str) -> SignedIn:
    """A new session, or FieldProblem on `password` (wrong, or locked after repeated failures)."""
    now = accounts.clock()
    with accounts.session() as session:
        users = UserRepository(session)
        user = users.user(username)
        outcome = attempt(accounts.passwords, accounts.lockout, user, password, now)
        if user is None:
            raise FieldProblem("password", WRONG)
        if outcome != Attempt.ACCEPTED:
            session.add(user)
            session.commit()
            log.info("sign-in failed", organisation_id=user.organisation_id, outcome=outcome)
            raise FieldProblem("password", LOCKED if outcome == Attempt.LOCKED else WRONG)
        if user.disabled_at is not None:  # said only to whoever knows the password
            log.info("sign-in refused: disabled", organisation_id=user.organisation_id)
            raise FieldProblem("password", DISABLED)
        session.add(user)
        session_id = secrets.token_urlsafe(32)
        users.end_expired_sessions(now)
        users.add(UserSession(session_id=session_id, username=username, created_at=now, expires_at=now + accounts.session_length))
        session.commit()
    log.info("signed in", organisation_id=user.organisation_id)
    found = signed_in(accounts, session_id)
    assert found is not None
    return found


def signed_in(accounts: Accounts, session_id: str) -> SignedIn | None:
    """Who a live session stands for; None for an unknown, ended or expired one. The organisation's
    status is read each time, so an approval counts from the next page on."""
    with accounts.session() as session:
        found = UserRepository(session).live_session(session_id, accounts.clock())
    if found is None:
        return None
    user, organisation = found
    caller = Caller(id=f"{organisation.organisation_id}/user:{user.username}", role="organisation",
                    organisation_id=organisation.organisation_id, organisation_status=organisation.status)
    return SignedIn(user.username, organisation.name, caller, session_id, administrator=user.role == ADMINISTRATOR)


def sign_out(accounts: Accounts, session_id: str) -> None:
    with accounts.session() as session:
        UserRepository(session).end_session(session_id)
        session.commit()


# --- the organisation's users ---------------------------------------------------------------


def users_of(accounts: Accounts, by: SignedIn) -> list[OrganisationUser]:
    """The users of the signed-in user's organisation, by username (every user may see them)."""
    with accounts.session() as session:
        return UserRepository(session).users_of(by.organisation_id)


def _administrator(by: SignedIn) -> None:
    if not by.administrator:
        raise Refused(f"{by.username} is not an administrator")


def add_user(accounts: Accounts, by: SignedIn, username: str, password: str, role: str) -> None:
    """Another user of the administrator's organisation, with the password it first signs in with."""
    _administrator(by)
    if problems := check_new_user(username, password, role):
        raise UserProblems(problems)
    password_hash = accounts.passwords.hash(password)
    with accounts.session() as session:
        users = UserRepository(session)
        if users.user(username) is not None:
            raise UserProblems({"username": USERNAME_TAKEN})
        users.add(OrganisationUser(username=username, organisation_id=by.organisation_id, role=role,
                                   password_hash=password_hash, created_at=accounts.clock()))
        try:
            session.commit()
        except IntegrityError:  # the same name added at the same moment elsewhere
            raise UserProblems({"username": USERNAME_TAKEN}) from None
    log.info("organisation user added", organisation_id=by.organisation_id, role=role)


def set_disabled(accounts: Accounts, by: SignedIn, username: str, disabled: bool) -> None:
    """Disable a user of the administrator's organisation (its sessions end in the same transaction,
    so it is signed out at once), or enable it again. Another organisation's user is not found."""
    _administrator(by)
    with accounts.session() as session:
        users = UserRepository(session)
        user = users.user(username)
        if user is None or user.organisation_id != by.organisation_id:
            raise NotFound(username)
        if user.username == by.username:
            raise Refused("an administrator cannot disable themselves")
        user.disabled_at = accounts.clock() if disabled else None
        session.add(user)
        if disabled:
            users.end_sessions_of(username)
        session.commit()
    log.info("organisation user disabled" if disabled else "organisation user enabled", organisation_id=by.organisation_id)


def change_password(accounts: Accounts, by: SignedIn, current: str, new_password: str, repeated: str) -> None:
    """The user's own password, given the current one; every other session of the user ends (a
    password someone else learnt stops working everywhere). A wrong current password counts as a
    failed sign-in, so a left-open session cannot be used to guess it."""
    now = accounts.clock()
    with accounts.session() as session:
        users = UserRepository(session)
        user = users.user(by.username)
        if user is None:
            raise NotFound(by.username)
        outcome = attempt(accounts.passwords, accounts.lockout, user, current, now)
        if outcome != Attempt.ACCEPTED:
            session.add(user)
            session.commit()
            raise UserProblems({"current_password": LOCKED if outcome == Attempt.LOCKED else WRONG_CURRENT})
        if problems := check_new_password(new_password, repeated):
            raise UserProblems(problems)
        user.password_hash = accounts.passwords.hash(new_password)
        session.add(user)
        users.end_sessions_of(by.username, keep=by.session_id)
        session.commit()
    log.info("password changed", organisation_id=by.organisation_id)
