from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kit.settings import PagesSettings


class CharitySettings(PagesSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_CHARITY_", extra="ignore")

    service: str = "charity"
    consumer_group: str = Field("charity", description="Kafka consumer group for hub.matches.v1")
    outbox_linger_ms: float = Field(
        20.0, ge=0, le=1000, description="After a commit, wait this long for more before publishing (each request commits one "
        "small event; one publication per request cost a tenth of the service's CPU under load)",
    )
    max_batch: int = Field(5000, ge=1, le=100_000, description="Most match records applied in one transaction")
    key_cache_seconds: float = Field(
        2.0, ge=0, le=60, description="How long a verified organisation key is remembered; a revocation takes effect at once in "
        "the process that revoked it and within this long in any other: 0 with more than one instance behind one address"
    )
    check_every_seconds: float = Field(
        60.0, gt=0, le=86_400, description="How often offerings are checked for expiry and staleness, and proposals for their deadline"
    )
