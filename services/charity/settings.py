from pydantic_settings import SettingsConfigDict

from kit.settings import ServiceSettings


class CharitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_CHARITY_", extra="ignore")

    service: str = "charity"
