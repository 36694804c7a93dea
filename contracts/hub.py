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


class NeedClosedData(EventData):
    need_id: str = Field(pattern=CODE_PATTERN)
    department: str = Field(max_length=16)
    reason: str = Field(default="", max_length=200, description="Why the department closed it; no names")


class NeedClosed(Event):
    """The department closed a need (met elsewhere, withdrawn, household moved away)."""

    type: Literal["need.closed"] = "need.closed"
    schema_version: Literal[1] = 1
    data: NeedClosedData


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


class PersonMergedData(EventData):
    surviving_person_key: str = Field(max_length=64)
    merged_person_keys: list[str] = Field(min_length=1, max_length=20, description="Keys that now mean the survivor")
    reason: Literal["numbered_record", "reviewer_decision", "concurrent_link"] = Field(
        description="What showed they are one person"
    )
    decided_by: str | None = Field(default=None, max_length=64, description="Reviewer id, when a person decided")


class PersonMerged(Event):
    """Intake found that several person keys are one person: from now on only the survivor is
    used, and consumers re-key what they hold under the merged keys (the ledger re-checks its
    person rules). Keyed by the survivor's household id."""

    type: Literal["person.merged"] = "person.merged"
    schema_version: Literal[1] = 1
    data: PersonMergedData


class HouseholdMergedData(EventData):
    surviving_household_id: str = Field(max_length=64)
    merged_household_ids: list[str] = Field(min_length=1, max_length=20)
    reason: Literal["person_merged", "reviewer_decision"]


class HouseholdMerged(Event):
    """Hub households found to be one (a department household tied to a provisional person that
    turned out to be known): later events come keyed by the survivor; consumers move what they
    hold under the merged ids to it. Keyed by the survivor (the envelope's household id)."""

    type: Literal["household.merged"] = "household.merged"
    schema_version: Literal[1] = 1
    data: HouseholdMergedData


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


class DataQualityNoticeData(EventData):
    original_event_id: str = Field(max_length=128)
    department: str = Field(max_length=16)
    department_household_ref: str | None = Field(default=None, max_length=64, description="The department's own")
    channel: Literal["kafka", "http"] = "kafka"
    code: str = Field(max_length=64, description="Stable, e.g. resident_id.checksum")
    message: str = Field(max_length=500)
    field: str | None = Field(default=None, max_length=200)
    masked_resident_id: str | None = Field(default=None, max_length=32, description="First 6 and last 4 kept")
    outcome: Literal["linked", "held_for_review", "new_person"] = Field(
        description="What intake did with the record despite the flaw"
    )


class DataQualityNotice(Event):
    """A record intake used despite a flaw (a resident ID number that fails its check character,
    or disagrees with the stated birth date): the department should correct its register.
    Keyed by department."""

    type: Literal["data_quality.notice"] = "data_quality.notice"
    schema_version: Literal[1] = 1
    data: DataQualityNoticeData


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


OfferingKind = Literal["goods", "cash", "service", "place"]
OfferingStatus = Literal["open", "stale", "closed", "withdrawn"]
OfferingClosedReason = Literal["exhausted", "expired"]


class Eligibility(EventData):
    """Who an offering may serve. An empty list or an unset bound means "any"."""

    household_categories: list[HouseholdCategory] = Field(default_factory=list, max_length=10)
    colours: list[ColourStatus] = Field(default_factory=list, max_length=4, description="Chengdu colour status; empty = any")
    min_age: int | None = Field(default=None, ge=0, le=130, description="At least one member this old or older")
    max_age: int | None = Field(default=None, ge=0, le=130, description="At least one member this young or younger")
    disability_required: bool = Field(default=False, description="Only households with a member recorded as disabled")
    registered_residence_required: bool = Field(default=False, description="Only households with local 户籍")


class ServiceArea(EventData):
    """Where an offering is delivered: districts and/or subdistricts; both empty = citywide."""

    districts: list[str] = Field(default_factory=list, max_length=16)
    subdistricts: list[str] = Field(default_factory=list, max_length=300)


class OfferingDataV2(EventData):
    """An offering's whole current record (HSDS service with capacity): every event carries it all,
    so a consumer keeps the latest and needs no history."""

    offering_id: str = Field(pattern=CODE_PATTERN)
    charity_id: str = Field(pattern=CODE_PATTERN, description="The organisation's id")
    title: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    category: Category
    programme: str = Field(max_length=32, description="A CHARITY_* programme code")
    kind: OfferingKind
    unit: str = Field(max_length=32)
    quantity_total: int = Field(ge=0)
    quantity_remaining: int = Field(ge=0, description="Units not yet delivered")
    value_fen_per_unit: int | None = Field(default=None, ge=0)
    eligibility: Eligibility = Field(default_factory=Eligibility)
    service_area: ServiceArea = Field(default_factory=ServiceArea)
    valid_from: date
    valid_until: date
    status: OfferingStatus = "open"
    closed_reason: OfferingClosedReason | None = None
    capacity_confirmed_at: AwareDatetime
    confirm_every_days: int = Field(default=30, ge=1, le=365)


