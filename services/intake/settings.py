from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kit.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_INTAKE_", extra="ignore")

    service: str = "intake"
    batch_size: int = Field(2000, ge=1, le=10_000, description="Most Kafka records handled in one transaction")
    max_event_bytes: int = Field(64 * 1024, ge=1024, description="Largest accepted event, in bytes of JSON")
    session_timeout_ms: int | None = Field(
        None, ge=1000, description="Kafka consumer session timeout: how soon a dead member is noticed; unset = HUB_KAFKA_SESSION_TIMEOUT_MS",
    )
    max_http_events: int = Field(1000, ge=1, le=10_000, description="Most events in one POST /events")
    max_http_body_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="Largest POST /events body; refused (413) from its Content-Length, before it is read",
    )
