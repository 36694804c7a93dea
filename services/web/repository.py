"""The web front's own tables: staff accounts and their sessions."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, Session, SQLModel, delete, select
from sqlmodel.sql.sqltypes import UTCDateTime  # aware, in UTC, from SQLite too


class WebAccount(SQLModel, table=True):
    __tablename__ = "web_account"

    username: str = Field(primary_key=True, max_length=32)
    password_hash: str = Field(max_length=255)
    role: str = Field(max_length=16)
    department: str | None = Field(default=None, max_length=16)
    failed_attempts: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by: str = Field(max_length=32)


class WebSession(SQLModel, table=True):
    __tablename__ = "web_session"

    session_id: str = Field(primary_key=True, max_length=64)
    username: str = Field(max_length=32, foreign_key="web_account.username")
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class AccountRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def account(self, username: str) -> WebAccount | None:
        return self.session.get(WebAccount, username)

    def accounts(self) -> list[WebAccount]:
        return list(self.session.exec(select(WebAccount).order_by(WebAccount.username)).all())

    def has_administrator(self) -> bool:
        return self.session.exec(select(WebAccount.username).where(WebAccount.role == "administrator")).first() is not None

    def add(self, row: WebAccount | WebSession) -> None:
        self.session.add(row)

    def live_session(self, session_id: str, now: datetime) -> tuple[WebSession, WebAccount] | None:
        found = self.session.exec(
            select(WebSession, WebAccount).join(WebAccount).where(WebSession.session_id == session_id)
        ).first()
        if found is None or found[0].expires_at <= now:
            return None
        return found[0], found[1]

    def end_session(self, session_id: str) -> None:
        self.session.exec(delete(WebSession).where(WebSession.session_id == session_id))  # type: ignore[call-overload]

    def end_expired_sessions(self, now: datetime) -> None:
        self.session.exec(delete(WebSession).where(WebSession.expires_at <= now))  # type: ignore[call-overload]
