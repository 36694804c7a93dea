"""Intake's decisions without a broker or a database: households, people, linking, holds and
releases, duplicates, rejections, and what canonical and rejection events may carry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from bench.intake_events import EventFactory, bad_checksum
from contracts.hub import HUB_EVENTS, DataQualityNotice, EventRejected, HouseholdRecorded, IdentityReviewRequested, NeedClosed
from contracts.topics import CANONICAL, DATA_QUALITY, IDENTITY_REVIEWS, REJECTIONS
from services.intake.canonical import canonical_event_id, display_name
from services.intake.domain import (
    Accepted,
    Duplicate,
    Incoming,
    Intake,
    KnownState,
    Pending,
    PersonKeys,
    Rejected,
    applied_key,
    is_provisional,
)
from services.intake.linking import Candidate
from services.intake.rejections import mask_payload
from services.intake.resident_id import check_character
from services.intake.validation import validate

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
KEYS = PersonKeys(b"test-secret")


class Desk:
    """An Intake over an in-memory state that keeps what each batch changed."""

    def __init__(self, state: KnownState | None = None) -> None:
        self.state = state or KnownState()
        self.applied: set[str] = set()
        self.position = 0
        self.intake = Intake(self.state, KEYS)

    def receive(self, event: dict[str, Any] | bytes, department: str = "CA", channel: str = "kafka") -> Any:
        raw = event if isinstance(event, bytes) else orjson.dumps(event)
        self.position += 1
        verdict = validate(raw, department, NOW)
        # As in a batch that links by name: people recorded earlier are candidates at once.
        self.state.linking = True
        incoming = Incoming(raw, channel, department, f"dept.ca/0/{self.position}", "dept.ca")  # type: ignore[arg-type]
        outcome = self.intake.receive(incoming, verdict, self.applied)
        self.applied |= set(self.intake.changes.applied)
        for row in self.intake.changes.persons.values():  # as the repository loads them for a batch
            self.state.household_members.setdefault(row.household_id, set()).add(row.person_key)
        return outcome

    def emitted(self, topic: Any) -> list[Any]:
        """What went to `topic`, as a consumer reads it."""
        return [HUB_EVENTS.parse(event.to_bytes()) for t, event, _ in self.intake.changes.outbox if t == topic]


def person(name: str, number: str | None, born: str, relation: str = "head") -> dict[str, Any]:
    return {"resident_id": number, "name": name, "birth_date": born, "relation": relation}


def report(f: EventFactory, members: list[dict[str, Any]], ref: str | None = None, address: str = "浦东新区张杨路1234弄5号601室") -> dict[str, Any]:
    event = f.household_reported()
    event["household_id"] = ref or event["household_id"]
    event["data"]["members"] = members
    event["data"]["address"] = address
    event["data"]["district"] = "310115"
    return event


def test_a_household_and_its_benefit_share_one_hub_household_id() -> None:
    f, desk = EventFactory("CA", seed=1, now=NOW), Desk()
    first = desk.receive(f.household_reported())
    grant = desk.receive(f.benefit_granted(f.households[0]))
    assert isinstance(first, Accepted) and isinstance(grant, Accepted)
    assert first.household_id == grant.household_id
    keys = [key for _, _, key in desk.intake.changes.outbox]
    assert keys == [first.household_id, first.household_id]


def test_a_benefit_for_an_unknown_household_is_rejected_and_may_be_resent() -> None:
    f, desk = EventFactory("CA", seed=1, now=NOW), Desk()
    f.household_reported()
    f.households[0].ref = "never-reported"
    grant = f.benefit_granted(f.households[0])
    outcome = desk.receive(grant)
    assert isinstance(outcome, Rejected)
    assert [p.code for p in outcome.problems] == ["household.unknown"]
    assert applied_key("CA", grant["event_id"]) not in desk.applied, "a fixed resend must not count as a duplicate"


def test_the_same_event_twice_gives_one_canonical_event() -> None:
    f, desk = EventFactory("CA", seed=1, now=NOW), Desk()
    event = f.household_reported()
    assert isinstance(desk.receive(event), Accepted)
    assert isinstance(desk.receive(event), Duplicate)
    assert len(desk.emitted(CANONICAL)) == 1
    assert desk.emitted(CANONICAL)[0].event_id == canonical_event_id("CA", event["event_id"])


def test_a_redelivered_invalid_record_is_rejected_once() -> None:
    desk = Desk()
    raw = b"not json"
    incoming = Incoming(raw, "kafka", "CA", "dept.ca/0/7", "dept.ca")
    verdict = validate(raw, "CA", NOW)
    assert isinstance(desk.intake.receive(incoming, verdict, set()), Rejected)
    assert isinstance(desk.intake.receive(incoming, verdict, set()), Duplicate)
    assert len(desk.emitted(REJECTIONS)) == 1


def test_a_second_department_reporting_the_same_family_maps_to_the_same_household() -> None:
    civil, health, desk = EventFactory("CA", seed=1, now=NOW), EventFactory("HEALTH", seed=2, now=NOW), Desk()
    event = civil.household_reported()
    first = desk.receive(event)
    again = health.household_reported()
    again["data"]["members"] = event["data"]["members"]
    second = desk.receive(again, department="HEALTH")
    assert isinstance(first, Accepted) and isinstance(second, Accepted)
    assert second.household_id == first.household_id


def test_one_member_moving_in_does_not_pull_the_new_household_into_the_old() -> None:
    f, desk = EventFactory("CA", seed=1, now=NOW), Desk()
    old = f.household_reported()
    old["data"]["members"] = [f.member("head"), f.member("child")]
    first = desk.receive(old)
    mover = old["data"]["members"][1]
    new = f.household_reported()
    new["data"]["members"] = [f.member("head"), {**mover, "relation": "spouse"}]
    second = desk.receive(new)
    assert isinstance(first, Accepted) and isinstance(second, Accepted)
    assert second.household_id != first.household_id
    assert desk.state.person_households[KEYS.of(mover["resident_id"])] == second.household_id


def test_canonical_events_carry_no_numbers_or_names() -> None:
    f, desk = EventFactory("CA", seed=1, now=NOW), Desk()
    event = f.household_reported()
    desk.receive(event)
    desk.receive(f.benefit_granted(f.households[0]))
    for canonical in desk.emitted(CANONICAL):
        text = canonical.to_bytes().decode()
        for member in event["data"]["members"]:
            assert member["resident_id"] not in text and member["name"] not in text
    recorded = desk.emitted(CANONICAL)[0]
    assert isinstance(recorded, HouseholdRecorded)
    member = recorded.data.members[0]
    assert member.person_key == KEYS.of(event["data"]["members"][0]["resident_id"])
    assert member.masked_resident_id and "*" in member.masked_resident_id
    assert member.display_name.endswith("*")
    assert desk.emitted(CANONICAL)[1].data.benefit_id.startswith("CA:")


def test_display_names_keep_the_family_name_only() -> None:
    assert display_name("张伟") == "张*"
    assert display_name("歐陽　修") == "欧阳*"
    assert display_name("單田芳") == "单*"


def test_a_member_without_a_number_is_linked_to_the_one_person_who_fits() -> None:
    f, desk = EventFactory("CA", seed=1, now=NOW), Desk()
    number = "31011519620314123" + check_character("31011519620314123")
    first = desk.receive(report(f, [person("张伟", number, "1962-03-14")], ref="h1"))
    second = desk.receive(report(f, [person("張偉", None, "1962-03-14")], ref="h2"))
    assert isinstance(first, Accepted) and isinstance(second, Accepted)
    recorded = desk.emitted(CANONICAL)[1]
    assert recorded.data.members[0].person_key == KEYS.of(number)


def twins_state() -> KnownState:
    state = KnownState()
    for key in ("p_twin_a", "p_twin_b"):
        state.candidates.add(Candidate(key, "李明", datetime(1990, 5, 1).date(), "浦东新区张杨路1234弄5号601室"))
        state.person_households[key] = "hh-old"
    return state


def test_an_unclear_member_holds_the_event_and_its_household_until_staff_decide() -> None:
    f, desk = EventFactory("CA", seed=1, now=NOW), Desk(twins_state())
    reported = report(f, [person("李明", None, "1990-05-01")], ref="h9")
    held = desk.receive(reported)
    assert isinstance(held, Pending) and len(held.review_ids) == 1
    review = desk.emitted(IDENTITY_REVIEWS)[0]
    assert isinstance(review, IdentityReviewRequested)
    assert {c.person_key for c in review.data.candidates} == {"p_twin_a", "p_twin_b"}
    assert review.data.original_event_id == reported["event_id"]

    f.households[-1].ref = "h9"
    grant = f.benefit_granted(f.households[-1])
    grant["data"]["resident_id"] = None
    behind = desk.receive(grant)
    assert isinstance(behind, Pending) and behind.review_ids == ()
    assert desk.emitted(CANONICAL) == []
    assert [h.event_key for h in desk.intake.changes.held] == [applied_key("CA", reported["event_id"]), applied_key("CA", grant["event_id"])]

    later = Intake(KnownState(person_households={"p_twin_b": "hh-old"}), KEYS)
    decided = {(applied_key("CA", reported["event_id"]), 0): "p_twin_b"}
    released = later.release(desk.intake.changes.held, decided, undecided=set())
    assert [type(o) for o in released] == [Accepted, Accepted]
    recorded, granted = (HUB_EVENTS.parse(e.to_bytes()) for _, e, _ in later.changes.outbox)
    assert recorded.data.members[0].person_key == "p_twin_b"
    assert recorded.household_id == granted.household_id == "hh-old"
    assert later.changes.released == [h.event_key for h in desk.intake.changes.held]


def test_release_stops_at_a_record_still_undecided() -> None:
    f, desk = EventFactory("CA", seed=1, now=NOW), Desk(twins_state())
    reported = report(f, [person("李明", None, "1990-05-01")], ref="h9")
    desk.receive(reported)
    later = Intake(KnownState(), KEYS)
    outcomes = later.release(desk.intake.changes.held, {}, undecided={applied_key("CA", reported["event_id"])})
    assert [type(o) for o in outcomes] == [Pending]
    assert later.changes.outbox == [] and later.changes.released == []


def test_rejections_mask_resident_ids_everywhere() -> None:
    number = "310115196203141234"
    masked = mask_payload({"data": {"resident_id": number, "note": f"ID {number} typed twice", "n": int(number[:15])}})
    text = orjson.dumps(masked).decode()
    assert number not in text and number[:15] not in text
    assert masked["data"]["resident_id"] == "310115********1234"


def test_a_rejection_keeps_the_department_record_findable() -> None:
    f, desk = EventFactory("CA", seed=1, now=NOW), Desk()
    desk.receive(f.household_reported())
    event = f.benefit_granted(f.households[0])
    number = event["data"]["resident_id"]
    event["data"]["resident_id"] = bad_checksum(number)  # one slip from the head's number...
    desk.state.household_members.clear()  # ...but no member of the household is known here
    outcome = desk.receive(event)
    assert isinstance(outcome, Rejected)
    rejection = desk.emitted(REJECTIONS)[0]
    assert isinstance(rejection, EventRejected)
    assert rejection.data.original_event_id == event["event_id"]
    assert rejection.data.department == "CA"
    assert rejection.data.reasons[0].code == "resident_id.checksum"
    shown = rejection.data.masked_payload["data"]["resident_id"]  # type: ignore[index]
    assert shown[:6] == number[:6] and shown[-4:] == bad_checksum(number)[-4:] and "*" in shown
    assert number[6:14] not in rejection.to_bytes().decode()


def test_canonical_events_of_every_type_parse_as_their_hub_model() -> None:
    """Canonical events are written straight to JSON: each must be exactly what the contract
    accepts, and carry in its headers what its body says."""
    factory = EventFactory("CA", seed=3, now=NOW)
    events = [factory.valid() for _ in range(2000)]
    ended = {"benefit_id": events[-1]["event_id"][:40], "ended_on": "2026-02-28", "reason": "迁出本市"}
    events.append(factory.envelope("benefit.ended", factory.households[0].ref, ended))
    unnumbered = factory.household_reported()
    unnumbered["data"]["members"][0]["resident_id"] = None
    events.append(unnumbered)
    desk = Desk()
    outcomes = [desk.receive(event) for event in events]
    assert all(isinstance(o, Accepted) for o in outcomes)
    written = [event for topic, event, _ in desk.intake.changes.outbox if topic == CANONICAL]
    assert {e.type for e in written} == {
        "household.recorded", "need.recorded", "benefit.recorded", "benefit.amended", "benefit.stopped"
    }
    for event in written:
        parsed = HUB_EVENTS.parse(event.to_bytes())  # raises if any field is missing, extra or invalid
        assert (parsed.event_id, parsed.type, parsed.schema_version, parsed.household_id, parsed.correlation_id) == (
            event.event_id, event.type, event.schema_version, event.household_id, event.correlation_id
        )
        written_fields = set(orjson.loads(event.to_bytes())["data"])
        assert written_fields == set(type(parsed.data).model_fields), "every data field written, none left to defaults"


def test_a_withdrawn_need_is_closed_under_the_hub_household_with_its_namespaced_id() -> None:
    f, desk = EventFactory("CA", seed=1, now=NOW), Desk()
    household = desk.receive(f.household_reported())
    need = f.need_assessed(f.households[0])
    desk.receive(need)
    withdrawn = f.need_withdrawn(need, reason="已解决 110101199003074578")
    outcome = desk.receive(withdrawn)
    assert isinstance(outcome, Accepted) and outcome.household_id == household.household_id
    closed = desk.emitted(CANONICAL)[-1]
    assert isinstance(closed, NeedClosed)
    assert closed.household_id == household.household_id
    assert closed.data.need_id == f"CA:{need['data']['need_id']}" == desk.emitted(CANONICAL)[1].data.need_id
    assert closed.data.department == "CA"
    assert "110101199003074578" not in closed.data.reason
    assert desk.intake.changes.outbox[-1][2] == household.household_id


def test_a_withdrawal_for_an_unknown_household_is_rejected() -> None:
    f, desk = EventFactory("CA", seed=1, now=NOW), Desk()
    f.household_reported()
    need = f.need_assessed(f.households[0])
    outcome = desk.receive(f.need_withdrawn(need))
    assert isinstance(outcome, Rejected) and [p.code for p in outcome.problems] == ["household.unknown"]


def test_a_withdrawal_from_another_departments_topic_is_rejected() -> None:
    f, desk = EventFactory("CA", seed=1, now=NOW), Desk()
    desk.receive(f.household_reported())
    need = f.need_assessed(f.households[0])
    outcome = desk.receive(f.need_withdrawn(need), department="HEALTH")
    assert isinstance(outcome, Rejected) and "department.topic_mismatch" in [p.code for p in outcome.problems]


# --- damaged numbers: used when name, birth date and address say who, with a notice ---------


def numbered(first17: str) -> str:
    return first17 + check_character(first17)


def one_slip(number: str) -> str:
    """The same number with one digit mistyped (the check character then fails)."""
    digit = "5" if number[9] != "5" else "6"
    return number[:9] + digit + number[10:]


def test_a_mistyped_number_of_a_known_person_is_linked_to_them_with_a_notice() -> None:
    f, desk = EventFactory("CA", seed=1, now=NOW), Desk()
    number = numbered("31011519900307457")
    first = desk.receive(report(f, [person("王建国", number, "1990-03-07")], ref="CA-1"))
    damaged = one_slip(number)
    again = report(f, [person("王建国", damaged, "1990-03-07")], ref="CA-2")
    outcome = desk.receive(again)
    assert isinstance(outcome, Accepted), outcome
    recorded = desk.emitted(CANONICAL)[-1]
    assert recorded.data.members[0].person_key == KEYS.of(number)
    assert outcome.household_id == first.household_id
    [notice] = outcome.notices
    assert (notice.code, notice.field, notice.outcome) == ("resident_id.checksum", "data.members[0].resident_id", "linked")
    assert notice.masked_resident_id == damaged[:6] + "*" * 8 + damaged[-4:]
    [event] = desk.emitted(DATA_QUALITY)
    assert isinstance(event, DataQualityNotice)
    assert event.data.original_event_id == again["event_id"] and event.data.department == "CA"
    assert event.data.outcome == "linked" and damaged not in event.to_bytes().decode()
    assert desk.intake.changes.outbox[-1][2] == "CA", "notices are keyed by department"


def test_a_mistyped_number_of_nobody_known_makes_a_provisional_person() -> None:
    f, desk = EventFactory("CA", seed=1, now=NOW), Desk()
    outcome = desk.receive(report(f, [person("王建国", one_slip(numbered("31011519900307457")), "1990-03-07")]))
    assert isinstance(outcome, Accepted)
    assert [n.outcome for n in outcome.notices] == ["new_person"]
    assert is_provisional(desk.emitted(CANONICAL)[-1].data.members[0].person_key)


def test_a_mistyped_number_that_fits_two_people_is_held_with_a_notice() -> None:
    f, desk = EventFactory("CA", seed=1, now=NOW), Desk()
    desk.receive(report(f, [person("王建国", numbered("31011519900307457"), "1990-03-07")], ref="CA-1"))
    desk.receive(report(f, [person("王建囯", numbered("31011519900307999"), "1990-03-07")], ref="CA-9"))
    # the same name and birth date, the address of neither and a number one slip from neither
    damaged = "110101199003071234"[:17] + ("0" if check_character("11010119900307123") != "0" else "1")
    outcome = desk.receive(report(f, [person("王建国", damaged, "1990-03-07")], ref="CA-2", address="静安区江宁路88号"))
    assert isinstance(outcome, Pending), outcome
    assert [n.outcome for n in outcome.notices] == ["held_for_review"]
    assert len(desk.emitted(DATA_QUALITY)) == 1


def test_a_birth_date_disagreeing_with_a_valid_number_is_linked_by_the_number_with_a_notice() -> None:
    f, desk = EventFactory("CA", seed=1, now=NOW), Desk()
    number = numbered("31011519900307457")
    desk.receive(report(f, [person("王建国", number, "1990-03-07")], ref="CA-1"))
    outcome = desk.receive(report(f, [person("王建国", number, "1990-07-03")], ref="CA-2"))
    assert isinstance(outcome, Accepted)
    assert desk.emitted(CANONICAL)[-1].data.members[0].person_key == KEYS.of(number)
    assert [(n.code, n.outcome) for n in outcome.notices] == [("resident_id.birth_date_mismatch", "linked")]


def test_a_damaged_member_is_never_linked_to_another_member_of_the_same_report() -> None:
    f, desk = EventFactory("CA", seed=1, now=NOW), Desk()
    twin = numbered("31011519900307457")
    desk.receive(report(f, [person("王建国", twin, "1990-03-07")], ref="CA-1"))
    members = [person("王建国", twin, "1990-03-07"), person("王建囯", one_slip(numbered("31011519900307111")), "1990-03-07", "child")]
    outcome = desk.receive(report(f, members, ref="CA-1"))
    assert isinstance(outcome, Accepted | Pending)
    keys = [m.person_key for m in desk.emitted(CANONICAL)[-1].data.members] if isinstance(outcome, Accepted) else []
    assert len(set(keys)) == len(keys)


def test_a_grant_whose_number_is_one_slip_from_a_household_member_is_theirs_with_a_notice() -> None:
    f, desk = EventFactory("CA", seed=1, now=NOW), Desk()
    number, spouse = numbered("31011519620314201"), numbered("31011519650822202")
    desk.receive(report(f, [person("王建国", number, "1962-03-14"), person("李秀英", spouse, "1965-08-22", "spouse")], ref="CA-1"))
    grant = f.benefit_granted(f.households[0])
    grant["household_id"], grant["data"]["resident_id"] = "CA-1", one_slip(number)
    outcome = desk.receive(grant)
    assert isinstance(outcome, Accepted), outcome
    assert desk.emitted(CANONICAL)[-1].data.person_key == KEYS.of(number)
    assert [(n.field, n.outcome) for n in outcome.notices] == [("data.resident_id", "linked")]
    assert desk.emitted(DATA_QUALITY)[-1].data.masked_resident_id == one_slip(number)[:6] + "*" * 8 + one_slip(number)[-4:]


def test_a_grant_whose_damaged_number_fits_no_household_member_is_rejected() -> None:
    f, desk = EventFactory("CA", seed=1, now=NOW), Desk()
    desk.receive(report(f, [person("王建国", numbered("31011519620314201"), "1962-03-14")], ref="CA-1"))
    grant = f.benefit_granted(f.households[0])
    grant["household_id"], grant["data"]["resident_id"] = "CA-1", one_slip(numbered("31011519700101301"))
    outcome = desk.receive(grant)
    assert isinstance(outcome, Rejected)
    assert [(p.code, p.field) for p in outcome.problems] == [("resident_id.checksum", "data.resident_id")]
    assert desk.emitted(DATA_QUALITY) == []


def test_an_identity_review_masks_a_number_in_the_original_event_id() -> None:
    f, desk = EventFactory("CA", seed=1, now=NOW), Desk(twins_state())
    reported = report(f, [person("李明", None, "1990-05-01")], ref="h9")
    reported["event_id"] = "ev-310115196203141234"
    assert isinstance(desk.receive(reported), Pending)
    review = desk.emitted(IDENTITY_REVIEWS)[0]
    assert "310115196203141234" not in review.to_bytes().decode()
    assert review.data.original_event_id.startswith("ev-310115")
