"""The rows a batch writes for benefits: the shortcuts that build them must write exactly what the
plain forms would (`Benefit.to_dict` for a grant's record, every field for a benefit's row)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta, timezone

import orjson
import pytest
from pydantic import AwareDatetime, TypeAdapter

from services.ledger.batch import _benefit_row, _grant_record
from services.ledger.domain import Benefit
from services.ledger.repository import LedgerBenefit

PARSED = TypeAdapter(AwareDatetime).validate_json


def benefit(**changes: object) -> Benefit:
    values: dict[str, object] = {
        "benefit_id": "CA:b-1", "household_id": "hh-1", "programme": "DIBAO", "source": "CA", "source_kind": "department",
        "period_start": date(2026, 1, 1), "event_id": "canonical-1", "person_key": "p_1", "amount_fen": 107_000,
    }
    return Benefit(**{**values, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize("changes", [
    {},
    {"occurred_at": datetime(2026, 3, 1, 9, tzinfo=UTC), "period_end": date(2026, 3, 31)},
    {"occurred_at": datetime(2026, 3, 1, 9, 0, 0, 5, tzinfo=UTC), "in_kind": "食品包", "need_id": "CA:n-1"},
    {"occurred_at": PARSED(b'"2026-03-01T09:00:00.123456Z"'), "status": "ended", "period_end": date(2025, 12, 31)},
    {"occurred_at": PARSED(b'"2026-03-01T09:00:00+08:00"'), "person_key": None, "amount_fen": None},
    {"occurred_at": datetime(2026, 3, 1, 9, tzinfo=timezone(timedelta(hours=5, minutes=30))), "source_kind": "charity"},
])
def test_a_grant_record_is_written_as_the_benefit_s_dict_would_be(changes: dict[str, object]) -> None:
    granted = benefit(**changes)
    assert orjson.dumps(_grant_record(granted)) == orjson.dumps({"kind": "grant", "benefit": granted.to_dict()})
    assert Benefit.from_dict(orjson.loads(orjson.dumps(_grant_record(granted)))["benefit"]) == granted


def test_a_benefit_row_has_every_column_of_ledger_benefit_and_every_field_of_the_benefit() -> None:
    granted = benefit(occurred_at=datetime(2026, 3, 1, 9, tzinfo=UTC))
    row = _benefit_row(granted)
    assert row == asdict(granted)
    assert set(row) == set(LedgerBenefit.__table__.columns.keys())  # type: ignore[attr-defined]
    row["amount_fen"] = 1
    assert granted.amount_fen == 107_000  # a copy
