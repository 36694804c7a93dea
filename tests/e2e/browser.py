"""What the browser tests share: Debian's Chromium driven by Playwright (headless), and a page on
one site that every test checks the same way: a full-page screenshot under
test-artifacts/screenshots/ and axe-core, with no serious or critical violation.

Importing this module skips the importing test module when Playwright is not installed; mark the
tests `needs_chromium` to skip them where there is no Chromium (apt-get install chromium)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

CHROMIUM = os.environ.get("HUB_TEST_CHROMIUM", "/usr/bin/chromium")
SHOTS = ROOT / "test-artifacts" / "screenshots"
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 860}, "accept_downloads": True, "locale": "zh-CN"}

sync_api = pytest.importorskip("playwright.sync_api")
from axe_playwright_python.sync_playwright import Axe  # noqa: E402

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium (Playwright's own download is not needed), closed at the end."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


class Browser:
    """One page on the site at `base`; screenshots are named `<shot_prefix><name>.png`."""

    shot_prefix = ""

    def __init__(self, page: Any, base: str) -> None:
        self.page, self.base, self.axe = page, base, Axe()

    def go(self, path: str) -> None:
        self.page.goto(f"{self.base}{path}")

    def check(self, name: str) -> None:
        """Screenshot the page and run axe-core on it: no serious or critical violation."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{self.shot_prefix}{name}.png"), full_page=True)
        violations = self.axe.run(self.page).response["violations"]
        bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in violations if v["impact"] in ("serious", "critical")]
        assert bad == [], f"{name}: {bad}"

    def sign_in(self, username: str, password: str) -> None:
        """The sign-in form both page services show (a `form.card`)."""
        self.page.fill("#username", username)
        self.page.fill("#password", password)
        self.page.click("form.card button[type=submit]")

    def download(self, link: str) -> tuple[str, bytes]:
        """Click a download link: the file's suggested name and its bytes."""
        with self.page.expect_download() as download:
            self.page.click(link)
        return download.value.suggested_filename, Path(download.value.path()).read_bytes()
