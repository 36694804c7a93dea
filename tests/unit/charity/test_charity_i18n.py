"""The charity pages' message catalogues: every message the pages use has a Chinese translation,
every code the pages show has an English label, and the .po files compile."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from kit.pages import Catalogues
from services.charity.pages import CODE_LABELS, HERE

ROOT = Path(__file__).resolve().parents[3]
LOCALE = HERE / "locale"


def catalogue(language: str) -> dict[str, str]:
    with (LOCALE / language / "LC_MESSAGES" / "messages.po").open("rb") as source:
        return {m.id: m.string for m in read_po(source) if m.id}


def test_every_extracted_message_is_translated_to_chinese(tmp_path: Path) -> None:
    template = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "services/charity/babel.cfg", "-k", "N_",
                    "-o", str(template), "."], cwd=ROOT, check=True, capture_output=True)
    wanted = {m.id for m in read_po(template.open("rb")) if m.id}
    zh = catalogue("zh")
    assert len(wanted) > 200 and wanted - zh.keys() == set(), "run the extraction (docs/charity.md) and translate the new messages"
    assert [m for m in wanted if not zh[m]] == []


def test_every_code_has_an_english_label() -> None:
    en = catalogue("en")
    assert [code for code in CODE_LABELS if not en.get(code)] == []


def test_catalogues_compile_and_translate() -> None:
    catalogues = Catalogues(LOCALE)
    assert catalogues.gettext("zh")("Sign in") == "登录"
    assert catalogues.gettext("en")("Sign in") == "Sign in"
    assert catalogues.gettext("en")("no_capacity") == "no capacity left"
