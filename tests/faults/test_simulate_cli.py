"""`hub simulate` as an operator runs it, against the services running as processes: exit code 0
and a summary when everything is accounted for, the charity stage included; exit code 1 when it
is not (here: no ledger running, so the seeded overlaps raise no alert)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from bench.hub_run import HubProcesses
from tests.faults.conftest import SENT_IN

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]
ROOT = Path(__file__).resolve().parents[2]


def simulate(processes: HubProcesses, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HUB_KAFKA_BOOTSTRAP": processes.hub.kafka_bootstrap,
           "HUB_KAFKA_IDEMPOTENCE": str(processes.hub.kafka_idempotence).lower(), "HUB_TOPIC_NAMESPACE": processes.hub.topic_namespace,
           "COLUMNS": "200"}
    settings = processes.simulation_settings()
    urls = ["--intake-url", settings.intake_url, "--ledger-url", settings.ledger_url, "--charity-url", settings.charity_url,
            "--matching-url", settings.matching_url]
    command = [sys.executable, "-c", "from hub.cli import main; main()", "simulate", *urls, "--quiet", *arguments]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)


def test_simulate_accounts_for_every_event_and_exits_0(hub_processes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    processes = hub_processes("cli", env={"matching": {"HUB_MATCHING_CATCH_UP_SECONDS": "10"}}).start("intake", "ledger", "matching", "charity")
    report = tmp_path / "figures.json"
    done = simulate(processes, "--households", "300", "--overlap-share", "0.01", "--seed", "31", "--burst", "--report", str(report))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "everything accounted for" in done.stdout
    assert "The charity side" in done.stdout and "declined, by reason" in done.stdout
    figures = orjson.loads(report.read_text())
    year, burst = figures["phases"]
    assert figures["ok"] and year["unaccounted"] == 0 and burst["unaccounted"] == 0
    assert year["canonical"] > 1500 and sum(year["rejected"].values()) > 15
    assert all(a["alerted"] == a["seeded"] for a in year["alerts"].values()) and figures["overlaps_seeded"] == 3
    assert burst["canonical"] == burst["events"] > 150  # every running dibao grant amended
    charity = figures["charity"]
    assert charity["ran"] and charity["organisations"] == 4 and not charity["problems"], charity
    assert charity["proposals"] > 10 and charity["delivered"] == charity["deliveries_in_ledger"] > 5, charity
    assert charity["unanswered"] == 0 and charity["unmet_needs"] is not None
    SENT_IN.logs.update(processes.logs())


def test_simulate_exits_1_when_seeded_overlaps_get_no_alert(hub_processes) -> None:  # type: ignore[no-untyped-def]
    processes = hub_processes("cli-noledger").start("intake")
    done = simulate(processes, "--households", "150", "--overlap-share", "0.02", "--seed", "32", "--settle", "5")
    assert done.returncode == 1, done.stdout[-3000:]
    assert "seeded overlap(s) with no alert" in done.stdout
    assert "not everything is accounted for" in done.stdout
    assert "charity stage:" in done.stdout and "skipped" in done.stdout
