"""`hub up`: which processes it starts, where they listen."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from hub import launcher
from kit.settings import HubSettings


class StartedProcess:
    def __init__(self, command: list[str], cwd: Any, env: dict[str, str]) -> None:
        self.command, self.env = command, env


def test_intake_instances_are_extra_members_of_its_group_each_on_its_own_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess, "Popen", StartedProcess)
    monkeypatch.delenv("HUB_INTAKE_HTTP_PORT", raising=False)
    services = launcher.start_services({"HUB_DATA_DIR": "data"}, HubSettings(), intake_instances=3)

    assert [s.name for s in services] == ["intake", "matching", "charity", "ledger", "web", "intake#2", "intake#3"]
    assert [s.url.rsplit(":", 1)[1] for s in services] == ["8001", "8002", "8003", "8004", "8005", "8011", "8021"]
    extra = [s.process for s in services if s.name.startswith("intake#")]
    assert all(p.command[-1] == "services.intake" for p in extra)
    assert [p.env["HUB_INTAKE_HTTP_PORT"] for p in extra] == ["8011", "8021"]
    assert all(p.env["HUB_DATA_DIR"] == "data" for p in extra)  # the same database and broker as the first
    assert "HUB_INTAKE_HTTP_PORT" not in services[0].process.env
