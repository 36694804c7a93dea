"""The outbox when the broker is away: with the (embedded) broker stopped, organisations still
publish offerings and get their answers; once a broker is back on the same address, every
offering's event arrives, and none twice once deduplicated by event id."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import httpx

from bench.ledger_tools import read_until
from contracts.hub import OfferingPublishedV2
from contracts.topics import OFFERINGS
from kit.broker import ensure_topics
from kit.settings import HubSettings
from kit.tansu import EmbeddedBroker, free_port
from tests.conftest import ROOT, ServiceProcess
from tests.integration.charity_support import STAFF, offering, registration

CREATED_WHILE_DOWN = 12


async def test_offerings_made_while_the_broker_is_down_are_published_when_it_is_back(tmp_path: Path) -> None:
    broker = EmbeddedBroker(log_path=tmp_path / "broker.log").start()
    hub = HubSettings(kafka_bootstrap=broker.bootstrap, kafka_idempotence=False, topic_namespace=f"o{uuid.uuid4().hex[:6]}.")
    port = free_port()
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "HUB_KAFKA_BOOTSTRAP": hub.kafka_bootstrap, "HUB_KAFKA_IDEMPOTENCE": "false",
        "HUB_TOPIC_NAMESPACE": hub.topic_namespace, "HUB_DATA_DIR": str(tmp_path / "data"), "HUB_LOG_FORMAT": "json",
        "HUB_CHARITY_HTTP_PORT": str(port),
    }
    service = ServiceProcess("charity", port, env, tmp_path / "charity.log").start()
    try:
        with httpx.Client(base_url=service.url, timeout=10) as client:
            registered = client.post("/organisations", json=registration(1)).json()
            organisation_id, key = registered["organisation"]["organisation_id"], {"X-API-Key": registered["key"]["api_key"]}
            assert client.post(f"/organisations/{organisation_id}/approve", headers=STAFF).status_code == 200
            before = client.post("/offerings", json=offering(title="Made with the broker up"), headers=key).json()["offering_id"]

            broker.stop()
            made: list[str] = []
            for n in range(CREATED_WHILE_DOWN):
                started = time.monotonic()
                answer = client.post("/offerings", json=offering(title=f"Made while down {n}"), headers=key)
                assert answer.status_code == 201, answer.text
                assert time.monotonic() - started < 2.0, "the API waited for the broker"
                made.append(answer.json()["offering_id"])
            assert len(client.get("/offerings", headers=key).json()) == CREATED_WHILE_DOWN + 1

            broker = EmbeddedBroker(port=broker.port, log_path=tmp_path / "broker.log").start()  # a fresh, empty broker
            await ensure_topics(hub, [OFFERINGS])
            wanted = {before, *made}
            events = await read_until(
                hub, OFFERINGS, lambda got: {e.data.offering_id for e in got if isinstance(e, OfferingPublishedV2)} >= set(made),
                timeout=120,
            )
    finally:
        service.stop()
        broker.stop()
    published = [e for e in events if isinstance(e, OfferingPublishedV2)]
    by_id = {e.event_id: e for e in published}  # what a deduplicating consumer keeps
    assert {e.data.offering_id for e in by_id.values()} >= set(made)
    assert sorted(e.data.offering_id for e in by_id.values() if e.data.offering_id in made) == sorted(made)  # each once
    assert wanted >= {e.data.offering_id for e in by_id.values()}
