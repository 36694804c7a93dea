from pydantic_settings import SettingsConfigDict

from kit.settings import ServiceSettings


class MatchingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_MATCHING_", extra="ignore")

    service: str = "matching"
