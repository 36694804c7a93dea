"""The charity's own pages in Debian's Chromium (headless, Playwright) at phone width (375 x 812),
over the charity service as its own process on the real broker: an organisation registers on the
pages, staff approve it through the staff API, its user signs in, lists an offering, a proposal
arrives on the real broker (produced as matching would), the user accepts it and records the
delivery, creates a key (a reload shows it no more and makes no second one) and revokes it, adds a
volunteer who signs in on a second phone and changes their password, disables them (signed out
at once), and switches language. Every page is screenshotted
(test-artifacts/screenshots/charity-*.png) and checked with axe-core (no serious or critical
violation) and for horizontal scrolling. Then the role tests: every page with no session (to
sign-in and back), with another organisation's session (a 404 page, never the record), with the
organisation's own session. The service starts once for the module."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta

import httpx
import pytest

from bench.ledger_tools import publish
from contracts.topics import MATCHES
from kit.settings import HubSettings
from kit.tansu import free_port
from tests.conftest import ROOT, BrokerUnderTest, ServiceProcess
from tests.e2e import browser
from tests.integration.charity_support import STAFF, credit_code, proposal

PASSWORD = "volunteer's password"
PHONE = {"width": 375, "height": 812}

pytestmark = browser.needs_chromium


@dataclass
class Charity:
    process: ServiceProcess
    hub: HubSettings

    @property
    def url(self) -> str:
        return self.process.url

    def propose(self, offering_id: str, organisation_id: str, match_id: str) -> None:
        """A proposal on hub.matches.v1, as matching publishes it; wait until it is in the inbox."""
        event = proposal(offering_id, organisation_id, match_id, household_id=f"hh-{match_id}")
        with ThreadPoolExecutor(1) as thread:  # Playwright's sync API keeps an event loop on this thread
            thread.submit(asyncio.run, publish(self.hub, MATCHES, [event])).result(timeout=60)
        deadline = time.monotonic() + 30
        while httpx.get(f"{self.url}/inbox/{match_id}", headers=STAFF).status_code != 200:
            assert time.monotonic() < deadline, f"{match_id} never reached the inbox"
            time.sleep(0.2)

    def organisation_named(self, name: str) -> str:
        found = httpx.get(f"{self.url}/organisations", headers=STAFF, params={"limit": 1000}).json()
        return next(o["organisation_id"] for o in found if o["name"] == name)

    def approve(self, organisation_id: str) -> None:
        assert httpx.post(f"{self.url}/organisations/{organisation_id}/approve", headers=STAFF).status_code == 200


@pytest.fixture(scope="module")
def charity(kafka: BrokerUnderTest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Charity]:
    folder = tmp_path_factory.mktemp("charity-pages")
    port, namespace = free_port(), f"{kafka.namespace}pages."
    env = {**os.environ, "PYTHONPATH": str(ROOT), **kafka.env(), "HUB_TOPIC_NAMESPACE": namespace, "HUB_DATA_DIR": str(folder),
           "HUB_LOG_FORMAT": "json", "HUB_CHARITY_HTTP_PORT": str(port)}
    process = ServiceProcess("charity", port, env, folder / "charity.log").start()
    yield Charity(process, HubSettings(kafka_bootstrap=kafka.bootstrap, kafka_idempotence=kafka.idempotence, topic_namespace=namespace))
    process.stop()


class Browser(browser.Browser):
    shot_prefix = "charity-"

    def check(self, name: str) -> None:
        """Screenshot and axe-core, then no horizontal scrolling and no link outside /pages/."""
        super().check(name)
        wide, shown = self.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert wide <= shown, f"{name}: {wide} px wide in a {shown} px window"
        targets = self.page.evaluate("[...document.querySelectorAll('a[href], form[action], link[href], [src]')]"
                                     ".map(e => e.getAttribute('href') || e.getAttribute('action') || e.getAttribute('src'))")
        outside = [t for t in targets if not (t.startswith("/pages/") or t.startswith("#"))]
        assert outside == [], f"{name}: links outside /pages/ would not reach the charity behind nginx: {outside}"

    def submit(self, form: str = "main form") -> None:
        self.page.locator(f"{form} button[type=submit]").first.click()

    def text(self, selector: str) -> str:
        return self.page.locator(selector).first.inner_text()


def test_a_charity_works_from_a_phone(charity: Charity) -> None:
    today = date.today()
    with browser.chromium() as chromium:
        context = chromium.new_context(viewport=PHONE, locale="zh-CN", device_scale_factor=2, is_mobile=True, has_touch=True)
        b = Browser(context.new_page(), charity.url)

        # Not signed in: to sign-in; from there to registration.
        b.go("/")
        assert "/pages/sign-in" in b.page.url
        b.check("sign-in")
        b.page.click("a[href='/pages/register']")
        b.check("register")
        b.page.fill("#name", "暖心公益服务中心")
        b.page.select_option("#kind", "charity")
        b.page.fill("#credit_code", credit_code(777))
        b.page.check("input[name=districts][value='310104']")
        b.page.fill("#contact_name", "李老师")
        b.page.fill("#contact_phone", "1381234")
        b.page.fill("#username", "warmheart")
        b.page.fill("#password", PASSWORD)
        b.submit()
        assert b.text("#contact_phone-error").startswith("手机号为11位数字")
        assert b.page.input_value("#name") == "暖心公益服务中心" and b.page.input_value("#username") == "warmheart"
        b.check("register-errors")
        b.page.fill("#contact_phone", "13812345678")
        b.page.fill("#password", PASSWORD)
        b.submit()
        assert "registered=1" in b.page.url and b.page.input_value("#username") == "warmheart"

        # Signed in while pending: the status, and no publishing.
        b.page.fill("#password", PASSWORD)
        b.submit()
        assert b.text("#status") == "待审核"
        b.check("home-pending")
        b.go("/pages/offerings/new")
        assert b.page.locator("#pending-notice").count() == 1 and b.page.locator("#title").count() == 0
        b.check("offering-pending")

        # Staff approve it through the charity service's staff API.
        organisation_id = charity.organisation_named("暖心公益服务中心")
        charity.approve(organisation_id)
        b.go("/pages/")
        assert b.text("#status") == "已批准"
        b.check("home")

        # List an offering.
        b.page.click("nav a[href='/pages/offerings']")
        b.check("offerings-empty")
        b.page.click("a[href='/pages/offerings/new']")
        b.page.fill("#title", "冬季食品包")
        b.page.fill("#description", "大米、食用油和鸡蛋")
        b.page.select_option("#category", "food")
        b.page.select_option("#programme", "CHARITY_FOOD")
        b.page.select_option("#kind", "goods")
        b.page.fill("#quantity_total", "20")
        b.page.fill("#unit", "份")
        b.page.fill("#value_yuan", "150")
        b.page.check("input[name=household_categories][value=dibao]")
        b.page.check("#districts input[value='310104']")
        b.page.fill("#valid_from", str(today - timedelta(days=1)))
        b.page.fill("#valid_until", str(today - timedelta(days=2)))
        b.page.fill("#confirm_every_days", "14")
        b.submit()
        assert b.text("#valid_until-error") == "截止日期早于开始日期,或比开始日期晚三年以上"
        assert b.page.input_value("#title") == "冬季食品包" and b.page.is_checked("input[name=household_categories][value=dibao]")
        b.check("offering-new-errors")
        b.page.fill("#valid_until", str(today + timedelta(days=60)))
        b.submit()
        assert b.text("p.ok") == "服务项目已发布。"
        b.check("offerings")
        b.page.click("article.offering .actions button")  # confirm capacity from the list
        assert b.text("p.ok") == "容量已确认。"
        b.page.click("article.offering h2 a")
        assert b.text("#offering-status") == "开放"
        b.check("offering")
        offering_id = b.page.url.rsplit("/", 1)[1]

        # A proposal arrives on the real broker; accept it and record the delivery.
        charity.propose(offering_id, organisation_id, "m-phone-1")
        b.page.click("nav a[href='/pages/inbox']")
        card = b.page.locator("#m-m-phone-1")
        assert "待答复" in card.inner_text() and "冬季食品包" in card.inner_text()
        assert "hh-m-phone-1" not in b.page.content()
        b.check("inbox")
        b.page.set_viewport_size({"width": 1280, "height": 860})
        b.check("inbox-desktop")
        b.page.set_viewport_size(PHONE)
        card.locator("h2 a").click()
        b.check("match")
        b.submit("#accept")
        assert b.text("#match-state") == "已接受" and "相应数量已为该家庭保留" in b.text("p.ok")
        b.page.fill("#quantity", "1")
        b.page.fill("#note", "送到家门口")
        b.submit("#fulfil")
        assert b.text("#match-state") == "已完成" and b.text("p.ok") == "送达已记录,谢谢!"
        assert "hh-m-phone-1" not in b.page.content()
        b.check("match-delivered")
        recorded = httpx.get(f"{charity.url}/inbox/m-phone-1", headers=STAFF).json()
        assert recorded["state"] == "completed" and recorded["delivered_quantity"] == 1 and recorded["amount_fen"] == 15000

        # Keys: created (shown once), listed, revoked.
        b.page.click("nav a[href='/pages/keys']")
        b.page.fill("#label", "仓库平板")
        b.submit()
        secret = b.text("#new-key")
        assert secret.startswith("hubc_") and b.page.url == f"{charity.url}/pages/keys"  # after the redirect, not in the URL
        assert httpx.get(f"{charity.url}/inbox", headers={"X-API-Key": secret}).status_code == 200
        b.check("keys")
        b.page.reload()
        assert b.page.locator("#new-key").count() == 0 and b.page.locator("article.key").count() == 1
        b.page.locator("article.key button").first.click()
        assert "密钥已吊销" in b.text("p.ok") and secret not in b.page.content()
        assert httpx.get(f"{charity.url}/inbox", headers={"X-API-Key": secret}).status_code == 401
        b.check("keys-revoked")

        # A second user: the administrator adds a volunteer, who signs in on another phone.
        b.page.click("nav a[href='/pages/users']")
        b.check("users")
        b.page.fill("#username", "helper.li")
        b.page.fill("#password", "short")
        b.submit("#add-user")
        assert b.text("#password-error") == "至少10个字符" and b.page.input_value("#username") == "helper.li"
        b.page.fill("#password", "first password")
        b.submit("#add-user")
        assert b.text("p.ok").startswith("用户已添加")
        second = chromium.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
        v = Browser(second.new_page(), charity.url)
        v.go("/pages/sign-in")
        v.page.fill("#username", "helper.li")
        v.page.fill("#password", "first password")
        v.submit()
        assert v.text("#status") == "已批准" and "helper.li" in v.text(".who")
        v.go("/pages/users")
        assert v.page.locator("#not-administrator").count() == 1 and v.page.locator("#add-user").count() == 0
        v.check("users-volunteer")
        v.page.click("a[href='/pages/password']")
        v.page.fill("#current_password", "first password")
        v.page.fill("#new_password", "my own passphrase")
        v.page.fill("#repeat_password", "my own passphrase")
        v.submit()
        assert v.text("p.ok").startswith("密码已修改")
        v.check("password")
        b.page.click("#user-helper\\.li button")  # disable
        assert "已停用" in b.text("#user-helper\\.li")
        b.check("users-disabled")
        v.go("/pages/inbox")
        assert "/pages/sign-in" in v.page.url  # signed out at once
        second.close()

        # English a click away, and back, on the same page.
        b.go("/pages/inbox")
        b.page.click("a[hreflang=en]")
        assert b.text("h1") == "Inbox: proposed matches" and "completed" in b.text("#m-m-phone-1")
        b.check("inbox-en")
        b.go("/pages/")
        b.check("home-en")
        b.page.click("a[hreflang=zh-CN]")
        assert b.text("#status") == "已批准"

        # A record that is not this organisation's: a 404 page.
        b.go("/pages/inbox/m-not-ours")
        assert b.text("h1") == "未找到"
        b.check("not-found")
        b.page.click(".who button")  # sign out
        assert "/pages/sign-in" in b.page.url
        b.go("/pages/inbox")
        assert "/pages/sign-in?next=%2Fpages%2Finbox" in b.page.url


# --- role tests ------------------------------------------------------------------------------


class Session:
    """One person's cookies on the pages, over plain HTTP."""

    def __init__(self, base: str) -> None:
        self.client = httpx.Client(base_url=base, follow_redirects=False, timeout=20)
        self.client.get("/pages/sign-in")

    @property
    def csrf(self) -> str:
        return self.client.cookies["charity_csrftoken"]

    def post(self, path: str, **data: str) -> httpx.Response:
        return self.client.post(path, data={**data, "csrftoken": self.csrf})

    def register_and_sign_in(self, charity: Charity, n: int, username: str) -> str:
        name = f"Role test organisation {n}"
        registered = self.post("/pages/register", name=name, kind="volunteer_group", credit_code=credit_code(n), contact_name="王老师",
                               contact_phone="13912345678", username=username, password=PASSWORD)
        assert registered.status_code == 303, registered.text[:500]
        organisation_id = charity.organisation_named(name)
        charity.approve(organisation_id)
        assert self.post("/pages/sign-in", username=username, password=PASSWORD).status_code == 303
        return organisation_id


