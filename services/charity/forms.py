"""The pages' forms: what a person typed, turned into the same input shapes the JSON API takes
(`RegistrationIn`, `OfferingInput`, ...), and every problem turned into a field and a message id
the page shows in its language. No HTTP here: a form is a mapping of names to lists of strings."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ValidationError

from kit.pages import N_
from services.charity.offerings import OfferingChanges, OfferingInput

Problem = tuple[str, dict[str, Any]]  # a message id and what fills its {placeholders}
Problems = dict[str, Problem]  # field -> problem


class FormProblems(ValueError):
    def __init__(self, problems: Problems) -> None:
        super().__init__(", ".join(sorted(problems)))
        self.problems = problems


class Form:
    """What a person typed: `one(name)` a stripped text, `many(name)` the chosen boxes."""

    def __init__(self, fields: Mapping[str, Sequence[str]]) -> None:
        self.fields = fields

    def one(self, name: str, limit: int = 4000) -> str:
        values = self.fields.get(name) or [""]
        return str(values[0]).strip()[:limit]

    def many(self, name: str) -> list[str]:
        return [str(v).strip()[:64] for v in (self.fields.get(name) or [])][:64]


REQUIRED = N_("Required")
BY_TYPE = {
    "missing": REQUIRED,
    "string_too_short": N_("At least {min_length} characters"),
    "string_too_long": N_("At most {max_length} characters"),
    "int_parsing": N_("A whole number"),
    "int_type": N_("A whole number"),
    "int_from_float": N_("A whole number"),
    "greater_than_equal": N_("At least {ge}"),
    "less_than_equal": N_("At most {le}"),
    "literal_error": N_("Choose one of the options"),
    "enum": N_("Choose one of the options"),
    "too_long": N_("Too many chosen"),
    "date_parsing": N_("A date written YYYY-MM-DD"),
    "date_from_datetime_parsing": N_("A date written YYYY-MM-DD"),
    "date_from_datetime_inexact": N_("A date written YYYY-MM-DD"),
    "date_type": N_("A date written YYYY-MM-DD"),
}
# A check of our own (a ValueError in a validator) says what is wrong with that one field.
BY_FIELD = {
    "credit_code": N_("Not a valid unified social credit code: 18 characters, the last a check character; check for a mistyped character"),
    "contact_phone": N_("11 digits for a mobile (13812345678), or area code and number (021-12345678)"),
    "districts": N_("Choose districts from the list"),
    "subdistricts": N_("A subdistrict code is 9 digits beginning with its district's code, e.g. 310104003"),
    "programme": N_("Choose a charity programme"),
    "valid_until": N_("The last day is before the first, or more than three years after it"),
    "max_age": N_("The lowest age is above the highest"),
    "reason": N_("Say why, when the reason is 'other'"),
}
# What a use case finds against the stored state (FieldProblem), by field.
STORED = {
    "credit_code": N_("An organisation with this credit code is already registered; ask civil-affairs staff if this is a mistake"),
    "valid_until": N_("The last day has already passed"),
    "quantity_total": N_("Less than is already delivered plus what is promised to accepted matches"),
    "quantity_remaining": N_("Less than is promised to accepted matches"),
    "quantity": N_("More than is left of the offering"),
    "delivered_on": N_("The day of delivery cannot be in the future"),
}
FORMATTED = frozenset({"credit_code", "contact_phone"})  # one message says the whole format, whatever broke it
NOT_ACCEPTABLE = N_("Not acceptable")
VALUE_YUAN = N_("An amount in yuan from 0 to 100,000, such as 150 or 150.50")
# Where a form's field has another name than the input shape's.
RENAMED = {"value_fen_per_unit": "value_yuan", "eligibility": "max_age"}


def problems_of(error: ValidationError) -> Problems:
    problems: Problems = {}
    for found in error.errors():
        names = [part for part in found["loc"] if isinstance(part, str)]
        field = RENAMED.get(names[-1], names[-1]) if names else "valid_until"  # the model's own check: the period
        problems.setdefault(field, _problem(field, found))
    return problems


def _problem(field: str, found: Any) -> Problem:
    kind, context = found["type"], {k: str(v) for k, v in (found.get("ctx") or {}).items() if k != "error"}
    if field == "value_yuan":
        return VALUE_YUAN, {}
    if kind == "string_too_short" and found.get("input") == "":
        return REQUIRED, {}
    if kind == "value_error" or field in FORMATTED:
        return BY_FIELD.get(field, NOT_ACCEPTABLE), {}
    return BY_TYPE.get(kind, NOT_ACCEPTABLE), context


def stored_problem(field: str) -> Problems:
    return {field: (STORED.get(field, NOT_ACCEPTABLE), {})}


def parse(shape: type[BaseModel], data: dict[str, Any], problems: Problems | None = None) -> Any:
    """The input shape from the form's data, or FormProblems naming every bad field at once."""
    problems = dict(problems or {})
    try:
        parsed = shape.model_validate(data)
    except ValidationError as error:
        problems = {**problems_of(error), **problems}
        raise FormProblems(problems) from None
    if problems:
        raise FormProblems(problems)
    return parsed


