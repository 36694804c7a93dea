from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kit.settings import ServiceSettings
from services.ledger.policy import DEFAULT_POLICY_PATH


class LedgerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_LEDGER_", extra="ignore")

    service: str = "ledger"
    policy_file: Path = Field(DEFAULT_POLICY_PATH, description="The stacking policy (TOML); checked at start")
    consumer_group: str = Field("ledger", min_length=1, max_length=64, description="Kafka consumer group of the ledger")
    max_batch: int = Field(
        10_000, ge=1, le=100_000,
        description="Most canonical events applied in one transaction: reached only with a backlog, where a household's events then share one write and one state",
    )
    stats_min_cell: int = Field(
        5, ge=1, le=1000, description="Statistics cells counting fewer households (or alerts) are withheld from department keys; 1 withholds none",
    )
    cache_households: int = Field(
        50_000, ge=0, le=10_000_000,
        description="Households kept in memory between batches (0: none); about 2 KB each",
    )
