"""Message catalogues (Babel): Chinese by default, English a click away. The .po files are the
source; they are compiled to .mo when the service starts (and by `hub web compile-messages`), so a
fresh clone works with no build step. Extraction: `pybabel extract -F services/web/babel.cfg`."""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
LANGUAGE_COOKIE = "hub_lang"


def N_(message: str) -> str:
    """Marks a message id for extraction; the page translates it when it shows it."""
    return message


def compiled(language: str) -> bytes:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalogue = read_po(source, locale=language)
    out = io.BytesIO()
    write_mo(out, catalogue)
    return out.getvalue()


@cache
def translations(language: str) -> Translations:
    return Translations(io.BytesIO(compiled(language)))


def translator(language: str) -> Callable[[str], str]:
    return translations(language).gettext


def compile_to_files() -> list[Path]:
    """Write messages.mo beside each messages.po (for tools that want files)."""
    written = []
    for language in LANGUAGES:
        target = LOCALE_DIR / language / "LC_MESSAGES" / "messages.mo"
        target.write_bytes(compiled(language))
        written.append(target)
    return written


def language_of(cookie: str | None, accept_language: str | None = None) -> str:
    if cookie in LANGUAGES:
        return cookie  # type: ignore[return-value]
    return DEFAULT_LANGUAGE
