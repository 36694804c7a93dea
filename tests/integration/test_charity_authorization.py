"""Who sees what, for every endpoint: the organisation's own key, another organisation's key, a
department key, a staff key, the keys-file charity key and no key. The key is checked before
the body is read: a body that is not even JSON still gets 401/403, not 422."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.charity_support import CHARITY_DEMO, DEPARTMENT, STAFF, CharityUnderTest, charity_under_test, offering

OWN, OTHER, DEPT, STAFF_, DEMO, NONE = "own", "other", "department", "staff", "charity-demo", "none"
CALLERS = [OWN, OTHER, DEPT, STAFF_, DEMO, NONE]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    body: dict | None
    expected: dict[str, int]  # caller -> status


def org_only(ok: int = 200) -> dict[str, int]:
    return {OWN: ok, OTHER: 404, DEPT: 403, STAFF_: 403, DEMO: 403, NONE: 401}


def org_or_staff(ok: int = 200, other: int = 404) -> dict[str, int]:
    return {OWN: ok, OTHER: other, DEPT: 403, STAFF_: ok, DEMO: 403, NONE: 401}


def staff_only(ok: int = 200) -> dict[str, int]:
    return {OWN: 403, OTHER: 403, DEPT: 403, STAFF_: ok, DEMO: 403, NONE: 401}


def anyone(ok: int = 200) -> dict[str, int]:
    return dict.fromkeys(CALLERS, ok)


ENDPOINTS = [
    Endpoint("GET", "/public/offerings", None, anyone()),
    Endpoint("GET", "/organisations", None, staff_only()),
    Endpoint("GET", "/organisations/{org}", None, org_or_staff()),
    Endpoint("PATCH", "/organisations/{org}", {"contact_name": "王老师"}, org_only()),
    Endpoint("POST", "/organisations/{pending}/approve", {}, staff_only()),
    Endpoint("POST", "/organisations/{pending}/refuse", {"reason": "not a charity"}, staff_only()),
    Endpoint("POST", "/organisations/{org}/keys", {"label": "x"}, org_only(201)),
    Endpoint("GET", "/organisations/{org}/keys", None, org_or_staff()),
    Endpoint("DELETE", "/organisations/{org}/keys/{spare_key}", None, org_or_staff()),
    Endpoint("POST", "/offerings", offering(), {OWN: 201, OTHER: 201, DEPT: 403, STAFF_: 403, DEMO: 403, NONE: 401}),
    Endpoint("GET", "/offerings", None, org_or_staff(other=200)),  # each sees its own (tested for content below)
    Endpoint("GET", "/offerings/{offering}", None, org_or_staff()),
    Endpoint("PATCH", "/offerings/{offering}", {"title": "Changed title"}, org_only()),
    Endpoint("POST", "/offerings/{offering}/confirm-capacity", {}, org_only()),
    Endpoint("POST", "/offerings/{offering}/withdraw", {"reason": "x"}, org_only()),
    Endpoint("GET", "/inbox", None, org_or_staff(other=200)),
    Endpoint("GET", "/inbox/{m1}", None, org_or_staff()),
    Endpoint("POST", "/inbox/{m1}/accept", None, org_only()),
    Endpoint("POST", "/inbox/{m2}/decline", {"reason_code": "no_capacity"}, org_only()),
    Endpoint("POST", "/inbox/{m3}/start", None, org_only(409)),  # reached the match: requested cannot start
    Endpoint("POST", "/inbox/{m4}/fulfil", {}, org_only(409)),
    Endpoint("POST", "/inbox/{m5}/fail", {"reason": "nobody home"}, org_only(409)),
    Endpoint("GET", "/stats/social-forces", None, staff_only()),
]


@dataclass
class World:
    under_test: CharityUnderTest
    ids: dict[str, str]
    keys: dict[str, dict[str, str]]


def world(under_test: CharityUnderTest) -> World:
    """Organisations, keys, an offering and five proposals of their own: each case gets a new
    world, all on the module's one app and database."""
    organisation_id, own = under_test.register()
    _, other = under_test.register()
    pending, _ = under_test.register(approve=False)
    spare = under_test.client.post(f"/organisations/{organisation_id}/keys", headers=own, json={"label": "spare"}).json()["key_id"]
    offering_id = under_test.publish(own)["offering_id"]
    matches = {f"m{n}": f"m-{n}-{offering_id}" for n in range(1, 6)}
    for match_id in matches.values():
        under_test.propose(offering_id, organisation_id, match_id)
    return World(
        under_test,
        {"org": organisation_id, "pending": pending, "offering": offering_id, "spare_key": spare} | matches,
        {OWN: own, OTHER: other, DEPT: DEPARTMENT, STAFF_: STAFF, DEMO: CHARITY_DEMO, NONE: {}},
    )


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CharityUnderTest]:
    # Access is decided before any query that differs between databases: SQLite alone here
    # (the API tests run every endpoint on both). One app for the module: a new app per case
    # took most of the matrix's time; each case makes its own organisations (`world`).
    with charity_under_test(f"sqlite:///{tmp_path_factory.mktemp('charity') / 'charity.db'}") as under_test:
        yield under_test


