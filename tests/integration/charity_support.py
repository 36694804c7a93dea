"""Helpers for the charity service's tests: the HTTP app in-process on a real database, valid
credit codes, and organisations registered and approved through the API itself."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient
from stdnum.cn import uscc

from contracts.envelope import utc_now
from contracts.hub import MatchProposedV2
from kit.auth import ApiKeys
from kit.database import make_engine, migrate
from kit.outbox import UnitOfWork
from kit.settings import HubSettings
from services.charity.app import MIGRATIONS, charity_api, mount_pages
from services.charity.settings import CharitySettings
from services.charity.handlers import apply_batch
from services.charity.usecases import Charity
from tests.conftest import ROOT

STAFF = {"X-API-Key": "dev-staff-key"}
DEPARTMENT = {"X-API-Key": "dev-ca-key"}
CHARITY_DEMO = {"X-API-Key": "dev-charity-key"}


def credit_code(n: int) -> str:
    """A valid unified social credit code (Shanghai, Xuhui), different for each n."""
    body = f"91310104{n:09d}"
    return body + uscc.calc_check_digit(body)


def registration(n: int, **changes: Any) -> dict[str, Any]:
    return {"name": f"Warm Heart Centre {n}", "kind": "charity", "credit_code": credit_code(n), "districts": ["310104"],
            "contact_name": "李老师", "contact_phone": "13812345678"} | changes


def offering(**changes: Any) -> dict[str, Any]:
    today = date.today()
    return {
        "title": "Winter food parcel", "description": "Rice, oil and eggs", "category": "food", "programme": "CHARITY_FOOD",
        "kind": "goods", "unit": "parcel", "quantity_total": 10, "value_fen_per_unit": 15000,
        "eligibility": {"household_categories": ["dibao"]}, "service_area": {"districts": ["310104"]},
        "valid_from": str(today - timedelta(days=1)), "valid_until": str(today + timedelta(days=60)), "confirm_every_days": 14,
    } | changes


@dataclass
class CharityUnderTest:
    client: TestClient
    charity: Charity
    hub: HubSettings
    registered: int = 0

    def register(self, approve: bool = True, **changes: Any) -> tuple[str, dict[str, str]]:
        """A new organisation (approved unless told otherwise): its id and its key's header."""
        self.registered += 1
        answer = self.client.post("/organisations", json=registration(self.registered, **changes))
        assert answer.status_code == 201, answer.text
        organisation_id = answer.json()["organisation"]["organisation_id"]
        if approve:
            decided = self.client.post(f"/organisations/{organisation_id}/approve", headers=STAFF)
            assert decided.status_code == 200, decided.text
        return organisation_id, {"X-API-Key": answer.json()["key"]["api_key"]}

    def publish(self, key: dict[str, str], **changes: Any) -> dict[str, Any]:
        answer = self.client.post("/offerings", json=offering(**changes), headers=key)
        assert answer.status_code == 201, answer.text
        return answer.json()

    def propose(self, offering_id: str, organisation_id: str, match_id: str, household_id: str = "hh-1", **changes: Any) -> MatchProposedV2:
        """Deliver a proposal to the service as its consumer would (the same batch function)."""
        event = proposal(offering_id, organisation_id, match_id, household_id, **changes)
        with self.charity.unit_of_work() as unit:
            apply_batch(unit, [event])
            unit.commit()
        return event


def proposal(offering_id: str, organisation_id: str, match_id: str, household_id: str = "hh-1", **changes: Any) -> MatchProposedV2:
    data = {
        "match_id": match_id, "offering_id": offering_id, "charity_id": organisation_id, "need_id": f"need-{match_id}",
        "category": "food", "district": "310104", "subdistrict": "310104003", "household_size": 3, "urgency": 4,
        "quantity": 1, "expires_at": utc_now() + timedelta(days=2),
    } | changes
    return MatchProposedV2(source="matching", household_id=household_id, data=data)


@contextmanager
def charity_under_test(database_url: str, hub: HubSettings | None = None,
                       pages: CharitySettings | None = None) -> Iterator[CharityUnderTest]:
    """`pages`: also the organisation's pages under /pages, with these settings."""
    hub = hub or HubSettings(topic_namespace="test.")
    engine = make_engine(database_url)
    migrate(engine, MIGRATIONS)
    charity = Charity(engine=engine, unit_of_work=lambda: UnitOfWork(engine, hub))
    app = charity_api(charity, ApiKeys.load(ROOT / "config" / "dev-api-keys.toml"))
    if pages is not None:
        mount_pages(app, charity, pages)
    try:
        with TestClient(app) as client:
            yield CharityUnderTest(client, charity, hub)
    finally:
        engine.dispose()


def outbox(charity: Charity) -> list[tuple[str, str | None, Any]]:
    """What the service has queued to publish: (topic, key, event), oldest first."""
    from sqlmodel import Session, col, select

    from contracts.hub import HUB_EVENTS
    from kit.outbox import OutboxMessage

    with Session(charity.engine) as session:
        rows = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
        return [(r.topic, r.key.decode() if r.key else None, HUB_EVENTS.parse(r.value)) for r in rows]
