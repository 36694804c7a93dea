from __future__ import annotations

from pathlib import Path

import pytest

from contracts.topics import CANONICAL
from kit.auth import ApiKeys, digest
from kit.errors import StartupError
from kit.settings import HubSettings, PagesSettings, ServiceSettings


class LedgerLikeSettings(ServiceSettings):
    service: str = "ledger"


def test_sqlite_file_under_the_data_folder_by_default(tmp_path: Path) -> None:
    settings = LedgerLikeSettings(hub=HubSettings(data_dir=tmp_path))
    assert settings.resolved_database_url() == f"sqlite:///{tmp_path / 'ledger.db'}"
    assert settings.port() == 8004


class PagesLikeSettings(PagesSettings):
    service: str = "charity"


def test_pages_settings_give_each_service_its_own_development_secret_and_the_lock() -> None:
    assert PagesLikeSettings().secret() == "development-only-charity-session-secret-change-me"
    assert PagesLikeSettings(session_secret="set in deployment").secret() == "set in deployment"
    settings = PagesLikeSettings(lock_after=3, lock_minutes=20, session_hours=2)
    assert (settings.lockout().after, settings.lockout().duration.total_seconds()) == (3, 1200)
    assert settings.session_length().total_seconds() == 7200


def test_configured_database_url_wins() -> None:
    settings = LedgerLikeSettings(database_url="postgresql+psycopg://hub@db/ledger")
    assert settings.resolved_database_url() == "postgresql+psycopg://hub@db/ledger"


def test_topic_namespace_prefixes_every_topic() -> None:
    assert HubSettings(topic_namespace="t1.").topic_name(CANONICAL) == "t1.hub.canonical.v1"
    assert HubSettings().topic_name(CANONICAL) == "hub.canonical.v1"


def write_keys(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "keys.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_department_key_is_scoped_to_its_department_and_programmes(tmp_path: Path) -> None:
    path = write_keys(tmp_path, f'[[key]]\nid = "ca"\nrole = "department"\ndepartment = "CA"\nsha256 = "{digest("s3cret")}"\n')
    principal = ApiKeys.load(path).identify("s3cret")
    assert principal is not None and principal.id == "ca"
    assert principal.may_act_for("CA") and not principal.may_act_for("EDU")
    assert principal.may_use_programme("DIBAO") and not principal.may_use_programme("EDUCATION")


def test_unknown_or_missing_key_identifies_nobody(tmp_path: Path) -> None:
    keys = ApiKeys.load(write_keys(tmp_path, f'[[key]]\nid = "s"\nrole = "staff"\nsha256 = "{digest("a")}"\n'))
    assert keys.identify("b") is None
    assert keys.identify(None) is None


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("[[key]\n", "keys.toml"),
        ('[[key]]\nid = "x"\nrole = "boss"\nsha256 = "00"\n', "unknown role"),
        ('[[key]]\nid = "x"\nrole = "department"\ndepartment = "NOPE"\nsha256 = "00"\n', "unknown department"),
        ('[[key]]\nrole = "staff"\nsha256 = "00"\n', "lacks 'id'"),
    ],
)
def test_bad_keys_file_is_a_startup_error(tmp_path: Path, body: str, fragment: str) -> None:
    with pytest.raises(StartupError, match=fragment):
        ApiKeys.load(write_keys(tmp_path, body))


def test_shipped_development_keys_load() -> None:
    keys = ApiKeys.load(Path(__file__).resolve().parents[3] / "config" / "dev-api-keys.toml")
    assert keys.identify("dev-ca-key").department == "CA"
    assert keys.identify("dev-staff-key").role == "staff"
    assert keys.identify("dev-charity-key").role == "charity"
