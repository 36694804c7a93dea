"""The charity service's consumer of hub.matches.v1 on the real broker: records it cannot read
(not JSON, an unknown type, a proposal that breaks its contract) are counted and skipped without
stopping it; a redelivered proposal is applied once, by event id; its own outcome events coming
back on the topic change nothing; a proposal nobody answers by its deadline expires by the
service's own periodic check."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
from aiokafka import AIOKafkaProducer

from bench.ledger_tools import publish
from contracts.envelope import utc_now
from contracts.topics import MATCHES
from kit.broker import ensure_topics
from tests.integration.charity_support import STAFF, offering, proposal, registration


def counted(url: str, outcome: str) -> float:
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith(f'charity_match_events_total{{outcome="{outcome}"}}'):
            return float(line.split()[-1])
    return 0.0


def wait_until(check, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


async def test_poison_records_are_skipped_and_redeliveries_applied_once(start_service, hub) -> None:
    charity = start_service("charity", HUB_CHARITY_CHECK_EVERY_SECONDS="0.5")
    with httpx.Client(base_url=charity.url, timeout=10) as client:
        registered = client.post("/organisations", json=registration(1)).json()
        organisation_id, key = registered["organisation"]["organisation_id"], {"X-API-Key": registered["key"]["api_key"]}
        client.post(f"/organisations/{organisation_id}/approve", headers=STAFF)
        offering_id = client.post("/offerings", json=offering(), headers=key).json()["offering_id"]

        await ensure_topics(hub, [MATCHES])
        producer = AIOKafkaProducer(bootstrap_servers=hub.kafka_bootstrap)
        await producer.start()
        try:
            for poison in (b"not json", b'{"type": "match.teleported", "schema_version": 1}',
                           b'{"event_id": "poison-m-x", "type": "match.proposed", "schema_version": 2, "data": {"match_id": "m-x"}}'):
                await producer.send_and_wait(hub.topic_name(MATCHES), poison, key=b"hh-1")
        finally:
            await producer.stop()
        first = proposal(offering_id, organisation_id, "m-1")
        hurried = proposal(offering_id, organisation_id, "m-2", expires_at=utc_now() + timedelta(seconds=3))
        await publish(hub, MATCHES, [first, first, hurried])
        wait_until(lambda: counted(charity.url, "proposed") == 2 and counted(charity.url, "unreadable") == 3)
        assert sorted(m["match_id"] for m in client.get("/inbox", headers=key).json()) == ["m-1", "m-2"]
        # Nobody answered m-2 by its deadline: the service's own periodic check expires it.
        wait_until(lambda: client.get("/inbox/m-2", headers=key).json()["state"] == "expired", timeout=20)
        assert client.get("/inbox/m-2", headers=key).json()["reason_code"] == "deadline_passed"

        assert client.post("/inbox/m-1/accept", headers=key).status_code == 200
        wait_until(lambda: counted(charity.url, "duplicates") >= 1)
        time.sleep(1.0)  # the accepted event went out and came back on the topic
        assert counted(charity.url, "proposed") == 2
        assert client.get("/inbox/m-1", headers=key).json()["state"] == "accepted"
    log = charity.log_path.read_text()
    assert "unreadable match record skipped" in log and f"{hub.topic_name(MATCHES)}/" in log
    assert "poison-m-x" in log  # the event id the poison carries, to find it by
