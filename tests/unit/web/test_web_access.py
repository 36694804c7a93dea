"""Who may open which page, in-process against a stand-in ledger and intake: every page with every
role and with no session; sign-in, lock-out, sign-out, expired sessions, CSRF, bad input kept."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import openpyxl
import pytest

from tests.unit.web.conftest import PASSWORD, Site

PAGES = ["/dashboard", "/alerts", "/alerts/al-1", "/households", "/households/hh-1", "/identity-reviews", "/cliff",
         "/audit", "/accounts", "/organisations", "/offerings", "/unmet-needs"]
ALLOWED = {
    "administrator": set(PAGES),
    "reviewer": set(PAGES) - {"/accounts"},
    # dora is DPF's viewer: the alert and the household involve DPF's allowance, so she may see them
    "department_viewer": {"/dashboard", "/alerts", "/alerts/al-1", "/households", "/households/hh-1", "/cliff"},
}
FORMS = [  # (path, form): actions a department viewer may not take
    ("/alerts/al-1/decision", {"decision": "justified", "note": "two needs"}),
    ("/households/hh-1/pre-grant-check", {"programme": "TEMPORARY", "period_start": "2026-12-01"}),
    ("/identity-reviews/rv-1/resolve", {"choice": "new"}),
    ("/accounts", {"username": "newbie", "password": PASSWORD, "role": "reviewer"}),
    ("/organisations/org-1/decision", {"decision": "approve"}),
]


@pytest.mark.parametrize("role", ["administrator", "reviewer", "department_viewer"])
def test_every_page_with_every_role(site: Site, role: str) -> None:
    site.as_role(role)
    for path in PAGES:
        response = site.client.get(path)
        expected = 200 if path in ALLOWED[role] else 403
        assert response.status_code == expected, (role, path, response.status_code)
        if expected == 403:
            assert "王*" not in response.text and "al-1" not in response.text


def test_every_page_without_a_session_goes_to_sign_in_and_back(site: Site) -> None:
    site.as_role("none")
    for path in PAGES:
        response = site.client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/sign-in?next="), path
    back = site.sign_in("rita", next="/alerts/al-1")
    assert back.status_code == 303 and back.headers["location"] == "/alerts/al-1"
    assert site.client.get("/api/alerts").status_code == 200
    site.client.cookies.clear()
    assert site.client.get("/api/alerts").status_code == 401


def test_a_department_viewer_takes_no_action(site: Site) -> None:
    site.as_role("department_viewer")
    for path, form in FORMS:
        assert site.client.post(path, data={**form, "csrftoken": site.csrf()}).status_code == 403, path
    assert not any(r.method == "POST" for r in site.fake.requests)


def test_a_viewer_of_another_department_gets_403_not_data(site: Site) -> None:
    site.access.create_account(site.access.staff_of_session(_session(site, "ada")), "hugo", PASSWORD, "department_viewer", "HEALTH")
    site.as_role("none")
    site.sign_in("hugo")
    for path in ("/households/hh-1", "/alerts/al-1"):
        response = site.client.get(path)
        assert response.status_code == 403 and "王*" not in response.text
    assert site.client.get("/households/no-such").status_code == 404


def test_forms_without_or_with_a_forged_csrf_token_are_refused(site: Site) -> None:
    site.as_role("reviewer")
    form = {"decision": "justified", "note": "two separate needs"}
    refused = site.client.post("/alerts/al-1/decision", data=form)
    assert refused.status_code == 403 and "lang='zh-CN'" in refused.text  # Chinese first, then English
    assert refused.text.index("表单安全令牌缺失或无效") < refused.text.index("security token is missing or wrong")
    assert site.client.post("/alerts/al-1/decision", data={**form, "csrftoken": "forged"}).status_code == 403
    assert site.client.post("/api/alerts/al-1/decision", json=form).status_code == 403
    assert not any(r.method == "POST" for r in site.fake.requests)
    ok = site.client.post("/alerts/al-1/decision", data={**form, "csrftoken": site.csrf()}, follow_redirects=False)
    assert ok.status_code == 303


def test_bad_decision_names_the_field_in_the_page_language_and_keeps_what_was_typed(site: Site) -> None:
    site.as_role("reviewer")
    response = site.client.post("/alerts/al-1/decision", data={"note": "no", "csrftoken": site.csrf()})
    assert response.status_code == 400
    assert "请选择确认重复或合理" in response.text and "请填写3到1000个字" in response.text
    assert ">no</textarea>" in response.text
    site.client.get("/language/en")
    response = site.client.post("/alerts/al-1/decision", data={"decision": "justified", "note": "x", "csrftoken": site.csrf()})
    assert "Write 3 to 1000 characters" in response.text and 'value="justified" checked' in response.text
    assert not any(r.method == "POST" for r in site.fake.requests)


def test_sign_in_locks_after_repeated_failures_and_sessions_end(site: Site) -> None:
    site.as_role("none")
    for _ in range(3):
        wrong = site.sign_in("rita", "not the password")
        assert wrong.status_code == 400
    assert "已暂时锁定" in wrong.text
    assert site.sign_in("rita").status_code == 400  # the right password, but locked
    assert site.sign_in("ada").status_code == 303
    assert site.client.get("/dashboard").status_code == 200
    site.client.post("/sign-out", data={"csrftoken": site.csrf()})
    assert site.client.get("/dashboard", follow_redirects=False).status_code == 303


def test_an_expired_session_goes_to_sign_in(site: Site) -> None:
    site.as_role("reviewer")
    site.access.clock = lambda: _now() + timedelta(hours=9)
    assert site.client.get("/dashboard", follow_redirects=False).headers["location"].startswith("/sign-in")


def test_session_cookie_is_signed_httponly_samesite(site: Site) -> None:
    site.as_role("none")
    response = site.sign_in("rita")
    cookie = response.headers["set-cookie"]
    assert "hub_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=28800" in cookie
    site.client.cookies.set("hub_session", "forged-value")
    assert site.client.get("/dashboard", follow_redirects=False).status_code == 303


def test_an_administrator_creates_accounts_and_bad_input_is_kept(site: Site) -> None:
    site.as_role("administrator")
    bad = site.client.post("/accounts", data={"username": "Bad Name", "password": "short", "role": "department_viewer",
                                             "csrftoken": site.csrf()})
    assert bad.status_code == 400 and 'value="Bad Name"' in bad.text
    assert "部门查看员需要选择部门" in bad.text and "至少10个字符" in bad.text
    made = site.client.post("/accounts", data={"username": "hugo", "password": PASSWORD, "role": "department_viewer",
                                              "department": "HEALTH", "csrftoken": site.csrf()})
    assert made.status_code == 200 and "hugo" in made.text
    assert site.client.post("/accounts", data={"username": "hugo", "password": PASSWORD, "role": "reviewer",
                                              "csrftoken": site.csrf()}).status_code == 400


def test_a_service_down_is_a_clear_page(site: Site) -> None:
    site.as_role("reviewer")
    site.fake.down.add("ledger")
    response = site.client.get("/dashboard")
    assert response.status_code == 503 and "服务无响应" in response.text and "ledger" in response.text
    assert "Traceback" not in response.text


def test_tables_export_as_csv_and_xlsx(site: Site) -> None:
    site.as_role("reviewer")
    as_csv = site.client.get("/alerts", params={"programme": "SEVERE_DISABILITY", "export": "csv", "table": "alerts"})
    assert as_csv.status_code == 200, as_csv.text
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert rows[0][0] == "预警" and rows[1][0] == "al-1"
    as_xlsx = site.client.get("/dashboard", params={"from": "2026-11", "to": "2026-11", "export": "xlsx", "table": "benefits"})
    sheet = openpyxl.load_workbook(io.BytesIO(as_xlsx.content)).active
    values = list(sheet.values)
    assert values[0][0] == "月份" and values[1][2] == "EXTREME_POVERTY" and values[1][5] == 4200


def test_month_range_errors_are_fields(site: Site) -> None:
    site.as_role("reviewer")
    response = site.client.get("/dashboard", params={"from": "2026-13", "to": "x"})
    assert response.status_code == 400 and 'value="2026-13"' in response.text and "月份格式为 YYYY-MM" in response.text
    api = site.client.get("/api/dashboard", params={"from_month": "2026-13", "to_month": "2026-11"})
    assert api.status_code == 422 and api.json()["detail"][0]["loc"] == ["query", "from"]


def _session(site: Site, username: str) -> str:
    result = site.access.sign_in(username, PASSWORD)
    return result.session_id  # type: ignore[union-attr]


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)
