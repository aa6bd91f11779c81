"""The chat sample in real headless Chromium: its page (samples/chat/static/) served by the app, talking to the local
emulator over the browser's own WebSocket, as ``make chat`` runs it. The fixtures ``chat`` and ``service`` come from
tests/chat/chat_support.py (see conftest.py).
"""

from __future__ import annotations

from announce import announce
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from browser_support import Pages
from playwright.sync_api import Locator, Page, expect
from run import RunningChat
from webpubsub_emulator import FaultPlan


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


def test_two_users_sign_in_join_a_room_chat_and_leave(chat: RunningChat, pages: Pages) -> None:
    alice, bob = signed_in(pages, chat, "alice", "bob")
    expect(alice.online).to_have_text(["alice (you)", "bob"])
    expect(alice.messages.filter(has_text="bob joined #general")).to_have_count(1)

    alice.say("Hi Bob! Shall we try the new chat?")
    expect(bob.message("alice", "Hi Bob! Shall we try the new chat?")).to_be_visible()
    bob.say("Sure: it runs on the local emulator, no cloud needed.")
    expect(alice.message("bob", "it runs on the local emulator")).to_be_visible()
    expect(alice.messages).to_have_count(3)  # the notice and the two messages, each once
    pages.screenshot(alice.page, "alice")
    pages.screenshot(bob.page, "bob")

    bob.leave("general")
    expect(bob.tab("general")).to_have_count(0)
    expect(bob.page.get_by_text("Join a room to start chatting.")).to_be_visible()
    expect(alice.messages.filter(has_text="bob left #general")).to_have_count(1)
    expect(alice.members).to_have_text("alice")
    alice.say("Bye!")
    expect(alice.message("alice", "Bye!")).to_be_visible()
    assert pages.console == {"alice": [], "bob": []}


def test_a_taken_name_is_refused_with_a_visible_message(chat: RunningChat, pages: Pages) -> None:
    (alice,) = signed_in(pages, chat, "alice")
    other = ChatPage(pages.open(chat.url, name="other"))
    other.sign_in("Alice")
    expect(other.sign_in_error).to_have_text('The name "Alice" is taken. Pick another one.')
    expect(other.status).to_have_text("Signed out")
    pages.screenshot(other.page, "taken")
    other.sign_in("   ")
    expect(other.sign_in_error).to_have_text("Enter a name to sign in.")
    other.sign_in("alicia")
    other.expect_connected()
    expect(other.page.locator("#my-name")).to_have_text("alicia")
    expect(alice.online).to_have_text(["alice (you)", "alicia"])


def test_a_dropped_connection_reconnects_and_rejoins_its_rooms(
    chat: RunningChat, pages: Pages, service: WebPubSubServiceClient
) -> None:
    alice, bob = signed_in(pages, chat, "alice", "bob")
    before = {m.user_id: m.connection_id for m in service.list_connections(group="general")}
    bob.say("Is the network stable today?")
    expect(alice.message("bob", "Is the network stable today?")).to_be_visible()

    # The emulator cuts both pages' TCP connections after their next message (no close frame, as a network
    # failure would), until the faults are lifted.
    chat.emulator.set_faults(FaultPlan(ws_drop_every=1))
    service.send_to_all("The network is about to fail.")
    for page in (alice, bob):
        expect(page.status).to_have_attribute("data-state", "reconnecting")
    pages.screenshot(alice.page, "reconnecting")
    chat.emulator.set_faults(None)
    for page in (alice, bob):
        page.expect_connected()
        expect(page.members).to_have_text("alice, bob")  # the page joined its room again
    after = {m.user_id: m.connection_id for m in service.list_connections(group="general")}
    assert after.keys() == before.keys() == {"alice", "bob"}
    assert not set(after.values()) & set(before.values())  # new connections
    alice.say("Still there?")
    expect(bob.message("alice", "Still there?")).to_be_visible()

    # The server closes alice's connection through the SDK: her page comes back on its own.
    service.close_connection(after["alice"], reason="maintenance")
    expect(bob.messages.filter(has_text="alice left #general")).not_to_have_count(0)
    alice.expect_connected()
    expect(bob.members).to_have_text("alice, bob")
    expect(alice.members).to_have_text("alice, bob")
    assert service.list_connections(group="general") and after["alice"] not in {
        m.connection_id for m in service.list_connections(group="general")
    }
    bob.say("Welcome back.")
    expect(alice.message("bob", "Welcome back.")).to_be_visible()


def test_a_reload_keeps_the_sign_in_and_the_rooms(chat: RunningChat, pages: Pages) -> None:
    alice, bob = signed_in(pages, chat, "alice", "bob")
    bob.say("Before the reload")
    alice.page.reload()
    alice.expect_connected()  # the same tab takes its name back at once
    expect(alice.page.locator("#my-name")).to_have_text("alice")
    expect(alice.members).to_have_text("alice, bob")
    expect(alice.message("bob", "Before the reload")).to_be_visible()  # the room's recent messages


def test_a_message_from_the_server_sdk_appears_in_both_pages(
    chat: RunningChat, pages: Pages, service: WebPubSubServiceClient
) -> None:
    alice, bob = signed_in(pages, chat, "alice", "bob")
    alice.say("Anyone know when the upgrade is?")
    announce(service, "The chat moves to a new server at noon.")  # JSON {"kind": "announcement", ...}
    service.send_to_all("Plain text from the SDK shows up too.")
    for page in (alice, bob):
        expect(page.announcements).to_have_text(
            ["Plain text from the SDK shows up too.", "The chat moves to a new server at noon."]
        )
    announce(service, "Only for #general.", room="general")
    for page in (alice, bob):
        expect(page.announcements.first).to_have_text("Only for #general.")
    bob.say("Noon, says the server.")
    expect(alice.message("bob", "Noon, says the server.")).to_be_visible()
    pages.screenshot(alice.page, "alice")
    pages.screenshot(bob.page, "bob")
