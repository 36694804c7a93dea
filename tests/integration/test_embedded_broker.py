from __future__ import annotations

import socket

import pytest

from kit.errors import StartupError
from kit.tansu import EmbeddedBroker, port_accepts


def test_starts_accepts_connections_and_stops() -> None:
    broker = EmbeddedBroker().start()
    try:
        assert port_accepts("127.0.0.1", broker.port)
    finally:
        broker.stop()
    assert not port_accepts("127.0.0.1", broker.port)


def test_refuses_a_port_in_use_with_a_clear_message() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StartupError, match=f"port {port} is already in use"):
            EmbeddedBroker(port=port).start()


def test_reports_a_binary_that_cannot_run(tmp_path, monkeypatch) -> None:
    fake = tmp_path / "tansu"
    fake.write_text("#!/bin/sh\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("HUB_TANSU_BINARY", str(fake))
    with pytest.raises(StartupError, match="exited with code 3"):
        EmbeddedBroker().start()


def test_hub_up_starts_a_dead_broker_again_on_its_port_with_a_new_cluster_id() -> None:
    from hub.launcher import supervise_broker

    broker = EmbeddedBroker().start()
    lines: list[str] = []
    try:
        first = broker.cluster_id
        assert not supervise_broker(broker, lines.append), "a live broker is left alone"
        broker.kill()
        assert not port_accepts("127.0.0.1", broker.port)
        assert supervise_broker(broker, lines.append)
        assert port_accepts("127.0.0.1", broker.port)
        assert broker.cluster_id != first, "the services tell a new broker by its cluster id"
        assert len(lines) == 1 and "broker died" in lines[0] and broker.bootstrap in lines[0]
    finally:
        broker.stop()