def _offering_v1_to_v2(data: OfferingData, status: OfferingStatus, confirmed_at: datetime) -> OfferingDataV2:
    return OfferingDataV2(
        offering_id=data.offering_id,
        charity_id=data.charity_id,
        title=data.title,
        category=data.category,
        programme=data.programme,
        kind="goods",
        unit=data.unit,
        quantity_total=data.quantity,
        quantity_remaining=data.quantity,
        value_fen_per_unit=data.amount_fen_per_unit,
        eligibility=Eligibility(household_categories=data.eligible_categories),
        service_area=ServiceArea(districts=data.service_area),
        valid_from=data.valid_from,
        valid_until=data.valid_until,
        status=status,
        capacity_confirmed_at=confirmed_at,
    )


class OfferingPublishedV2(Event):
    type: Literal["offering.published"] = "offering.published"
    schema_version: Literal[2] = 2
    data: OfferingDataV2


class OfferingChangedV2(Event):
    """Any change to an offering: its fields, its remaining capacity, a capacity confirmation, or
    its status becoming stale (not confirmed in time) or open again."""

    type: Literal["offering.changed"] = "offering.changed"
    schema_version: Literal[2] = 2
    data: OfferingDataV2


class OfferingClosed(Event):
    """The offering closed itself: nothing remains (`exhausted`) or its validity ended (`expired`)."""

    type: Literal["offering.closed"] = "offering.closed"
    schema_version: Literal[1] = 1
    data: OfferingDataV2


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


class MatchProposedDataV2(MatchProposedData):
    """Version 1 and what else the organisation needs to act on a proposal, and nothing more: no
    name, no resident ID number, no address, no person key. The household id travels in the
    envelope only, for the fulfilment to name it; pages never show it to the organisation."""

    subdistrict: str | None = Field(default=None, max_length=64)
    household_size: int = Field(ge=0, le=30)
    priority: float = Field(default=0.0, description="The round's priority score for this pair (explained by matching)")


class MatchProposedV2(Event):
    type: Literal["match.proposed"] = "match.proposed"
    schema_version: Literal[2] = 2
    data: MatchProposedDataV2


class MatchAccepted(Event):
    type: Literal["match.accepted"] = "match.accepted"
    schema_version: Literal[1] = 1
    data: MatchOutcomeData


class MatchDeclined(Event):
    type: Literal["match.declined"] = "match.declined"
    schema_version: Literal[1] = 1
    data: MatchOutcomeData


DeclineReason = Literal["no_capacity", "outside_area", "not_eligible", "unreachable", "other"]


class MatchDeclinedDataV2(EventData):
    match_id: str = Field(pattern=CODE_PATTERN)
    offering_id: str = Field(pattern=CODE_PATTERN)
    need_id: str = Field(pattern=CODE_PATTERN)
    reason_code: DeclineReason
    reason: str = Field(default="", max_length=200, description="Free text, required with `other`; masked")


class MatchDeclinedV2(Event):
    type: Literal["match.declined"] = "match.declined"
    schema_version: Literal[2] = 2
    data: MatchDeclinedDataV2


class MatchStarted(Event):
    """The organisation began delivering (FHIR Task in-progress)."""

    type: Literal["match.started"] = "match.started"
    schema_version: Literal[1] = 1
    data: MatchOutcomeData


class MatchFailed(Event):
    """The organisation reports that delivery failed; the need goes back into the pool."""

    type: Literal["match.failed"] = "match.failed"
    schema_version: Literal[1] = 1
    data: MatchOutcomeData


CancelReason = Literal["offering_withdrawn", "offering_closed", "offering_stale", "need_closed", "need_met", "household_served"]


class MatchCancelledData(EventData):
    match_id: str = Field(pattern=CODE_PATTERN)
    offering_id: str = Field(pattern=CODE_PATTERN)
    need_id: str = Field(pattern=CODE_PATTERN)
    charity_id: str = Field(pattern=CODE_PATTERN)
    reason_code: CancelReason
    reason: str = Field(default="", max_length=200)


class MatchCancelled(Event):
    """Matching withdrew a proposal before it was fulfilled, with why."""

    type: Literal["match.cancelled"] = "match.cancelled"
    schema_version: Literal[1] = 1
    data: MatchCancelledData


class MatchExpired(Event):
    type: Literal["match.expired"] = "match.expired"
    schema_version: Literal[1] = 1
    data: MatchOutcomeData


class NeedOverdueData(EventData):
    need_id: str = Field(pattern=CODE_PATTERN)
    category: Category
    district: str | None = Field(default=None, max_length=16)
    urgency: int = Field(ge=1, le=5)
    waiting_days: int = Field(ge=0)
    allowed_days: int = Field(ge=0)
    reason: str = Field(max_length=64, description="Why it is unmatched, as the unmet-needs report counts it")


