"""Offerings on record (Open Referral HSDS services with capacity): what a valid offering is, and
how its status follows from its capacity, its validity and when its capacity was last confirmed.

The input shapes check every field with a message a volunteer understands; FastAPI turns a
failed check into a 422 naming the field. Rules that need stored state (promised capacity) are
`CapacityProblem`s raised by the use cases.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contracts.catalogue import CHARITY_SOURCE, DISTRICTS, PROGRAMMES, Category, ColourStatus, HouseholdCategory
from contracts.hub import Eligibility, OfferingClosedReason, OfferingKind, OfferingStatus, ServiceArea

MAX_QUANTITY = 1_000_000  # a sane bound: more than any one organisation offers in one record
MAX_VALUE_FEN = 10_000_000  # 100,000 CNY a unit
CHARITY_PROGRAMMES = sorted(code for code, p in PROGRAMMES.items() if p.department == CHARITY_SOURCE)


class EligibilityInput(Eligibility):
    """Who the offering may serve; an empty list or an unset bound means any."""

    model_config = ConfigDict(
        extra="forbid", frozen=True,
        json_schema_extra={"examples": [{"household_categories": ["dibao", "low_income"], "min_age": 60}]},
    )

    household_categories: list[HouseholdCategory] = Field(
        default_factory=list, max_length=10, description="Assistance categories served (dibao, low_income, ...); empty = any",
        examples=[["dibao", "low_income"]],
    )
    colours: list[ColourStatus] = Field(default_factory=list, max_length=4, description="Colour status served; empty = any",
                                        examples=[["red", "orange"]])
    min_age: int | None = Field(default=None, ge=0, le=130, description="At least one member this old or older", examples=[60])
    max_age: int | None = Field(default=None, ge=0, le=130, description="At least one member this young or younger", examples=[None])
    disability_required: bool = Field(default=False, description="Only households with a member recorded as disabled", examples=[False])
    registered_residence_required: bool = Field(default=False, description="Only households with local registered residence (户籍)",
                                                examples=[False])

    @model_validator(mode="after")
    def _ages_in_order(self) -> EligibilityInput:
        if self.min_age is not None and self.max_age is not None and self.min_age > self.max_age:
            raise ValueError(f"min_age ({self.min_age}) is above max_age ({self.max_age}): the age range is upside down")
        return self


class ServiceAreaInput(ServiceArea):
    """Where the offering is delivered: district codes and/or subdistrict (street) codes; both empty = citywide."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra={"examples": [{"districts": ["310104"], "subdistricts": []}]}
    )

    districts: list[str] = Field(default_factory=list, max_length=16, description="District codes (contracts.catalogue.DISTRICTS)",
                                 examples=[["310104"]])
    subdistricts: list[str] = Field(default_factory=list, max_length=300, description="Subdistrict (街道/镇) codes: 9 digits from the district's",
                                    examples=[["310104003"]])

    @field_validator("districts")
    @classmethod
    def _known_districts(cls, codes: list[str]) -> list[str]:
        unknown = [c for c in codes if c not in DISTRICTS]
        if unknown:
            raise ValueError(f"unknown district code(s) {', '.join(unknown)}; use 6-digit codes such as 310104 (Xuhui)")
        return sorted(set(codes))

    @field_validator("subdistricts")
    @classmethod
    def _subdistrict_codes(cls, codes: list[str]) -> list[str]:
        bad = [c for c in codes if not (c.isdigit() and len(c) in (9, 12) and c[:6] in DISTRICTS)]
        if bad:
            raise ValueError(
                f"unknown subdistrict code(s) {', '.join(bad[:5])}: a subdistrict (街道/镇) code is 9 digits "
                "beginning with its district's code, e.g. 310104003"
            )
        return sorted(set(codes))


def _check_programme(programme: str) -> str:
    if programme not in CHARITY_PROGRAMMES:
        raise ValueError(f"unknown programme {programme!r}: an offering counts under one of {', '.join(CHARITY_PROGRAMMES)}")
    return programme


