"""What the browser tests share: Debian's chromium, console watching, axe-core (the server: conftest.serve).

axe-core (the npm package, pinned to AXE_VERSION) is a test-only dependency that is not
vendored: it is read from NEWSSEARCH_AXE (a path to axe.min.js) or from AXE_CACHE, and
installed there with npm from the npm registry on first use (.ci/run can do it beforehand:
``npm install --prefix ~/.cache/newssearch/axe-core-4.14.1 --no-audit --no-fund axe-core@4.14.1``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from .conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(os.environ.get("NEWSSEARCH_SCREENSHOTS", ROOT / "bench" / "out" / "screenshots"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
AXE_VERSION = "4.14.1"
AXE_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "newssearch" / f"axe-core-{AXE_VERSION}"
BLOCKING = ("serious", "critical")  # axe impacts that fail a test

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="no /usr/bin/chromium: install Debian's chromium (apt-get install chromium)"
)


@contextmanager
def chromium() -> Iterator[Browser]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()


def watch(page: Page) -> list[str]:
    """Console errors (a CSP violation or a failed load shows up here)."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{page.url} is {width}px wide"


def axe_source() -> str:
    """axe.min.js: NEWSSEARCH_AXE, else the cached npm install (made now if missing)."""
    if os.environ.get("NEWSSEARCH_AXE"):
        return Path(os.environ["NEWSSEARCH_AXE"]).read_text(encoding="utf-8")
    script = AXE_CACHE / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("no npm to install axe-core with (or set NEWSSEARCH_AXE to an axe.min.js)")
        AXE_CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([npm, "install", "--prefix", str(AXE_CACHE), "--no-audit", "--no-fund", "--silent",
                        f"axe-core@{AXE_VERSION}"], check=True, timeout=300)
    return script.read_text(encoding="utf-8")


def axe_findings(page: Page, source: str) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now, one line each.

    The page's Content-Security-Policy allows no script, so the context must be made with bypass_csp=True.
    """
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=source)
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['impact']}: {v['id']} ({v['help']}) at {[n['target'] for n in v['nodes']][:5]}"
            for v in result["violations"] if v["impact"] in BLOCKING]
