"""Issue 17, items 2 and 4-6: a rejection is remembered by what the record is, never by its
position; what intake logs and republishes carries no ID number, phone number or raw reference."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from structlog.testing import capture_logs

from bench.intake_events import EventFactory
from contracts.hub import HUB_EVENTS
from contracts.topics import CANONICAL, REJECTIONS
from kit.logs import loggable_id, loggable_text
from services.intake.domain import Accepted, Duplicate, Incoming, Intake, KnownState, PersonKeys, Rejected
from services.intake.handlers import _log_outcomes
from services.intake.masking import mask_text
from services.intake.validation import validate

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
KEYS = PersonKeys(b"test-secret")
NUMBER = "310115196203141234"
PHONE = "13812345678"


def incoming(raw: bytes, position: str, stamped: int = 1_764_000_000_000) -> Incoming:
    return Incoming(raw, "kafka", "CA", position, "dept.ca.events.v1", stamped)


def receive(intake: Intake, item: Incoming, applied: set[str]) -> Any:
    outcome = intake.receive(item, validate(item.raw, "CA", NOW), applied)
    applied |= set(intake.changes.applied)
    return outcome


def canonical_of(intake: Intake) -> list[Any]:
    return [HUB_EVENTS.parse(e.to_bytes()) for t, e, _ in intake.changes.outbox if t == CANONICAL]


def test_a_new_bad_record_at_an_old_position_gets_its_own_rejection() -> None:
    """A new broker starts offsets at 0 again: a new record may sit where an old one sat."""
    intake, applied = Intake(KnownState(), KEYS), set[str]()
    first = receive(intake, incoming(b"not json", "dept.ca.events.v1/0/0"), applied)
    second = receive(intake, incoming(b"{\"also\": \"bad\"}", "dept.ca.events.v1/0/0"), applied)
    assert isinstance(first, Rejected) and isinstance(second, Rejected)
    assert first.rejection_event_id != second.rejection_event_id
    assert len([e for t, e, _ in intake.changes.outbox if t == REJECTIONS]) == 2


def test_the_same_bad_record_redelivered_at_another_position_is_rejected_once() -> None:
    intake, applied = Intake(KnownState(), KEYS), set[str]()
    assert isinstance(receive(intake, incoming(b"not json", "dept.ca.events.v1/0/5"), applied), Rejected)
    later = Intake(KnownState(), KEYS)  # the next batch, after the first committed
    assert isinstance(receive(later, incoming(b"not json", "dept.ca.events.v1/3/0"), applied), Duplicate)


def test_the_same_bytes_published_again_are_a_new_record_and_get_a_new_rejection() -> None:
    intake, applied = Intake(KnownState(), KEYS), set[str]()
    first = receive(intake, incoming(b"not json", "dept.ca.events.v1/0/5", stamped=1000), applied)
    again = receive(intake, incoming(b"not json", "dept.ca.events.v1/0/6", stamped=2000), applied)
    assert isinstance(first, Rejected) and isinstance(again, Rejected)
    assert first.rejection_event_id != again.rejection_event_id


def test_an_id_made_of_a_name_and_a_number_is_never_logged_as_given() -> None:
    for unsafe in (f"张三{NUMBER}", f"zhangsan-{NUMBER}", f"call-{PHONE}"):
        shown = loggable_id(unsafe)
        assert shown is not None and shown.startswith("sha256:") and NUMBER not in shown and PHONE not in shown
        assert loggable_id(unsafe) == shown, "the same id gives the same digest"
    assert loggable_id("ca-ev-00ab12-7") == "ca-ev-00ab12-7"
    assert NUMBER not in loggable_text(f"amount cannot be '{NUMBER}'")


def test_outcome_log_lines_carry_a_digest_of_an_unsafe_event_id() -> None:
    event_id = f"zhangsan-{NUMBER}"
    raw = orjson.dumps({"event_id": event_id, "type": "benefit.granted", "source": "CA"})
    item = incoming(raw, "dept.ca.events.v1/0/1")
    intake = Intake(KnownState(), KEYS)
    outcome = receive(intake, item, set())
    assert isinstance(outcome, Rejected)
    with capture_logs() as lines:
        _log_outcomes([item, item], [outcome, Duplicate(event_id)])
    assert len(lines) == 2
    assert NUMBER not in repr(lines)


def test_free_text_goes_out_with_id_and_phone_numbers_masked() -> None:
    f, intake, applied = EventFactory("CA", seed=1, now=NOW), Intake(KnownState(), KEYS), set[str]()
    receive(intake, incoming(orjson.dumps(f.household_reported()), "p/0/1"), applied)
    need = f.need_assessed(f.households[0])
    need["data"]["description"] = f"住浦东张杨路1234弄, 身份证{NUMBER}, 电话{PHONE}"
    changed = f.benefit_changed(f.households[0])
    changed["data"]["reason"] = f"核对 {NUMBER[:15]} 后调整, 联系 021-62345678"
    for n, event in enumerate((need, changed)):
        assert isinstance(receive(intake, incoming(orjson.dumps(event), f"p/0/{n + 2}"), applied), Accepted)
    published = b"".join(e.to_bytes() for t, e, _ in intake.changes.outbox if t == CANONICAL).decode()
    for secret in (NUMBER, NUMBER[6:14], PHONE, NUMBER[:15], "62345678"):
        assert secret not in published
    description = canonical_of(intake)[1].data.description
    assert mask_text(f"身份证{NUMBER}") in description and "138****5678" in description


def test_department_household_ref_goes_out_as_a_keyed_pseudonym() -> None:
    f, intake = EventFactory("CA", seed=1, now=NOW), Intake(KnownState(), KEYS)
    report = f.household_reported()
    report["household_id"] = NUMBER  # a department that keys households by ID number
    assert isinstance(receive(intake, incoming(orjson.dumps(report), "p/0/1"), set()), Accepted)
    recorded = canonical_of(intake)[0]
    assert recorded.data.department_household_ref == KEYS.household_ref("CA", NUMBER)
    assert NUMBER not in recorded.to_bytes().decode() and NUMBER[6:14] not in recorded.to_bytes().decode()
    assert PersonKeys(b"other-secret").household_ref("CA", NUMBER) != recorded.data.department_household_ref


def test_a_rejection_masks_a_number_in_the_original_event_id() -> None:
    intake = Intake(KnownState(), KEYS)
    event = EventFactory("CA", seed=1, now=NOW).household_reported()
    event["event_id"] = f"ev-{NUMBER}"
    event["data"]["district"] = "999999"  # rejected: unknown district
    assert isinstance(receive(intake, incoming(orjson.dumps(event), "p/0/1"), set()), Rejected)
    rejection = [e for t, e, _ in intake.changes.outbox if t == REJECTIONS][0]
    assert NUMBER not in rejection.to_bytes().decode()
    assert HUB_EVENTS.parse(rejection.to_bytes()).data.original_event_id == f"ev-{mask_text(NUMBER)}"


def test_a_database_error_is_logged_by_its_types_not_its_parameters() -> None:
    import sqlalchemy as sa

    from kit.logs import loggable_error

    engine = sa.create_engine("sqlite://")
    with engine.connect() as connection:
        connection.execute(sa.text("CREATE TABLE person (name TEXT PRIMARY KEY)"))
        connection.execute(sa.text("INSERT INTO person VALUES (:n)"), {"n": "张三"})
        try:
            connection.execute(sa.text("INSERT INTO person VALUES (:n)"), {"n": "张三"})
        except sa.exc.IntegrityError as error:
            assert "张三" in str(error)  # what repr(error) would have logged
            assert "张三" not in loggable_error(error) and "IntegrityError" in loggable_error(error)
    assert NUMBER not in loggable_error(ValueError(f"bad {NUMBER}"))
