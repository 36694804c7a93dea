"""The envelope every event travels in, and the registry that turns bytes back into events.

An event type is identified by its `type` and `schema_version`. A breaking change to an event's
data is a new model with the next version registered beside the old one; old events keep
parsing as the version they were written in, and an upcaster may lift them to the newest.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol, Self

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

EVENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$"
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$"


def new_id() -> str:
    return uuid.uuid4().hex


def utc_now() -> datetime:
    return datetime.now(UTC)


class EventData(BaseModel):
    """Base of every event's data: unknown fields are refused, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Event(BaseModel):
    """The envelope: who says what happened to which household, when, and as part of which flow."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str = Field(default_factory=new_id, pattern=EVENT_ID_PATTERN)
    type: str
    schema_version: int
    occurred_at: AwareDatetime = Field(default_factory=utc_now)
    source: str = Field(pattern=CODE_PATTERN, description="Department code or service name")
    household_id: str | None = Field(
        default=None,
        max_length=64,
        description="Subject household: the department's own reference on department topics, "
        "the hub household id everywhere else",
    )
    correlation_id: str = Field(default_factory=new_id, pattern=EVENT_ID_PATTERN)
    data: EventData

    TYPE: ClassVar[str]
    VERSION: ClassVar[int]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        # Each concrete event declares `type: Literal[...]` and `schema_version: Literal[n]`
        # with defaults; the registry reads them back from here.
        super().__pydantic_init_subclass__(**kwargs)
        cls.TYPE = cls.model_fields["type"].default
        cls.VERSION = cls.model_fields["schema_version"].default

    def to_bytes(self) -> bytes:
        return self.__pydantic_serializer__.to_json(self)  # model_dump_json, less its wrapping

    def caused(self, event_type: type[Self], **fields: Any) -> Self:
        """A follow-on event in the same flow: it inherits the correlation id."""
        return event_type(correlation_id=self.correlation_id, **fields)


class Publishable(Protocol):
    """What publishing needs of an event: its bytes and the fields its headers carry."""

    @property
    def event_id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def schema_version(self) -> int: ...
    @property
    def household_id(self) -> str | None: ...
    @property
    def correlation_id(self) -> str: ...

    def to_bytes(self) -> bytes: ...


@dataclass(frozen=True)
class SerializedEvent:
    """An event already in its wire form, for a producer's hot path that builds it from values it
    has checked (intake's canonical events): building the model again would only repeat the
    checks. Whoever makes one proves in its tests that the bytes parse back as the model."""

    event_id: str
    type: str
    schema_version: int
    household_id: str | None
    correlation_id: str
    body: bytes

    def to_bytes(self) -> bytes:
        return self.body

    @classmethod
    def of(
        cls,
        model: type[Event],
        *,
        event_id: str,
        occurred_at: datetime,
        source: str,
        household_id: str | None,
        correlation_id: str,
        data: dict[str, Any],
    ) -> SerializedEvent:
        """The wire form of a `model` event with these fields (dates and times in ISO form)."""
        envelope = {
            "event_id": event_id,
            "type": model.TYPE,
            "schema_version": model.VERSION,
            "occurred_at": occurred_at,
            "source": source,
            "household_id": household_id,
            "correlation_id": correlation_id,
            "data": data,
        }
        return cls(event_id, model.TYPE, model.VERSION, household_id, correlation_id, orjson.dumps(envelope))


class UnknownEventType(ValueError):
    """The type/version pair is not in the registry."""


class EventRegistry:
    """Maps (type, schema_version) to its model, and upcasts old versions on request."""

    def __init__(self, *models: type[Event]) -> None:
        self._models: dict[tuple[str, int], type[Event]] = {}
        self._upcasters: dict[tuple[str, int], Callable[[Event], Event]] = {}
        for model in models:
            self.register(model)

    def register(self, model: type[Event]) -> None:
        key = (model.TYPE, model.VERSION)
        if key in self._models:
            raise ValueError(f"event {key[0]} v{key[1]} registered twice")
        self._models[key] = model

    def register_upcaster(self, from_model: type[Event], upcast: Callable[[Event], Event]) -> None:
        self._upcasters[(from_model.TYPE, from_model.VERSION)] = upcast

    def models(self) -> list[type[Event]]:
        return list(self._models.values())

    def model_for(self, event_type: str, version: int) -> type[Event]:
        try:
            return self._models[(event_type, version)]
        except KeyError:
            raise UnknownEventType(f"unknown event type {event_type!r} version {version!r}") from None

    def parse(self, raw: bytes | str | dict[str, Any]) -> Event:
        """Parse an event as the version it was written in. Raises ValidationError,
        UnknownEventType or orjson.JSONDecodeError (a ValueError) on bad input."""
        body = raw if isinstance(raw, dict) else orjson.loads(raw)
        if not isinstance(body, dict):
            raise UnknownEventType("an event must be a JSON object")
        model = self.model_for(str(body.get("type")), _as_version(body.get("schema_version")))
        return model.model_validate(body)

    def parse_latest(self, raw: bytes | str | dict[str, Any]) -> Event:
        """Parse, then upcast through every registered step to the newest version."""
        event = self.parse(raw)
        while (step := self._upcasters.get((event.TYPE, event.VERSION))) is not None:
            event = step(event)
        return event


def _as_version(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise UnknownEventType(f"schema_version must be an integer, got {value!r}")


__all__ = [
    "CODE_PATTERN",
    "EVENT_ID_PATTERN",
    "Event",
    "EventData",
    "EventRegistry",
    "UnknownEventType",
    "ValidationError",
    "new_id",
    "utc_now",
]
