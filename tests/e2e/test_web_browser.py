"""The staff pages in Debian's Chromium (headless, driven by Playwright), over a real ledger,
intake and web front, each its own process on the real broker: the first administrator made with
`hub web create-admin`, a reviewer made on the accounts page signs in, filters the alert queue,
decides an alert and finds the decision under their name in the ledger's audit trail; resolves an
identity review; switches language; exports a table and reads the file back. Every page is
screenshotted (test-artifacts/screenshots/) and checked with axe-core: no serious or critical
violation. A department viewer gets a 403 page, not the household."""

from __future__ import annotations

import asyncio
import csv
import io
import random
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import openpyxl

from bench.intake_events import EventFactory, resident_id
from bench.ledger_tools import publish
from contracts.hub import BenefitRecorded, HouseholdRecorded
from contracts.topics import CANONICAL
from services.ledger.identity import person_key
from tests.conftest import wait_all_healthy
from tests.e2e.browser import DESKTOP, Browser, chromium, needs_chromium

ROOT = Path(__file__).resolve().parents[2]
PERSON = person_key("11010519491231002X", b"development-only-secret-change-me")
HOUSEHOLD = "hh-web-1"
ADMIN_PASSWORD, REVIEWER_PASSWORD = "first admin password", "reviewer's password"
STAFF = {"X-API-Key": "dev-staff-key"}

pytestmark = needs_chromium


def ledger_events() -> list:
    household = HouseholdRecorded(source="intake", household_id=HOUSEHOLD, data={
        "department": "CA", "department_household_ref": "CA-web-1", "district": "310104", "category": "extreme_poverty",
        "colour": "orange", "monthly_income_per_capita_fen": 60_000,
        "members": [{"person_key": PERSON, "display_name": "王*", "masked_resident_id": "110105********002X"}],
    })
    grants = [BenefitRecorded(source="intake", household_id=HOUSEHOLD, data={
        "benefit_id": benefit, "programme": programme, "source": source, "person_key": PERSON,
        "amount_fen": 140_000, "period_start": date(2026, 3, 1)}) for benefit, programme, source in
        (("CA:es-1", "EXTREME_POVERTY", "CA"), ("DPF:sd-1", "SEVERE_DISABILITY", "DPF"))]
    return [household, *grants]


def held_for_review(intake_url: str) -> str:
    """Two known namesakes, then a record with no ID number: intake holds it for a person to decide."""
    factory, rng = EventFactory("CA", seed=11), random.Random(3)

    def namesake(ref: str, number: str | None) -> dict:
        event = factory.household_reported()
        event["household_id"] = ref
        event["data"] |= {"district": "310115", "address": "浦东新区张杨路1234弄5号601室"}
        event["data"]["members"] = [{"resident_id": number, "name": "李明", "birth_date": "1990-05-01", "relation": "head"}]
        return event

    twins = [resident_id(rng, date(1990, 5, 1), male=True) for _ in range(2)]
    headers = {"X-API-Key": "dev-ca-key"}
    assert httpx.post(f"{intake_url}/events", json=[namesake("twin-a", twins[0]), namesake("twin-b", twins[1])], headers=headers).json()["accepted"] == 2
    held = httpx.post(f"{intake_url}/events", json=namesake("h-unclear", None), headers=headers).json()
    assert held["status"] == "pending", held
    return held["review_ids"][0]


def create_admin(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from hub.cli import main; main()", "web", "create-admin", "ada", "--password-stdin"],
                          input=f"{ADMIN_PASSWORD}\n", text=True, capture_output=True, env=env, cwd=ROOT, timeout=60)


