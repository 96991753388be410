"""The published pages as a reader meets them: rendered in headless Chromium, checked by
axe-core at WCAG 2.1 AA, and at 320 and 1280 CSS px wide (RGAA, the French public sector's
accessibility standard, is WCAG 2.1 AA).

axe-core comes from the ``axe-playwright-python`` package (no download at run time);
Chromium from Debian (``.ci/run`` installs it). Where either is missing the tests are
skipped with the reason, never passed silently.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import published_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-quic"]

pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="no Chromium on this machine (apt-get install chromium)")


@pytest.fixture(scope="module")
def pages() -> list[Path]:
    folder = published_run()[1]
    found = sorted(folder.glob("*.html"))
    assert found, f"no HTML page in {folder}"
    assert {"scoreboard.html", "scoreboard.fr.html"} <= {p.name for p in found}
    return found


def test_every_page_of_both_languages_is_checked(pages: list[Path]) -> None:
    names = {p.name for p in pages}
    assert {"methodology-note.html", "methodology-note.fr.html", "scoreboard.html"} <= names
    french = next(p for p in pages if p.name == "methodology-note.fr.html")
    assert '<html lang="fr">' in french.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed (pip install -e '.[test]')")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def test_every_page_has_no_axe_violation(pages: list[Path], browser: Any) -> None:
    axe_module = pytest.importorskip("axe_playwright_python.sync_playwright",
                                     reason="axe-playwright-python is not installed")
    axe = axe_module.Axe()
    found = {}
    for path in pages:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(path.as_uri())
        result = axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
        page.close()
        found[path.name] = [f"{v['id']} ({v['impact']}, {len(v['nodes'])} nodes): {v['help']}"
                            for v in result.response["violations"]]
    assert not any(found.values()), found


@pytest.mark.parametrize("width", [320, 1280])
def test_pages_reflow_without_horizontal_scrolling(pages: list[Path], browser: Any,
                                                   width: int) -> None:
    wide = {}
    for path in pages:
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(path.as_uri())
        scroll = page.evaluate("document.documentElement.scrollWidth")
        page.close()
        if scroll > width:
            wide[path.name] = scroll
    assert not wide, f"pages wider than {width} px: {wide}"


def test_every_image_has_an_alt_text(pages: list[Path]) -> None:
    for path in pages:
        html = path.read_text(encoding="utf-8")
        for tag in re.findall(r"<img\b[^>]*>", html):
            alt = re.search(r'\balt="([^"]*)"', tag)
            assert alt and alt.group(1).strip(), f"{path.name}: {tag}"
