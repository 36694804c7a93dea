from pydantic_settings import SettingsConfigDict

from kit.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_INTAKE_", extra="ignore")

    service: str = "intake"
