"""Who is signed in: a signed, expiring, HttpOnly, SameSite cookie naming a session the web
front's database holds (so sign-out ends it at once)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from services.web.access import Access
from services.web.accounts import StaffMember

SESSION_COOKIE = "hub_session"


class SignInRequired(Exception):
    """No session, or an expired or forged one: sign in, then come back."""


@dataclass
class SessionCookies:
    access: Access
    serializer: URLSafeTimedSerializer
    max_age: int
    secure: bool

    def set(self, response: Response, session_id: str) -> None:
        response.set_cookie(SESSION_COOKIE, self.serializer.dumps(session_id), max_age=self.max_age,
                            httponly=True, samesite="lax", secure=self.secure, path="/")

    def clear(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=self.secure)

    def session_id(self, request: Request) -> str | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        try:
            return str(self.serializer.loads(token, max_age=self.max_age))
        except BadSignature:  # also SignatureExpired
            return None

    async def staff(self, request: Request) -> StaffMember:
        session_id = self.session_id(request)
        staff = await asyncio.to_thread(self.access.staff_of_session, session_id) if session_id else None
        if staff is None:
            raise SignInRequired()
        request.state.staff = staff
        return staff
