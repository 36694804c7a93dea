"""The pool: every household, need, offering and proposal matching knows, and what each event does
to them. Pure: events in, changed ids and events to publish out; storage and Kafka are the
handler's business.

Rules kept here:
- a need is open from `need.recorded` until `need.closed`, a fulfilment, or a household state
  that no longer lists it open after having listed it (the ledger saw it met);
- a delivery counts at once: from its `match.fulfilled` the household receives the delivered
  programme (and its category) until the ledger's household state shows the delivery (see
  `_shown_by_ledger`); states the ledger made before it applied the delivery do not undo it;
- an offering may be proposed while its status is open, units remain and today is within its
  validity; units not yet promised = units in all - units used, where units used = units of the
  fulfilments read + units held by open proposals, or the units the organisation's record counts
  delivered if more (its record and the `match.fulfilled` come on different topics, in any order:
  neither is ever adjusted by the other, so the count is the same whatever the order);
- a round's assignment is checked against the pool as it is when the round commits (another
  round, an offering withdrawn or a need closed meanwhile), so no offering is ever promised
  beyond its units.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from contracts.envelope import Event, new_id
from contracts.hub import (
    CancelReason,
    HouseholdMerged,
    HouseholdRecorded,
    HouseholdStateDataV2,
    HouseholdStateV2,
    MatchAccepted,
    MatchCancelled,
    MatchDeclinedV2,
    MatchExpired,
    MatchFailed,
    MatchFulfilled,
    MatchProposedV2,
    MatchStarted,
    NeedClosed,
    NeedOverdue,
    NeedRecorded,
    OfferingChangedV2,
    OfferingClosed,
    OfferingPublishedV2,
    OfferingWithdrawn,
)
from services.matching import eligibility
from services.matching.lifecycle import OPEN, REFUSED, ImpossibleTransition, next_state, repools_need
from services.matching.model import Delivery, Household, Need, Offering, Proposal
from services.matching.priority import PriorityWeights, terms, total, waiting_days

SOURCE = "matching"
ORGANISATION_ACTIONS: dict[type[Event], str] = {
    MatchAccepted: "accept",
    MatchStarted: "start",
    MatchDeclinedV2: "decline",
    MatchFailed: "fail",
    MatchFulfilled: "fulfil",
}
OWN_EVENTS = (MatchProposedV2, MatchCancelled, MatchExpired, NeedOverdue)


@dataclass
class Changes:
    """What the pool changed since the last `take_changes`: rows to write and events to publish."""

    households: set[str] = field(default_factory=set)
    needs: set[str] = field(default_factory=set)
    offerings: set[str] = field(default_factory=set)
    proposals: set[str] = field(default_factory=set)
    events: list[Event] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.households or self.needs or self.offerings or self.proposals or self.events)


@dataclass(frozen=True)
class Candidate:
    """One pair a round chose: which need, which offering, at what priority."""

    need_id: str
    offering_id: str
    priority: int


class Pool:
    def __init__(self, weights: PriorityWeights, deadline: timedelta) -> None:
        self.weights = weights
        self.deadline = deadline
        self.households: dict[str, Household] = {}
        self.needs: dict[str, Need] = {}
        self.offerings: dict[str, Offering] = {}
        self.proposals: dict[str, Proposal] = {}
        self.open_by_need: dict[str, str] = {}  # need id -> its open proposal's match id
        self.open_by_offering: dict[str, set[str]] = defaultdict(set)
        self.held: dict[str, int] = defaultdict(int)  # offering id -> units its open proposals hold
        self.delivered: dict[str, int] = defaultdict(int)  # offering id -> units of the fulfilments read
        self.refused: set[tuple[str, str]] = set()  # (need, offering) never to be proposed again
        self.needs_of: dict[str, set[str]] = defaultdict(set)
        self._arrival: dict[str, int] = {}  # need id -> the order it was recorded in: rounds index needs so
        # Work for the next round: needs new or back in the pool, categories with units freed.
        self.waiting: set[str] = set()
        self.fresh_categories: set[str] = set()
        self.changes = Changes()

    # --- loading ------------------------------------------------------------------------

    def load(self, households: list[Household], needs: list[Need], offerings: list[Offering], proposals: list[Proposal]) -> None:
        for h in households:
            self.households[h.household_id] = h
        for n in sorted(needs, key=lambda n: (n.recorded_at, n.need_id)):
            self.needs[n.need_id] = n
            self.needs_of[n.household_id].add(n.need_id)
            self._arrival[n.need_id] = len(self._arrival)
        for o in offerings:
            self.offerings[o.offering_id] = o
        for p in proposals:
            self._index(p)
        self.waiting = {n.need_id for n in needs if n.status == "open" and n.need_id not in self.open_by_need}

    def _index(self, p: Proposal) -> None:
        self.proposals[p.match_id] = p
        if p.state in OPEN:
            self.open_by_need[p.need_id] = p.match_id
            self.open_by_offering[p.offering_id].add(p.match_id)
            self.held[p.offering_id] += p.quantity
        elif p.state == "fulfilled":
            self.delivered[p.offering_id] += p.delivered
        elif p.state in REFUSED:
            self.refused.add((p.need_id, p.offering_id))

    def take_changes(self) -> Changes:
        changes, self.changes = self.changes, Changes()
        return changes

    # --- queries ------------------------------------------------------------------------

    def free_units(self, offering_id: str) -> int:
        offering = self.offerings.get(offering_id)
        if offering is None:
            return 0
        used = self.delivered.get(offering_id, 0) + self.held.get(offering_id, 0)
        # The record counts more only for a delivery under a proposal matching had cancelled, its
        # fulfilment not read yet.
        return offering.record.quantity_total - max(used, offering.delivered)

    def open_unproposed(self) -> list[Need]:
        return [n for n in self.needs.values() if n.status == "open" and n.need_id not in self.open_by_need]

    def checks(self, need: Need, offering: Offering, today: date) -> list[eligibility.RuleCheck]:
        return eligibility.check(
            need, self.households.get(need.household_id), offering, today, self.free_units(offering.offering_id),
            (need.need_id, offering.offering_id) in self.refused,
        )

    def priority_terms(self, need: Need, offering: Offering, today: date) -> dict[str, dict[str, object]]:
        area = offering.record.service_area
        return terms(need, self.households.get(need.household_id), list(area.districts), list(area.subdistricts), self.weights, today)

    # --- events in ----------------------------------------------------------------------

    def apply(self, event: Event, now: datetime) -> bool:
        """Apply one event; False if it is not one matching acts on (it is still counted as seen)."""
        match event:
            case HouseholdRecorded():
                self._household_recorded(event)
            case HouseholdStateV2():
                self._household_state(event, now)
            case NeedRecorded():
                self._need_recorded(event, now)
            case HouseholdMerged():
                self._households_merged(event, now)
            case NeedClosed():
                self._close_need(event.data.need_id, "closed", "need_closed", event.data.reason or "closed by its department", now)
            case OfferingPublishedV2() | OfferingChangedV2() | OfferingClosed():
                self._offering(event, now)
            case OfferingWithdrawn():
                self._offering_withdrawn(event, now)
            case MatchAccepted() | MatchStarted() | MatchDeclinedV2() | MatchFailed() | MatchFulfilled():
                self._organisation_answer(event, now)
            case MatchProposedV2() | MatchCancelled() | MatchExpired():
                self._own_event(event)
            case _:
                return False
        return True

    def _household(self, household_id: str) -> Household:
        household = self.households.get(household_id)
        if household is None:
            household = self.households[household_id] = Household(household_id)
        self.changes.households.add(household_id)
        return household

    def _household_recorded(self, event: HouseholdRecorded) -> None:
        if not event.household_id:
            return
        h = self._household(event.household_id)
        data = event.data
        h.district, h.subdistrict = data.district, data.subdistrict
        h.category = data.category.value if data.category else h.category
        h.colour = data.colour.value if data.colour else h.colour
        h.birth_years = [m.birth_year for m in data.members if m.birth_year is not None]
        h.size = len(data.members)
        self.waiting |= self._open_unproposed_of(event.household_id)

    def _household_state(self, event: HouseholdStateV2, now: datetime) -> None:
        if not event.household_id:
            return
        h = self._household(event.household_id)
        data = event.data
        h.district = data.district or h.district
        h.subdistrict = data.subdistrict or h.subdistrict
        h.category = data.category.value if data.category else h.category
        h.colour = data.colour.value if data.colour else h.colour
        h.size = max(h.size, data.person_count)
        h.programmes = sorted(data.programmes)
        h.programmes_changed()
        h.received = {r.category.value: r.benefits for r in data.received_this_year}
        listed = set(data.open_needs)
        for need_id in sorted(self.needs_of.get(event.household_id, ())):
            need = self.needs[need_id]
            if need.status != "open":
                continue
            if need_id in listed:
                self._seen_open(need)
            elif need.seen_open_in_state:
                self._close_need(need_id, "met", "need_met", "the ledger no longer lists the need open", now)
        if h.deliveries:
            self._deliveries_shown(h, data, listed)
        self._cancel_served(h, now)
        self.waiting |= self._open_unproposed_of(event.household_id)

    def _seen_open(self, need: Need) -> None:
        if not need.seen_open_in_state:
            need.seen_open_in_state = True
            self.changes.needs.add(need.need_id)

    def _deliveries_shown(self, h: Household, state: HouseholdStateDataV2, listed: set[str]) -> None:
        """Deliveries this state shows stop counting on their own: the ledger's programmes say the rest."""
        for delivery in h.deliveries:
            need = self.needs.get(delivery.need_id)
            if need is not None and delivery.need_id in listed:
                self._seen_open(need)  # a state from before the ledger applied the delivery
        kept = [d for d in h.deliveries if not self._shown_by_ledger(d, state, listed)]
        if len(kept) != len(h.deliveries):
            h.deliveries = kept
            h.programmes_changed()

    def _shown_by_ledger(self, delivery: Delivery, state: HouseholdStateDataV2, listed: set[str]) -> bool:
        """Whether the ledger had applied the delivery when it made this state: the state lists the
        programme, or no longer lists the need open after a state listed it (states of one household
        come in the order the ledger made them). A need the ledger never listed open: once the state
        is of a later day than the delivery, which the ledger holds on its day only."""
        need = self.needs.get(delivery.need_id)
        seen = need is not None and need.seen_open_in_state
        if delivery.programme in state.programmes or (seen and delivery.need_id not in listed):
            return True
        return not seen and state.as_of.date() > delivery.delivered_on

    def _cancel_served(self, h: Household, now: datetime) -> None:
        """Unanswered proposals for a category the household now receives are withdrawn."""
        served = h.served_categories
        for need_id in sorted(self.needs_of.get(h.household_id, ())):
            match_id = self.open_by_need.get(need_id)
            if match_id and self.needs[need_id].category in served and self.proposals[match_id].state == "proposed":
                self._transition(self.proposals[match_id], "cancel", now, cancel=("household_served", "the household now receives this category"))

    def _households_merged(self, event: HouseholdMerged, now: datetime) -> None:
        """Intake found several hub households to be one: their needs move to the survivor (their
        proposals keep the id the organisation was given; answers are found by match id)."""
        survivor = event.data.surviving_household_id
        for merged in event.data.merged_household_ids:
            if merged == survivor:
                continue
            if survivor not in self.households and merged in self.households:
                kept = self.households[merged]
                self.households[survivor] = replace(kept, household_id=survivor, programmes=list(kept.programmes), deliveries=[])
                self.changes.households.add(survivor)
            if merged in self.households and self.households[merged].deliveries:
                h = self._household(survivor)
                h.deliveries = [*h.deliveries, *self.households[merged].deliveries]
                h.programmes_changed()
            for need_id in sorted(self.needs_of.pop(merged, set())):
                self.needs[need_id].household_id = survivor
                self.needs_of[survivor].add(need_id)
                self.changes.needs.add(need_id)
        if survivor in self.households:
            self._cancel_served(self.households[survivor], now)
        self.waiting |= self._open_unproposed_of(survivor)

    def _open_unproposed_of(self, household_id: str) -> set[str]:
        return {
            n for n in self.needs_of.get(household_id, ()) if self.needs[n].status == "open" and n not in self.open_by_need
        }

    def _need_recorded(self, event: NeedRecorded, now: datetime) -> None:
        data = event.data
        if data.need_id in self.needs or not event.household_id:
            return  # the need is known: a department's repeat changes nothing here
        self.needs[data.need_id] = Need(
            need_id=data.need_id, household_id=event.household_id, category=data.category.value, urgency=data.urgency,
            assessed_on=data.assessed_on, recorded_at=event.occurred_at,
        )
        self.needs_of[event.household_id].add(data.need_id)
        self._arrival[data.need_id] = len(self._arrival)
        self.changes.needs.add(data.need_id)
        self.waiting.add(data.need_id)

    def _close_need(self, need_id: str, status: str, cancel_code: CancelReason, reason: str, now: datetime) -> None:
        need = self.needs.get(need_id)
        if need is None or need.status != "open":
            return
        need.status = status
        self.changes.needs.add(need_id)
        self.waiting.discard(need_id)
        match_id = self.open_by_need.get(need_id)
        if match_id is not None:
            self._transition(self.proposals[match_id], "cancel", now, cancel=(cancel_code, reason))

    def _offering(self, event: OfferingPublishedV2 | OfferingChangedV2 | OfferingClosed, now: datetime) -> None:
        record = event.data
        known = self.offerings.get(record.offering_id)
        if known is not None and known.updated_at > event.occurred_at:
            return  # an older record than the one kept: every event carries the whole record
        before = self.free_units(record.offering_id) if known else 0
        self.offerings[record.offering_id] = Offering(record.offering_id, record, event.occurred_at)
        self.changes.offerings.add(record.offering_id)
        if record.status in ("closed", "stale", "withdrawn"):
            code: CancelReason = "offering_stale" if record.status == "stale" else "offering_closed"
            if record.status == "withdrawn":
                code = "offering_withdrawn"
            self._cancel_on_offering(record.offering_id, code, f"offering {record.status}", now, only_proposed=record.status != "withdrawn")
        elif self.free_units(record.offering_id) < 0:
            self._cancel_excess(record.offering_id, now)
        if self.free_units(record.offering_id) > before:
            self.fresh_categories.add(record.category.value)

    def _offering_withdrawn(self, event: OfferingWithdrawn, now: datetime) -> None:
        offering = self.offerings.get(event.data.offering_id)
        if offering is None:
            return
        offering.replace_record(offering.record.model_copy(update={"status": "withdrawn"}))
        offering.updated_at = max(offering.updated_at, event.occurred_at)
        self.changes.offerings.add(offering.offering_id)
        self._cancel_on_offering(offering.offering_id, "offering_withdrawn", "offering withdrawn by its organisation", now, only_proposed=False)

    def _cancel_on_offering(self, offering_id: str, code: CancelReason, reason: str, now: datetime, only_proposed: bool) -> None:
        for match_id in sorted(self.open_by_offering.get(offering_id, ())):
            proposal = self.proposals[match_id]
            if only_proposed and proposal.state != "proposed":
                continue  # a promise the organisation took on stands
            self._transition(proposal, "cancel", now, cancel=(code, reason))

    def _cancel_excess(self, offering_id: str, now: datetime) -> None:
        """The organisation lowered its units below what is promised: the newest unanswered
        proposals go first."""
        newest_first = sorted(
            (self.proposals[m] for m in self.open_by_offering.get(offering_id, ()) if self.proposals[m].state == "proposed"),
            key=lambda p: (p.proposed_at, p.match_id), reverse=True,
        )
        for proposal in newest_first:
            if self.free_units(offering_id) >= 0:
                break
            self._transition(proposal, "cancel", now, cancel=("offering_closed", "capacity_reduced"))

    def _organisation_answer(self, event: Event, now: datetime) -> None:
        data = event.data
        proposal = self.proposals.get(data.match_id)  # type: ignore[attr-defined]
        if proposal is None:
            raise UnknownProposal(data.match_id)  # type: ignore[attr-defined]
        if isinstance(event, MatchFulfilled) and proposal.state == "cancelled":
            self._delivered_after_all(proposal, event, now)
            return
        action = ORGANISATION_ACTIONS[type(event)]
        reason = getattr(data, "reason_code", None) or getattr(data, "reason", "") or action
        self._transition(proposal, action, now, reason=str(reason), occurred_at=event.occurred_at)
        if isinstance(event, MatchFulfilled):
            self._fulfilled(proposal, event, now)

    def _own_event(self, event: MatchProposedV2 | MatchCancelled | MatchExpired) -> None:
        """Matching's own events come back on the topic: known ones change nothing; while the pool
        is rebuilt from the topics (a new database) they bring the proposals back."""
        data = event.data
        known = self.proposals.get(data.match_id)
        if isinstance(event, MatchProposedV2):
            if known is None and event.household_id:
                self._index(Proposal(
                    match_id=data.match_id, need_id=data.need_id, offering_id=data.offering_id, household_id=event.household_id,
                    charity_id=data.charity_id, state="proposed", priority=int(data.priority), proposed_at=event.occurred_at,
                    expires_at=data.expires_at, quantity=data.quantity,
                ))
                self.waiting.discard(data.need_id)
                self.changes.proposals.add(data.match_id)
            return
        if known is None or known.state not in OPEN:
            return
        known.state = "cancelled" if isinstance(event, MatchCancelled) else "expired"
        known.reason_code = data.reason_code if isinstance(event, MatchCancelled) else "expire"
        known.reason = data.reason
        known.closed_at = event.occurred_at
        self._release(known)
        if known.state in REFUSED:
            self.refused.add((known.need_id, known.offering_id))
        self.changes.proposals.add(known.match_id)

    def _delivered_after_all(self, proposal: Proposal, event: MatchFulfilled, now: datetime) -> None:
        """What the delivery caused (the ledger's state: need met, category served; the
        organisation's record: no units left, offering closed) reached matching before the
        organisation's answers did, and matching cancelled the proposal. The charity service
        refuses to fulfil a match it knows cancelled, so this delivery happened: the proposal is
        fulfilled, and a proposal made since for the same need is cancelled."""
        proposal.state, proposal.reason_code, proposal.reason = "fulfilled", "fulfil", "fulfil"
        proposal.closed_at = event.occurred_at
        self.changes.proposals.add(proposal.match_id)
        since = self.open_by_need.get(proposal.need_id)
        if since is not None and since != proposal.match_id:
            self._transition(self.proposals[since], "cancel", now, cancel=("need_met", "delivered under an earlier proposal"))
        self._fulfilled(proposal, event, now)

    def _fulfilled(self, proposal: Proposal, event: MatchFulfilled, now: datetime) -> None:
        need = self.needs.get(proposal.need_id)
        if need is not None and need.status == "open":
            need.status = "met"
            self.changes.needs.add(need.need_id)
            self.waiting.discard(need.need_id)
            self._delivered_to(need.household_id, Delivery(need.need_id, event.data.programme, event.data.delivered_on), now)
        proposal.delivered = event.data.quantity
        self.delivered[proposal.offering_id] += proposal.delivered

    def _delivered_to(self, household_id: str, delivery: Delivery, now: datetime) -> None:
        """The household receives the delivered programme from now, not only once the ledger's
        state (another topic, read later) shows it: no second proposal in its category meanwhile."""
        h = self._household(household_id)
        h.deliveries = [*(d for d in h.deliveries if d.need_id != delivery.need_id), delivery]
        h.programmes_changed()
        self._cancel_served(h, now)

    # --- transitions ----------------------------------------------------------------------

    def _transition(
        self, proposal: Proposal, action: str, now: datetime, *, reason: str = "", cancel: tuple[CancelReason, str] | None = None,
        occurred_at: datetime | None = None,
    ) -> None:
        state = next_state(proposal.state, action)  # raises ImpossibleTransition
        proposal.state = state
        proposal.reason_code = cancel[0] if cancel else (reason or action)
        proposal.reason = cancel[1] if cancel else reason
        self.changes.proposals.add(proposal.match_id)
        if state in OPEN:
            return
        proposal.closed_at = occurred_at or now
        self._release(proposal)
        offering = self.offerings.get(proposal.offering_id)
        if offering is not None:
            self.fresh_categories.add(offering.category)
        if state in REFUSED:
            self.refused.add((proposal.need_id, proposal.offering_id))
        need = self.needs.get(proposal.need_id)
        if repools_need(state) and need is not None and need.status == "open":
            self.waiting.add(need.need_id)
        if cancel is not None:
            self.changes.events.append(
                MatchCancelled(
                    source=SOURCE, household_id=proposal.household_id,
                    data={
                        "match_id": proposal.match_id, "offering_id": proposal.offering_id, "need_id": proposal.need_id,
                        "charity_id": proposal.charity_id, "reason_code": cancel[0], "reason": cancel[1][:200],
                    },
                )
            )

    def _release(self, proposal: Proposal) -> None:
        self.open_by_need.pop(proposal.need_id, None)
        self.open_by_offering[proposal.offering_id].discard(proposal.match_id)
        self.held[proposal.offering_id] -= proposal.quantity

    # --- the timer ---------------------------------------------------------------------------

    def expire(self, now: datetime) -> int:
        """Proposals unanswered by their deadline expire; offerings past their validity lose
        their unanswered proposals. Returns how many proposals closed."""
        closed = 0
        today = now.date()
        due = [
            p for p in self.proposals.values()
            if p.state == "proposed" and (p.expires_at <= now or self._validity_ended(p.offering_id, today))
        ]
        for proposal in sorted(due, key=lambda p: p.match_id):
            if proposal.expires_at <= now:
                self._transition(proposal, "expire", now, reason="no answer by the deadline")
                self.changes.events.append(
                    MatchExpired(
                        source=SOURCE, household_id=proposal.household_id,
                        data={"match_id": proposal.match_id, "offering_id": proposal.offering_id, "need_id": proposal.need_id,
                              "reason": f"no answer by {proposal.expires_at.isoformat()}"},
                    )
                )
                closed += 1
            else:
                self._transition(proposal, "cancel", now, cancel=("offering_closed", "the offering's validity ended"))
                closed += 1
        return closed

    def _validity_ended(self, offering_id: str, today: date) -> bool:
        offering = self.offerings.get(offering_id)
        return offering is not None and offering.record.valid_until < today

    def overdue(self, now: datetime, reason_of: Callable[[Need], str], limit: int) -> int:
        """Warn once for each open, unproposed need that has waited longer than its urgency
        allows; at most `limit` a call (the rest at the next)."""
        warned = 0
        today = now.date()
        late = [
            n for n in self.open_unproposed()
            if not n.overdue_sent and waiting_days(n, today) > self.weights.overdue_after(n.urgency)
        ]
        for need in sorted(late, key=lambda n: n.need_id):
            if warned >= limit:
                break
            days = waiting_days(need, today)
            allowed = self.weights.overdue_after(need.urgency)
            household = self.households.get(need.household_id)
            need.overdue_sent = True
            self.changes.needs.add(need.need_id)
            self.changes.events.append(
                NeedOverdue(
                    source=SOURCE, household_id=need.household_id,
                    data={"need_id": need.need_id, "category": need.category, "district": household.district if household else None,
                          "urgency": need.urgency, "waiting_days": days, "allowed_days": allowed, "reason": reason_of(need)},
                )
            )
            warned += 1
        return warned

    # --- rounds -------------------------------------------------------------------------------

    def take_round_work(self) -> list[Need]:
        """The needs the next round looks at: new or re-pooled ones, and every open unproposed
        need of a category where units were freed. Clears the work list."""
        ids = set(self.waiting)
        if self.fresh_categories:
            ids |= {n.need_id for n in self.open_unproposed() if n.category in self.fresh_categories}
        self.waiting, self.fresh_categories = set(), set()
        needs = [self.needs[i] for i in ids if i in self.needs]
        needs = [n for n in needs if n.status == "open" and n.need_id not in self.open_by_need]
        arrival = self._arrival
        return sorted(needs, key=lambda n: arrival[n.need_id])

    def live_offerings(self, today: date) -> list[Offering]:
        return sorted((o for o in self.offerings.values() if o.live_on(today)), key=lambda o: o.offering_id)

    def commit_round(self, chosen: list[Candidate], now: datetime) -> list[Proposal]:
        """Turn a round's choice into proposals, re-checking each pair against the pool as it is
        now. A pair that no longer holds is dropped and its need waits for the next round."""
        made = []
        today = now.date()
        for pick in chosen:
            need, offering = self.needs.get(pick.need_id), self.offerings.get(pick.offering_id)
            if need is None or offering is None or need.status != "open" or need.need_id in self.open_by_need:
                continue
            checks = self.checks(need, offering, today)
            if not eligibility.eligible(checks):
                self.waiting.add(need.need_id)
                continue
            made.append(self._propose(need, offering, pick.priority, now))
        return made

    def _propose(self, need: Need, offering: Offering, priority: int, now: datetime) -> Proposal:
        household = self.households.get(need.household_id) or Household(need.household_id)
        record = offering.record
        proposal = Proposal(
            match_id=new_id(), need_id=need.need_id, offering_id=offering.offering_id, household_id=need.household_id,
            charity_id=record.charity_id, state="proposed", priority=priority, proposed_at=now, expires_at=now + self.deadline,
        )
        self._index(proposal)
        self.changes.proposals.add(proposal.match_id)
        self.changes.events.append(
            MatchProposedV2(
                source=SOURCE, household_id=need.household_id,
                data={
                    "match_id": proposal.match_id, "offering_id": offering.offering_id, "charity_id": record.charity_id,
                    "need_id": need.need_id, "category": need.category, "district": household.district or "unknown",
                    "subdistrict": household.subdistrict, "household_size": min(household.size, 30), "urgency": need.urgency,
                    "quantity": proposal.quantity, "expires_at": proposal.expires_at, "priority": float(priority),
                },
            )
        )
        return proposal

    def explanation_of(self, proposal: Proposal, today: date) -> dict[str, object]:
        need = self.needs[proposal.need_id]
        offering = self.offerings[proposal.offering_id]
        found = self.priority_terms(need, offering, today)
        return {"terms": found, "priority": total(found)}


class UnknownProposal(LookupError):
    """An organisation answered a proposal matching never made (or has not read yet)."""


__all__ = ["Candidate", "Changes", "ImpossibleTransition", "Pool", "UnknownProposal"]
