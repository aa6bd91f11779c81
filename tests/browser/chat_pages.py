"""The chat sample's page as a person uses it, for the browser tests (tests/browser/test_chat_browser.py, and
tests/browser/test_trace_browser.py, which watches two chatting pages from the trace page)."""

from __future__ import annotations

from browser_support import Pages
from playwright.sync_api import Locator, Page, expect
from run import RunningChat

__all__ = ["ChatPage", "signed_in"]


class ChatPage:
    """The chat page as a person uses it: what they type and click, and what they see."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.status = page.locator("#status")
        self.sign_in_error = page.locator("#sign-in-error")
        self.online = page.get_by_role("list", name="Online").locator("li")
        self.members = page.locator("#members")
        self.messages = page.get_by_role("list", name="Messages").locator("li")
        self.announcements = page.get_by_role("list", name="Announcements").locator("li")

    def sign_in(self, name: str) -> None:
        self.page.get_by_label("Your name").fill(name)
        self.page.get_by_role("button", name="Sign in").click()

    def expect_connected(self) -> None:
        expect(self.status).to_have_attribute("data-state", "connected")

    def join(self, room: str) -> None:
        self.page.get_by_role("button", name=f"Join #{room}").click()
        expect(self.page.locator("#room-title")).to_have_text(f"#{room}")

    def leave(self, room: str) -> None:
        self.page.get_by_role("button", name=f"Leave #{room}").click()

    def say(self, text: str) -> None:
        self.page.get_by_role("textbox", name="Message").fill(text)
        self.page.get_by_role("button", name="Send").click()

    def tab(self, room: str) -> Locator:
        return self.page.get_by_role("navigation", name="Joined rooms").get_by_role("button", name=f"#{room}")

    def message(self, user: str, text: str) -> Locator:
        return self.messages.filter(has=self.page.locator(".author", has_text=user)).filter(has_text=text)


def signed_in(pages: Pages, chat: RunningChat, *names: str, room: str = "general") -> list[ChatPage]:
    """One page per name, each signed in and in ``room``."""
    opened = []
    for name in names:
        page = ChatPage(pages.open(chat.url, name=name))
        page.sign_in(name)
        page.expect_connected()
        page.join(room)
        opened.append(page)
    for page in opened:
        expect(page.members).to_have_text(", ".join(names))
    return opened
