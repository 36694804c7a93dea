"""Issue 17, item 9: the requests that got a 500 from the ledger are answered 422 naming the field."""

from __future__ import annotations

import httpx

STAFF = {"X-API-Key": "dev-staff-key"}
CHECK = {"programme": "DIBAO", "period_start": "2026-05-01"}


def test_what_got_a_500_is_a_422_naming_the_field(start_service) -> None:
    ledger = start_service("ledger")
    with httpx.Client(base_url=ledger.url, headers=STAFF, timeout=10) as client:
        cases = [
            (client.get("/review/alerts", params={"offset": "9223372036854775808"}), "offset"),
            (client.get("/stats/benefits", params={"from": "0000-01"}), "from"),
            (client.get("/stats/cliff", params={"month": "0000-01"}), "month"),
            (client.get("/stats/cliff", params={"month": "2026-04", "standard_fen": "99999999999999999999"}), "standard_fen"),
            (client.post("/pre-grant-check", json={**CHECK, "household_id": "hh-1", "person_key": ""}), "person_key"),
            (client.post("/pre-grant-check", json={**CHECK, "household_id": "hh-1", "period_start": "0001-01-01"}), "period_start"),
        ]
        for answer, field in cases:
            assert answer.status_code == 422, (field, answer.status_code, answer.text[:200])
            detail = answer.json()["detail"]
            assert isinstance(detail, list) and field in detail[0]["loc"], (field, detail)
