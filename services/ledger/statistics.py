"""The statistics the joint meeting reads: households, persons and amounts by district, programme
and month (the shape of the Shanghai paper's tables), open alerts, and the cliff effect around the
dibao standard.

A benefit counts in every calendar month it runs in, with its amount for that month (recurring
programmes carry a monthly amount; a one-off grant runs within one month). Persons are the
household's members for a household-level benefit and the persons named for a personal one.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

DIBAO_STANDARD_FEN = 107_000  # Shanghai from 2018-04-01: 1,070 CNY per person per month (seed 000)
DEFAULT_MIN_CELL = 5
BAND_FIGURES = (
    "households", "persons", "mean_income_per_capita_fen", "mean_benefits_per_household_fen",
    "mean_benefits_per_person_fen", "mean_income_plus_benefits_per_capita_fen",
)


def suppress_small_cells(rows: list[dict[str, Any]], minimum: int, count: str, hidden: tuple[str, ...]) -> int:
    """Withhold the figures of every cell counting fewer than `minimum` (but some) households or
    alerts: a cell of one or two households identifies them to anyone who knows the district and
    the programme. The cell stays, marked `suppressed`, so the answer says what was withheld;
    returns how many cells were."""
    withheld = 0
    for row in rows:
        if 0 < row[count] < minimum:
            row.update(dict.fromkeys(hidden), suppressed=True)
            withheld += 1
    return withheld


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """'2026-03' -> Month(2026, 3); ValueError otherwise."""
        year, _, month = text.partition("-")
        if not (len(year) == 4 and year.isdigit() and len(month) == 2 and month.isdigit() and 1 <= int(month) <= 12):
            raise ValueError(f"{text!r} is not a month written YYYY-MM")
        return cls(int(year), int(month))

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def months_between(first: Month, last: Month) -> list[Month]:
    months: list[Month] = []
    current = first
    while (current.year, current.month) <= (last.year, last.month):
        months.append(current)
        current = current.next()
    return months


_RUNS_IN_MONTH = """
    b.period_start <= :last_day
    AND (b.period_end IS NULL OR (b.period_end >= :first_day AND b.period_end >= b.period_start))
"""

_BY_DISTRICT_PROGRAMME = sa.text(f"""
    SELECT district, programme, COUNT(*) AS households,
           SUM(CASE WHEN household_level > 0 THEN person_count ELSE persons END) AS persons,
           SUM(amount) AS amount_fen
    FROM (
        SELECT COALESCE(h.district, '') AS district, b.programme AS programme, b.household_id,
               MAX(COALESCE(h.person_count, 0)) AS person_count,
               SUM(CASE WHEN b.person_key IS NULL THEN 1 ELSE 0 END) AS household_level,
               COUNT(DISTINCT b.person_key) AS persons,
               SUM(COALESCE(b.amount_fen, 0)) AS amount
        FROM ledger_benefit b LEFT JOIN ledger_household h ON h.household_id = b.household_id
        WHERE {_RUNS_IN_MONTH}
        GROUP BY COALESCE(h.district, ''), b.programme, b.household_id
    ) AS per_household
    GROUP BY district, programme
    ORDER BY district, programme
""")


def benefits_by_district_programme(session: Session, months: list[Month]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for month in months:
        result = session.execute(_BY_DISTRICT_PROGRAMME, {"first_day": month.first_day, "last_day": month.last_day})
        for district, programme, households, persons, amount in result:
            rows.append({
                "month": str(month),
                "district": district or None,
                "programme": programme,
                "households": int(households),
                "persons": int(persons or 0),
                "amount_fen": int(amount or 0),
            })
    return rows


_OPEN_ALERTS = sa.text("""
    SELECT COALESCE(district, '') AS district, severity, rule_id, COUNT(*)
    FROM ledger_alert WHERE status = 'open'
    GROUP BY COALESCE(district, ''), severity, rule_id
    ORDER BY 1, 2, 3
""")


def open_alert_counts(session: Session) -> dict[str, Any]:
    rows = [
        {"district": district or None, "severity": severity, "rule_id": rule_id, "open": int(count)}
        for district, severity, rule_id, count in session.execute(_OPEN_ALERTS)
    ]
    return {"total_open": sum(row["open"] for row in rows), "by_district_severity_rule": rows}


_NEAR_STANDARD = sa.text(f"""
    SELECT h.household_id, h.income_fen, h.person_count, COALESCE(h.category, '') AS category,
           COALESCE(SUM(b.amount_fen), 0) AS benefits_fen
    FROM ledger_household h
    LEFT JOIN ledger_benefit b ON b.household_id = h.household_id AND b.status IS NOT NULL AND {_RUNS_IN_MONTH}
    WHERE h.income_fen >= :low AND h.income_fen < :high
    GROUP BY h.household_id, h.income_fen, h.person_count, COALESCE(h.category, '')
""")


@dataclass
class _Band:
    low_fen: int
    households: int = 0
    persons: int = 0
    income_fen: int = 0
    benefits_fen: int = 0

    def add(self, income_fen: int, persons: int, benefits_fen: int) -> None:
        self.households += 1
        self.persons += persons
        self.income_fen += income_fen
        self.benefits_fen += benefits_fen

    def to_dict(self, step_fen: int, standard_fen: int) -> dict[str, Any]:
        per_household = self.benefits_fen // self.households if self.households else 0
        per_person = self.benefits_fen // self.persons if self.persons else 0
        mean_income = self.income_fen // self.households if self.households else 0
        return {
            "income_from_fen": self.low_fen,
            "income_to_fen": self.low_fen + step_fen,
            "side": "below" if self.low_fen < standard_fen else "at_or_above",
            "households": self.households,
            "persons": self.persons,
            "mean_income_per_capita_fen": mean_income,
            "mean_benefits_per_household_fen": per_household,
            "mean_benefits_per_person_fen": per_person,
            "mean_income_plus_benefits_per_capita_fen": mean_income + per_person,
        }


def cliff(session: Session, month: Month, standard_fen: int, band_fen: int, step_fen: int) -> dict[str, Any]:
    """Households with per-capita income within `band_fen` of the standard, in bands of `step_fen`,
    with the benefits their category brings them in that month."""
    low, high = standard_fen - band_fen, standard_fen + band_fen
    bands: dict[int, _Band] = {}
    categories: dict[tuple[str, str], _Band] = {}
    result = session.execute(
        _NEAR_STANDARD, {"low": low, "high": high, "first_day": month.first_day, "last_day": month.last_day}
    )
    for _, income, persons, category, benefits in result:
        start = standard_fen + ((int(income) - standard_fen) // step_fen) * step_fen
        bands.setdefault(start, _Band(start)).add(int(income), max(int(persons or 0), 1), int(benefits))
        side = "below" if income < standard_fen else "at_or_above"
        categories.setdefault((side, category), _Band(0)).add(int(income), max(int(persons or 0), 1), int(benefits))
    return {
        "month": str(month),
        "standard_fen": standard_fen,
        "band_fen": band_fen,
        "step_fen": step_fen,
        "bands": [bands[key].to_dict(step_fen, standard_fen) for key in sorted(bands)],
        "by_side_and_category": [
            {"side": side, "category": category or None, "households": band.households,
             "mean_benefits_per_household_fen": band.benefits_fen // band.households}
            for (side, category), band in sorted(categories.items())
        ],
    }