# --- offerings -------------------------------------------------------------------------------

OFFERING_TEXT = ("title", "description", "category", "programme", "kind", "unit", "quantity_total", "value_yuan",
                 "min_age", "max_age", "subdistricts", "valid_from", "valid_until", "confirm_every_days")
OFFERING_CHOICES = ("household_categories", "colours", "districts")
OFFERING_FLAGS = ("disability_required", "registered_residence_required")


def typed_offering(form: Form) -> dict[str, Any]:
    """The offering form as typed, to show it again."""
    typed: dict[str, Any] = {name: form.one(name) for name in OFFERING_TEXT}
    typed |= {name: form.many(name) for name in OFFERING_CHOICES}
    typed |= {name: form.one(name) in ("on", "true", "1") for name in OFFERING_FLAGS}
    return typed


def offering_typed_from(record: Mapping[str, Any]) -> dict[str, Any]:
    """A stored offering (OfferingOut's shape) as the form shows it."""
    eligibility, area = record["eligibility"], record["service_area"]
    value = record.get("value_fen_per_unit")
    return {
        **{name: str(record.get(name) or "") for name in ("title", "description", "category", "programme", "kind", "unit",
                                                          "quantity_total", "valid_from", "valid_until", "confirm_every_days")},
        "value_yuan": "" if value is None else f"{Decimal(value) / 100:.2f}",
        "min_age": "" if eligibility.get("min_age") is None else str(eligibility["min_age"]),
        "max_age": "" if eligibility.get("max_age") is None else str(eligibility["max_age"]),
        "household_categories": list(eligibility.get("household_categories") or []),
        "colours": list(eligibility.get("colours") or []),
        "disability_required": bool(eligibility.get("disability_required")),
        "registered_residence_required": bool(eligibility.get("registered_residence_required")),
        "districts": list(area.get("districts") or []), "subdistricts": ", ".join(area.get("subdistricts") or []),
    }


def _fen(yuan: str) -> int | None:
    if not yuan:
        return None
    try:
        amount = Decimal(yuan.replace(",", ""))
    except InvalidOperation:
        raise ValueError(yuan) from None
    if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
        raise ValueError(yuan)
    return int(amount * 100)


def offering_data(typed: Mapping[str, Any]) -> tuple[dict[str, Any], Problems]:
    problems: Problems = {}
    try:
        fen = _fen(typed["value_yuan"])
    except ValueError:
        fen, problems["value_yuan"] = None, (VALUE_YUAN, {})
    data = {name: typed[name] for name in ("title", "description", "category", "programme", "kind", "unit",
                                           "quantity_total", "valid_from", "valid_until", "confirm_every_days")}
    data["value_fen_per_unit"] = fen
    data["eligibility"] = {
        "household_categories": typed["household_categories"], "colours": typed["colours"],
        "min_age": typed["min_age"] or None, "max_age": typed["max_age"] or None,
        "disability_required": typed["disability_required"], "registered_residence_required": typed["registered_residence_required"],
    }
    data["service_area"] = {"districts": typed["districts"], "subdistricts": [s for s in re.split(r"[\s,，、;]+", typed["subdistricts"]) if s]}
    return data, problems


def new_offering(typed: Mapping[str, Any]) -> OfferingInput:
    data, problems = offering_data(typed)
    return parse(OfferingInput, data, problems)  # type: ignore[no-any-return]


def offering_changes(typed: Mapping[str, Any]) -> OfferingChanges:
    data, problems = offering_data(typed)
    for name in ("title", "category", "programme", "kind", "unit", "quantity_total", "valid_from", "valid_until", "confirm_every_days"):
        if data[name] == "":
            problems.setdefault(name, (REQUIRED, {}))
    return parse(OfferingChanges, data, problems)  # type: ignore[no-any-return]
