"""The browser the tests use is Debian's Chromium (not a browser Playwright downloaded), started with the offline
flags and a throwaway profile.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from browser_support import CHROMIUM, CHROMIUM_FLAGS, OUTPUT, Pages, launch
from playwright.sync_api import Browser


def _profile(command_line: list[str]) -> Path:
    profiles = [arg.split("=", 1)[1] for arg in command_line if arg.startswith("--user-data-dir=")]
    assert len(profiles) == 1, command_line
    return Path(profiles[0])


def _command_line(browser: Browser) -> list[str]:
    page = browser.new_page()
    try:
        page.goto("chrome://version")
        return page.locator("#command_line").inner_text().split()
    finally:
        page.close()


def test_the_browser_is_the_chromium_binary_with_the_offline_flags(browser: Browser, pages: Pages) -> None:
    installed = subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True, check=True).stdout
    assert browser.version in installed  # e.g. "Chromium 156.0.8078.114 built on Debian ..."
    command_line = _command_line(browser)
    for flag in CHROMIUM_FLAGS:
        assert flag in command_line, flag
    assert _profile(command_line).is_dir()


def test_every_launch_has_a_fresh_profile_deleted_afterwards(browser: Browser) -> None:
    first = _profile(_command_line(browser))
    second_browser = launch(browser.browser_type)
    second = _profile(_command_line(second_browser))
    assert second != first and second.is_dir()
    second_browser.close()
    assert not second.exists()


def test_closing_after_a_failure_saves_each_page(browser: Browser) -> None:
    opened = Pages(browser, "test_example[case 1]")
    opened.open("data:text/html,<h1>what the page showed</h1>", name="alice")
    saved = OUTPUT / "test_example-case-1-failed-alice.png"
    saved.unlink(missing_ok=True)
    opened.close(failed=True)
    assert saved.read_bytes().startswith(b"\x89PNG\r\n")
    assert opened.opened == {}
