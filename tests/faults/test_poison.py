"""Poison messages on every topic the services consume (each department's topic, read by intake;
the canonical and match topics, read by the ledger): each is rejected or skipped with a log line
that names it (the event id it carries, when it carries one that is plainly an id, and where it is),
and the consumer keeps going (a good event sent after the poison is processed)."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from bench.ledger_tools import read_until
from contracts.catalogue import DEPARTMENTS
from contracts.department import HouseholdReported
from contracts.hub import HouseholdRecorded
from contracts.topics import CANONICAL, MATCHES, REJECTIONS, Topic, department_topic
from kit.settings import HubSettings
from services.intake.canonical import canonical_event_id
from tests.faults.conftest import applied_event_ids, figures

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]
NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def poisons(label: str) -> list[tuple[str, bytes | None]]:
    """(event id it carries or "", value): not UTF-8, not JSON, not an object, an empty record,
    no value at all, an unknown type, a known type with broken data, and one too large."""
    broken_data = {"amount_fen": "a lot", "period_start": "yesterday"}
    return [
        ("", b"\xff\xfe\x00 not utf-8"),
        ("", b'{"event_id": "cut-off'),
        ("", b"[1, 2, 3]"),
        ("", b""),
        ("", None),
        (f"poison-{label}-type", json.dumps({"event_id": f"poison-{label}-type", "type": "no.such.event", "schema_version": 1,
                                             "source": "CA", "data": {}}).encode()),
        (f"poison-{label}-data", json.dumps({"event_id": f"poison-{label}-data", "type": "benefit.granted", "schema_version": 1,
                                             "occurred_at": NOW.isoformat(), "source": "CA", "household_id": "x", "data": broken_data}).encode()),
        (f"poison-{label}-large", json.dumps({"event_id": f"poison-{label}-large", "type": "need.assessed", "schema_version": 1,
                                              "source": "CA", "data": {"description": "x" * 70_000}}).encode()),
    ]


async def send(hub: HubSettings, topic: Topic, records: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]]) -> None:
    """Each record is (key, value, headers)."""
    producer = AIOKafkaProducer(bootstrap_servers=hub.kafka_bootstrap, acks="all", max_request_size=4 << 20)
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(hub.topic_name(topic), value, key=key, headers=headers or None)
    finally:
        await producer.stop()


def good_report(department: str) -> HouseholdReported:
    return HouseholdReported(
        event_id=f"after-poison-{department}", occurred_at=NOW, source=department, household_id=f"{department}-after",
        data={"district": "310104", "address": "徐汇区漕溪北路1号", "members": [{"name": "测试", "relation": "head"}]},
    )


def log_lines(path: Path) -> list[dict]:
    lines = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return lines


def test_poison_on_every_department_topic_is_rejected_with_its_id_and_intake_keeps_going(hub_processes) -> None:  # type: ignore[no-untyped-def]
    processes = hub_processes("poison-intake").start("intake")
    hub = processes.hub
    sent = 0
    for department in DEPARTMENTS:
        records: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]] = [(b"k", value, []) for _, value in poisons(department.lower())]
        records.append((b"k", good_report(department).to_bytes(), []))
        asyncio.run(send(hub, department_topic(department), records))
        sent += len(records) - 1
    expected_good = {canonical_event_id(d, f"after-poison-{d}") for d in DEPARTMENTS}
    canonical = asyncio.run(read_until(hub, CANONICAL, lambda events: expected_good <= {e.event_id for e in events}, timeout=60))
    rejections = asyncio.run(read_until(hub, REJECTIONS, lambda events: len(events) >= sent, timeout=60))
    assert processes["intake"].alive()
    logged = log_lines(processes["intake"].log)
    rejected_ids = {line.get("event_id") for line in logged if line.get("event") == "event rejected"}
    # An event over the size limit is not read (its id included): its rejection says where it is instead.
    with_id = [f"poison-{d.lower()}-{kind}" for d in DEPARTMENTS for kind in ("type", "data")]
    too_large = [e for e in rejections if any(r.code == "payload.too_large" for r in e.data.reasons)]  # type: ignore[attr-defined]
    missing_logs = [event_id for event_id in with_id if event_id not in rejected_ids]
    reasons = sorted({r.code for e in rejections for r in e.data.reasons})  # type: ignore[attr-defined]
    figures("poison on department topics", poison_sent=sent, rejections=len(rejections), reasons=reasons,
            good_events_after=len(expected_good & {e.event_id for e in canonical}), ids_not_logged=len(missing_logs))
    assert expected_good <= {e.event_id for e in canonical}, "intake stopped after the poison"
    assert len({e.event_id for e in rejections}) == sent
    assert all(e.data.reasons for e in rejections)  # type: ignore[attr-defined]
    assert not missing_logs
    assert len(too_large) == len(DEPARTMENTS) and all(e.data.payload_ref for e in too_large)  # type: ignore[attr-defined]


def unsafe_ids(label: str) -> list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]:
    """(key, value, headers) of records whose id is caller text no log line may show, and one whose id is
    only in its event_id header (as the hub's own publishers set it) with a body that is not JSON."""
    return [
        (b"hh-poison", json.dumps({"event_id": f"张三-{label}", "type": "no.such.event"}).encode(), []),
        (b"hh-poison", json.dumps({"event_id": f"{label}-310104199001011234", "type": "no.such.event"}).encode(), []),
        (b"hh-poison", b"\xff not json", [("event_id", f"poison-{label}-header".encode())]),
    ]


def test_poison_on_the_canonical_and_match_topics_is_skipped_with_its_id_and_the_ledger_keeps_going(hub_processes) -> None:  # type: ignore[no-untyped-def]
    processes = hub_processes("poison-ledger").start("ledger")
    hub = processes.hub
    sent = 0
    good, carried = [], set()
    for topic in (CANONICAL, MATCHES):
        label = topic.name.split(".")[1]
        records = [(b"hh-poison", value, []) for _, value in poisons(label)] + unsafe_ids(label)
        carried |= {event_id for event_id, _ in poisons(label) if event_id} | {f"poison-{label}-header"}
        event = HouseholdRecorded(event_id=f"after-poison-{label}", source="intake", household_id=f"hh-after-{label}", data={
            "department": "CA", "department_household_ref": "CA-1", "district": "310104", "members": [{"person_key": "p_1", "display_name": "测*"}],
        })
        good.append(event.event_id)
        asyncio.run(send(hub, topic, records + [(event.household_id.encode(), event.to_bytes(), [])]))
        sent += len(records)

    def skipped() -> list[dict]:
        return [line for line in log_lines(processes["ledger"].log) if "skipped" in str(line.get("event"))]

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (
        set(good) <= set(applied_event_ids(processes.databases["ledger"])) and carried <= {line.get("event_id") for line in skipped()}
    ):
        time.sleep(0.3)
    applied = set(applied_event_ids(processes.databases["ledger"]))
    assert processes["ledger"].alive()
    lines = skipped()
    named = [line for line in lines if line.get("event_id")]
    figures("poison on canonical and match topics", poison_sent=sent, poison_carrying_a_safe_event_id=len(carried),
            skipped_with_a_log_line=len(lines), log_lines_naming_the_event_id=len(named), good_events_after=len(set(good) & applied))
    assert set(good) <= applied, "the ledger stopped after the poison"
    assert len(lines) >= sent - 2  # a record with no value at all may be dropped by the client before the ledger sees it
    assert all(line.get("position") for line in lines)  # topic/partition/offset: where to find it
    assert {line["event_id"] for line in named} == carried  # the id it carries when it has one, and only a safe one
    log = processes["ledger"].log.read_text(errors="replace")
    assert "310104199001011234" not in log and "张三" not in log and "\\u5f20" not in log
