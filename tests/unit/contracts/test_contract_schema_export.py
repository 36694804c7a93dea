"""JSON Schema export: one valid JSON file per registered event, and an index of them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from contracts.department import DEPARTMENT_EVENTS
from contracts.hub import HUB_EVENTS
from contracts.schema import (
    INDEX_FILE,
    JSON_SCHEMA_DIALECT,
    export_json_schemas,
    main,
    schema_file_name,
)

ROOT = Path(__file__).resolve().parents[3]
ALL = [*DEPARTMENT_EVENTS.models(), *HUB_EVENTS.models()]


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, list[Path]]:
    out = tmp_path / "schemas"
    return out, export_json_schemas(out)


def test_one_file_per_event_plus_index(exported) -> None:
    out, written = exported
    assert written[-1] == out / INDEX_FILE
    expected = {f"{m.TYPE}.v{m.VERSION}.json" for m in ALL}
    assert {p.name for p in written[:-1]} == expected
    assert len(written) == len(ALL) + 1
    assert {p.name for p in out.iterdir()} == expected | {INDEX_FILE}
    assert all(re.fullmatch(r"[a-z_.]+\.v\d+\.json", name) for name in expected)


@pytest.mark.parametrize("model", ALL, ids=[f"{m.TYPE}.v{m.VERSION}" for m in ALL])
def test_each_file_is_the_schema_of_its_event(exported, model) -> None:
    out, _ = exported
    schema = json.loads((out / schema_file_name(model)).read_text(encoding="utf-8"))

    assert schema["$schema"] == JSON_SCHEMA_DIALECT
    assert schema["$id"] == schema_file_name(model)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert schema["properties"]["type"]["const"] == model.TYPE
    assert schema["properties"]["schema_version"]["const"] == model.VERSION
    assert {"type", "schema_version", "source", "data"} <= set(schema["required"])
    assert set(schema["properties"]) == set(model.model_fields)
    # every local reference resolves inside the file
    text = json.dumps(schema)
    for ref in re.findall(r'"\$ref": "#/\$defs/([^"]+)"', text):
        assert ref in schema["$defs"]


def test_index_lists_every_event(exported) -> None:
    out, _ = exported
    index = json.loads((out / INDEX_FILE).read_text(encoding="utf-8"))
    entries = {(e["type"], e["version"]): e for e in index["events"]}
    assert set(entries) == {(m.TYPE, m.VERSION) for m in ALL}
    assert entries[("benefit.granted", 1)]["origin"] == "department"
    assert entries[("benefit.recorded", 1)]["origin"] == "hub"
    assert all((out / e["file"]).is_file() for e in entries.values())


def test_export_is_deterministic(tmp_path: Path) -> None:
    first = {p.name: p.read_bytes() for p in export_json_schemas(tmp_path / "a")}
    second = {p.name: p.read_bytes() for p in export_json_schemas(tmp_path / "b")}
    assert first == second


def test_main_writes_the_folder(tmp_path: Path, capsys) -> None:
    assert main([str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out.split()
    assert len(printed) == len(ALL) + 1
    assert (tmp_path / "out" / "benefit.granted.v1.json").is_file()


def test_runs_as_a_module(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "contracts.schema", str(tmp_path / "cli")],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cli" / INDEX_FILE).is_file()
