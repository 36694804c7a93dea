"""The identity benchmark finds each record it sent in what intake published, although intake
republishes a department's own household reference as a keyed pseudonym."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import orjson

from bench.identity_quality import Sent, SentRecord, department_events, final_keys
from contracts.hub import HUB_EVENTS, PersonMerged, PersonMergedData
from contracts.topics import CANONICAL
from services.intake.domain import Accepted, Incoming, Intake, KnownState, PersonKeys
from services.intake.resident_id import check_character
from services.intake.validation import validate

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
SECRET = b"test-secret"


def resident_id(first17: str) -> str:
    return first17 + check_character(first17)


def record(truth: str, name: str) -> SentRecord:
    return SentRecord(truth=truth, id_number=truth, name=name, birth_date=date(1962, 3, 14),
                      address="浦东新区张杨路1234弄5号601室", district="310115")


def published(sent: Sequence[Sent]) -> list[Any]:
    """What intake publishes on the canonical topic for these reports, as a consumer reads it."""
    intake, applied = Intake(KnownState(), PersonKeys(SECRET)), set[str]()
    for position, s in enumerate(sent):
        raw = orjson.dumps(s.event)
        outcome = intake.receive(Incoming(raw, "kafka", s.department, f"t/0/{position}"), validate(raw, s.department, NOW), applied)
        assert isinstance(outcome, Accepted)
        applied |= set(intake.changes.applied)
    return [HUB_EVENTS.parse(e.to_bytes()) for topic, e, _ in intake.changes.outbox if topic == CANONICAL]


def sent_reports() -> list[Sent]:
    wang, li = resident_id("31011519620314123"), resident_id("31011519620314456")
    return department_events([record(wang, "王伟"), record(li, "李娜"), record(wang, "王伟")], random.Random(3), NOW)


def test_each_record_gets_its_person_key_through_the_republished_reference() -> None:
    sent = sent_reports()
    keys = final_keys(published(sent), sent, SECRET)
    assert None not in keys.values()
    assert keys[sent[0].ref] == keys[sent[2].ref] != keys[sent[1].ref]


def test_a_record_intake_did_not_record_has_no_key() -> None:
    sent = sent_reports()
    keys = final_keys(published(sent[:2]), sent, SECRET)
    assert keys[sent[2].ref] is None and keys[sent[0].ref] is not None


def test_a_merged_person_key_is_followed_to_its_survivor() -> None:
    sent = sent_reports()
    events = published(sent)
    before = final_keys(events, sent, SECRET)
    merged = PersonMerged(source="intake", household_id="hh-1", data=PersonMergedData(
        surviving_person_key=before[sent[0].ref], merged_person_keys=[before[sent[1].ref]], reason="reviewer_decision"))
    after = final_keys([*events, merged], sent, SECRET)
    assert set(after.values()) == {before[sent[0].ref]}
