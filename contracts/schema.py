"""The contracts as documents other systems can read: a JSON Schema per event, AsyncAPI per service.

    python -m contracts.schema OUT_DIR              # OUT_DIR/<type>.v<version>.json + index.json
    python -m contracts.schema OUT_DIR --asyncapi   # and OUT_DIR/asyncapi/<service>.json

A department that cannot use these pydantic models validates against the JSON Schema files; the
index lists every event type and version with the file that describes it. Output is deterministic
(no timestamps), so the folder can be committed and reviewed as a diff.

The AsyncAPI documents come from FastStream's own generator, run as `faststream docs gen` in a
child process: contracts never import a service, so the services are named here only as strings.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from contracts.department import DEPARTMENT_EVENTS
from contracts.envelope import Event, EventRegistry
from contracts.hub import HUB_EVENTS

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
INDEX_FILE = "index.json"

REGISTRIES: dict[str, EventRegistry] = {"department": DEPARTMENT_EVENTS, "hub": HUB_EVENTS}
"""Where each event comes from: department systems, or the hub's own services."""

SERVICES: tuple[str, ...] = ("intake", "matching", "charity", "ledger")
ASYNCAPI_FACTORY = "services.{service}.app:asyncapi"

_ROOT = Path(__file__).resolve().parent.parent  # the folder holding contracts/ and services/


class AsyncAPIExportError(RuntimeError):
    """FastStream's generator failed for a service; the message carries its output."""


def schema_file_name(model: type[Event]) -> str:
    return f"{model.TYPE}.v{model.VERSION}.json"


def event_json_schema(model: type[Event]) -> dict[str, Any]:
    """The JSON Schema an incoming event of this type and version must satisfy.

    `type` and `schema_version` have defaults in the model but are listed as required: the
    registry reads them to choose the model, so a body without them is refused."""
    schema = model.model_json_schema(mode="validation")
    required = [name for name in ("type", "schema_version") if name not in schema.get("required", [])]
    schema["required"] = required + list(schema.get("required", []))
    return {"$schema": JSON_SCHEMA_DIALECT, "$id": schema_file_name(model), **schema}


def registered_events() -> list[tuple[str, type[Event]]]:
    """Every registered (origin, model), sorted by type then version; refuses a pair seen twice."""
    seen: dict[tuple[str, int], str] = {}
    events: list[tuple[str, type[Event]]] = []
    for origin, registry in REGISTRIES.items():
        for model in registry.models():
            key = (model.TYPE, model.VERSION)
            if key in seen:
                raise ValueError(f"event {key[0]} v{key[1]} is registered in both {seen[key]} and {origin}")
            seen[key] = origin
            events.append((origin, model))
    return sorted(events, key=lambda item: (item[1].TYPE, item[1].VERSION))


def export_json_schemas(out_dir: Path) -> list[Path]:
    """Write one JSON Schema file per registered event type and version, then `index.json`.

    Returns the paths written: the event files in index order, the index last. Files already in
    `out_dir` that are not produced here are left alone."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    index: list[dict[str, Any]] = []
    for origin, model in registered_events():
        path = out_dir / schema_file_name(model)
        _write_json(path, event_json_schema(model))
        written.append(path)
        index.append(
            {
                "type": model.TYPE,
                "version": model.VERSION,
                "origin": origin,
                "model": model.__name__,
                "description": _first_line(model.__doc__),
                "file": path.name,
            }
        )
    index_path = out_dir / INDEX_FILE
    _write_json(index_path, {"$schema": JSON_SCHEMA_DIALECT, "events": index})
    written.append(index_path)
    return written


def export_asyncapi(
    out_dir: Path, services: Sequence[str] = SERVICES, *, timeout: float = 120.0
) -> list[Path]:
    """Run `faststream docs gen --factory services.<name>.app:asyncapi` for each service, in
    parallel child processes, writing `out_dir/<name>.json`. Raises AsyncAPIExportError if any
    fails. The services build their runtime to describe it; their SQLite files (if no database
    URL is set) go to a throw-away folder, and nothing connects to Kafka."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    unknown = [name for name in services if name not in SERVICES]
    if unknown:
        raise ValueError(f"unknown service(s) {unknown}; known: {', '.join(SERVICES)}")
    with tempfile.TemporaryDirectory(prefix="hub-asyncapi-") as scratch:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(_ROOT), os.environ.get("PYTHONPATH")])),
            "HUB_DATA_DIR": scratch,
        }
        running: list[tuple[str, Path, subprocess.Popen[str]]] = []
        for name in services:
            path = out_dir / f"{name}.json"
            command = [
                sys.executable, "-m", "faststream", "docs", "gen",
                "--factory", ASYNCAPI_FACTORY.format(service=name), "--out", str(path),
            ]  # fmt: skip
            process = subprocess.Popen(
                command, cwd=_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            running.append((name, path, process))
        failures: list[str] = []
        for name, path, process in running:
            try:
                output, _ = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                output, _ = process.communicate()
                failures.append(f"{name}: timed out after {timeout:.0f}s\n{output[-2000:]}")
                continue
            if process.returncode != 0 or not path.is_file():
                failures.append(f"{name}: exit code {process.returncode}\n{output[-2000:]}")
    if failures:
        raise AsyncAPIExportError("AsyncAPI generation failed for " + "\n".join(failures))
    return [path for _, path, _ in running]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m contracts.schema", description="Export the hub's event contracts as JSON Schema (and AsyncAPI)."
    )
    parser.add_argument("out_dir", type=Path, help="folder to write into (created if missing)")
    parser.add_argument(
        "--asyncapi", action="store_true", help="also write each service's AsyncAPI document to OUT_DIR/asyncapi/"
    )
    args = parser.parse_args(argv)
    for path in export_json_schemas(args.out_dir):
        print(path)
    if args.asyncapi:
        try:
            for path in export_asyncapi(args.out_dir / "asyncapi"):
                print(path)
        except AsyncAPIExportError as error:
            print(error, file=sys.stderr)
            return 1
    return 0


def _write_json(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _first_line(text: str | None) -> str:
    return text.strip().splitlines()[0] if text and text.strip() else ""


if __name__ == "__main__":
    sys.exit(main())
