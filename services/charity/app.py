"""Wiring only: broker, subscribers, HTTP routes, database."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from faststream import FastStream
from faststream.specification import AsyncAPI

from kit.service import ServiceRuntime, build_runtime, operations_router
from services.charity.settings import CharitySettings

MIGRATIONS = Path(__file__).parent / "migrations"
TITLE = "Hub charity"
DESCRIPTION = "The charity service: charities and companies, their offerings, and their side of each match."


def build(settings: CharitySettings) -> tuple[ServiceRuntime, FastAPI]:
    runtime = build_runtime(settings, MIGRATIONS, topics=[])
    http = FastAPI(title=TITLE, description=DESCRIPTION)
    http.include_router(operations_router(runtime))
    return runtime, http


def asyncapi() -> FastStream:
    """For `faststream docs gen --factory services.charity.app:asyncapi`."""
    runtime, _ = build(CharitySettings())
    return FastStream(runtime.broker, specification=AsyncAPI(runtime.broker, title=TITLE, description=DESCRIPTION))
