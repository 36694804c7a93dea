"""kit.pages' signed cookie: a forged, expired or missing cookie reads as nothing; only a path on
this site is followed after sign-in, and a page that needs a session comes back after it; a chosen
language is remembered only if it is one of the service's."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from kit.pages import LANGUAGE_COOKIE, Catalogues, SignedCookie, error_pages, local_path, sign_in_redirect


def request_with(cookie: str | None) -> Request:
    headers = [(b"cookie", f"s={cookie}".encode())] if cookie is not None else []
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


def request_to(method: str, path: str, query: str = "", referer: str | None = None) -> Request:
    headers = [(b"referer", referer.encode())] if referer is not None else []
    return Request({"type": "http", "method": method, "path": path, "query_string": query.encode(), "headers": headers})


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


@pytest.mark.parametrize(("request_", "comes_back_to"), [
    (request_to("GET", "/alerts", "state=open&page=2"), "/alerts?state=open&page=2"),
    (request_to("POST", "/alerts/al-1/decision", referer="http://testserver/alerts/al-1?x=1"), "/alerts/al-1"),
    (request_to("POST", "/alerts/al-1/decision"), "/dashboard"),
    (request_to("POST", "/alerts/al-1/decision", referer="http://evil.example//evil.example/"), "/dashboard"),
])
def test_a_page_that_needs_a_session_goes_to_sign_in_and_comes_back(request_: Request, comes_back_to: str) -> None:
    response = sign_in_redirect(request_, "/sign-in", "/dashboard")
    assert response.status_code == 303
    assert response.headers["location"] == f"/sign-in?next={quote(comes_back_to, safe='')}&expired=1"


def test_a_language_is_remembered_only_if_the_service_has_it(tmp_path: Path) -> None:
    catalogues = Catalogues(tmp_path)
    chosen = catalogues.choose("en", "/dashboard")
    assert chosen.status_code == 303 and chosen.headers["location"] == "/dashboard"
    assert f"{LANGUAGE_COOKIE}=en" in chosen.headers["set-cookie"] and "Max-Age=31536000" in chosen.headers["set-cookie"]
    assert "set-cookie" not in catalogues.choose("fr", "/dashboard").headers


class Refused(Exception):
    pass


def test_exceptions_and_http_errors_are_shown_as_pages() -> None:
    def refuse(request: Request) -> Response:
        raise Refused()

    app = Starlette(routes=[Route("/refuse", refuse, methods=["GET"])])
    error_pages(app, lambda request, status, heading, message: PlainTextResponse(f"{heading}|{message}", status), {
        Refused: (403, "Not allowed", "Your role may not do this."),
    })
    with TestClient(app) as client:
        assert (client.get("/refuse").status_code, client.get("/refuse").text) == (403, "Not allowed|Your role may not do this.")
        assert (client.get("/nowhere").status_code, client.get("/nowhere").text) == (404, "Not found|There is no such page.")
        wrong_method = client.post("/refuse")
        assert (wrong_method.status_code, wrong_method.text) == (405, "Something is wrong with the request|Please go back and try again.")


def test_catalogues_compile_from_the_po_files_and_write_mo_files_for_tools(tmp_path: Path) -> None:
    for language, said in (("zh", "登录"), ("en", "Sign in")):
        folder = tmp_path / language / "LC_MESSAGES"
        folder.mkdir(parents=True)
        (folder / "messages.po").write_text(f'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
                                            f'msgid "Sign in"\nmsgstr "{said}"\n', encoding="utf-8")
    catalogues = Catalogues(tmp_path)
    assert catalogues.gettext("zh")("Sign in") == "登录" and catalogues.gettext("en")("Sign in") == "Sign in"
    written = catalogues.write_compiled()
    assert written == [tmp_path / language / "LC_MESSAGES" / "messages.mo" for language in ("zh", "en")]
    assert all(path.read_bytes() == catalogues.compiled(language) for path, language in zip(written, ("zh", "en")))
