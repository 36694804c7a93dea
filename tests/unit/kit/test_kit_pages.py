"""kit.pages' signed cookie: a forged, expired or missing cookie reads as nothing; and only a path
on this site is followed after sign-in."""

from __future__ import annotations

import pytest
from starlette.requests import Request
from starlette.responses import Response

from kit.pages import SignedCookie, local_path


def request_with(cookie: str | None) -> Request:
    headers = [(b"cookie", f"s={cookie}".encode())] if cookie is not None else []
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


def test_a_signed_cookie_reads_back_and_is_httponly_and_samesite() -> None:
    cookie = SignedCookie("s", "secret", "salt", max_age=60, secure=False)
    response = Response()
    cookie.set(response, "session-1")
    header = response.headers["set-cookie"]
    assert "HttpOnly" in header and "SameSite=lax" in header and "Max-Age=60" in header
    value = header.split(";")[0].split("=", 1)[1]
    assert cookie.read(request_with(value)) == "session-1"
    assert cookie.read(request_with(value[:-2] + "xx")) is None  # forged
    assert cookie.read(request_with(None)) is None
    assert SignedCookie("s", "another secret", "salt", 60, False).read(request_with(value)) is None


def test_an_expired_cookie_reads_as_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    cookie = SignedCookie("s", "secret", "salt", max_age=60, secure=False)
    value = cookie.serializer.dumps("session-1")
    import itsdangerous.timed

    real = itsdangerous.timed.time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real() + 61)
    assert cookie.read(request_with(value)) is None


@pytest.mark.parametrize(("target", "followed"), [
    ("/pages/inbox?state=requested", "/pages/inbox?state=requested"), ("//evil.example/", "/home"),
    ("https://evil.example/", "/home"), ("/\\evil.example", "/home"), ("", "/home"), (None, "/home"),
])
def test_only_a_path_on_this_site_is_followed(target: str | None, followed: str) -> None:
    assert local_path(target, "/home") == followed
