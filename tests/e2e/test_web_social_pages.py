"""The social forces' staff pages in Debian's Chromium (headless, Playwright), over a real ledger,
charity service, matching and web front, each its own process on the real broker, started once for
the module: a reviewer refuses an organisation without a reason (the field error, the input kept),
approves another and sees it leave the queue (the charity service records her name with the web
front's key); the offerings and unmet-needs pages render and export CSV and XLSX that read back;
the dashboard shows the social forces and the unmet needs; the household page shows its matches and
colour history. Every new page is screenshotted (test-artifacts/screenshots/) and checked with
axe-core: no serious or critical violation. Role tests: every new page with every role and with no
session (a department viewer gets a 403 page and never an organisation's contact data)."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, date, datetime
from typing import Any

import httpx
import openpyxl
import pytest

from bench.ledger_tools import publish
from contracts.hub import HouseholdRecorded, NeedRecorded
from contracts.topics import CANONICAL
from kit.settings import HubSettings
from kit.tansu import free_port
from tests.conftest import ROOT, BrokerUnderTest, ServiceProcess, wait_all_healthy
from tests.e2e import browser
from tests.integration.charity_support import offering, registration

STAFF = {"X-API-Key": "dev-staff-key"}
HOUSEHOLD = "hh-social-1"
PASSWORD = "a long password 1"
NEW_PAGES = ("/organisations", "/offerings", "/unmet-needs")

pytestmark = browser.needs_chromium


class Hub:
    """The services of this module, and what the tests made in them."""

    def __init__(self, services: dict[str, ServiceProcess]) -> None:
        self.services = services
        self.organisations: dict[str, str] = {}  # name -> id

    def url(self, name: str) -> str:
        return self.services[name].url


@pytest.fixture(scope="module")
def running(kafka: BrokerUnderTest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    folder = tmp_path_factory.mktemp("social-pages")
    settings = HubSettings(kafka_bootstrap=kafka.bootstrap, kafka_idempotence=kafka.idempotence,
                           topic_namespace=f"{kafka.namespace}{uuid.uuid4().hex[:6]}.")
    services: dict[str, ServiceProcess] = {}

    def start(name: str, **extra: str) -> ServiceProcess:
        env = {
            **os.environ, "PYTHONPATH": str(ROOT), "HUB_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "HUB_KAFKA_IDEMPOTENCE": str(settings.kafka_idempotence).lower(), "HUB_TOPIC_NAMESPACE": settings.topic_namespace,
            "HUB_DATA_DIR": str(folder / "data"), "HUB_LOG_FORMAT": "json", f"HUB_{name.upper()}_HTTP_PORT": str(free_port()), **extra,
        }
        service = ServiceProcess(name, int(env[f"HUB_{name.upper()}_HTTP_PORT"]), env, folder / f"{name}.log")
        services[name] = service
        return service.start(wait=False)

    try:
        for name, extra in (("ledger", {}), ("charity", {}), ("matching", {"HUB_MATCHING_ROUND_WINDOW_SECONDS": "0.1"})):
            start(name, **extra)
        start("web", HUB_WEB_LEDGER_URL=services["ledger"].url, HUB_WEB_INTAKE_URL="http://127.0.0.1:9",
              HUB_WEB_CHARITY_URL=services["charity"].url, HUB_WEB_MATCHING_URL=services["matching"].url,
              HUB_WEB_SOCIAL_SECONDS="1")
        wait_all_healthy(*services.values(), timeout=90)
        hub = Hub(services)
        fill(hub, settings)
        yield hub
    finally:
        for service in services.values():
            if service.process is not None:
                service.stop()


def fill(hub: Hub, settings: HubSettings) -> None:
    """Three organisations (one approved, with an offering of food parcels), a household whose
    colour went from yellow to red with a food need (matched) and a medical need (no offering:
    unmet); the staff accounts."""
    charity = hub.url("charity")
    for n in (1, 2, 3):
        answer = httpx.post(f"{charity}/organisations", json=registration(n, name=f"暖心公益中心{n}号"))
        assert answer.status_code == 201, answer.text
        hub.organisations[f"暖心公益中心{n}号"] = answer.json()["organisation"]["organisation_id"]
        if n == 1:
            key = {"X-API-Key": answer.json()["key"]["api_key"]}
            assert httpx.post(f"{charity}/organisations/{hub.organisations['暖心公益中心1号']}/approve", headers=STAFF).status_code == 200
            assert httpx.post(f"{charity}/offerings", json=offering(), headers=key).status_code == 201
    asyncio.run(publish(settings, CANONICAL, household_events()))
    made = subprocess.run([sys.executable, "-c", "from hub.cli import main; main()", "web", "create-admin", "ada", "--password-stdin"],
                          input=f"{PASSWORD}\n", text=True, capture_output=True, env=hub.services["web"].env, cwd=ROOT, timeout=60)
    assert made.returncode == 0, made.stdout + made.stderr
    with closing(signed_in(hub, "ada")) as admin:
        for username, role, department in (("rita", "reviewer", ""), ("dora", "department_viewer", "DPF")):
            created = admin.post("/accounts", data={"username": username, "password": PASSWORD, "role": role, "department": department,
                                                    "csrftoken": admin.cookies["csrftoken"]})
            assert created.status_code == 303, created.text
    wait_for(lambda: httpx.get(f"{charity}/inbox", headers=STAFF).json(), "matching proposed the food parcel")
    wait_for(lambda: httpx.get(f"{hub.url('matching')}/reports/unmet-needs", headers=STAFF).json()["total"] == 1, "the medical need unmet")


def household_events() -> list[Any]:
    def reported(colour: str, day: int) -> HouseholdRecorded:
        return HouseholdRecorded(source="intake", household_id=HOUSEHOLD, occurred_at=datetime(2026, 11, day, tzinfo=UTC), data={
            "department": "CA", "department_household_ref": "CA-social-1", "district": "310104", "category": "dibao",
            "colour": colour, "monthly_income_per_capita_fen": 60_000,
            "members": [{"person_key": "p_social_1", "display_name": "王*", "masked_resident_id": "310104********0025", "birth_year": 1980}],
        })

    def need(need_id: str, category: str) -> NeedRecorded:
        return NeedRecorded(source="intake", household_id=HOUSEHOLD, data={
            "need_id": need_id, "department": "CA", "category": category, "description": "", "urgency": 4, "assessed_on": date(2026, 11, 20)})

    return [reported("yellow", 1), reported("red", 15), need("CA:social-food", "food"), need("CA:social-medical", "medical")]


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not seen in {timeout}s: {what}"
        time.sleep(0.3)


def signed_in(hub: Hub, username: str) -> httpx.Client:
    client = httpx.Client(base_url=hub.url("web"), follow_redirects=False, timeout=30)
    token = client.get("/sign-in").cookies["csrftoken"]
    assert client.post("/sign-in", data={"username": username, "password": PASSWORD, "csrftoken": token}).status_code == 303
    return client


class Browser(browser.Browser):
    def exports_read_back(self, table: str, first_header: str) -> tuple[list[list[str]], list[list[Any]]]:
        """The table's CSV and XLSX links: both files open, with the same header row."""
        name, body = self.download(f"a[href*='table={table}'][href*='export=csv']")
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        assert name == f"{table}.csv" and rows[0][0] == first_header
        name, body = self.download(f"a[href*='table={table}'][href*='export=xlsx']")
        sheet = [list(r) for r in openpyxl.load_workbook(io.BytesIO(body)).active.iter_rows(values_only=True)]
        assert name == f"{table}.xlsx" and sheet[0] == rows[0]
        return rows, sheet