@pytest.fixture
def alone(tmp_path: Path) -> Iterator[CharityUnderTest]:
    """An app and database of the test's own, for what counts every organisation's rows."""
    with charity_under_test(f"sqlite:///{tmp_path / 'charity.db'}") as under_test:
        yield under_test


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
def test_authorization_matrix(fresh: CharityUnderTest, endpoint: Endpoint, caller: str) -> None:
    setting = world(fresh)
    path = endpoint.path.format(**setting.ids)
    answer = fresh.client.request(endpoint.method, path, json=endpoint.body, headers=setting.keys[caller])
    assert answer.status_code == endpoint.expected[caller], f"{caller} {endpoint.method} {path}: {answer.text}"


@pytest.mark.parametrize("caller", [DEPT, STAFF_, DEMO, NONE])
def test_the_key_is_checked_before_the_body_is_read(fresh: CharityUnderTest, caller: str) -> None:
    setting = world(fresh)
    headers = setting.keys[caller] | {"content-type": "application/json"}
    answer = fresh.client.post("/offerings", content=b"{not json", headers=headers)
    assert answer.status_code == (401 if caller == NONE else 403), answer.text


def test_each_organisation_lists_only_its_own(alone: CharityUnderTest) -> None:
    setting = world(alone)
    other_offering = alone.publish(setting.keys[OTHER])["offering_id"]
    own = {o["offering_id"] for o in alone.client.get("/offerings", headers=setting.keys[OWN]).json()}
    other = {o["offering_id"] for o in alone.client.get("/offerings", headers=setting.keys[OTHER]).json()}
    every = {o["offering_id"] for o in alone.client.get("/offerings", headers=STAFF).json()}
    assert own == {setting.ids["offering"]} and other == {other_offering} and every == own | other
    assert alone.client.get("/inbox", headers=setting.keys[OTHER]).json() == []
    assert len(alone.client.get("/inbox", headers=STAFF).json()) == 5


def test_unknown_and_revoked_keys_are_401(fresh: CharityUnderTest) -> None:
    setting = world(fresh)
    assert fresh.client.get("/inbox", headers={"X-API-Key": "hubc_000000000000_nothing"}).status_code == 401
    assert fresh.client.get("/inbox", headers={"X-API-Key": "whatever"}).status_code == 401
    fresh.client.delete(f"/organisations/{setting.ids['org']}/keys/{setting.ids['spare_key']}", headers=setting.keys[OWN])
    answer = fresh.client.get("/inbox", headers=setting.keys[OWN])
    assert answer.status_code == 200  # the first key still works


def test_the_demo_charity_key_is_told_to_register(fresh: CharityUnderTest) -> None:
    answer = fresh.client.get("/inbox", headers=CHARITY_DEMO)
    assert answer.status_code == 403 and "register" in answer.json()["detail"]
