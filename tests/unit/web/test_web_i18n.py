"""The message catalogues: every message the pages use has a Chinese translation, and the .po
files compile (the service compiles them at start, so a fresh clone needs no build step)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from services.web.i18n import LOCALE_DIR, translator

ROOT = Path(__file__).resolve().parents[3]


def test_every_extracted_message_is_translated_to_chinese(tmp_path: Path) -> None:
    template = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "services/web/babel.cfg", "-k", "N_",
                    "-o", str(template), "."], cwd=ROOT, check=True, capture_output=True)
    wanted = {m.id for m in read_po(template.open("rb")) if m.id}
    zh = {m.id: m.string for m in read_po((LOCALE_DIR / "zh" / "LC_MESSAGES" / "messages.po").open("rb")) if m.id}
    assert wanted - zh.keys() == set(), "run the extraction and translate the new messages"
    assert [m for m in wanted if not zh[m]] == []


def test_catalogues_compile_and_translate() -> None:
    assert translator("zh")("Sign in") == "登录"
    assert translator("en")("Sign in") == "Sign in"