def test_every_page_with_no_session_another_organisations_and_its_own(charity: Charity) -> None:
    own, other, nobody = Session(charity.url), Session(charity.url), Session(charity.url)
    organisation_id = own.register_and_sign_in(charity, 901, "owner901")
    other.register_and_sign_in(charity, 902, "other902")
    today = date.today()
    published = own.post("/pages/offerings/new", title="Role test parcels", category="food", programme="CHARITY_FOOD", kind="goods",
                         unit="parcel", quantity_total="5", valid_from=str(today), valid_until=str(today + timedelta(days=30)),
                         confirm_every_days="30")
    assert published.status_code == 303, published.text[:800]
    offering_id = published.headers["location"].rsplit("#", 1)[1]
    charity.propose(offering_id, organisation_id, "m-roles-1")
    assert own.post("/pages/keys", label="role test").headers["location"] == "/pages/keys"
    key_id = re.search(r"hubc_([0-9a-f]{12})_", own.client.get("/pages/keys").text).group(1)  # type: ignore[union-attr]

    public = ["/pages/sign-in", "/pages/register"]
    lists = ["/pages/", "/pages/offerings", "/pages/offerings/new", "/pages/inbox", "/pages/keys", "/pages/users", "/pages/password"]
    records = [f"/pages/offerings/{offering_id}", "/pages/inbox/m-roles-1"]
    actions = {
        f"/pages/offerings/{offering_id}": {"title": "Taken over"}, f"/pages/offerings/{offering_id}/confirm-capacity": {},
        f"/pages/offerings/{offering_id}/withdraw": {}, "/pages/inbox/m-roles-1/accept": {},
        "/pages/inbox/m-roles-1/decline": {"reason_code": "no_capacity"}, "/pages/inbox/m-roles-1/fulfil": {"quantity": "1"},
        "/pages/inbox/m-roles-1/fail": {"failure": "nobody at home"}, f"/pages/keys/{key_id}/revoke": {},
        "/pages/users/owner901/disable": {},
    }

    for path in public:
        assert nobody.client.get(path).status_code == 200, path
    for path in lists + records:
        away = nobody.client.get(path)
        assert away.status_code == 303 and away.headers["location"].startswith("/pages/sign-in?next="), path
    for path, data in {**actions, "/pages/offerings/new": {}, "/pages/keys": {"label": "x"}, "/pages/users": {"username": "x"},
                       "/pages/password": {}}.items():
        assert nobody.post(path, **data).headers["location"].startswith("/pages/sign-in?"), path

    for path in lists:
        seen = other.client.get(path)
        assert seen.status_code == 200 and "Role test parcels" not in seen.text and "m-roles-1" not in seen.text and key_id not in seen.text, path
        assert "owner901" not in seen.text, path
    for path in records:
        seen = other.client.get(path)
        assert seen.status_code == 404 and "Role test parcels" not in seen.text and "未找到" in seen.text, path
    for path, data in actions.items():
        assert other.post(path, **data).status_code == 404, path
    assert httpx.get(f"{charity.url}/inbox/m-roles-1", headers=STAFF).json()["state"] == "requested"
    assert httpx.get(f"{charity.url}/offerings/{offering_id}", headers=STAFF).json()["title"] == "Role test parcels"

    for path in public + lists + records:
        assert own.client.get(path).status_code == 200, path
    assert "Role test parcels" in own.client.get("/pages/offerings").text and "m-roles-1" in own.client.get("/pages/inbox").text
