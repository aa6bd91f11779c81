"""Fixtures for the browser tests: ``browser`` (headless Chromium, one per test module) and ``pages``; and, for the
chat sample's page, ``chat`` and ``service`` from tests/chat/chat_support.py.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import TIMEOUT_MS, Pages, launch
from playwright.sync_api import Browser, expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chat"))
from chat_support import chat, service

__all__ = ["browser", "chat", "pages", "service"]

_FAILED = pytest.StashKey[bool]()
expect.set_options(timeout=TIMEOUT_MS)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[Any]:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Per module, not per session: Playwright's sync API must be stopped before other tests run event loops.
    with sync_playwright() as playwright:
        browser = launch(playwright.chromium)
        yield browser
        browser.close()


@pytest.fixture
def pages(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Pages]:
    opened = Pages(browser, request.node.name)
    yield opened
    opened.close(failed=request.node.stash.get(_FAILED, True))
