"""The charity's own pages in-process, on SQLite and PostgreSQL: registration writes the
organisation and its first user together or not at all; sign-in locks after repeated failures;
an expired or ended session goes to sign-in and back; a form without its CSRF token is refused and
writes nothing; a pending organisation cannot publish (the API's rule); a bad form comes back with
the reason beside the field and what was typed; another organisation's records are a 404 page;
the inbox page shows no household id; the organisation's administrators add and disable users
(a disabled user is signed out at once), volunteers may not; a changed password ends the user's
other sessions; a new API key is shown once after a redirect, so a reload creates no second key."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from services.charity.repository import Offering, Organisation, OrganisationKey
from services.charity.settings import CharitySettings
from services.charity.user_store import OrganisationUser
from tests.integration.charity_support import STAFF, CharityUnderTest, charity_under_test, credit_code, offering

PASSWORD = "a long enough password"


@pytest.fixture
def site(database_url: str) -> Iterator[CharityUnderTest]:
    with charity_under_test(database_url, pages=CharitySettings(lock_after=3)) as under_test:
        yield under_test


def token(client: TestClient) -> str:
    client.get("/pages/sign-in")
    return client.cookies["charity_csrftoken"]


def errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'<p class="error" id="([^"]+)-error">([^<]*)</p>', html))


def register(client: TestClient, n: int, username: str, **changes: Any) -> Any:
    form = {"csrftoken": token(client), "name": f"Warm Heart {n}", "kind": "charity", "credit_code": credit_code(n),
            "districts": ["310104"], "contact_name": "李老师", "contact_phone": "13812345678", "username": username,
            "password": PASSWORD} | changes
    return client.post("/pages/register", data=form, follow_redirects=False)


def sign_in(client: TestClient, username: str, password: str = PASSWORD, next: str = "/pages/") -> Any:
    return client.post("/pages/sign-in", data={"csrftoken": token(client), "username": username, "password": password, "next": next},
                       follow_redirects=False)


def organisation_of(site: CharityUnderTest, username: str) -> str:
    with Session(site.charity.engine) as session:
        user = session.get(OrganisationUser, username)
        assert user is not None
        return user.organisation_id


def count(site: CharityUnderTest, table: type) -> int:
    with Session(site.charity.engine) as session:
        return session.exec(select(func.count()).select_from(table)).one()


def signed_in_organisation(site: CharityUnderTest, n: int, username: str, approve: bool = True) -> tuple[TestClient, str]:
    client = TestClient(site.client.app)
    assert register(client, n, username).status_code == 303
    organisation_id = organisation_of(site, username)
    if approve:
        assert site.client.post(f"/organisations/{organisation_id}/approve", headers=STAFF).status_code == 200
    assert sign_in(client, username).status_code == 303
    return client, organisation_id


def test_registration_writes_the_organisation_and_its_first_user_or_nothing(site: CharityUnderTest) -> None:
    client = site.client
    bad = register(client, 1, "Not OK", credit_code="91310104MA1FL0000", contact_phone="12", password="short", kind="")
    assert bad.status_code == 400
    shown = errors(bad.text)
    assert set(shown) == {"credit_code", "contact_phone", "username", "password", "kind"}
    assert shown["password"] == "至少10个字符" and "统一社会信用代码" in shown["credit_code"]
    assert 'value="Warm Heart 1"' in bad.text and 'value="Not OK"' in bad.text  # what was typed is kept
    assert PASSWORD not in bad.text  # except the password
    assert count(site, Organisation) == 0 and count(site, OrganisationUser) == 0

    assert register(client, 1, "warm1").headers["location"].startswith("/pages/sign-in?registered=1")
    taken = register(client, 2, "warm1")  # a new credit code, a taken username: no organisation either
    assert taken.status_code == 400 and errors(taken.text) == {"username": "该用户名已被使用"}
    again = register(client, 1, "warm2")  # a registered credit code, a new username: no user either
    assert again.status_code == 400 and set(errors(again.text)) == {"credit_code"}
    assert count(site, Organisation) == 1 and count(site, OrganisationUser) == 1


def test_sign_in_locks_after_repeated_failures_and_answers_alike_for_unknown_names(site: CharityUnderTest) -> None:
    client = site.client
    register(client, 1, "warm1")
    assert errors(sign_in(client, "nobody").text) == {"password": "用户名或密码错误"}
    assert errors(sign_in(client, "warm1", "wrong one!").text) == {"password": "用户名或密码错误"}
    assert errors(sign_in(client, "warm1", "wrong two!").text) == {"password": "用户名或密码错误"}
    assert errors(sign_in(client, "warm1", "wrong three").text) == {"password": "失败次数过多:该用户已被暂时锁定"}
    locked = sign_in(client, "warm1")  # the right password while locked
    assert locked.status_code == 400 and "charity_session" not in locked.headers.get("set-cookie", "")
    accounts = client.app.state.accounts
    later = accounts.clock() + timedelta(minutes=16)
    accounts.clock = lambda: later
    assert sign_in(client, "warm1").status_code == 303


def test_no_expired_or_ended_session_goes_to_sign_in_and_back(site: CharityUnderTest) -> None:
    client, _ = signed_in_organisation(site, 1, "warm1")
    assert client.get("/pages/inbox?state=requested").status_code == 200
    anonymous = TestClient(site.client.app)
    away = anonymous.get("/pages/inbox?state=requested", follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"] == "/pages/sign-in?next=%2Fpages%2Finbox%3Fstate%3Drequested&expired=1"
    back = sign_in(anonymous, "warm1", next="/pages/inbox?state=requested")
    assert back.headers["location"] == "/pages/inbox?state=requested"
    assert sign_in(anonymous, "warm1", next="//evil.example/").headers["location"] == "/pages/"  # never another site

    accounts = client.app.state.accounts
    real_clock = accounts.clock
    accounts.clock = lambda: real_clock() + timedelta(hours=9)  # past the 8-hour session
    assert client.get("/pages/", follow_redirects=False).headers["location"].startswith("/pages/sign-in?")
    accounts.clock = real_clock
    cookie = client.cookies["charity_session"]
    assert client.post("/pages/sign-out", data={"csrftoken": client.cookies["charity_csrftoken"]}, follow_redirects=False).status_code == 303
    replayed = TestClient(site.client.app, cookies={"charity_session": cookie})
    assert replayed.get("/pages/", follow_redirects=False).status_code == 303  # sign-out ended it at once
    forged = TestClient(site.client.app, cookies={"charity_session": cookie[:-3] + "abc"})
    assert forged.get("/pages/", follow_redirects=False).status_code == 303


def test_a_form_without_its_csrf_token_is_refused_and_writes_nothing(site: CharityUnderTest) -> None:
    client, _ = signed_in_organisation(site, 1, "warm1")
    form = page_offering()
    for sent in ({**form}, {**form, "csrftoken": "forged"}):
        refused = client.post("/pages/offerings/new", data=sent, follow_redirects=False)
        assert refused.status_code == 403 and "表单安全令牌" in refused.text
    stranger = TestClient(site.client.app)  # a token of its own, not the cookie's
    other_token = token(stranger)
    assert client.post("/pages/offerings/new", data={**form, "csrftoken": other_token}).status_code == 403
    assert count(site, Offering) == 0
    assert client.post("/pages/offerings/new", data={**form, "csrftoken": client.cookies["charity_csrftoken"]},
                       follow_redirects=False).status_code == 303
    assert count(site, Offering) == 1


def page_offering(**changes: str) -> dict[str, Any]:
    given = offering()
    return {
        "title": given["title"], "description": given["description"], "category": "food", "programme": "CHARITY_FOOD",
        "kind": "goods", "unit": "parcel", "quantity_total": "10", "value_yuan": "150", "household_categories": ["dibao"],
        "districts": ["310104"], "valid_from": given["valid_from"], "valid_until": given["valid_until"], "confirm_every_days": "14",
    } | changes


def test_a_pending_organisation_sees_its_status_but_cannot_publish(site: CharityUnderTest) -> None:
    client, organisation_id = signed_in_organisation(site, 1, "warm1", approve=False)
    home = client.get("/pages/")
    assert re.search(r'id="status">待审核<', home.text)
    assert "pending-notice" in client.get("/pages/offerings/new").text
    refused = client.post("/pages/offerings/new", data={**page_offering(), "csrftoken": client.cookies["charity_csrftoken"]})
    assert refused.status_code == 403 and "无权操作" in refused.text
    assert count(site, Offering) == 0
    site.client.post(f"/organisations/{organisation_id}/approve", headers=STAFF)
    assert re.search(r'id="status">已批准<', client.get("/pages/").text)  # counts from the next page on
    published = client.post("/pages/offerings/new", data={**page_offering(), "csrftoken": client.cookies["charity_csrftoken"]},
                            follow_redirects=False)
    assert published.status_code == 303 and count(site, Offering) == 1


def test_a_bad_offering_form_comes_back_with_reasons_and_what_was_typed(site: CharityUnderTest) -> None:
    client, _ = signed_in_organisation(site, 1, "warm1")
    bad = page_offering(quantity_total="ten", value_yuan="1.234", min_age="70", max_age="60", subdistricts="310104003, 999",
                        valid_from="2026-13-01", programme="FOOD", title="Winter food parcel, extra")
    answer = client.post("/pages/offerings/new", data={**bad, "csrftoken": client.cookies["charity_csrftoken"]})
    assert answer.status_code == 400
    shown = errors(answer.text)
    assert shown == {
        "quantity_total": "请填写整数", "value_yuan": "以元为单位,0到100,000,例如 150 或 150.50", "max_age": "最低年龄高于最高年龄",
        "subdistricts": "街道/镇代码为9位数字,以所属区代码开头,例如 310104003", "valid_from": "日期格式为 YYYY-MM-DD",
        "programme": "请选择一个慈善项目类别",
    }
    assert 'value="Winter food parcel, extra"' in answer.text and 'value="ten"' in answer.text and 'value="310104003, 999"' in answer.text
    assert count(site, Offering) == 0
    client.cookies.set("hub_lang", "en")
    english = client.post("/pages/offerings/new", data={**bad, "csrftoken": client.cookies["charity_csrftoken"]})
    assert errors(english.text)["quantity_total"] == "A whole number"


def test_another_organisations_records_are_a_404_page_and_the_inbox_shows_no_household(site: CharityUnderTest) -> None:
    owner, owner_id = signed_in_organisation(site, 1, "warm1")
    other, _ = signed_in_organisation(site, 2, "warm2")
    csrf = owner.cookies["charity_csrftoken"]
    owner.post("/pages/offerings/new", data={**page_offering(title="Owner's parcels"), "csrftoken": csrf})
    offering_id = site.client.get("/offerings", headers=STAFF).json()[0]["offering_id"]
    site.propose(offering_id, owner_id, "m-page-1", household_id="hh-secret-77")
    key = owner.post("/pages/keys", data={"label": "tablet", "csrftoken": csrf})
    key_id = re.search(r"hubc_([0-9a-f]{12})_", key.text).group(1)  # type: ignore[union-attr]

    inbox = owner.get("/pages/inbox")
    assert "m-page-1" in inbox.text and "Owner&#39;s parcels" in inbox.text and "hh-secret-77" not in inbox.text
    assert "hh-secret-77" not in owner.get("/pages/inbox/m-page-1").text

    other_csrf = other.cookies["charity_csrftoken"]
    for path in (f"/pages/offerings/{offering_id}", "/pages/inbox/m-page-1"):
        seen = other.get(path)
        assert seen.status_code == 404 and "Owner&#39;s parcels" not in seen.text and "m-page-1" not in seen.text.split("<main")[1]
    for path in (f"/pages/offerings/{offering_id}/withdraw", f"/pages/offerings/{offering_id}", "/pages/inbox/m-page-1/accept",
                 f"/pages/keys/{key_id}/revoke"):
        assert other.post(path, data={**page_offering(), "csrftoken": other_csrf}).status_code == 404, path
    assert "m-page-1" not in other.get("/pages/inbox").text
    assert site.client.get(f"/inbox/m-page-1", headers=STAFF).json()["state"] == "requested"
    assert owner.get(f"/pages/offerings/{offering_id}").text.count("Owner&#39;s parcels") >= 1


def test_decline_other_needs_words_and_delivery_is_recorded(site: CharityUnderTest) -> None:
    client, organisation_id = signed_in_organisation(site, 1, "warm1")
    csrf = client.cookies["charity_csrftoken"]
    client.post("/pages/offerings/new", data={**page_offering(), "csrftoken": csrf})
    offering_id = site.client.get("/offerings", headers=STAFF).json()[0]["offering_id"]
    site.propose(offering_id, organisation_id, "m-1")
    site.propose(offering_id, organisation_id, "m-2", household_id="hh-2")

    unsaid = client.post("/pages/inbox/m-1/decline", data={"reason_code": "other", "reason": "", "csrftoken": csrf})
    assert unsaid.status_code == 400 and errors(unsaid.text) == {"reason": "选择“其他”时请说明原因"}
    said = client.post("/pages/inbox/m-1/decline", data={"reason_code": "other", "reason": "volunteers away", "csrftoken": csrf})
    assert said.status_code == 200 and re.search(r'id="match-state">已拒绝<', said.text)

    assert client.post("/pages/inbox/m-2/accept", data={"csrftoken": csrf}).status_code == 200
    future = client.post("/pages/inbox/m-2/fulfil", data={"quantity": "1", "delivered_on": "2999-01-01", "note": "x", "csrftoken": csrf})
    assert future.status_code == 400 and errors(future.text) == {"delivered_on": "送达日期不能晚于今天"}
    assert 'value="2999-01-01"' in future.text
    done = client.post("/pages/inbox/m-2/fulfil", data={"quantity": "1", "delivered_on": "", "note": "at the door", "csrftoken": csrf})
    assert re.search(r'id="match-state">已完成<', done.text)
    assert site.client.get("/inbox/m-2", headers=STAFF).json()["delivered_quantity"] == 1
    again = client.post("/pages/inbox/m-2/fail", data={"failure": "nobody home", "csrftoken": csrf})
    assert again.status_code == 409 and 'id="conflict"' in again.text  # an impossible transition: said on the page
    assert site.client.get("/inbox/m-2", headers=STAFF).json()["state"] == "completed"


def test_an_offering_is_changed_confirmed_and_withdrawn_on_its_page(site: CharityUnderTest) -> None:
    client, organisation_id = signed_in_organisation(site, 1, "warm1")
    csrf = client.cookies["charity_csrftoken"]
    client.post("/pages/offerings/new", data={**page_offering(quantity_total="3"), "csrftoken": csrf})
    offering_id = site.client.get("/offerings", headers=STAFF).json()[0]["offering_id"]
    site.propose(offering_id, organisation_id, "m-1", quantity=2)
    assert client.post("/pages/inbox/m-1/accept", data={"csrftoken": csrf}).status_code == 200

    below = client.post(f"/pages/offerings/{offering_id}", data={**page_offering(quantity_total="1", title="Bigger parcels"), "csrftoken": csrf})
    assert below.status_code == 400 and errors(below.text) == {"quantity_total": "少于已送达数量加上已接受匹配所保留的数量"}
    assert 'value="Bigger parcels"' in below.text
    assert site.client.get(f"/offerings/{offering_id}", headers=STAFF).json()["title"] == "Winter food parcel"  # nothing half
    changed = client.post(f"/pages/offerings/{offering_id}", data={**page_offering(quantity_total="12", title="Bigger parcels"), "csrftoken": csrf},
                          follow_redirects=False)
    assert changed.status_code == 303
    record = site.client.get(f"/offerings/{offering_id}", headers=STAFF).json()
    assert record["title"] == "Bigger parcels" and record["quantity_total"] == 12 and record["value_fen_per_unit"] == 15000

    too_few = client.post(f"/pages/offerings/{offering_id}/confirm-capacity", data={"quantity_remaining": "1", "csrftoken": csrf})
    assert too_few.status_code == 400 and errors(too_few.text) == {"quantity_remaining": "少于已接受匹配所保留的数量"}
    assert client.post(f"/pages/offerings/{offering_id}/confirm-capacity", data={"quantity_remaining": "8", "csrftoken": csrf},
                       follow_redirects=False).status_code == 303
    assert site.client.get(f"/offerings/{offering_id}", headers=STAFF).json()["quantity_remaining"] == 8

    assert client.post(f"/pages/offerings/{offering_id}/withdraw", data={"reason": "donor cancelled", "csrftoken": csrf},
                       follow_redirects=False).status_code == 303
    assert site.client.get(f"/offerings/{offering_id}", headers=STAFF).json()["status"] == "withdrawn"
    page = client.get(f"/pages/offerings/{offering_id}").text
    assert re.search(r'id="offering-status">已撤回<', page) and 'id="withdraw"' not in page
    again = client.post(f"/pages/offerings/{offering_id}/withdraw", data={"csrftoken": csrf})
    assert again.status_code == 409 and "现在无法操作" in again.text


def test_a_failed_delivery_is_reported_with_words(site: CharityUnderTest) -> None:
    client, organisation_id = signed_in_organisation(site, 1, "warm1")
    csrf = client.cookies["charity_csrftoken"]
    client.post("/pages/offerings/new", data={**page_offering(), "csrftoken": csrf})
    offering_id = site.client.get("/offerings", headers=STAFF).json()[0]["offering_id"]
    site.propose(offering_id, organisation_id, "m-1")
    client.post("/pages/inbox/m-1/accept", data={"csrftoken": csrf})
    short = client.post("/pages/inbox/m-1/fail", data={"failure": "no", "csrftoken": csrf})
    assert short.status_code == 400 and errors(short.text) == {"failure": "至少 3 个字"}
    failed = client.post("/pages/inbox/m-1/fail", data={"failure": "nobody home, called 13812345678", "csrftoken": csrf})
    assert re.search(r'id="match-state">失败<', failed.text) and "13812345678" not in failed.text  # masked as the API masks it
    assert site.client.get("/inbox/m-1", headers=STAFF).json()["state"] == "failed"


# --- the organisation's users -----------------------------------------------------------------


def add_user(client: TestClient, username: str, password: str = PASSWORD, role: str = "volunteer") -> Any:
    return client.post("/pages/users", data={"username": username, "password": password, "role": role,
                                             "csrftoken": client.cookies["charity_csrftoken"]}, follow_redirects=False)


def signed_in_user(site: CharityUnderTest, username: str, password: str = PASSWORD) -> TestClient:
    client = TestClient(site.client.app)
    assert sign_in(client, username, password).status_code == 303
    return client


def user_row(site: CharityUnderTest, username: str) -> OrganisationUser:
    with Session(site.charity.engine) as session:
        user = session.get(OrganisationUser, username)
        assert user is not None
        return user


def test_an_administrator_adds_a_volunteer_who_may_not_manage_users(site: CharityUnderTest) -> None:
    admin, organisation_id = signed_in_organisation(site, 1, "warm1")
    listed = admin.get("/pages/users")
    assert re.search(r'id="user-warm1">\s*<h2>warm1 \(您\)</h2>\s*<p>.*管理员', listed.text) and 'id="add-user"' in listed.text

    bad = add_user(admin, "Not OK", "short", role="boss")
    assert bad.status_code == 400 and errors(bad.text) == {
        "username": "3到32个字符:小写字母、数字、点、横线或下划线", "password": "至少10个字符", "role": "请选择管理员或志愿者"}
    assert 'value="Not OK"' in bad.text and 'value="short"' not in bad.text  # what was typed is kept, except the password
    assert errors(add_user(admin, "warm1").text) == {"username": "该用户名已被使用"}
    admin.cookies.set("hub_lang", "en")
    assert errors(add_user(admin, "x", role="volunteer").text)["username"].startswith("3 to 32 characters")
    admin.cookies.set("hub_lang", "zh")
    unsigned = admin.post("/pages/users", data={"username": "helper1", "password": PASSWORD, "role": "volunteer"})
    assert unsigned.status_code == 403 and count(site, OrganisationUser) == 1  # no CSRF token: nothing written

    added = add_user(admin, "helper1")
    assert added.status_code == 303 and added.headers["location"] == "/pages/users?done=added"
    assert user_row(site, "helper1").organisation_id == organisation_id and user_row(site, "helper1").role == "volunteer"
    assert count(site, OrganisationUser) == 2

    helper = signed_in_user(site, "helper1")
    page = helper.get("/pages/users")
    assert page.status_code == 200 and 'id="not-administrator"' in page.text and 'id="add-user"' not in page.text
    assert "warm1" in page.text and "/disable" not in page.text
    assert helper.get("/pages/inbox").status_code == 200  # a volunteer works on the organisation's records
    refused = add_user(helper, "helper2")
    assert refused.status_code == 403 and "无权操作" in refused.text and count(site, OrganisationUser) == 2
    assert helper.post("/pages/users/warm1/disable", data={"csrftoken": helper.cookies["charity_csrftoken"]}).status_code == 403
    assert user_row(site, "warm1").disabled_at is None and admin.get("/pages/").status_code == 200


def test_a_disabled_user_is_signed_out_at_once_and_cannot_sign_in(site: CharityUnderTest) -> None:
    admin, _ = signed_in_organisation(site, 1, "warm1")
    other_admin, _ = signed_in_organisation(site, 2, "other2")
    assert add_user(admin, "helper1", role="administrator").status_code == 303
    phone, laptop = signed_in_user(site, "helper1"), signed_in_user(site, "helper1")
    csrf = admin.cookies["charity_csrftoken"]

    assert other_admin.post("/pages/users/helper1/disable", data={"csrftoken": other_admin.cookies["charity_csrftoken"]}).status_code == 404
    assert "helper1" not in other_admin.get("/pages/users").text
    for missing in ("nobody1", "..%2Fwarm1"):
        assert admin.post(f"/pages/users/{missing}/disable", data={"csrftoken": csrf}).status_code == 404
    assert phone.get("/pages/", follow_redirects=False).status_code == 200

    disabled = admin.post("/pages/users/helper1/disable", data={"csrftoken": csrf}, follow_redirects=False)
    assert disabled.headers["location"] == "/pages/users?done=disabled"
    for client in (phone, laptop):  # its sessions ended with the change
        assert client.get("/pages/", follow_redirects=False).headers["location"].startswith("/pages/sign-in?")
    assert errors(sign_in(TestClient(site.client.app), "helper1").text) == {"password": "该用户已停用:请联系本机构的管理员"}
    assert errors(sign_in(TestClient(site.client.app), "helper1", "wrong password").text) == {"password": "用户名或密码错误"}
    assert re.search(r'id="user-helper1">.*?已停用', admin.get("/pages/users").text, re.S)

    assert admin.post("/pages/users/warm1/disable", data={"csrftoken": csrf}).status_code == 403  # never oneself
    assert user_row(site, "warm1").disabled_at is None

    assert admin.post("/pages/users/helper1/enable", data={"csrftoken": csrf}, follow_redirects=False).status_code == 303
    assert signed_in_user(site, "helper1").get("/pages/users").status_code == 200


def test_changing_ones_password_needs_the_current_one_and_ends_the_other_sessions(site: CharityUnderTest) -> None:
    here, _ = signed_in_organisation(site, 1, "warm1")
    elsewhere = signed_in_user(site, "warm1")
    csrf = here.cookies["charity_csrftoken"]
    new = "a brand new passphrase"

    def change(current: str, new_password: str, repeat: str) -> Any:
        return here.post("/pages/password", data={"current_password": current, "new_password": new_password,
                                                  "repeat_password": repeat, "csrftoken": csrf}, follow_redirects=False)

    assert here.get("/pages/password").status_code == 200
    wrong = change("not the password", new, new)
    assert wrong.status_code == 400 and errors(wrong.text) == {"current_password": "这不是您当前的密码"}
    assert errors(change(PASSWORD, "short", "short").text) == {"new_password": "至少10个字符"}
    mismatch = change(PASSWORD, new, new + "!")
    assert errors(mismatch.text) == {"repeat_password": "两次输入的新密码不一致"} and new not in mismatch.text
    assert elsewhere.get("/pages/", follow_redirects=False).status_code == 200  # nothing changed yet

    changed = change(PASSWORD, new, new)
    assert changed.status_code == 303 and changed.headers["location"] == "/pages/password?done=1"
    assert here.get("/pages/", follow_redirects=False).status_code == 200  # this session goes on
    assert elsewhere.get("/pages/", follow_redirects=False).status_code == 303  # every other one ended
    assert errors(sign_in(TestClient(site.client.app), "warm1").text) == {"password": "用户名或密码错误"}
    assert sign_in(TestClient(site.client.app), "warm1", new).status_code == 303

    for _ in range(2):
        change("guess " * 3, new, new)
    assert errors(change("guess " * 3, new, new).text) == {"current_password": "失败次数过多:该用户已被暂时锁定"}
    assert errors(sign_in(TestClient(site.client.app), "warm1", new).text) == {"password": "失败次数过多:该用户已被暂时锁定"}


def test_creating_a_key_follows_post_redirect_get_and_shows_it_once(site: CharityUnderTest) -> None:
    client, _ = signed_in_organisation(site, 1, "warm1")
    csrf = client.cookies["charity_csrftoken"]
    assert client.post("/pages/keys", data={"label": "", "csrftoken": csrf}).status_code == 400
    created = client.post("/pages/keys", data={"label": "tablet", "csrftoken": csrf}, follow_redirects=False)
    assert created.status_code == 303 and created.headers["location"] == "/pages/keys"  # never the key in a URL
    assert "Path=/pages/keys" in created.headers["set-cookie"] and "HttpOnly" in created.headers["set-cookie"]
    assert count(site, OrganisationKey) == 1
    flash = client.cookies["charity_new_key"]

    shown = client.get("/pages/keys")
    secret = re.search(r'<code id="new-key">(hubc_[^<]+)</code>', shown.text).group(1)  # type: ignore[union-attr]
    assert site.client.get("/inbox", headers={"X-API-Key": secret}).status_code == 200
    reloaded = client.get("/pages/keys")
    assert reloaded.status_code == 200 and secret not in reloaded.text and 'id="new-key"' not in reloaded.text
    assert count(site, OrganisationKey) == 1  # the reload created nothing

    other, _ = signed_in_organisation(site, 2, "other2")  # the carried key is only for the session that created it
    other.cookies.set("charity_new_key", flash, path="/pages/keys")
    assert secret not in other.get("/pages/keys").text


def test_users_from_before_roles_become_their_organisations_administrators(database_url: str) -> None:
    """Migration 0004 on a database at 0003: the users then were those who registered their
    organisation, so each becomes its administrator; the downgrade takes the columns away again."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    from kit.database import make_engine
    from services.charity.app import MIGRATIONS

    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, "0003")
            connection.execute(sa.text(
                "INSERT INTO charity_organisation (organisation_id, name, kind, credit_code, districts, contact_name, contact_phone,"
                " status, registered_at) VALUES ('org-1', 'Warm Heart', 'charity', :code, '[]', 'Li', '13812345678', 'approved', :now)"),
                {"code": credit_code(1), "now": "2026-01-01 00:00:00+00:00"})
            connection.execute(sa.text("INSERT INTO charity_user (username, organisation_id, password_hash, created_at)"
                                       " VALUES ('warm1', 'org-1', 'x', :now)"), {"now": "2026-01-01 00:00:00+00:00"})
            command.upgrade(config, "head")
            assert connection.execute(sa.text("SELECT role, disabled_at FROM charity_user")).one() == ("administrator", None)
            command.downgrade(config, "0003")
            assert "role" not in {c["name"] for c in sa.inspect(connection).get_columns("charity_user")}
    finally:
        engine.dispose()