class OfferingInput(BaseModel):
    """A new offering, as its organisation describes it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "title": "Winter food parcel", "description": "Rice, oil and eggs for a household of up to four",
        "category": "food", "programme": "CHARITY_FOOD", "kind": "goods", "unit": "parcel", "quantity_total": 200,
        "value_fen_per_unit": 15000, "eligibility": {"household_categories": ["dibao", "low_income"]},
        "service_area": {"districts": ["310104"]}, "valid_from": "2026-12-01", "valid_until": "2027-02-28",
        "confirm_every_days": 14,
    }]})

    title: str = Field(min_length=3, max_length=200, description="What is offered, as households would say it", examples=["Winter food parcel"])
    description: str = Field(default="", max_length=2000, description="Details: contents, conditions, how it is delivered",
                             examples=["Rice, oil and eggs for a household of up to four"])
    category: Category = Field(description="The kind of need it meets (contracts.catalogue.Category)", examples=["food"])
    programme: str = Field(max_length=32, description=f"The charity programme it counts under: one of {', '.join(CHARITY_PROGRAMMES)}",
                           examples=["CHARITY_FOOD"])
    kind: OfferingKind = Field(description="goods, cash, service or place", examples=["goods"])
    unit: str = Field(min_length=1, max_length=32, description="What one unit is: parcel, session, bed-night, CNY...", examples=["parcel"])
    quantity_total: int = Field(ge=1, le=MAX_QUANTITY, description=f"How many units in all (1 to {MAX_QUANTITY:,})", examples=[200])
    value_fen_per_unit: int | None = Field(default=None, ge=0, le=MAX_VALUE_FEN,
                                           description="What one unit is worth in fen (1 CNY = 100 fen); unset if not priced",
                                           examples=[15000])
    eligibility: EligibilityInput = Field(default_factory=EligibilityInput, description="Who may receive it")
    service_area: ServiceAreaInput = Field(default_factory=ServiceAreaInput, description="Where it is delivered")
    valid_from: date = Field(description="First day it may be given", examples=["2026-12-01"])
    valid_until: date = Field(description="Last day it may be given", examples=["2027-02-28"])
    confirm_every_days: int = Field(default=30, ge=1, le=365,
                                    description="Confirm the remaining capacity at least this often, or the offering is stale "
                                                "and not offered for matching", examples=[14])

    @field_validator("programme")
    @classmethod
    def _programme(cls, value: str) -> str:
        return _check_programme(value)

    @model_validator(mode="after")
    def _period_in_order(self) -> OfferingInput:
        check_period(self.valid_from, self.valid_until)
        return self


class OfferingChanges(BaseModel):
    """A change to an offering: only the fields given change. `quantity_total` may not fall below
    what is delivered plus what is promised to accepted matches."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"quantity_total": 250, "valid_until": "2027-03-31"}]})

    title: str | None = Field(default=None, min_length=3, max_length=200, description="What is offered", examples=["Winter food parcel"])
    description: str | None = Field(default=None, max_length=2000, description="Details", examples=["Now with milk powder"])
    category: Category | None = Field(default=None, description="The kind of need it meets", examples=["food"])
    programme: str | None = Field(default=None, max_length=32, description="A CHARITY_* programme", examples=["CHARITY_FOOD"])
    kind: OfferingKind | None = Field(default=None, description="goods, cash, service or place", examples=["goods"])
    unit: str | None = Field(default=None, min_length=1, max_length=32, description="What one unit is", examples=["parcel"])
    quantity_total: int | None = Field(default=None, ge=1, le=MAX_QUANTITY, description="How many units in all", examples=[250])
    value_fen_per_unit: int | None = Field(default=None, ge=0, le=MAX_VALUE_FEN, description="Value of a unit in fen", examples=[15000])
    eligibility: EligibilityInput | None = Field(default=None, description="Who may receive it (replaces the whole record)")
    service_area: ServiceAreaInput | None = Field(default=None, description="Where it is delivered (replaces the whole record)")
    valid_from: date | None = Field(default=None, description="First day", examples=["2026-12-01"])
    valid_until: date | None = Field(default=None, description="Last day", examples=["2027-03-31"])
    confirm_every_days: int | None = Field(default=None, ge=1, le=365, description="Confirmation interval in days", examples=[14])

    @field_validator("programme")
    @classmethod
    def _programme(cls, value: str | None) -> str | None:
        return None if value is None else _check_programme(value)

    def given(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


def check_period(valid_from: date, valid_until: date) -> None:
    if valid_until < valid_from:
        raise ValueError(f"valid_until ({valid_until}) is before valid_from ({valid_from})")
    if (valid_until - valid_from).days > 3 * 366:
        raise ValueError("an offering may run at most three years; publish a new one after that")


class CapacityProblem(ValueError):
    """A change the stored state does not allow; names the field, for a 422."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_capacity(total: int, delivered: int, promised: int, field: str = "quantity_total") -> int:
    """The remaining capacity for this total, or CapacityProblem if it leaves less than is promised."""
    remaining = total - delivered
    if remaining < promised:
        raise CapacityProblem(
            field,
            f"{total} in all would leave {max(remaining, 0)} after the {delivered} already delivered, "
            f"but {promised} are promised to accepted matches: give at least {delivered + promised}",
        )
    return remaining


def settle(
    status: OfferingStatus, closed_reason: OfferingClosedReason | None, remaining: int, valid_until: date,
    confirmed_at: datetime, confirm_every_days: int, now: datetime,
) -> tuple[OfferingStatus, OfferingClosedReason | None]:
    """The status an offering has at `now`. Closed and withdrawn are final; nothing left closes it
    as exhausted, a past validity as expired; capacity not confirmed in time makes it stale."""
    if status in ("closed", "withdrawn"):
        return status, closed_reason
    if remaining <= 0:
        return "closed", "exhausted"
    if now.date() > valid_until:
        return "closed", "expired"
    if now > confirmed_at + timedelta(days=confirm_every_days):
        return "stale", None
    return "open", None
