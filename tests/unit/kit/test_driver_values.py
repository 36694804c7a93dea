"""Values as the driver takes them: the kit's own conversions must equal SQLAlchemy's."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from pydantic import AwareDatetime, TypeAdapter
from sqlmodel.sql.sqltypes import UTCDateTime

from kit.database import driver_values

CST = timezone(timedelta(hours=8))
TABLE = sa.Table(
    "t", sa.MetaData(), sa.Column("at", UTCDateTime()), sa.Column("plain", sa.DateTime(timezone=True)), sa.Column("day", sa.Date)
)
TIMES = [
    datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),  # no microseconds: still six digits
    datetime(2026, 1, 1, 7, 0, tzinfo=CST),  # the day before, in UTC
    datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    # As events carry them: parsed by pydantic, whose zero offset is a tzinfo of its own, not `UTC`.
    TypeAdapter(AwareDatetime).validate_json(b'"2026-01-02T03:04:05.000600Z"'),
    TypeAdapter(AwareDatetime).validate_json(b'"2026-01-02T03:04:05+08:00"'),
    None,
]


@pytest.fixture
def sqlite() -> sa.Connection:
    engine = sa.create_engine("sqlite://")
    with engine.connect() as connection:
        yield connection


@pytest.mark.parametrize(("column", "in_utc"), [("at", "2025-12-31 23:00:00.000000"), ("plain", "2026-01-01 07:00:00.000000")])
def test_aware_times_are_written_for_sqlite_as_sqlalchemy_writes_them(sqlite: sa.Connection, column: str, in_utc: str) -> None:
    expected = TABLE.c[column].type._cached_bind_processor(sqlite.dialect)
    converted = driver_values(sqlite, TABLE, [column], [{column: value} for value in TIMES])
    assert [row[0] for row in converted] == [expected(value) for value in TIMES]
    assert converted[2][0] == in_utc  # UTCDateTime turns 07:00 in Shanghai to UTC; a plain DateTime keeps it


def test_a_naive_time_is_still_refused_and_a_date_still_written(sqlite: sa.Connection) -> None:
    with pytest.raises(ValueError, match="timezone"):
        driver_values(sqlite, TABLE, ["at"], [{"at": datetime(2026, 1, 1)}])
    assert driver_values(sqlite, TABLE, ["plain"], [{"plain": date(2026, 1, 1)}]) == [["2026-01-01 00:00:00.000000"]]


def test_days_are_written_for_sqlite_as_sqlalchemy_writes_them(sqlite: sa.Connection) -> None:
    expected = TABLE.c.day.type._cached_bind_processor(sqlite.dialect)
    days = [date(2026, 1, 2), date(999, 12, 31), datetime(2026, 1, 2, 3, 4, tzinfo=UTC), None]
    converted = driver_values(sqlite, TABLE, ["day"], [{"day": value} for value in days])
    assert [row[0] for row in converted] == [expected(value) for value in days]
    assert converted[0][0] == "2026-01-02"
