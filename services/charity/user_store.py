"""The tables of organisation users and their page sessions, and the queries over them. Tables
come only from the migrations; nothing here commits."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, Session, SQLModel, col, delete, select
from sqlmodel.sql.sqltypes import UTCDateTime  # aware, in UTC, from SQLite too

from services.charity.repository import Organisation


class OrganisationUser(SQLModel, table=True):
    __tablename__ = "charity_user"

    username: str = Field(primary_key=True, max_length=32)
    organisation_id: str = Field(max_length=32, foreign_key="charity_organisation.organisation_id")
    password_hash: str = Field(max_length=255)
    role: str = Field(default="volunteer", max_length=16)
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    failed_attempts: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)


class UserSession(SQLModel, table=True):
    __tablename__ = "charity_user_session"

    session_id: str = Field(primary_key=True, max_length=64)
    username: str = Field(max_length=32, foreign_key="charity_user.username")
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class UserRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def user(self, username: str) -> OrganisationUser | None:
        return self.session.get(OrganisationUser, username)

    def users_of(self, organisation_id: str) -> list[OrganisationUser]:
        return list(self.session.exec(
            select(OrganisationUser).where(OrganisationUser.organisation_id == organisation_id).order_by(col(OrganisationUser.username))
        ).all())

    def add(self, row: OrganisationUser | UserSession) -> None:
        self.session.add(row)

    def live_session(self, session_id: str, now: datetime) -> tuple[OrganisationUser, Organisation] | None:
        """The user of a session that has not expired, with their organisation."""
        found = self.session.exec(
            select(UserSession, OrganisationUser, Organisation)
            .join(OrganisationUser, OrganisationUser.username == UserSession.username)  # type: ignore[arg-type]
            .join(Organisation, Organisation.organisation_id == OrganisationUser.organisation_id)  # type: ignore[arg-type]
            .where(UserSession.session_id == session_id)
        ).first()
        if found is None or found[0].expires_at <= now or found[1].disabled_at is not None:
            return None
        return found[1], found[2]

    def end_session(self, session_id: str) -> None:
        self.session.exec(delete(UserSession).where(UserSession.session_id == session_id))  # type: ignore[call-overload]

    def end_sessions_of(self, username: str, keep: str = "") -> None:
        """Every session of the user, except `keep` (the one changing its own password)."""
        self.session.exec(delete(UserSession).where(UserSession.username == username, UserSession.session_id != keep))  # type: ignore[call-overload]

    def end_expired_sessions(self, now: datetime) -> None:
        self.session.exec(delete(UserSession).where(UserSession.expires_at <= now))  # type: ignore[call-overload]
