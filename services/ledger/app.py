"""Wiring only: policy, broker, subscribers, HTTP routes, database."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from faststream import AckPolicy, FastStream
from faststream.specification import AsyncAPI

from contracts.topics import ALERTS, CANONICAL, HOUSEHOLD_STATE, MATCHES
from kit.auth import ApiKeys
from kit.http import protect
from kit.broker import FETCH_MAX_WAIT_MS, undecoded
from kit.errors import StartupError
from kit.service import ServiceRuntime, build_runtime, operations_router
from services.ledger.batch import HouseholdCache
from services.ledger.handlers import LedgerMetrics, make_on_events
from services.ledger.http import LedgerContext, ledger_router
from services.ledger.policy import PolicyError, StackingPolicy, load_policy
from services.ledger.repository import tune_engine
from services.ledger.settings import LedgerSettings

MIGRATIONS = Path(__file__).parent / "migrations"
TITLE = "Hub ledger"
DESCRIPTION = "The ledger service: the unified beneficiary ledger, duplicate-service alerts and the pre-grant check."


def load_stacking_policy(settings: LedgerSettings) -> StackingPolicy:
    try:
        return load_policy(settings.policy_file)
    except PolicyError as error:
        raise StartupError(f"stacking policy (HUB_LEDGER_POLICY_FILE): {error}") from None


def build(settings: LedgerSettings) -> tuple[ServiceRuntime, FastAPI]:
    policy = load_stacking_policy(settings)
    runtime = build_runtime(settings, MIGRATIONS, topics=[CANONICAL, MATCHES, ALERTS, HOUSEHOLD_STATE])
    tune_engine(runtime.engine)
    cache = HouseholdCache(settings.cache_households)
    on_events = make_on_events(runtime, policy, LedgerMetrics.on(runtime.metrics), cache)
    runtime.broker.subscriber(
        runtime.topic_name(CANONICAL),
        runtime.topic_name(MATCHES),
        batch=True,
        group_id=f"{settings.hub.topic_namespace}{settings.consumer_group}",  # hubs on one cluster stay apart
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        max_records=settings.max_batch,
        batch_timeout_ms=50,
        decoder=undecoded,
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
    )(on_events)
    http = FastAPI(title=TITLE, description=DESCRIPTION)
    http.state.api_keys = ApiKeys.load(settings.hub.api_keys_file)
    context = LedgerContext(
        engine=runtime.engine,
        unit_of_work=runtime.unit_of_work,
        relay=runtime.relay,
        policy=policy,
        person_key_secret=settings.hub.person_key_secret.get_secret_value().encode(),
        stats_min_cell=settings.stats_min_cell,
    )
    http.include_router(operations_router(runtime))
    http.include_router(ledger_router(context))
    protect(http, settings.hub)  # key before body, body limits, 422 shape, error answers documented
    return runtime, http


def asyncapi() -> FastStream:
    """For `faststream docs gen --factory services.ledger.app:asyncapi`."""
    runtime, _ = build(LedgerSettings())
    return FastStream(runtime.broker, specification=AsyncAPI(runtime.broker, title=TITLE, description=DESCRIPTION))
