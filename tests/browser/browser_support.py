"""Headless Chromium for the browser tests: Debian's Chromium (``make chromium`` installs it), driven by Playwright.

Playwright never downloads a browser here: it starts the binary at :data:`CHROMIUM` (``/usr/bin/chromium``, or the
``CHROMIUM`` environment variable) with :data:`CHROMIUM_FLAGS`, the flags an offline machine needs, and a fresh
throwaway profile (user data dir) that Playwright creates for each launch and deletes afterwards.

Every test gets a :class:`Pages`: each page it opens lives in its own browser context (its own cookies and storage,
like another person's browser), and the test saves screenshots with :meth:`Pages.screenshot` into
``test-output/browser/`` (git-ignored). When a test fails, every page it had open is saved there too.

The fixtures (``conftest.py``) are ``browser`` (one Chromium per test module) and ``pages``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Dict, List

from playwright.sync_api import Browser, BrowserType, Page

__all__ = ["CHROMIUM", "CHROMIUM_FLAGS", "OUTPUT", "TIMEOUT_MS", "VIEWPORT", "Pages", "launch"]

CHROMIUM = Path(os.environ.get("CHROMIUM") or "/usr/bin/chromium")
#: Without the background-networking flags Chromium keeps trying to reach Google's hosts, which this offline
#: machine refuses; as root it needs --no-sandbox.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "browser"
VIEWPORT = {"width": 1100, "height": 600}
#: How long an expectation waits for the page (Playwright retries until then). Generous: the machine is shared.
TIMEOUT_MS = 15_000


def launch(chromium: BrowserType) -> Browser:
    """Start headless Chromium from :data:`CHROMIUM` (``chromium`` is ``playwright.chromium``).

    :raises RuntimeError: If there is no Chromium there, naming the command that installs it.
    """
    if not CHROMIUM.exists():
        raise RuntimeError(
            f"the browser tests need Chromium at {CHROMIUM}: run `make chromium` (Debian's chromium and "
            "chromium-driver packages), or set CHROMIUM to the path of a Chromium or Chrome binary"
        )
    return chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_FLAGS), headless=True)


class Pages:
    """The pages one test opens, each in a context of its own, and their screenshots.

    :param browser: The running browser.
    :param test_name: Names the screenshot files (``<test>-<step>.png``).
    """

    def __init__(self, browser: Browser, test_name: str) -> None:
        self.browser = browser
        self.prefix = re.sub(r"[^A-Za-z0-9_.-]+", "-", test_name).strip("-")
        self.opened: Dict[str, Page] = {}
        self.console: Dict[str, List[str]] = {}

    def open(self, url: str, *, name: str) -> Page:
        """A new page at ``url``, in a fresh context (another user). Console errors are kept in ``console[name]``."""
        context = self.browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        self.console[name] = errors = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url)
        self.opened[name] = page
        return page

    def screenshot(self, page: Page, step: str) -> Path:
        """Save ``page`` as ``test-output/browser/<test>-<step>.png`` and return the path."""
        OUTPUT.mkdir(parents=True, exist_ok=True)
        path = OUTPUT / f"{self.prefix}-{step}.png"
        page.screenshot(path=str(path))
        return path

    def close(self, *, failed: bool = False) -> None:
        """Close every context; after a failure, save each page first (``<test>-failed-<name>.png``)."""
        for name, page in self.opened.items():
            if failed and not page.is_closed():
                self.screenshot(page, f"failed-{name}")
            page.context.close()
        self.opened.clear()
