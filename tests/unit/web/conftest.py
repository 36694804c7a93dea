from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kit.database import migrate
from kit.settings import HubSettings
from services.web.access import Access
from services.web.accounts import Role, StaffMember
from services.web.app import MIGRATIONS, build
from services.web.settings import WebSettings
from tests.unit.web.fakes import FakeServices

PASSWORD = "correct horse battery"
PEOPLE = {
    "administrator": ("ada", Role.ADMINISTRATOR, None),
    "reviewer": ("rita", Role.REVIEWER, None),
    "department_viewer": ("dora", Role.DEPARTMENT_VIEWER, "DPF"),
}


class Site:
    def __init__(self, client: TestClient, access: Access, fake: FakeServices) -> None:
        self.client, self.access, self.fake = client, access, fake

    def csrf(self) -> str:
        if "csrftoken" not in self.client.cookies:
            self.client.get("/sign-in")
        return self.client.cookies["csrftoken"]

    def sign_in(self, username: str, password: str = PASSWORD, next: str = "/dashboard"):  # type: ignore[no-untyped-def]
        return self.client.post("/sign-in", data={"username": username, "password": password, "next": next,
                                                  "csrftoken": self.csrf()}, follow_redirects=False)

    def as_role(self, role: str) -> Site:
        self.client.cookies.clear()
        if role != "none":
            assert self.sign_in(PEOPLE[role][0]).status_code == 303
        return self


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    settings = WebSettings(database_url=f"sqlite:///{tmp_path / 'web.db'}", hub=HubSettings(data_dir=tmp_path), lock_after=3)
    fake = FakeServices()
    runtime, http = build(settings, fake.upstreams())
    migrate(runtime.engine, MIGRATIONS)
    access: Access = http.state.access
    for username, role, department in PEOPLE.values():
        creator = None if role == Role.ADMINISTRATOR else StaffMember("ada", Role.ADMINISTRATOR)
        assert access.create_account(creator, username, PASSWORD, role, department) == []
    with TestClient(http, base_url="http://testserver") as client:
        yield Site(client, access, fake)
    runtime.engine.dispose()
