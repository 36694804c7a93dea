import os

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from kit.settings import DEFAULT_PORTS, PagesSettings


class WebSettings(PagesSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_WEB_", extra="ignore")

    service: str = "web"
    service_key: SecretStr = Field(
        SecretStr("dev-web-key"), description="The web front's own staff API key for the ledger, intake, charity and matching"
    )
    ledger_url: str | None = Field(None, description="The ledger's base URL; unset = http://HUB_HTTP_HOST:8004")
    intake_url: str | None = Field(None, description="Intake's base URL; unset = http://HUB_HTTP_HOST:8001")
    charity_url: str | None = Field(None, description="The charity service's base URL; unset = http://HUB_HTTP_HOST:8003")
    matching_url: str | None = Field(None, description="Matching's base URL; unset = http://HUB_HTTP_HOST:8002")
    social_seconds: float = Field(
        60, ge=1, le=86_400, description="How long the dashboard keeps the social forces' figures and the unmet-needs report"
    )
    upstream_timeout: float = Field(10.0, gt=0, le=120, description="Seconds to wait for the ledger or intake")
    statistics_seconds: float = Field(
        300, ge=1, le=86_400, description="How long the dashboard keeps a month's figures from the ledger"
    )
    alert_summary_seconds: float = Field(
        60, ge=1, le=86_400, description="How long the dashboard keeps its count of open alerts by age and rule"
    )

    def upstream(self, name: str) -> str:
        """The configured URL, or the service on this host at the port `hub up` gives it."""
        configured = {"ledger": self.ledger_url, "intake": self.intake_url, "charity": self.charity_url, "matching": self.matching_url}[name]
        port = os.environ.get(f"HUB_{name.upper()}_HTTP_PORT") or DEFAULT_PORTS[name]
        return (configured or f"http://{self.hub.http_host}:{port}").rstrip("/")
