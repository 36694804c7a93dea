"""Who is signed in: a signed, expiring, HttpOnly, SameSite cookie (kit.pages.SignedCookie) naming a
session the web front's database holds (so sign-out ends it at once)."""

from __future__ import annotations

import asyncio

from fastapi import Request

from kit.pages import SignedCookie, SignInRequired
from services.web.access import Access
from services.web.accounts import StaffMember

SESSION_COOKIE = "hub_session"


class SessionCookies(SignedCookie):
    def __init__(self, access: Access, secret: str, max_age: int, secure: bool) -> None:
        super().__init__(SESSION_COOKIE, secret, "hub-session", max_age, secure)
        self.access = access

    async def staff(self, request: Request) -> StaffMember:
        session_id = self.read(request)
        staff = await asyncio.to_thread(self.access.staff_of_session, session_id) if session_id else None
        if staff is None:
            raise SignInRequired()
        request.state.staff = staff
        return staff
