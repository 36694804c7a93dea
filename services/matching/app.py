"""Wiring only: weights, broker, subscribers, background jobs, HTTP routes, database."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import FastAPI
from faststream import AckPolicy, FastStream
from faststream.specification import AsyncAPI

from contracts.envelope import utc_now
from contracts.hub import MatchCancelled, MatchExpired, MatchProposedV2, NeedOverdue
from contracts.topics import CANONICAL, HOUSEHOLD_STATE, MATCHES, OFFERINGS
from kit.auth import ApiKeys
from kit.broker import FETCH_MAX_WAIT_MS, QUICK_REJOIN_SESSION_TIMEOUT_MS, group_timeouts, undecoded
from kit.database import migrate
from kit.errors import StartupError
from kit.jobs import JobRunner
from kit.service import ServiceRuntime, build_runtime, document_publications, operations_router
from services.matching.candidates import plan_round
from services.matching.handlers import ROUND_JOB, Matching, MatchingMetrics
from services.matching.http import matching_router
from services.matching.priority import PriorityError, PriorityWeights, load_weights
from services.matching.repository import pool_generation
from services.matching.settings import MatchingSettings

MIGRATIONS = Path(__file__).parent / "migrations"
TITLE = "Hub matching"
DESCRIPTION = "The matching service: proposes matches between open needs and live offerings."
CONSUMED = [CANONICAL, OFFERINGS, MATCHES, HOUSEHOLD_STATE]


def load_priority(settings: MatchingSettings) -> PriorityWeights:
    try:
        return load_weights(settings.priority_file)
    except PriorityError as error:
        raise StartupError(f"priority weights (HUB_MATCHING_PRIORITY_FILE): {error}") from None


def build(settings: MatchingSettings) -> tuple[ServiceRuntime, FastAPI]:
    weights = load_priority(settings)
    runtime = build_runtime(settings, MIGRATIONS, topics=CONSUMED)
    # The consumer group names the pool's generation: a new database reads every topic (the
    # compacted household state too) from its beginning.
    migrate(runtime.engine, MIGRATIONS)
    group = f"{settings.hub.topic_namespace}{settings.consumer_group}-{pool_generation(runtime.engine)}"
    jobs = JobRunner(workers=settings.solver_workers)
    jobs.register(ROUND_JOB, plan_round)
    matching = Matching(runtime, settings, weights, jobs, MatchingMetrics.on(runtime.metrics), CONSUMED, group)
    runtime.broker.subscriber(
        *(runtime.topic_name(t) for t in CONSUMED),
        batch=True,
        group_id=group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        max_records=settings.max_batch,
        batch_timeout_ms=20,
        decoder=undecoded,
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        # a restarted matching reads again within seconds of a kill
        **group_timeouts(min(QUICK_REJOIN_SESSION_TIMEOUT_MS, settings.hub.kafka_session_timeout_ms)),
    )(matching.on_events)
    document_publications(runtime, MATCHES, MatchProposedV2, MatchCancelled, MatchExpired, NeedOverdue)
    runtime.on_start.append(matching.start)
    runtime.on_stop.append(matching.stop)
    http = FastAPI(title=TITLE, description=DESCRIPTION)
    http.state.api_keys = ApiKeys.load(settings.hub.api_keys_file)
    http.include_router(operations_router(runtime))
    http.include_router(matching_router(matching, utc_now))
    return runtime, http


def asyncapi() -> FastStream:
    """For `faststream docs gen --factory services.matching.app:asyncapi`. Built on a throw-away
    database: `build` reads the pool's generation, and documenting must not create the real one."""
    runtime, _ = build(MatchingSettings(database_url=f"sqlite:///{tempfile.mkdtemp(prefix='matching-asyncapi-')}/matching.db"))
    return FastStream(runtime.broker, specification=AsyncAPI(runtime.broker, title=TITLE, description=DESCRIPTION))
