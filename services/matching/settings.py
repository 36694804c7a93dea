from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kit.settings import ServiceSettings
from services.matching.priority import DEFAULT_PRIORITY_PATH


class MatchingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_MATCHING_", extra="ignore")

    service: str = "matching"
    priority_file: Path = Field(DEFAULT_PRIORITY_PATH, description="The priority weights (TOML); checked at start")
    consumer_group: str = Field("matching", min_length=1, max_length=64, description="Kafka consumer group prefix")
    round_window_seconds: float = Field(0.2, ge=0, le=60, description="How long a round waits for more events after the first")
    timer_seconds: float = Field(30.0, ge=0.1, le=3600, description="How often deadlines, validity and overdue needs are checked")
    proposal_deadline_seconds: int = Field(72 * 3600, ge=1, le=90 * 86400, description="How long an organisation has to answer")
    candidates_per_need: int = Field(8, ge=0, le=1000, description="Most offerings a need is weighed against in a round (0 = all)")
    overdue_per_tick: int = Field(200, ge=0, le=100_000, description="Most need.overdue warnings raised per timer tick")
    catch_up_seconds: float = Field(120.0, ge=0, le=3600, description="Longest rounds wait at start for the topics' backlog")
    max_batch: int = Field(2000, ge=1, le=50_000, description="Most records applied in one transaction")
    solver_workers: int = Field(1, ge=1, le=16, description="Worker processes for rounds")
