"""What matching knows: households, open needs, live offerings and proposals. Plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property

from contracts.catalogue import PROGRAMMES, Category
from contracts.hub import OfferingDataV2

COLOUR_STEPS = {"green": 0, "yellow": 1, "orange": 2, "red": 3}


@dataclass(frozen=True)
class Delivery:
    """A delivery matching has read (`match.fulfilled`) whose effect the ledger's state may not
    show yet: until it does, the household counts as receiving the delivered programme."""

    need_id: str
    programme: str
    delivered_on: date


@dataclass
class Household:
    household_id: str
    district: str | None = None
    subdistrict: str | None = None
    category: str | None = None
    colour: str | None = None
    birth_years: list[int] = field(default_factory=list)
    size: int = 0
    programmes: list[str] = field(default_factory=list)
    received: dict[str, int] = field(default_factory=dict)  # category -> benefits this year
    deliveries: list[Delivery] = field(default_factory=list)  # read here, not yet shown by the ledger

    @cached_property
    def served_categories(self) -> frozenset[str]:
        """Categories of help the household receives now, from any source: programmes the ledger
        says it holds and deliveries the ledger does not show yet. Kept once worked out: whoever
        changes `programmes` or `deliveries` calls `programmes_changed`."""
        held = [*self.programmes, *(d.programme for d in self.deliveries)]
        return frozenset(PROGRAMMES[p].category.value for p in held if p in PROGRAMMES)

    def programmes_changed(self) -> None:
        self.__dict__.pop("served_categories", None)

    @property
    def disabled(self) -> bool:
        return Category.DISABILITY.value in self.served_categories

    @property
    def registered_residence(self) -> bool:
        """The hub has no 户籍 field. A household certified in an assistance category (dibao,
        low income, extreme or expenditure poverty) was certified on local registered residence,
        so it counts as registered; marginal or uncertified households count as not known to be,
        and are not proposed for offerings that require it (a proposal the organisation would
        have to decline helps nobody)."""
        return self.category in ("dibao", "low_income", "extreme_poverty", "expenditure_poverty")

    def ages(self, year: int) -> list[int]:
        return [year - y for y in self.birth_years if 0 <= year - y <= 130]


@dataclass
class Need:
    need_id: str
    household_id: str
    category: str
    urgency: int
    assessed_on: date
    recorded_at: datetime
    status: str = "open"  # open | met | closed
    seen_open_in_state: bool = False
    overdue_sent: bool = False


@dataclass
class Offering:
    offering_id: str
    record: OfferingDataV2
    updated_at: datetime
    # What a round needs of the record, worked out once (candidates.offering_code); a new record clears it.
    code: tuple | None = field(default=None, repr=False, compare=False)  # type: ignore[type-arg]

    def replace_record(self, record: OfferingDataV2) -> None:
        self.record = record
        self.code = None

    @property
    def category(self) -> str:
        return self.record.category.value

    @property
    def delivered(self) -> int:
        """Units delivered per the record (the organisation changes both figures when it changes its capacity)."""
        return self.record.quantity_total - self.record.quantity_remaining

    def live_on(self, day: date) -> bool:
        r = self.record
        return r.status == "open" and r.quantity_remaining > 0 and r.valid_from <= day <= r.valid_until


@dataclass
class Proposal:
    match_id: str
    need_id: str
    offering_id: str
    household_id: str
    charity_id: str
    state: str
    priority: int
    proposed_at: datetime
    expires_at: datetime
    quantity: int = 1
    delivered: int = 0  # units its `match.fulfilled` says were delivered (may differ from `quantity`)
    reason_code: str | None = None
    reason: str = ""
    closed_at: datetime | None = None
