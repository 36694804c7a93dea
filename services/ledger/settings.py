from pydantic_settings import SettingsConfigDict

from kit.settings import ServiceSettings


class LedgerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_LEDGER_", extra="ignore")

    service: str = "ledger"