class NeedOverdue(Event):
    """A need has waited longer than its urgency allows: the district should act (主动发现)."""

    type: Literal["need.overdue"] = "need.overdue"
    schema_version: Literal[1] = 1
    data: NeedOverdueData


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


class AlertUpdatedData(EventData):
    alert_id: str = Field(pattern=CODE_PATTERN)
    rule_id: str = Field(max_length=64)
    severity: Literal["high", "medium", "low"]
    description: str = Field(max_length=500)
    district: str | None = Field(default=None, max_length=16)
    benefits: list[ConflictingBenefit] = Field(min_length=1, description="All the conflicting benefits now")
    status: Literal["open", "resolved", "confirmed_duplicate", "justified"]
    new_evidence_since_decision: bool = Field(
        default=False, description="A reviewer had decided it, and new conflicting benefits joined since: back in the queue"
    )


class DuplicateServiceAlertUpdated(Event):
    """An open conflict grew or shrank (the same rule, person or household, and period window):
    its alert keeps its id and its evidence changes. Never sent for a conflict that is gone."""

    type: Literal["alert.updated"] = "alert.updated"
    schema_version: Literal[1] = 1
    data: AlertUpdatedData


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


class ReceivedInCategory(EventData):
    category: Category
    benefits: int = Field(ge=0, description="Benefits in this category that ran this calendar year")
    amount_fen: int = Field(ge=0, description="Their recorded amounts added up")


class HouseholdStateDataV2(HouseholdStateData):
    """Version 1 and what the household received this calendar year, by category: matching
    prefers the household that has received least. (Members, area and colour are on the canonical
    `household.recorded` events; the categories held follow from `programmes` and the catalogue.)"""

    received_this_year: list[ReceivedInCategory] = Field(default_factory=list, max_length=20)


class HouseholdStateV2(Event):
    type: Literal["household.state"] = "household.state"
    schema_version: Literal[2] = 2
    data: HouseholdStateDataV2


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
    NeedClosed,
    NeedOverdue,
    BenefitRecorded,
    BenefitAmended,
    BenefitStopped,
    PersonMerged,
    HouseholdMerged,
    EventRejected,
    IdentityReviewRequested,
    DataQualityNotice,
    OfferingPublished,
    OfferingChanged,
    OfferingPublishedV2,
    OfferingChangedV2,
    OfferingClosed,
    OfferingWithdrawn,
    MatchProposed,
    MatchProposedV2,
    MatchAccepted,
    MatchDeclined,
    MatchDeclinedV2,
    MatchStarted,
    MatchFailed,
    MatchCancelled,
    MatchExpired,
    MatchFulfilled,
    DuplicateServiceAlertRaised,
    DuplicateServiceAlertDecided,
    DuplicateServiceAlertUpdated,
    HouseholdState,
    HouseholdStateV2,
    ServiceStarted,
)


def _upcast_offering(v2: type[OfferingPublishedV2] | type[OfferingChangedV2]) -> Any:
    def upcast(event: Event) -> Event:
        assert isinstance(event, OfferingPublished | OfferingChanged)
        fields = event.model_dump(exclude={"data", "schema_version", "type"})
        return v2(**fields, data=_offering_v1_to_v2(event.data, "open", event.occurred_at))

    return upcast


def _upcast_proposed(event: Event) -> Event:
    assert isinstance(event, MatchProposed)
    fields = event.model_dump(exclude={"data", "schema_version", "type"})
    return MatchProposedV2(**fields, data=MatchProposedDataV2(**event.data.model_dump(), household_size=0))


def _upcast_declined(event: Event) -> Event:
    assert isinstance(event, MatchDeclined)
    fields = event.model_dump(exclude={"data", "schema_version", "type"})
    data = event.data
    return MatchDeclinedV2(
        **fields,
        data=MatchDeclinedDataV2(
            match_id=data.match_id, offering_id=data.offering_id, need_id=data.need_id, reason_code="other", reason=data.reason
        ),
    )


def _upcast_state(event: Event) -> Event:
    assert isinstance(event, HouseholdState)
    fields = event.model_dump(exclude={"data", "schema_version", "type"})
    return HouseholdStateV2(**fields, data=HouseholdStateDataV2(**event.data.model_dump()))


HUB_EVENTS.register_upcaster(OfferingPublished, _upcast_offering(OfferingPublishedV2))
HUB_EVENTS.register_upcaster(OfferingChanged, _upcast_offering(OfferingChangedV2))
HUB_EVENTS.register_upcaster(MatchProposed, _upcast_proposed)
HUB_EVENTS.register_upcaster(MatchDeclined, _upcast_declined)
HUB_EVENTS.register_upcaster(HouseholdState, _upcast_state)
