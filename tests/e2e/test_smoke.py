"""All four services as separate processes on the real broker: they connect, hear each other,
and stop cleanly on SIGTERM."""

from __future__ import annotations

import time

import httpx

from tests.conftest import wait_all_healthy

SERVICES = ("intake", "matching", "charity", "ledger")


def test_four_services_connect_and_exchange_events(start_service) -> None:
    running = [start_service(name, wait=False) for name in SERVICES]
    wait_all_healthy(*running)

    deadline = time.monotonic() + 60
    peers_seen: dict[str, set[str]] = {}
    while time.monotonic() < deadline:
        peers_seen = {s.name: set(httpx.get(f"{s.url}/health").json()["peers"]) for s in running}
        if all(seen == set(SERVICES) for seen in peers_seen.values()):
            break
        time.sleep(0.5)
    assert peers_seen == {name: set(SERVICES) for name in SERVICES}

    for service in running:
        assert service.stop() == 0, service.log_path.read_text()[-2000:]
        assert "service stopped" in service.log_path.read_text()
