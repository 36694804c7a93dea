"""`hub publish FILE.jsonl --department CODE`: a department's command-line publisher.

Each non-blank line of the file is sent as it is, one Kafka record, to the department's own
events topic, keyed by the event's `household_id` (the department's household reference) so a
household's events stay in order. Lines are not judged here: intake validates every event and
publishes a rejection, with reasons, for any it cannot accept.

The broker and security come from the usual settings (HUB_KAFKA_BOOTSTRAP, HUB_TOPIC_NAMESPACE,
HUB_KAFKA_SASL_USERNAME / HUB_KAFKA_SASL_PASSWORD for SCRAM-SHA-512 in deployment).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from contracts.catalogue import DEPARTMENTS
from contracts.topics import department_topic
from kit.broker import make_producer
from kit.settings import HubSettings

IN_FLIGHT = 5000  # records sent before waiting for their acknowledgements
console = Console(stderr=True)


def publish(
    file: Annotated[
        Path, typer.Argument(help="JSON lines: one department event per line", exists=True, dir_okay=False, readable=True)
    ],
    department: Annotated[str, typer.Option("--department", "-d", help="Your department code, e.g. CA")],
    bootstrap: Annotated[
        str | None, typer.Option(help="Kafka bootstrap servers [default: HUB_KAFKA_BOOTSTRAP or 127.0.0.1:9092]")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
) -> None:
    """Publish department events from a JSON-lines file to the department's own topic."""
    code = department.upper()
    if code not in DEPARTMENTS:
        console.print(f"[red]hub publish:[/red] unknown department {department!r}; one of {', '.join(DEPARTMENTS)}")
        raise typer.Exit(2)
    hub = HubSettings(**({"kafka_bootstrap": bootstrap} if bootstrap else {}))
    topic = hub.topic_name(department_topic(code))
    try:
        sent = asyncio.run(_publish_file(hub, topic, file, quiet))
    except KafkaError as error:
        console.print(f"[red]hub publish:[/red] broker at {hub.kafka_bootstrap}: {type(error).__name__} {error}")
        raise typer.Exit(1) from None
    console.print(f"published {sent} event(s) from {file} to {topic} at {hub.kafka_bootstrap}")


async def _publish_file(hub: HubSettings, topic: str, file: Path, quiet: bool) -> int:
    # Idempotence off unless HUB_KAFKA_IDEMPOTENCE asks for it: the embedded broker cannot do it,
    # and intake counts an event once however often it is sent (it dedupes by department and id).
    idempotence = hub.kafka_idempotence if "kafka_idempotence" in hub.model_fields_set else False
    producer = make_producer(hub, "hub-publish", idempotence=idempotence)
    await producer.start()
    try:
        with _progress(file, quiet) as advance:
            return await _send_lines(producer, topic, _lines(file), advance)
    finally:
        await producer.stop()


async def _send_lines(
    producer: AIOKafkaProducer, topic: str, lines: Iterator[bytes], advance: Callable[[int], None]
) -> int:
    pending: list[asyncio.Future[Any]] = []
    sent = 0
    for line in lines:
        advance(len(line) + 1)
        value = line.strip()
        if not value:
            continue
        pending.append(await producer.send(topic, value, key=household_key(value)))
        sent += 1
        if len(pending) >= IN_FLIGHT:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)
    return sent


def household_key(value: bytes) -> bytes | None:
    """The department's household reference, when the line is an event that has one."""
    try:
        event = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    ref = event.get("household_id") if isinstance(event, dict) else None
    return ref.encode() if isinstance(ref, str) and ref else None


def _lines(file: Path) -> Iterator[bytes]:
    with file.open("rb") as handle:
        yield from handle


class _progress:
    """A byte-based progress bar on stderr, or nothing when quiet."""

    def __init__(self, file: Path, quiet: bool) -> None:
        self._progress = None if quiet else Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(), console=console
        )
        self._size = file.stat().st_size
        self._name = file.name

    def __enter__(self) -> Callable[[int], None]:
        if self._progress is None:
            return lambda _: None
        self._progress.start()
        task = self._progress.add_task(self._name, total=self._size)
        return lambda done: self._progress.advance(task, done)  # type: ignore[union-attr]

    def __exit__(self, *_: object) -> None:
        if self._progress is not None:
            self._progress.stop()
