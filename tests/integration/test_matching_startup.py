"""An invalid priority weights file stops matching at start with one clear line and exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kit.tansu import free_port
from tests.conftest import ROOT

SHIPPED = (ROOT / "services/matching/priority.toml").read_text(encoding="utf-8")


def start_matching(tmp_path: Path, priority: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "HUB_DATA_DIR": str(tmp_path), "HUB_MATCHING_HTTP_PORT": str(free_port()),
        "HUB_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}", "HUB_MATCHING_PRIORITY_FILE": str(priority),
    }
    return subprocess.run([sys.executable, "-m", "services.matching"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("matching: cannot start")]
    return line


def test_weights_that_break_the_order_stop_the_service(tmp_path: Path) -> None:
    bad = tmp_path / "priority.toml"
    bad.write_text(SHIPPED.replace("points_per_level = 100000", "points_per_level = 5000"), encoding="utf-8")
    line = one_line(start_matching(tmp_path, bad))
    assert "HUB_MATCHING_PRIORITY_FILE" in line and "urgency.points_per_level" in line


def test_a_missing_weights_file_stops_the_service(tmp_path: Path) -> None:
    line = one_line(start_matching(tmp_path, tmp_path / "nope.toml"))
    assert "nope.toml" in line and "cannot be read" in line
