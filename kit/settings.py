"""Settings from environment variables. Everything shared starts with HUB_; what belongs to one
service starts with HUB_<SERVICE>_ (for example HUB_LEDGER_DATABASE_URL)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.topics import Topic
from kit.errors import StartupError
from kit.passwords import Lockout

DEFAULT_PORTS = {"intake": 8001, "matching": 8002, "charity": 8003, "ledger": 8004, "web": 8005}


class HubSettings(BaseSettings):
    """What every service of one hub shares."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    kafka_bootstrap: str = Field("127.0.0.1:9092", description="host:port[,host:port] of the Kafka cluster")
    kafka_idempotence: bool = Field(True, description="Idempotent producer; off for the embedded broker")
    kafka_session_timeout_ms: int = Field(
        10_000, ge=1000, le=300_000,
        description="Every consumer group's session timeout: how soon a dead member is noticed (the embedded broker "
        "also waits half of it for members to join before it hands out partitions)",
    )
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    data_dir: Path = Field(Path("data"), description="Where SQLite files live when no database URL is set")
    log_format: Literal["console", "json"] = "console"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    http_host: str = "127.0.0.1"
    topic_namespace: str = Field("", description="Prefix for every topic name, to keep hubs on one cluster apart")
    api_keys_file: Path = Field(Path("config/dev-api-keys.toml"), description="TOML file of API key digests")
    person_key_secret: SecretStr = Field(
        SecretStr("development-only-secret-change-me"),
        description="HMAC secret for person keys; must be the same in intake and ledger",
    )

    outbox_retention_seconds: int = Field(
        3600, ge=0, le=30 * 24 * 3600,
        description="How long sent outbox rows are kept, to be sent again to a new (empty) broker; 0 keeps none",
    )
    broker_check_seconds: float = Field(
        1.0, gt=0, le=300, description="How often a service checks that its broker is the same one and has its topics",
    )
    consumer_stall_seconds: float = Field(
        15.0, gt=0, le=3600, description="A consumer with no partitions for this long makes /health answer 503",
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest HTTP request body a service reads (a route may allow more)",
    )

    def topic_name(self, topic: Topic) -> str:
        return f"{self.topic_namespace}{topic.name}"

    @field_validator("kafka_bootstrap")
    @classmethod
    def _bootstrap_has_ports(cls, value: str) -> str:
        for address in value.split(","):
            host, _, port = address.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"{address!r} is not host:port")
        return value


class ServiceSettings(BaseSettings):
    """One service's own settings; subclasses set env_prefix to HUB_<SERVICE>_."""

    model_config = SettingsConfigDict(extra="ignore")

    service: str = ""
    http_port: int = Field(0, ge=0, le=65535, description="0 = the service's default port")
    database_url: str | None = Field(None, description="SQLAlchemy URL; unset = SQLite under the data folder")
    outbox_linger_ms: float = Field(
        0.0, ge=0, le=1000, description="After a commit wakes the outbox relay, wait this long for more rows before publishing: "
        "fewer, larger publications for a service that commits one small event per request",
    )
    hub: HubSettings = Field(default_factory=HubSettings)

    def port(self) -> int:
        return self.http_port or DEFAULT_PORTS.get(self.service, 8000)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.hub.data_dir / f'{self.service}.db'}"


class PagesSettings(ServiceSettings):
    """A service that serves HTML pages people sign in to (kit.pages, kit.passwords)."""

    session_secret: SecretStr = Field(
        SecretStr(""), description="Signs the pages' session and CSRF cookies; unset = a development value (set it in deployment)"
    )
    session_hours: float = Field(8.0, gt=0, le=24 * 7, description="A session expires this long after sign-in")
    secure_cookies: bool = Field(False, description="Cookies only over HTTPS (set behind a TLS proxy)")
    lock_after: int = Field(5, ge=1, le=100, description="Failed sign-ins in a row that lock an account")
    lock_minutes: int = Field(15, ge=1, le=24 * 60, description="How long a locked account stays locked")

    @model_validator(mode="after")
    def _development_secret(self) -> PagesSettings:
        if not self.session_secret.get_secret_value():  # one a service: two services' cookies never pass for each other
            self.session_secret = SecretStr(f"development-only-{self.service}-session-secret-change-me")
        return self

    def lockout(self) -> Lockout:
        return Lockout(after=self.lock_after, duration=timedelta(minutes=self.lock_minutes))

    def session_length(self) -> timedelta:
        return timedelta(hours=self.session_hours)

    def secret(self) -> str:
        return self.session_secret.get_secret_value()


S = TypeVar("S", bound="ServiceSettings")
T = TypeVar("T", bound=BaseSettings)


def load_settings(settings_type: type[S]) -> S:
    """Read settings, turning a validation failure into one line a person can act on."""
    hub = _read(HubSettings)
    return _read(settings_type, hub=hub)


def _read(settings_type: type[T], **given: object) -> T:
    try:
        return settings_type(**given)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        prefix = settings_type.model_config.get("env_prefix", "")
        raise StartupError(f"setting {prefix}{where.upper()}: {first['msg']}") from None
