"""Rebuild: replay the canonical topic (and charity fulfilments) from the beginning into a fresh
database, through the same batch code the live service uses, and get the same ledger.

Nothing is published while replaying (the live ledger already published its alerts and states).
Reviewers' decisions are not in the canonical topic: they are read back from the alerts topic
afterwards, so a rebuilt ledger keeps what the joint meeting decided.

    hub rebuild --database-url sqlite:///data/ledger-rebuilt.db
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy.engine import Engine
from sqlmodel import Session

from contracts.hub import HUB_EVENTS, DuplicateServiceAlertDecided, DuplicateServiceAlertUpdated
from contracts.topics import ALERTS, CANONICAL, MATCHES, Topic
from kit.database import make_engine, migrate
from kit.errors import StartupError
from kit.outbox import UnitOfWork
from kit.settings import HubSettings
from services.ledger.alerts import Alert
from services.ledger.batch import HouseholdCache, Outcome, apply_batch
from services.ledger.policy import DEFAULT_POLICY_PATH, StackingPolicy, load_policy
from services.ledger.repository import LedgerAlert, LedgerEvent, LedgerRepository
from services.ledger.settings import LedgerSettings

MIGRATIONS = Path(__file__).parent / "migrations"
QUIET_POLLS = 4  # x 250 ms


async def replay(hub: HubSettings, engine: Engine, policy: StackingPolicy, batch_size: int = 2000) -> Outcome:
    """Apply every event now on the canonical and matches topics; returns the totals."""
    total = Outcome()
    cache = HouseholdCache(LedgerSettings().cache_households)
    async for records in _read_to_end(hub, [CANONICAL, MATCHES], batch_size):
        events = []
        for value in records:
            try:
                events.append(HUB_EVENTS.parse(value))
            except ValueError:
                continue  # counted and logged by the live service; never applied there either
        with UnitOfWork(engine, hub) as unit:
            outcome = apply_batch(unit, events, policy, publish=False, cache=cache)
            unit.commit()
        for name in vars(total):
            setattr(total, name, getattr(total, name) + getattr(outcome, name))
    await _restore_decisions(hub, engine)
    return total


async def _restore_decisions(hub: HubSettings, engine: Engine) -> None:
    async for records in _read_to_end(hub, [ALERTS], 5000):
        with Session(engine) as session:
            repository = LedgerRepository(session)
            for value in records:
                event = HUB_EVENTS.parse(value)
                if not isinstance(event, DuplicateServiceAlertDecided | DuplicateServiceAlertUpdated):
                    continue
                stored = repository.alert(event.data.alert_id)
                if stored is None:
                    continue
                alert = Alert.from_row(stored.model_dump())
                if isinstance(event, DuplicateServiceAlertUpdated):
                    restored = alert.restored_requeue() if event.data.new_evidence_since_decision else alert
                else:
                    data = event.data
                    restored = alert.restored(data.decision, data.note, data.decided_by, data.decided_at)
                repository.update(LedgerAlert, [restored.to_row()])
                session.expire_all()  # the next read of this alert sees the update
            session.commit()


async def _read_to_end(hub: HubSettings, topics: list[Topic], batch_size: int) -> Any:
    """Yield lists of record values, from the beginning to the end of the topics."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=hub.kafka_bootstrap, group_id=None, enable_auto_commit=False,
        auto_offset_reset="earliest", max_poll_records=batch_size,
    )
    await consumer.start()
    try:
        await consumer.topics()
        partitions = [
            TopicPartition(hub.topic_name(topic), number)
            for topic in topics
            for number in sorted(consumer.partitions_for_topic(hub.topic_name(topic)) or [])
        ]
        if not partitions:
            return
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        next_offset = await consumer.beginning_offsets(partitions)
        quiet_polls = 0
        # The end offsets are a floor, not the end: the embedded broker reports them low, so
        # reading stops only once they are passed and the topic has then stayed quiet for a while.
        while quiet_polls < QUIET_POLLS or any(next_offset[p] < ends[p] for p in partitions):
            batches = await consumer.getmany(timeout_ms=250, max_records=batch_size)
            values = []
            for partition, records in batches.items():
                for record in records:
                    next_offset[partition] = record.offset + 1
                    if record.value:
                        values.append(record.value)
            quiet_polls = 0 if values else quiet_polls + 1
            if values:
                yield values
    finally:
        await consumer.stop()


def fresh_engine(database_url: str) -> Engine:
    engine = make_engine(database_url)
    migrate(engine, MIGRATIONS)
    with engine.connect() as connection:
        if connection.execute(sa.select(sa.func.count()).select_from(LedgerEvent.__table__)).scalar_one():  # type: ignore[attr-defined]
            raise StartupError(f"database {engine.url.render_as_string(hide_password=True)} already holds a ledger; rebuild into an empty one")
    return engine


def rebuild(
    database_url: Annotated[str, typer.Option(help="An EMPTY database to rebuild the ledger into")],
    policy_file: Annotated[Path, typer.Option(help="The stacking policy to apply")] = DEFAULT_POLICY_PATH,
    batch_size: Annotated[int, typer.Option(min=1, max=100_000)] = 2000,
) -> None:
    """Replay the canonical topic from the beginning into a fresh ledger database."""
    hub = HubSettings()
    try:
        engine = fresh_engine(database_url)
        totals = asyncio.run(replay(hub, engine, load_policy(policy_file), batch_size))
    except (StartupError, ValueError) as error:
        typer.echo(f"rebuild: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"rebuilt: {totals.applied} events applied ({totals.duplicates} duplicates skipped), "
        f"{totals.alerts_raised} alerts raised, {totals.alerts_closed} closed"
    )
    typer.echo(str(ledger_snapshot(engine)["counts"]))


# --- comparing two ledgers ----------------------------------------------------------------------

_SNAPSHOT_COLUMNS: dict[str, tuple[str, ...]] = {
    "ledger_household": ("household_id", "district", "subdistrict", "category", "colour", "income_fen", "person_count", "profile_event_id"),
    "ledger_member": ("household_id", "person_key", "display_name", "masked_resident_id", "birth_year", "sex", "relation"),
    "ledger_need": ("need_id", "household_id", "category", "urgency", "assessed_on", "status", "event_id"),
    "ledger_benefit": (
        "household_id", "benefit_id", "programme", "source", "source_kind", "person_key", "amount_fen", "in_kind",
        "period_start", "period_end", "status", "need_id", "event_id",
    ),
    "ledger_alert": ("alert_id", "household_id", "conflict_key", "rule_id", "severity", "status", "active", "raised_by_event"),
    "ledger_event": ("event_id", "household_id", "type", "benefit_id"),
}


def ledger_snapshot(engine: Engine) -> dict[str, Any]:
    """Every row that makes the ledger, without the times at which this database wrote them."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as connection:
        for name, columns in _SNAPSHOT_COLUMNS.items():
            query = sa.text(f"SELECT {', '.join(columns)} FROM {name} ORDER BY {', '.join(columns[:2])}")
            tables[name] = [tuple(str(v) if v is not None else None for v in row) for row in connection.execute(query)]
    return {"counts": {name: len(rows) for name, rows in tables.items()}, "tables": tables}
