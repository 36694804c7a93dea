"""The JSON shapes of the charity API: what callers send and what they get back, every field
described with an example (they make /openapi.json). Offering inputs live in `offerings.py`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts.catalogue import Category
from services.charity import organisations as rules
from services.charity.matches import DeclineReason
from services.charity.offerings import EligibilityInput as Eligibility
from services.charity.offerings import ServiceAreaInput as ServiceArea
from services.charity.repository import MatchEntry, Offering, Organisation, OrganisationKey

ORG_ID = "org-3f9c2a1b7d4e"
OFFERING_ID = "off-8a1d5e0c9b7f4a21"
MATCH_ID = "m-2026-000123"


class RegistrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=2, max_length=200, description="The organisation's registered name", examples=["徐汇区暖心公益服务中心"])
    kind: rules.OrganisationKind = Field(description="charity, foundation, company, social_work_agency or volunteer_group", examples=["charity"])
    credit_code: str = Field(min_length=1, max_length=40, description="Unified social credit code (统一社会信用代码): 18 characters with its check character",
                             examples=["91110000600037341L"])
    districts: list[str] = Field(default_factory=list, max_length=16, description="District codes served (contracts.catalogue.DISTRICTS); empty = citywide",
                                 examples=[["310104", "310105"]])
    contact_name: str = Field(min_length=1, max_length=64, description="Contact person. Personal data: shown to staff and the organisation only",
                              examples=["李老师"])
    contact_phone: str = Field(min_length=7, max_length=20, description="Contact phone. Personal data: shown to staff and the organisation only",
                               examples=["13812345678"])

    _code = field_validator("credit_code")(lambda v: rules.credit_code(v))
    _phone = field_validator("contact_phone")(lambda v: rules.phone(v))
    _districts = field_validator("districts")(lambda v: rules.districts(v))


class OrganisationChangesIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"contact_phone": "02164001234"}]})

    name: str | None = Field(default=None, min_length=2, max_length=200, description="The registered name", examples=["徐汇区暖心公益服务中心"])
    districts: list[str] | None = Field(default=None, max_length=16, description="District codes served", examples=[["310104"]])
    contact_name: str | None = Field(default=None, min_length=1, max_length=64, description="Contact person (personal data)", examples=["王老师"])
    contact_phone: str | None = Field(default=None, min_length=7, max_length=20, description="Contact phone (personal data)", examples=["021-64001234"])

    _phone = field_validator("contact_phone")(lambda v: None if v is None else rules.phone(v))
    _districts = field_validator("districts")(lambda v: None if v is None else rules.districts(v))


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500, description="Why (required to refuse); the organisation sees it",
                        examples=["Credit code belongs to another organisation"])


class RefusalIn(DecisionIn):
    reason: str = Field(min_length=3, max_length=500, description="Why the registration is refused; the organisation sees it",
                        examples=["Credit code belongs to another organisation"])


class OrganisationOut(BaseModel):
    organisation_id: str = Field(description="The organisation's id in the hub (the charity_id of its events)", examples=[ORG_ID])
    name: str = Field(description="Registered name", examples=["徐汇区暖心公益服务中心"])
    kind: str = Field(description="charity, foundation, company, social_work_agency or volunteer_group", examples=["charity"])
    credit_code: str = Field(description="Unified social credit code", examples=["91110000600037341L"])
    districts: list[str] = Field(description="District codes served; empty = citywide", examples=[["310104"]])
    contact_name: str = Field(description="Contact person (personal data: staff and the organisation only)", examples=["李老师"])
    contact_phone: str = Field(description="Contact phone (personal data: staff and the organisation only)", examples=["13812345678"])
    status: str = Field(description="pending until staff decide; approved organisations may publish; refused", examples=["pending"])
    status_reason: str | None = Field(description="Staff's reason, if they gave one", examples=[None])
    decided_by: str | None = Field(description="The staff member who decided", examples=["reviewer-1"])
    decided_at: datetime | None = Field(description="When staff decided", examples=["2026-12-02T09:30:00Z"])
    registered_at: datetime = Field(description="When the organisation registered", examples=["2026-12-01T08:00:00Z"])

    @classmethod
    def of(cls, organisation: Organisation) -> OrganisationOut:
        return cls.model_validate(organisation.model_dump())


class KeyOut(BaseModel):
    key_id: str = Field(description="The key's id (part of the key itself, so a person can tell keys apart)", examples=["a1b2c3d4e5f6"])
    label: str = Field(description="What the organisation calls it", examples=["warehouse tablet"])
    created_at: datetime = Field(description="When it was created", examples=["2026-12-02T09:31:00Z"])
    revoked_at: datetime | None = Field(description="When it was revoked; a revoked key stops working at once", examples=[None])
    active: bool = Field(description="True until revoked", examples=[True])

    @classmethod
    def of(cls, key: OrganisationKey) -> KeyOut:
        return cls(key_id=key.key_id, label=key.label, created_at=key.created_at, revoked_at=key.revoked_at, active=key.revoked_at is None)


class NewKeyOut(KeyOut):
    api_key: str = Field(description="The key itself: shown this once and stored only as a hash. Send it as X-API-Key",
                         examples=["hubc_a1b2c3d4e5f6_Qm9vZ2llV29vZ2llQm9vZ2llV29vZ2ll"])


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(default="api key", min_length=1, max_length=64, description="A name for the key", examples=["warehouse tablet"])


class RegisteredOut(BaseModel):
    organisation: OrganisationOut = Field(description="The new record, pending until staff decide")
    key: NewKeyOut = Field(description="The organisation's first API key, shown this once")


class OfferingOut(BaseModel):
    """An offering's whole record, as its organisation and staff see it (OfferingDataV2 and the times)."""

    offering_id: str = Field(description="The offering's id", examples=[OFFERING_ID])
    organisation_id: str = Field(description="The organisation that offers it", examples=[ORG_ID])
    title: str = Field(description="What is offered", examples=["Winter food parcel"])
    description: str = Field(description="Details", examples=["Rice, oil and eggs for a household of up to four"])
    category: Category = Field(description="The kind of need it meets", examples=["food"])
    programme: str = Field(description="The CHARITY_* programme it counts under", examples=["CHARITY_FOOD"])
    kind: str = Field(description="goods, cash, service or place", examples=["goods"])
    unit: str = Field(description="What one unit is", examples=["parcel"])
    quantity_total: int = Field(description="Units in all", examples=[200])
    quantity_remaining: int = Field(description="Units not yet delivered", examples=[180])
    quantity_promised: int | None = Field(default=None, description="Units held for accepted matches (one offering's view only)", examples=[12])
    value_fen_per_unit: int | None = Field(description="Value of one unit in fen", examples=[15000])
    eligibility: Eligibility = Field(description="Who may receive it; empty = anyone")
    service_area: ServiceArea = Field(description="Where it is delivered; empty = citywide")
    valid_from: date = Field(description="First day", examples=["2026-12-01"])
    valid_until: date = Field(description="Last day", examples=["2027-02-28"])
    status: str = Field(description="open; stale (capacity not confirmed in time: not offered for matching); closed; withdrawn", examples=["open"])
    closed_reason: str | None = Field(description="Why it closed: exhausted (nothing left) or expired (validity ended)", examples=[None])
    capacity_confirmed_at: datetime = Field(description="When its capacity was last confirmed", examples=["2026-12-02T09:40:00Z"])
    confirm_every_days: int = Field(description="Confirmation interval in days", examples=[14])
    created_at: datetime = Field(description="When it was published", examples=["2026-12-02T09:40:00Z"])
    updated_at: datetime = Field(description="When it last changed", examples=["2026-12-02T09:40:00Z"])

    @classmethod
    def of(cls, offering: Offering, promised: int | None = None) -> OfferingOut:
        fields = offering.model_dump(exclude={"districts", "subdistricts"})
        area = {"districts": offering.districts, "subdistricts": offering.subdistricts}
        return cls(**fields, service_area=area, quantity_promised=promised)