def test_a_reviewer_works_through_the_pages_in_a_browser(start_service, hub) -> None:
    ledger, intake = start_service("ledger", wait=False), start_service("intake", wait=False)
    web = start_service("web", wait=False, HUB_WEB_LEDGER_URL=ledger.url, HUB_WEB_INTAKE_URL=intake.url)
    wait_all_healthy(ledger, intake, web)
    made = create_admin(web.env)
    assert made.returncode == 0, made.stdout + made.stderr

    asyncio.run(publish(hub, CANONICAL, ledger_events()))
    deadline = time.monotonic() + 30
    while not (alerts := httpx.get(f"{ledger.url}/review/alerts", headers=STAFF).json()["alerts"]):
        assert time.monotonic() < deadline, "no alert raised"
        time.sleep(0.2)
    alert_id = alerts[0]["alert_id"]
    record_id = held_for_review(intake.url)

    with chromium() as browser:
        b = Browser(browser.new_context(**DESKTOP).new_page(), web.url)

        # No session: to sign-in, and back to where the person was going.
        b.go(f"/alerts/{alert_id}")
        assert "/sign-in" in b.page.url
        b.check("sign-in")
        b.sign_in("ada", "wrong password!")
        assert b.page.locator(".error").inner_text() == "用户名或密码错误"
        b.sign_in("ada", ADMIN_PASSWORD)
        assert b.page.url.endswith(f"/alerts/{alert_id}")

        # The administrator makes a reviewer and a department viewer on the accounts page.
        b.go("/accounts")
        b.page.fill("#username", "rita")
        b.page.fill("#password", "short")
        b.page.select_option("#role", "reviewer")
        b.page.click("main form button[type=submit]")
        assert b.page.locator("#password-error").inner_text() == "至少10个字符"
        assert b.page.input_value("#username") == "rita"  # what was typed is kept
        b.page.fill("#password", REVIEWER_PASSWORD)
        b.page.click("main form button[type=submit]")
        b.page.fill("#username", "hugo")
        b.page.fill("#password", REVIEWER_PASSWORD)
        b.page.select_option("#role", "department_viewer")
        b.page.select_option("#department", "HEALTH")
        b.page.click("main form button[type=submit]")
        assert "hugo" in b.page.locator("table").inner_text()
        b.check("accounts")
        b.page.click(".who button")  # sign out

        b.go("/dashboard")
        b.sign_in("rita", REVIEWER_PASSWORD)
        assert b.page.locator("h1").inner_text() == "总览"
        b.check("dashboard")

        # Filter the alert queue, open the alert, decide it.
        b.go("/alerts")
        b.page.fill("#district", "310199")
        b.page.click("form.filters button")
        assert "暂无数据" in b.page.locator("table").inner_text()
        b.page.fill("#district", "310104")
        b.page.select_option("#programme", "SEVERE_DISABILITY")
        b.page.click("form.filters button")
        assert b.page.locator("tbody tr").count() == 1
        b.check("alerts")

        rows = list(csv.reader(io.StringIO(b.download("a:text('CSV')")[1].decode("utf-8-sig"))))
        assert rows[0][0] == "预警" and rows[1][0] == alert_id
        name, body = b.download("a:text('XLSX')")
        assert name == "alerts.xlsx"
        sheet = openpyxl.load_workbook(io.BytesIO(body)).active
        assert [row[0] for row in sheet.values] == ["预警", alert_id]

        b.page.click(f"a:text('{alert_id}')")
        assert b.page.locator(".side-by-side section").count() == 2
        b.check("alert")
        b.page.check("input[value=confirmed_duplicate]")
        b.page.click("main form button[type=submit]")
        assert "请填写3到1000个字" in b.page.locator("#note-error").inner_text()
        b.page.fill("#note", "DPF allowance stopped; March recovered")
        b.page.click("main form button[type=submit]")
        assert b.page.locator("#alert-status").inner_text() == "确认重复"

        b.page.click("a[href^='/audit']")
        trail = b.page.locator("table").inner_text()
        assert "decide_alert" in trail and "rita" in trail
        b.check("audit")
        assert httpx.get(f"{ledger.url}/review/alerts/{alert_id}", headers=STAFF).json()["status"] == "confirmed_duplicate"

        # The household, with its pre-grant check.
        b.go(f"/households/{HOUSEHOLD}")
        assert "王*" in b.page.locator("main").inner_text() and "11010519491231002X" not in b.page.content()
        b.page.select_option("#programme", "TEMPORARY")
        b.page.fill("#period_start", "2026-13-01")
        b.page.click("main form.card button[type=submit]")
        assert b.page.locator("#period_start-error").inner_text() == "日期格式为 YYYY-MM-DD"
        b.page.fill("#period_start", "2026-12-01")
        b.page.click("main form.card button[type=submit]")
        assert "未违反叠加规则" in b.page.locator("#pre-grant-answer").inner_text()
        b.check("household")

        # The identity review: the held record beside its candidates; same person as the second.
        b.go("/identity-reviews")
        assert b.page.locator("section.review").count() == 1
        b.check("identity-reviews")
        b.page.locator("section.review input[type=radio]").nth(1).check()
        b.page.click("section.review button")
        assert record_id in b.page.locator("p.ok").inner_text()
        assert b.page.locator("section.review").count() == 0
        assert httpx.get(f"{intake.url}/identity-reviews", headers=STAFF).json() == []

        b.go("/cliff?month=2026-03")
        b.check("cliff")
        b.go("/households")
        b.check("households")

        # English a click away, and back.
        b.go("/dashboard")
        b.page.click("a[hreflang=en]")
        assert b.page.locator("h1").inner_text() == "Dashboard"
        b.check("dashboard-en")
        b.go("/alerts?status=")
        assert b.page.locator("h1").inner_text() == "Duplicate-service alerts"
        b.check("alerts-en")
        b.go(f"/households/{HOUSEHOLD}")
        b.check("household-en")
        b.page.click("a[hreflang=zh-CN]")
        assert b.page.locator("h1").inner_text() == f"家庭 {HOUSEHOLD}"  # back where they were, in Chinese

        # A department viewer of another department: a 403 page, never the household.
        b.page.click(".who button")
        b.go(f"/households/{HOUSEHOLD}")
        b.sign_in("hugo", REVIEWER_PASSWORD)
        assert b.page.locator("h1").inner_text() == "无权访问" and "王*" not in b.page.content()
        b.check("forbidden")

    trail = httpx.get(f"{ledger.url}/review/audit", params={"target_id": alert_id}, headers=STAFF).json()["entries"]
    decision = next(e for e in trail if e["action"] == "decide_alert")
    assert decision["actor"] == "web-front" and decision["detail"]["acting_user"] == "rita"
    bad = httpx.get(f"{ledger.url}/review/alerts/{alert_id}", headers={**STAFF, "X-Acting-User": "Robert'); DROP"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["header", "X-Acting-User"]
    plain = httpx.get(f"{ledger.url}/review/audit", params={"target_id": alert_id, "actor": "reviewer-1"}, headers=STAFF).json()
    assert plain["entries"] and all("acting_user" not in e["detail"] for e in plain["entries"])  # a key used directly names no person


def test_the_pages_say_so_when_the_ledger_is_down(start_service) -> None:
    intake = start_service("intake", wait=False)
    web = start_service("web", wait=False, HUB_WEB_LEDGER_URL="http://127.0.0.1:9", HUB_WEB_INTAKE_URL=intake.url)
    wait_all_healthy(intake, web)
    assert create_admin(web.env).returncode == 0
    with httpx.Client(base_url=web.url, follow_redirects=False) as client:
        token = client.get("/sign-in").cookies["csrftoken"]
        signed = client.post("/sign-in", data={"username": "ada", "password": ADMIN_PASSWORD, "csrftoken": token})
        assert signed.status_code == 303
        down = client.get("/dashboard")
        assert down.status_code == 503 and "ledger" in down.text and "Traceback" not in down.text
        assert client.get("/identity-reviews").status_code == 200
