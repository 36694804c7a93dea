"""Eligibility: may this offering serve this need of this household? Each rule checked by name.

Pure: no database, no Kafka. The round's vectorised candidate generation (candidates.py) applies
the same rules to whole arrays and is tested against `check`.

Choices where the data is silent:
- an unknown household category or colour meets an offering only if it does not restrict them;
- unknown birth years meet no age bound;
- registered residence: see `Household.registered_residence`;
- "already receives" means a programme the household holds now, in the need's category, from any
  department or charity (programmes -> categories through the catalogue).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.matching.model import Household, Need, Offering

RULES = (
    "category",
    "household_category",
    "colour",
    "age",
    "disability",
    "registered_residence",
    "service_area",
    "validity",
    "capacity",
    "not_already_served",
    "not_declined",
)


@dataclass(frozen=True)
class RuleCheck:
    rule: str
    passed: bool
    detail: str


def check(
    need: Need, household: Household | None, offering: Offering, today: date, free_units: int, declined: bool
) -> list[RuleCheck]:
    """Every rule, in order, with whether it passed and why."""
    record = offering.record
    rules = record.eligibility
    area = record.service_area
    h = household or Household(household_id=need.household_id)
    ages = h.ages(today.year)
    low = rules.min_age if rules.min_age is not None else 0
    high = rules.max_age if rules.max_age is not None else 130
    in_area = (not area.districts and not area.subdistricts) or (
        (h.district is not None and h.district in area.districts) or (h.subdistrict is not None and h.subdistrict in area.subdistricts)
    )
    allowed_categories = [c.value for c in rules.household_categories]
    allowed_colours = [c.value for c in rules.colours]
    return [
        RuleCheck("category", record.category.value == need.category, f"need {need.category}, offering {record.category.value}"),
        RuleCheck(
            "household_category",
            not allowed_categories or h.category in allowed_categories,
            f"household {h.category or 'unknown'}; offering {'any' if not allowed_categories else ', '.join(allowed_categories)}",
        ),
        RuleCheck(
            "colour",
            not allowed_colours or h.colour in allowed_colours,
            f"household {h.colour or 'unknown'}; offering {'any' if not allowed_colours else ', '.join(allowed_colours)}",
        ),
        RuleCheck(
            "age",
            (rules.min_age is None and rules.max_age is None) or any(low <= age <= high for age in ages),
            f"ages {sorted(ages) or 'unknown'}; offering {low}-{high}",
        ),
        RuleCheck(
            "disability",
            not rules.disability_required or h.disabled,
            f"required {rules.disability_required}; household holds a disability programme: {h.disabled}",
        ),
        RuleCheck(
            "registered_residence",
            not rules.registered_residence_required or h.registered_residence,
            f"required {rules.registered_residence_required}; household registered: {h.registered_residence}",
        ),
        RuleCheck(
            "service_area",
            in_area,
            f"household {h.district or 'unknown'}/{h.subdistrict or 'unknown'}; "
            f"offering {'citywide' if not area.districts and not area.subdistricts else ', '.join([*area.districts, *area.subdistricts])}",
        ),
        RuleCheck(
            "validity",
            record.status == "open" and record.valid_from <= today <= record.valid_until,
            f"status {record.status}, valid {record.valid_from} to {record.valid_until}, today {today}",
        ),
        RuleCheck("capacity", free_units > 0, f"{free_units} units not yet promised"),
        RuleCheck(
            "not_already_served",
            need.category not in h.served_categories,
            f"categories received now: {sorted(h.served_categories) or 'none'}",
        ),
        RuleCheck("not_declined", not declined, "this offering declined this need before" if declined else "never declined"),
    ]


def eligible(checks: list[RuleCheck]) -> bool:
    return all(c.passed for c in checks)


def failed(checks: list[RuleCheck]) -> list[str]:
    return [c.rule for c in checks if not c.passed]
