"""The integrator's examples in docs/intake.md, as written: `hub publish` of the example file and a
POST of the example event reach intake, which accepts the good ones and rejects the bad one."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from hub.publish import publish
from tests.integration.test_intake_kafka import read_output

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"


def test_hub_publish_and_curl_examples_reach_intake(start_service, hub, monkeypatch: pytest.MonkeyPatch) -> None:
    intake = start_service("intake")
    monkeypatch.setenv("HUB_KAFKA_BOOTSTRAP", hub.kafka_bootstrap)
    monkeypatch.setenv("HUB_TOPIC_NAMESPACE", hub.topic_namespace)
    cli = typer.Typer()
    cli.command()(publish)

    result = CliRunner().invoke(cli, [str(EXAMPLES / "ca-events.jsonl"), "--department", "CA", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "published 4 event(s)" in result.output

    asyncio.run(read_output(hub, canonical=3, rejections=1, timeout=30, quiet=0))
    posted = httpx.post(
        f"{intake.url}/events",
        content=(EXAMPLES / "ca-event.json").read_bytes(),
        headers={"X-API-Key": "dev-ca-key", "Content-Type": "application/json"},
    )
    assert posted.status_code == 202, posted.text

    output = asyncio.run(read_output(hub, canonical=4, rejections=1, timeout=30))
    assert [e["type"] for e in output.canonical] == ["household.recorded", "benefit.recorded", "need.recorded", "benefit.amended"]
    assert len({e["household_id"] for e in output.canonical}) == 1
    assert [r["code"] for r in output.rejections[0]["data"]["reasons"]] == ["amount.negative"]


def test_hub_publish_refuses_an_unknown_department(tmp_path: Path) -> None:
    cli = typer.Typer()
    cli.command()(publish)
    file = tmp_path / "x.jsonl"
    file.write_text("{}\n")
    result = CliRunner().invoke(cli, [str(file), "--department", "POLICE", "-q"])
    assert result.exit_code == 2
