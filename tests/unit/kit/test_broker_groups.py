"""Consumer groups take the hub's session timeout (HUB_KAFKA_SESSION_TIMEOUT_MS) unless a
subscriber names its own; a subscriber outside any group is left as it is."""

from __future__ import annotations

from typing import Any

import pytest
from faststream.kafka import KafkaBroker

from kit.broker import make_broker
from kit.settings import HubSettings


def test_consumer_groups_get_the_hubs_session_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(KafkaBroker, "subscriber", lambda self, *topics, **options: seen.append(options))
    broker = make_broker(HubSettings(kafka_session_timeout_ms=3000), "test")
    broker.subscriber("a", group_id="g")
    broker.subscriber("b")
    broker.subscriber("c", group_id="g", session_timeout_ms=7000)
    assert seen == [
        {"group_id": "g", "session_timeout_ms": 3000, "heartbeat_interval_ms": 1000},
        {},
        {"group_id": "g", "session_timeout_ms": 7000},
    ]


def test_the_default_session_timeout_is_kafkas_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_KAFKA_SESSION_TIMEOUT_MS", raising=False)
    assert HubSettings().kafka_session_timeout_ms == 10_000
