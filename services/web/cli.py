"""What `hub web ...` runs: the same use cases, on the web front's own database."""

from __future__ import annotations

from kit.database import make_engine, migrate
from kit.settings import load_settings
from services.web.access import Access
from services.web.accounts import FieldError, Role
from services.web.app import MIGRATIONS
from services.web.settings import WebSettings


def create_administrator(username: str, password: str) -> list[FieldError]:
    settings = load_settings(WebSettings)
    settings.hub.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url())
    try:
        migrate(engine, MIGRATIONS)
        access = Access(engine, settings.lockout(), settings.session_length())
        return access.create_account(None, username, password, Role.ADMINISTRATOR, None)
    finally:
        engine.dispose()
