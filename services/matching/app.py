"""Wiring only: broker, subscribers, HTTP routes, database."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from faststream import FastStream
from faststream.specification import AsyncAPI

from kit.service import ServiceRuntime, build_runtime, operations_router
from services.matching.settings import MatchingSettings

MIGRATIONS = Path(__file__).parent / "migrations"
TITLE = "Hub matching"
DESCRIPTION = "The matching service: proposes matches between open needs and live offerings."


def build(settings: MatchingSettings) -> tuple[ServiceRuntime, FastAPI]:
    runtime = build_runtime(settings, MIGRATIONS, topics=[])
    http = FastAPI(title=TITLE, description=DESCRIPTION)
    http.include_router(operations_router(runtime))
    return runtime, http


def asyncapi() -> FastStream:
    """For `faststream docs gen --factory services.matching.app:asyncapi`."""
    runtime, _ = build(MatchingSettings())
    return FastStream(runtime.broker, specification=AsyncAPI(runtime.broker, title=TITLE, description=DESCRIPTION))