def test_a_reviewer_works_through_the_social_pages(running: Hub) -> None:
    pending = {name: id_ for name, id_ in running.organisations.items() if name != "暖心公益中心1号"}
    with browser.chromium() as chromium:
        b = Browser(chromium.new_context(**browser.DESKTOP).new_page(), running.url("web"))
        b.go("/organisations")
        b.sign_in("rita", PASSWORD)
        assert b.page.url.endswith("/organisations") and b.page.locator("h1").inner_text() == "待审核社会组织"
        assert b.page.locator("section.organisation").count() == 2
        assert "138****5678" in b.page.content() and "13812345678" not in b.page.content()
        b.check("organisations")

        # A refusal with too short a reason: the field's reason in Chinese, what was typed kept, nothing decided.
        refused = b.page.locator("section.organisation", has_text="暖心公益中心3号")
        refused.locator("textarea").fill("ab")
        refused.locator("button[value=refuse]").click()
        assert b.page.locator("#reason-error").inner_text() == "请用3到500个字说明原因，组织会看到"
        again = b.page.locator("section.organisation", has_text="暖心公益中心3号")
        assert again.locator("textarea").input_value() == "ab" and again.locator("textarea").get_attribute("aria-invalid") == "true"
        b.check("organisations-refusal-error")
        assert httpx.get(f"{running.url('charity')}/organisations/{pending['暖心公益中心3号']}", headers=STAFF).json()["status"] == "pending"

        # Approve the other: it leaves the queue, and the charity service names the person.
        b.page.locator("section.organisation", has_text="暖心公益中心2号").locator("button[value=approve]").click()
        assert "rita (web-front)" in b.page.locator("p.ok").inner_text()
        assert b.page.locator("section.organisation").count() == 1 and "暖心公益中心2号" not in b.page.locator("main section").all_inner_texts()[0]
        record = httpx.get(f"{running.url('charity')}/organisations/{pending['暖心公益中心2号']}", headers=STAFF).json()
        assert (record["status"], record["decided_by"]) == ("approved", "rita (web-front)")

        # Offerings, filtered, exported; the match outcomes beside them.
        b.go("/offerings")
        assert b.page.locator("table").first.locator("tbody tr").count() == 1
        b.page.select_option("#status", "closed")
        b.page.click("form.filters button")
        assert "暂无数据" in b.page.locator("table").first.inner_text()
        b.page.select_option("#status", "open")
        b.page.select_option("#category", "food")
        b.page.fill("#district", "310104")
        b.page.click("form.filters button")
        assert b.page.locator("table").first.locator("tbody tr").count() == 1
        rows, sheet = b.exports_read_back("offerings", "项目")
        assert len(rows) == 2 and rows[1][3] == "food" and sheet[1][6] == 10  # units in all, a number in the sheet
        outcomes = b.page.locator("table").nth(1).inner_text()
        assert running.organisations["暖心公益中心1号"] in outcomes and "食物" in outcomes
        b.check("offerings")

        # The unmet-needs report: the medical need has no offering in its area.
        b.go("/unmet-needs")
        assert b.page.locator("#unmet-total").inner_text() == "1"
        assert "医疗" in b.page.locator("table").first.inner_text()
        rows, sheet = b.exports_read_back("unmet_needs", "类别")
        assert rows[1][:3] == ["medical", "310104", "1"] and sheet[1][2] == 1
        b.check("unmet-needs")

        # The dashboard's social forces and unmet needs; the household's matches and colours.
        b.go("/dashboard")
        assert "1,500.00" in b.page.locator("#social-totals").inner_text()  # 10 parcels at 150 CNY offered
        b.check("dashboard-social")
        b.go(f"/households/{HOUSEHOLD}")
        matches = b.page.locator("table", has=b.page.locator("caption", has_text="需求的匹配及其状态")).inner_text()
        assert "CA:social-food" in matches and "已提议" in matches
        colours = b.page.locator("table", has=b.page.locator("caption", has_text="颜色等级变化")).locator("tbody tr")
        assert colours.count() == 2 and "红" in colours.nth(1).inner_text()
        b.check("household-social")

        # English a click away.
        b.page.click("a[hreflang=en]")
        b.go("/unmet-needs")
        assert b.page.locator("h1").inner_text() == "Unmet needs"
        b.check("unmet-needs-en")

        # A department viewer: a 403 page, never the organisations' contact data.
        b.page.click(".who button")
        b.go("/organisations")
        b.sign_in("dora", PASSWORD)
        assert b.page.locator("h1").inner_text() == "Not allowed" and "138****" not in b.page.content()


