"""Issue 17, items 7 and 8, on SQLite and PostgreSQL: statistics cells below the minimum are
withheld from department keys (and the answer says so), staff see them; every pre-grant check
is audited with the department, the key, the programme and the household looked at."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from kit.auth import ApiKeys
from kit.database import make_engine, migrate
from kit.http import protect
from kit.outbox import UnitOfWork
from services.ledger.app import MIGRATIONS
from services.ledger.http import LedgerContext, ledger_router
from services.ledger.identity import person_key
from services.ledger.repository import LedgerRepository
from tests.conftest import ROOT
from tests.integration.test_ledger_store import DIBAO, HUB, NEED, POLICY, household, run

SECRET = b"secret"
CA = {"X-API-Key": "dev-ca-key"}
STAFF = {"X-API-Key": "dev-staff-key"}


@pytest.fixture
def client(database_url: str) -> Iterator[tuple[TestClient, sa.Engine]]:
    engine = make_engine(database_url)
    migrate(engine, MIGRATIONS)
    run(engine, [household(), NEED, DIBAO])  # one household: every cell counts one
    app = FastAPI()
    app.state.api_keys = ApiKeys.load(ROOT / "config" / "dev-api-keys.toml")
    app.include_router(ledger_router(LedgerContext(engine, lambda: UnitOfWork(engine, HUB), None, POLICY, SECRET)))  # type: ignore[arg-type]
    with TestClient(protect(app, HUB)) as test_client:
        yield test_client, engine
    engine.dispose()


def test_small_cells_are_withheld_from_department_keys_and_the_answer_says_so(client) -> None:
    http, _ = client
    department = http.get("/stats/benefits", params={"from": "2026-01"}, headers=CA).json()
    row = department["rows"][0]
    assert row["suppressed"] is True and row["households"] is None and row["persons"] is None and row["amount_fen"] is None
    assert department["suppression"]["minimum"] == 5 and department["suppression"]["cells_suppressed"] == 1
    staff = http.get("/stats/benefits", params={"from": "2026-01"}, headers=STAFF).json()
    assert staff["rows"][0]["households"] == 1 and "suppression" not in staff
    near = http.get("/stats/cliff", params={"month": "2026-01", "band_fen": 20_000, "step_fen": 10_000}, headers=CA).json()
    assert near["bands"] and all(b["households"] is None and b["mean_benefits_per_household_fen"] is None for b in near["bands"])
    assert near["suppression"]["cells_suppressed"] >= 1


def test_every_pre_grant_check_is_audited(client) -> None:
    http, engine = client
    number = "310104198001010025"
    checks = [
        ({"resident_id": number, "programme": "DIBAO", "period_start": "2026-05-01"}, 200),
        ({"household_id": "hh-1", "programme": "DIBAO", "period_start": "2026-05-01"}, 200),
        ({"household_id": "hh-unknown", "programme": "DIBAO", "period_start": "2026-05-01"}, 404),
    ]
    for body, expected in checks:
        assert http.post("/pre-grant-check", json=body, headers=CA).status_code == expected
    with Session(engine) as session:
        trail = [e for e in LedgerRepository(session).audit_trail(None, "ca-system", 10) if e.action == "pre_grant_check"]
    assert len(trail) == 3
    by_number, by_household, unknown = reversed(trail)
    assert by_number.target_id == f"person:{person_key(number, SECRET)}" and by_number.detail["named_by"] == "resident_id"
    assert by_household.target_id == "hh-1" and by_household.detail["known_household"] is True
    assert unknown.target_id == "hh-unknown" and unknown.detail["known_household"] is False
    for entry in trail:
        assert entry.role == "department" and entry.detail["department"] == "CA" and entry.detail["programme"] == "DIBAO"
        assert number not in str(entry.detail) and number not in entry.target_id
