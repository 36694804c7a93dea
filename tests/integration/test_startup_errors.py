"""Wrong settings stop a service at start with one clear line and exit code 2: no traceback wall."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from kit.tansu import free_port
from tests.conftest import ROOT


def start_charity(tmp_path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HUB_DATA_DIR": str(tmp_path),
        "HUB_CHARITY_HTTP_PORT": str(free_port()),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "services.charity"], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=60
    )


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("charity: cannot start")]
    assert len(lines) == 1, result.stderr
    for fragment in expected:
        assert fragment in lines[0]


def test_unparseable_database_url(tmp_path, kafka) -> None:
    result = start_charity(tmp_path, HUB_KAFKA_BOOTSTRAP=kafka.bootstrap, HUB_CHARITY_DATABASE_URL="not a url at all")
    assert_one_clear_line(result, "cannot be parsed", "not a url at all")


def test_malformed_bootstrap_address(tmp_path) -> None:
    result = start_charity(tmp_path, HUB_KAFKA_BOOTSTRAP="kafka-without-port")
    assert_one_clear_line(result, "HUB_KAFKA_BOOTSTRAP", "host:port")


def test_broker_unreachable(tmp_path) -> None:
    result = start_charity(tmp_path, HUB_KAFKA_BOOTSTRAP=f"127.0.0.1:{free_port()}")
    assert_one_clear_line(result, "broker unreachable", "HUB_KAFKA_BOOTSTRAP")


def test_http_port_in_use(tmp_path, kafka) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = start_charity(tmp_path, HUB_KAFKA_BOOTSTRAP=kafka.bootstrap, HUB_CHARITY_HTTP_PORT=str(port))
    assert_one_clear_line(result, "port", str(port), "in use")


def test_database_unreachable(tmp_path, kafka) -> None:
    url = f"postgresql+psycopg://hub@127.0.0.1:{free_port()}/charity"
    result = start_charity(tmp_path, HUB_KAFKA_BOOTSTRAP=kafka.bootstrap, HUB_CHARITY_DATABASE_URL=url)
    assert_one_clear_line(result, "database", "unreachable")


@pytest.mark.parametrize("value", ["-1", "70000", "eighty"])
def test_invalid_port_setting(tmp_path, value: str) -> None:
    result = start_charity(tmp_path, HUB_CHARITY_HTTP_PORT=value)
    assert_one_clear_line(result, "HUB_CHARITY_HTTP_PORT")
