"""Wiring only: broker, subscribers, HTTP routes, database."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from faststream import FastStream
from faststream.specification import AsyncAPI

from kit.service import ServiceRuntime, build_runtime, operations_router
from services.ledger.settings import LedgerSettings

MIGRATIONS = Path(__file__).parent / "migrations"
TITLE = "Hub ledger"
DESCRIPTION = "The ledger service: the unified beneficiary ledger, duplicate-service alerts and the pre-grant check."


def build(settings: LedgerSettings) -> tuple[ServiceRuntime, FastAPI]:
    runtime = build_runtime(settings, MIGRATIONS, topics=[])
    http = FastAPI(title=TITLE, description=DESCRIPTION)
    http.include_router(operations_router(runtime))
    return runtime, http


def asyncapi() -> FastStream:
    """For `faststream docs gen --factory services.ledger.app:asyncapi`."""
    runtime, _ = build(LedgerSettings())
    return FastStream(runtime.broker, specification=AsyncAPI(runtime.broker, title=TITLE, description=DESCRIPTION))