class PublicOfferingOut(BaseModel):
    """An open offering as anyone may see it: no contact, no capacity bookkeeping."""

    offering_id: str = Field(description="The offering's id", examples=[OFFERING_ID])
    organisation_name: str = Field(description="Who offers it", examples=["徐汇区暖心公益服务中心"])
    title: str = Field(description="What is offered", examples=["Winter food parcel"])
    description: str = Field(description="Details", examples=["Rice, oil and eggs"])
    category: Category = Field(description="The kind of need it meets", examples=["food"])
    kind: str = Field(description="goods, cash, service or place", examples=["goods"])
    unit: str = Field(description="What one unit is", examples=["parcel"])
    quantity_remaining: int = Field(description="Units not yet delivered", examples=[180])
    eligibility: Eligibility = Field(description="Who may receive it")
    service_area: ServiceArea = Field(description="Where it is delivered")
    valid_from: date = Field(description="First day", examples=["2026-12-01"])
    valid_until: date = Field(description="Last day", examples=["2027-02-28"])

    @classmethod
    def of(cls, offering: Offering, organisation_name: str) -> PublicOfferingOut:
        return cls(
            offering_id=offering.offering_id, organisation_name=organisation_name, title=offering.title,
            description=offering.description, category=offering.category, kind=offering.kind, unit=offering.unit,
            quantity_remaining=offering.quantity_remaining, eligibility=offering.eligibility,
            service_area={"districts": offering.districts, "subdistricts": offering.subdistricts},
            valid_from=offering.valid_from, valid_until=offering.valid_until,
        )


class WithdrawalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=200, description="Why it is withdrawn (numbers that look like phones or IDs are masked)",
                        examples=["Donor cancelled the delivery"])


class CapacityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quantity_remaining: int | None = Field(default=None, ge=0, le=1_000_000,
                                           description="What is left now, if it changed; omit to confirm the record as it stands",
                                           examples=[150])


class MatchOut(BaseModel):
    """One proposal in an organisation's inbox: only what it needs to act. Never a name, resident
    ID number, address, person key or household id."""

    match_id: str = Field(description="The match reference", examples=[MATCH_ID])
    offering_id: str = Field(description="Which of your offerings it is for", examples=[OFFERING_ID])
    need_id: str = Field(description="The need's reference (opaque)", examples=["need-88f1"])
    category: str = Field(description="The need's category", examples=["food"])
    quantity: int = Field(description="Units asked for", examples=[1])
    district: str = Field(description="The household's district code", examples=["310104"])
    subdistrict: str | None = Field(description="The household's subdistrict code, if known", examples=["310104003"])
    household_size: int = Field(description="People in the household", examples=[3])
    urgency: int = Field(description="1 (can wait) to 5 (today)", examples=[4])
    expires_at: datetime = Field(description="Answer before this, or the proposal expires", examples=["2026-12-05T00:00:00Z"])
    state: str = Field(description="requested, accepted, rejected, in-progress, completed, failed, cancelled or expired", examples=["requested"])
    reason_code: str | None = Field(description="Why it was declined, cancelled or expired", examples=[None])
    reason: str | None = Field(description="Free text given with the reason (masked)", examples=[None])
    delivered_quantity: int | None = Field(description="Units delivered", examples=[None])
    delivered_on: date | None = Field(description="Day of delivery", examples=[None])
    amount_fen: int | None = Field(description="Value delivered in fen (value per unit x quantity)", examples=[None])
    note: str | None = Field(description="The organisation's delivery note (masked)", examples=[None])
    proposed_at: datetime = Field(description="When matching proposed it", examples=["2026-12-02T10:00:00Z"])
    updated_at: datetime = Field(description="When it last changed", examples=["2026-12-02T10:00:00Z"])

    @classmethod
    def of(cls, entry: MatchEntry) -> MatchOut:
        return cls.model_validate(entry.model_dump(exclude={"household_id", "organisation_id", "correlation_id", "priority"}))


class DeclineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason_code: DeclineReason = Field(description="no_capacity, outside_area, not_eligible, unreachable, or other (then say why)", examples=["no_capacity"])
    reason: str = Field(default="", max_length=200, description="Required with other; numbers that look like phones or IDs are masked",
                        examples=["Our volunteers are away this week"])


class FulfilIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quantity: int | None = Field(default=None, ge=1, le=1_000_000, description="Units delivered; default the quantity asked for", examples=[1])
    delivered_on: date | None = Field(default=None, description="Day delivered; default today", examples=["2026-12-03"])
    note: str = Field(default="", max_length=500, description="A note for the record (kept here, not published)", examples=["Delivered to the door"])


class FailIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=200, description="What went wrong (masked)", examples=["Nobody at home three times"])


class ProblemOut(BaseModel):
    detail: Any = Field(description="What went wrong, for a person; for 422 a list of {loc, msg, type} naming each field",
                        examples=["no offering off-1 among those you may see"])


class StatsOut(BaseModel):
    totals: dict[str, Any] = Field(description="Organisations by status; offerings, capacity offered, matched, delivered, value delivered in fen; declines by reason",
                                   examples=[{"organisations": {"approved": 3}, "offerings": 5, "capacity_offered": 800, "matched": 40,
                                              "delivered": 31, "value_delivered_fen": 465000, "declines_by_reason": {"no_capacity": 2}}])
    rows: list[dict[str, Any]] = Field(description="By district x category x month: organisations, offerings, capacity_offered, matched, delivered, value_delivered_fen",
                                       examples=[[{"district": "310104", "category": "food", "month": "2026-12", "organisations": 2, "offerings": 3,
                                                   "capacity_offered": 500, "matched": 20, "delivered": 15, "value_delivered_fen": 225000}]])
    organisations: list[dict[str, Any]] = Field(description="Per organisation: the same figures and its declines by reason",
                                                examples=[[{"organisation_id": ORG_ID, "name": "…", "kind": "charity", "offerings": 2,
                                                            "capacity_offered": 300, "matched": 10, "delivered": 8, "value_delivered_fen": 120000,
                                                            "declines_by_reason": {"outside_area": 1}}]])
    outcomes: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Per organisation x category, the period's proposals (by month proposed) by where they stand now: proposed (all), "
                    "open (unanswered), accepted (accepted or in progress), declined, fulfilled, failed, cancelled, expired; declines by reason",
        examples=[[{"organisation_id": ORG_ID, "name": "…", "category": "food", "proposed": 12, "open": 2, "accepted": 3, "declined": 2,
                    "fulfilled": 4, "failed": 0, "cancelled": 1, "expired": 0, "declines_by_reason": {"no_capacity": 2}}]])
