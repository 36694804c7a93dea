"""Version 1 of the events the hub's own services publish.

Nothing here carries a resident ID number or a full name: people are named by their person key
(a keyed hash made in intake), households by the hub household id, and what a page may show of
a person travels already masked.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, Field

from contracts.catalogue import Category, ColourStatus, HouseholdCategory
from contracts.envelope import CODE_PATTERN, Event, EventData, EventRegistry

SourceKind = Literal["department", "charity"]


# --- canonical events: intake's output, keyed by hub household id --------------------------


class Member(EventData):
    person_key: str = Field(max_length=64)
    display_name: str = Field(max_length=16, description="Masked for pages, e.g. 张*")
    masked_resident_id: str | None = Field(default=None, max_length=32, description="First 6 and last 4 kept")
    birth_year: int | None = None
    sex: Literal["M", "F"] | None = None
    relation: str = Field(default="other", max_length=16)


class HouseholdRecordedData(EventData):
    department: str = Field(max_length=16)
    department_household_ref: str = Field(max_length=64)
    district: str = Field(max_length=16)
    subdistrict: str | None = Field(default=None, max_length=64)
    category: HouseholdCategory | None = None
    colour: ColourStatus | None = None
    monthly_income_per_capita_fen: int | None = None
    members: list[Member] = Field(max_length=30)


class HouseholdRecorded(Event):
    """A department reported a household: its current members, as the hub knows them."""

    type: Literal["household.recorded"] = "household.recorded"
    schema_version: Literal[1] = 1
    data: HouseholdRecordedData


class NeedRecordedData(EventData):
    need_id: str = Field(pattern=CODE_PATTERN, description="Namespaced by source: DEPT:own-id")
    department: str = Field(max_length=16)
    category: Category
    description: str = Field(max_length=500)
    urgency: int = Field(ge=1, le=5)
    assessed_on: date
    person_key: str | None = Field(default=None, max_length=64)


class NeedRecorded(Event):
    type: Literal["need.recorded"] = "need.recorded"
    schema_version: Literal[1] = 1
    data: NeedRecordedData


class BenefitRecordedData(EventData):
    benefit_id: str = Field(pattern=CODE_PATTERN, description="Namespaced by source: DEPT:own-id")
    programme: str = Field(max_length=32)
    source: str = Field(max_length=64, description="Department code or charity id")
    source_kind: SourceKind = "department"
    person_key: str | None = Field(default=None, max_length=64)
    amount_fen: int | None = Field(default=None, ge=0)
    in_kind: str | None = Field(default=None, max_length=200)
    period_start: date
    period_end: date | None = None
    need_id: str | None = Field(default=None, pattern=CODE_PATTERN)


class BenefitRecorded(Event):
    """A benefit was granted to a household (by a department, or delivered by a charity)."""

    type: Literal["benefit.recorded"] = "benefit.recorded"
    schema_version: Literal[1] = 1
    data: BenefitRecordedData


class BenefitAmendedData(EventData):
    benefit_id: str = Field(pattern=CODE_PATTERN)
    effective_on: date
    amount_fen: int | None = Field(default=None, ge=0)
    in_kind: str | None = Field(default=None, max_length=200)
    period_end: date | None = None
    reason: str = Field(default="", max_length=200)


class BenefitAmended(Event):
    type: Literal["benefit.amended"] = "benefit.amended"
    schema_version: Literal[1] = 1
    data: BenefitAmendedData


class BenefitStoppedData(EventData):
    benefit_id: str = Field(pattern=CODE_PATTERN)
    ended_on: date
    reason: str = Field(default="", max_length=200)


class BenefitStopped(Event):
    type: Literal["benefit.stopped"] = "benefit.stopped"
    schema_version: Literal[1] = 1
    data: BenefitStoppedData


# --- intake's other outputs ---------------------------------------------------------------


class Reason(EventData):
    code: str = Field(max_length=64, description="Stable, for programs to count")
    message: str = Field(max_length=500, description="For people to read")
    field: str | None = Field(default=None, max_length=200)


class EventRejectedData(EventData):
    original_event_id: str | None = Field(default=None, max_length=128)
    department: str | None = Field(default=None, max_length=16)
    topic: str | None = Field(default=None, max_length=128)
    channel: Literal["kafka", "http"] = "kafka"
    reasons: list[Reason] = Field(min_length=1)
    masked_payload: dict[str, Any] | None = None
    payload_ref: str | None = Field(default=None, max_length=200, description="Where a too-large payload is kept")


class EventRejected(Event):
    """An event the hub could not accept, with why: nothing is dropped silently."""

    type: Literal["event.rejected"] = "event.rejected"
    schema_version: Literal[1] = 1
    data: EventRejectedData


class IdentityCandidate(EventData):
    person_key: str = Field(max_length=64)
    score: float = Field(ge=0, le=1)


class IdentityReviewRequestedData(EventData):
    record_id: str = Field(max_length=64)
    department: str = Field(max_length=16)
    original_event_id: str = Field(max_length=128)
    candidates: list[IdentityCandidate]


class IdentityReviewRequested(Event):
    """Intake could not tell with confidence who a record is about; staff decide."""

    type: Literal["identity.review_requested"] = "identity.review_requested"
    schema_version: Literal[1] = 1
    data: IdentityReviewRequestedData


# --- charity offerings ----------------------------------------------------------------------


class OfferingData(EventData):
    offering_id: str = Field(pattern=CODE_PATTERN)
    charity_id: str = Field(pattern=CODE_PATTERN)
    title: str = Field(max_length=200)
    category: Category
    programme: str = Field(max_length=32, description="A CHARITY_* programme code")
    quantity: int = Field(ge=0, description="Units or places still available")
    unit: str = Field(max_length=32)
    amount_fen_per_unit: int | None = Field(default=None, ge=0)
    eligible_categories: list[HouseholdCategory] = Field(default_factory=list, description="Empty = any")
    service_area: list[str] = Field(default_factory=list, description="District codes; empty = citywide")
    valid_from: date
    valid_until: date


class OfferingPublished(Event):
    type: Literal["offering.published"] = "offering.published"
    schema_version: Literal[1] = 1
    data: OfferingData


class OfferingChanged(Event):
    type: Literal["offering.changed"] = "offering.changed"
    schema_version: Literal[1] = 1
    data: OfferingData


class OfferingWithdrawnData(EventData):
    offering_id: str = Field(pattern=CODE_PATTERN)
    charity_id: str = Field(pattern=CODE_PATTERN)
    reason: str = Field(default="", max_length=200)


class OfferingWithdrawn(Event):
    type: Literal["offering.withdrawn"] = "offering.withdrawn"
    schema_version: Literal[1] = 1
    data: OfferingWithdrawnData


# --- matches between needs and offerings ---------------------------------------------------------


class MatchProposedData(EventData):
    match_id: str = Field(pattern=CODE_PATTERN)
    offering_id: str = Field(pattern=CODE_PATTERN)
    charity_id: str = Field(pattern=CODE_PATTERN)
    need_id: str = Field(pattern=CODE_PATTERN)
    category: Category
    district: str = Field(max_length=16)
    urgency: int = Field(ge=1, le=5)
    quantity: int = Field(ge=1)
    expires_at: AwareDatetime


class MatchProposed(Event):
    type: Literal["match.proposed"] = "match.proposed"
    schema_version: Literal[1] = 1
    data: MatchProposedData


class MatchOutcomeData(EventData):
    match_id: str = Field(pattern=CODE_PATTERN)
    offering_id: str = Field(pattern=CODE_PATTERN)
    need_id: str = Field(pattern=CODE_PATTERN)
    reason: str = Field(default="", max_length=200)


class MatchAccepted(Event):
    type: Literal["match.accepted"] = "match.accepted"
    schema_version: Literal[1] = 1
    data: MatchOutcomeData


class MatchDeclined(Event):
    type: Literal["match.declined"] = "match.declined"
    schema_version: Literal[1] = 1
    data: MatchOutcomeData


class MatchExpired(Event):
    type: Literal["match.expired"] = "match.expired"
    schema_version: Literal[1] = 1
    data: MatchOutcomeData


class MatchFulfilledData(EventData):
    match_id: str = Field(pattern=CODE_PATTERN)
    offering_id: str = Field(pattern=CODE_PATTERN)
    need_id: str = Field(pattern=CODE_PATTERN)
    charity_id: str = Field(pattern=CODE_PATTERN)
    programme: str = Field(max_length=32)
    quantity: int = Field(ge=1)
    amount_fen: int | None = Field(default=None, ge=0)
    in_kind: str | None = Field(default=None, max_length=200)
    delivered_on: date


class MatchFulfilled(Event):
    """A charity delivered what it offered: the ledger records it as a charity benefit."""

    type: Literal["match.fulfilled"] = "match.fulfilled"
    schema_version: Literal[1] = 1
    data: MatchFulfilledData


# --- duplicate-service alerts ------------------------------------------------------------------


class ConflictingBenefit(EventData):
    benefit_id: str = Field(pattern=CODE_PATTERN)
    programme: str = Field(max_length=32)
    source: str = Field(max_length=64)
    source_kind: SourceKind = "department"


class AlertRaisedData(EventData):
    alert_id: str = Field(pattern=CODE_PATTERN)
    rule_id: str = Field(max_length=64)
    severity: Literal["high", "medium", "low"]
    description: str = Field(max_length=500)
    district: str | None = Field(default=None, max_length=16)
    benefits: list[ConflictingBenefit] = Field(min_length=1)


class DuplicateServiceAlertRaised(Event):
    type: Literal["alert.raised"] = "alert.raised"
    schema_version: Literal[1] = 1
    data: AlertRaisedData


class AlertDecidedData(EventData):
    alert_id: str = Field(pattern=CODE_PATTERN)
    decision: Literal["confirmed_duplicate", "justified", "resolved"]
    note: str = Field(default="", max_length=1000)
    decided_by: str = Field(max_length=64, description="Reviewer id, or 'ledger' when a later change resolved it")
    decided_at: AwareDatetime


class DuplicateServiceAlertDecided(Event):
    type: Literal["alert.decided"] = "alert.decided"
    schema_version: Literal[1] = 1
    data: AlertDecidedData


# --- household state (compacted topic) and service presence ----------------------------------------


class HouseholdStateData(EventData):
    district: str | None = Field(default=None, max_length=16)
    subdistrict: str | None = Field(default=None, max_length=64)
    category: HouseholdCategory | None = None
    colour: ColourStatus | None = None
    programmes: list[str] = Field(default_factory=list, description="Programmes currently held")
    open_needs: list[str] = Field(default_factory=list, description="Need ids still open")
    person_count: int = Field(default=0, ge=0)
    as_of: datetime


class HouseholdState(Event):
    type: Literal["household.state"] = "household.state"
    schema_version: Literal[1] = 1
    data: HouseholdStateData


class ServiceStartedData(EventData):
    service: str = Field(max_length=32)
    instance: str = Field(max_length=64)
    http_url: str = Field(max_length=200)


class ServiceStarted(Event):
    """A service announces itself when it joins the hub; peers list who they have heard from."""

    type: Literal["service.started"] = "service.started"
    schema_version: Literal[1] = 1
    data: ServiceStartedData


HUB_EVENTS = EventRegistry(
    HouseholdRecorded,
    NeedRecorded,
    BenefitRecorded,
    BenefitAmended,
    BenefitStopped,
    EventRejected,
    IdentityReviewRequested,
    OfferingPublished,
    OfferingChanged,
    OfferingWithdrawn,
    MatchProposed,
    MatchAccepted,
    MatchDeclined,
    MatchExpired,
    MatchFulfilled,
    DuplicateServiceAlertRaised,
    DuplicateServiceAlertDecided,
    HouseholdState,
    ServiceStarted,
)
