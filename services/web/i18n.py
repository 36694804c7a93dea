"""The web front's message catalogues (kit.pages.Catalogues): Chinese by default, English a click
away; the .po files are the source, compiled when first used (`hub web compile-messages` writes
.mo files for tools that want them). Extraction: `pybabel extract -F services/web/babel.cfg -k N_`."""

from __future__ import annotations

from pathlib import Path

from kit.pages import Catalogues

LOCALE_DIR = Path(__file__).parent / "locale"
CATALOGUES = Catalogues(LOCALE_DIR)
translator = CATALOGUES.gettext
