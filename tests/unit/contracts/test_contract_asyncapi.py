"""AsyncAPI: FastStream's generator, run for a service, documents the topics it uses."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from contracts.catalogue import DEPARTMENTS
from contracts.schema import AsyncAPIExportError, export_asyncapi
from contracts.topics import all_topics, department_topic


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # the document must describe the default topic names, whatever this shell has set
    for name in list(os.environ):
        if name.startswith("HUB_"):
            monkeypatch.delenv(name)


@pytest.mark.timeout(60)
def test_intake_document_names_the_department_topics(tmp_path: Path, clean_env) -> None:
    [path] = export_asyncapi(tmp_path, ["intake"], timeout=45)
    text = path.read_text(encoding="utf-8")
    document = json.loads(text)

    assert document["asyncapi"].startswith("3.")
    assert "intake" in document["info"]["title"].lower()
    addresses = {channel.get("address", name) for name, channel in document.get("channels", {}).items()}
    known = {topic.name for topic in all_topics()}
    for address in addresses:
        assert set(address.split(",")) <= known, f"{address} is not a topic in contracts/topics.py"
    if not addresses:
        pytest.xfail("intake declares no subscriber or publisher in its AsyncAPI document yet")
    for code in DEPARTMENTS:
        assert department_topic(code).name in text


def test_unknown_service_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown service"):
        export_asyncapi(tmp_path, ["payroll"])


def test_generator_failure_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("contracts.schema.ASYNCAPI_FACTORY", "services.{service}.app:no_such_factory")
    with pytest.raises(AsyncAPIExportError, match="ledger"):
        export_asyncapi(tmp_path, ["ledger"], timeout=45)
