"""Version 1 of the events department systems publish to their own topic (or POST to intake).

These carry what a department knows, including personal data (resident ID numbers, names):
they never leave intake. Shapes are deliberately permissive about content (intake checks each
rule and answers with a reason code); they fix types and bound every text.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, Field

from contracts.catalogue import Category, ColourStatus, HouseholdCategory
from contracts.envelope import (
    CODE_PATTERN,
    EVENT_ID_PATTERN,
    Event,
    EventData,
    EventRegistry,
)


class DepartmentEvent(Event):
    """A department names its own events: the id it gives is what makes a redelivery recognisable
    as the same event, so neither the id nor the time may be left to the hub to invent."""

    event_id: str = Field(pattern=EVENT_ID_PATTERN)
    occurred_at: AwareDatetime


class ReportedMember(EventData):
    resident_id: str | None = Field(default=None, max_length=32, description="18-character resident ID number")
    name: str = Field(min_length=1, max_length=64)
    birth_date: date | None = None
    sex: Literal["M", "F"] | None = None
    relation: Literal["head", "spouse", "child", "parent", "sibling", "grandchild", "other"] = "other"


class HouseholdReportedData(EventData):
    district: str = Field(max_length=16)
    subdistrict: str | None = Field(default=None, max_length=64)
    address: str = Field(min_length=1, max_length=200)
    category: HouseholdCategory | None = None
    colour: ColourStatus | None = None
    monthly_income_per_capita_fen: int | None = None
    members: list[ReportedMember] = Field(min_length=1, max_length=30)


class HouseholdReported(DepartmentEvent):
    """A department reports a household and its current members (a full replacement)."""

    type: Literal["household.reported"] = "household.reported"
    schema_version: Literal[1] = 1
    data: HouseholdReportedData


class NeedAssessedData(EventData):
    need_id: str = Field(pattern=CODE_PATTERN)
    category: Category
    description: str = Field(max_length=500)
    urgency: int = Field(ge=1, le=5, description="1 = can wait, 5 = immediate")
    assessed_on: date
    resident_id: str | None = Field(default=None, max_length=32, description="The member in need, if one")


class NeedAssessed(DepartmentEvent):
    type: Literal["need.assessed"] = "need.assessed"
    schema_version: Literal[1] = 1
    data: NeedAssessedData


class NeedWithdrawnData(EventData):
    need_id: str = Field(pattern=CODE_PATTERN, description="The id the need was assessed under")
    reason: str = Field(default="", max_length=200, description="Why, in words; no names or ID numbers")


class NeedWithdrawn(DepartmentEvent):
    """The department no longer asks help for this need (met another way, no longer needed,
    household moved away); intake republishes it as `need.closed`."""

    type: Literal["need.withdrawn"] = "need.withdrawn"
    schema_version: Literal[1] = 1
    data: NeedWithdrawnData


class BenefitGrantedData(EventData):
    benefit_id: str = Field(pattern=CODE_PATTERN, description="The department's own id for this grant")
    programme: str = Field(max_length=32)
    resident_id: str | None = Field(default=None, max_length=32, description="Beneficiary; none = the household")
    amount_fen: int | None = Field(default=None, description="Per month for recurring, total otherwise")
    in_kind: str | None = Field(default=None, max_length=200)
    period_start: date
    period_end: date | None = None
    need_id: str | None = Field(default=None, pattern=CODE_PATTERN)


class BenefitGranted(DepartmentEvent):
    type: Literal["benefit.granted"] = "benefit.granted"
    schema_version: Literal[1] = 1
    data: BenefitGrantedData


class BenefitChangedData(EventData):
    benefit_id: str = Field(pattern=CODE_PATTERN)
    effective_on: date
    amount_fen: int | None = None
    in_kind: str | None = Field(default=None, max_length=200)
    period_end: date | None = None
    reason: str = Field(default="", max_length=200)


class BenefitChanged(DepartmentEvent):
    type: Literal["benefit.changed"] = "benefit.changed"
    schema_version: Literal[1] = 1
    data: BenefitChangedData


class BenefitEndedData(EventData):
    benefit_id: str = Field(pattern=CODE_PATTERN)
    ended_on: date
    reason: str = Field(default="", max_length=200)


class BenefitEnded(DepartmentEvent):
    type: Literal["benefit.ended"] = "benefit.ended"
    schema_version: Literal[1] = 1
    data: BenefitEndedData


AnyDepartmentEvent = HouseholdReported | NeedAssessed | NeedWithdrawn | BenefitGranted | BenefitChanged | BenefitEnded

DEPARTMENT_EVENTS = EventRegistry(HouseholdReported, NeedAssessed, NeedWithdrawn, BenefitGranted, BenefitChanged, BenefitEnded)