@pytest.mark.parametrize("role", ["ada", "rita", "dora", None])
def test_every_new_page_with_every_role_and_no_session(running: Hub, role: str | None) -> None:
    client = signed_in(running, role) if role else httpx.Client(base_url=running.url("web"), follow_redirects=False, timeout=30)
    with closing(client):
        for path in NEW_PAGES:
            page = client.get(path)
            if role is None:
                assert page.status_code == 303 and page.headers["location"].startswith("/sign-in?next="), path
            elif role == "dora":
                assert page.status_code == 403 and "138****5678" not in page.text and "暖心公益中心" not in page.text, path
            else:
                assert page.status_code == 200, (role, path, page.status_code)
        if role in (None, "dora"):  # a decision without the right: sign-in first, or a 403; nothing written
            if "csrftoken" not in client.cookies:
                client.get("/sign-in")
            organisation = running.organisations["暖心公益中心3号"]
            tried = client.post(f"/organisations/{organisation}/decision", data={"decision": "approve", "csrftoken": client.cookies["csrftoken"]})
            assert tried.status_code == (403 if role else 303)
            record = httpx.get(f"{running.url('charity')}/organisations/{organisation}", headers=STAFF).json()
            assert record["status"] == "pending", "a refused action wrote nothing"
        dashboard = client.get("/dashboard")
        if role is not None:
            assert dashboard.status_code == 200 and (role == "dora") == ("social-totals" not in dashboard.text)
