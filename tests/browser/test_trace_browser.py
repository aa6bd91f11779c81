"""The emulator's live trace page (``/trace``) in real headless Chromium, watching the chat sample's two pages and plain
clients: the hubs and live connections, what they send and receive as it happens, the filters, pause, entries lost by a
page that falls behind, and the sign-in from beyond this machine. The fixtures ``chat`` and ``pages`` come from
conftest.py.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
import websocket
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from browser_support import Pages
from chat_pages import signed_in
from playwright.sync_api import Locator, Page, expect
from run import RunningChat
from webpubsub_emulator import EmulatorThread, limits

JSON = "json.webpubsub.azure.v1"
KEY = "trace-browser-tests-key-0123456789abcdefgh"


class TracePage:
    """The trace page as a developer uses it."""

    def __init__(self, page: Page) -> None:
        self.page = page
        page.set_viewport_size({"width": 1280, "height": 860})
        self.status = page.locator("#status")
        self.hubs = page.get_by_role("list", name="Hubs").locator("li")
        self.connections = page.get_by_role("table", name="Connections").locator("tbody tr")
        self.feed = page.get_by_role("list", name="Feed").locator("li.entry:not(.marker)")
        self.markers = page.get_by_role("list", name="Feed").locator("li.marker")
        self.lost = page.locator("#lost")
        self.paused_note = page.locator("#paused-note")

    def expect_live(self) -> None:
        expect(self.status).to_have_attribute("data-state", "live")

    def connection(self, user: str) -> Locator:
        return self.connections.filter(has=self.page.locator("td.user", has_text=user))

    def entries(self, kind: str, text: str = "") -> Locator:
        rows = self.page.get_by_role("list", name="Feed").locator(f'li.entry[data-kind="{kind}"]')
        return rows.filter(has_text=text) if text else rows

    def by(self, user: str) -> Locator:
        return self.feed.filter(has=self.page.locator(".who .user", has_text=user))

    def filter(self, name: str, value: str) -> None:
        self.page.get_by_label(name, exact=True).fill(value)


@pytest.fixture
def service(chat: RunningChat) -> Iterator[WebPubSubServiceClient]:
    with WebPubSubServiceClient.from_connection_string(chat.connection_string, hub=chat.hub) as client:
        yield client


def open_trace(pages: Pages, endpoint: str) -> TracePage:
    trace = TracePage(pages.open(f"{endpoint}/trace", name="trace"))
    trace.expect_live()
    return trace


def test_the_trace_shows_the_two_chat_connections_and_their_messages_as_they_happen(
    chat: RunningChat, pages: Pages, service: WebPubSubServiceClient
) -> None:
    trace = open_trace(pages, chat.emulator.endpoint)
    expect(trace.page.locator("#no-hubs")).to_be_visible()
    alice, bob = signed_in(pages, chat, "alice", "bob")

    expect(trace.connections).to_have_count(2)
    for user in ("alice", "bob"):
        row = trace.connection(user)
        expect(row.locator("td.protocol")).to_have_text(JSON)
        expect(row.locator("td.groups")).to_have_text("general")  # the room the app put it in
        expect(row.locator("td.state")).to_have_text("open")
        expect(row.locator("td.since .ago")).to_contain_text("ago")
    expect(trace.hubs).to_have_text(["chat2 connected"])

    alice.say("Hi Bob, can you see this in the trace?")
    expect(bob.message("alice", "Hi Bob, can you see this in the trace?")).to_be_visible()
    # alice's page sends the event, the emulator calls the app, the app sends to the room, both pages get it
    sent = trace.entries("frame-in", "Hi Bob, can you see this")
    expect(sent).to_have_count(1)
    expect(sent.locator(".user")).to_have_text("alice")
    expect(trace.entries("upstream", "message event")).to_contain_text(["message event → 204 in"])
    expect(trace.entries("rest", "/api/hubs/chat/groups/general/:send").first).to_contain_text("202")
    delivered = trace.entries("frame-out", "Hi Bob, can you see this")
    expect(delivered).to_have_count(2)
    expect(delivered.filter(has=trace.page.locator(".user", has_text="bob"))).to_have_count(1)
    expect(delivered.filter(has=trace.page.locator(".user", has_text="alice"))).to_have_count(1)

    bob.say("Yes: every frame, REST call and event-handler call.")
    expect(trace.entries("frame-in", "every frame, REST call")).to_have_count(1)
    rows = trace.feed.evaluate_all("rows => rows.map(r => [Number(r.dataset.seq), r.dataset.kind, r.textContent])")
    assert [seq for seq, _kind, _text in rows] == sorted((seq for seq, _kind, _text in rows), reverse=True)
    said = [text for _seq, kind, text in rows if kind == "frame-in" and ("Hi Bob" in text or "every frame" in text)]
    assert "every frame" in said[0] and "Hi Bob" in said[-1]  # newest first
    pages.screenshot(trace.page, "trace")

    # the server closes bob's connection: its close and the reason show up; his page comes back on its own
    bob_id = trace.connection("bob").get_attribute("data-connection")
    assert bob_id
    service.close_connection(bob_id, reason="maintenance")
    expect(trace.entries("frame-out", "close to the client")).to_contain_text(["1000"])
    expect(trace.entries("session", "maintenance")).not_to_have_count(0)
    bob.expect_connected()
    expect(trace.connections).to_have_count(2)
    expect(trace.connections.locator(f'[data-connection="{bob_id}"]')).to_have_count(0)
    assert pages.console["trace"] == []


def test_the_filters_and_pause_work(chat: RunningChat, pages: Pages, service: WebPubSubServiceClient) -> None:
    trace = open_trace(pages, chat.emulator.endpoint)
    alice, bob = signed_in(pages, chat, "alice", "bob")
    # plain clients in two other hubs (the chat's own hub takes the chat page's clients only), in no room
    carol = websocket.create_connection(chat.emulator.client_url("lobby", user_id="carol"), subprotocols=[JSON])
    dave = websocket.create_connection(chat.emulator.client_url("elsewhere", user_id="dave"), subprotocols=[JSON])
    try:
        carol.recv()
        dave.recv()
        expect(trace.connections).to_have_count(4)
        carol.send(json.dumps({"type": "ping"}))
        dave.send(json.dumps({"type": "ping"}))
        alice.say("Before any filter")
        expect(trace.entries("frame-out", "Before any filter")).to_have_count(2)
        expect(trace.by("carol")).not_to_have_count(0)

        trace.filter("User", "bob")
        expect(trace.connections).to_have_count(1)
        expect(trace.connection("bob")).to_have_count(1)
        expect(trace.by("bob")).not_to_have_count(0)
        expect(trace.feed).to_have_count(trace.by("bob").count())  # nothing from anyone else
        assert "user=bob" in trace.page.url  # the filter is in the address, to share it
        pages.screenshot(trace.page, "filtered-by-user")

        trace.filter("User", "")
        trace.filter("Group", "general")
        expect(trace.connections).to_have_count(2)  # carol and dave are in no room
        expect(trace.by("alice")).not_to_have_count(0)
        expect(trace.by("carol")).to_have_count(0)
        expect(trace.entries("rest", "/groups/general/:send")).not_to_have_count(0)  # REST calls to the group too

        trace.filter("Group", "")
        trace.filter("Hub", "elsewhere")
        expect(trace.connections).to_have_count(1)
        expect(trace.connection("dave")).to_have_count(1)
        expect(trace.by("alice")).to_have_count(0)
        expect(trace.by("dave")).not_to_have_count(0)
        trace.filter("Hub", "no-such-hub")
        expect(trace.connections).to_have_count(0)
        expect(trace.page.locator("#no-connections")).to_be_visible()
        expect(trace.feed).to_have_count(0)

        # a click on a connection id in the table filters by it
        trace.page.get_by_role("button", name="Clear filters").click()
        carol_row = trace.connection("carol")
        carol_id = carol_row.get_attribute("data-connection")
        carol_row.locator("td.connection button").click()
        expect(trace.page.get_by_label("Connection", exact=True)).to_have_value(carol_id or "")
        expect(trace.connections).to_have_count(1)
        expect(trace.feed).not_to_have_count(0)
        expect(trace.feed).to_have_count(trace.by("carol").count())
        trace.page.get_by_role("button", name="Clear filters").click()

        # pause: the feed stands still, the page says how much is waiting; resume shows it
        trace.page.get_by_role("button", name="Pause").click()
        expect(trace.status).to_have_text("Paused")
        shown = trace.feed.count()
        alice.say("Said while paused")
        expect(bob.message("alice", "Said while paused")).to_be_visible()
        expect(trace.paused_note).to_contain_text("new entries not shown yet")
        expect(trace.entries("frame-in", "Said while paused")).to_have_count(0)
        assert trace.feed.count() == shown
        pages.screenshot(trace.page, "paused")
        trace.page.get_by_role("button", name="Resume").click()
        expect(trace.entries("frame-in", "Said while paused")).to_have_count(1)
        expect(trace.paused_note).to_be_hidden()
        trace.expect_live()
    finally:
        carol.close()
        dave.close()
    assert pages.console["trace"] == []


def test_a_page_that_falls_behind_shows_what_it_lost(monkeypatch: pytest.MonkeyPatch, pages: Pages) -> None:
    monkeypatch.setattr(limits, "TRACE_FEED_ENTRIES", 40)
    monkeypatch.setattr(limits, "TRACE_BATCH_ENTRIES", 5)
    monkeypatch.setattr(limits, "TRACE_FLUSH_SECONDS", 0.5)
    with EmulatorThread(access_key=KEY) as emu:
        trace = open_trace(pages, emu.endpoint)
        with WebPubSubServiceClient.from_connection_string(emu.connection_string, hub="burst") as service:
            client = websocket.create_connection(emu.client_url("burst", user_id="eve"), subprotocols=[JSON])
            try:
                client.recv()
                for n in range(60):  # 120 entries (REST call, frame out) while the page gets 5 per half second
                    service.send_to_all(f"burst {n}")
                expect(trace.lost).to_be_visible()
                expect(trace.markers.first).to_contain_text("lost here: this page fell behind")
                expect(trace.entries("frame-out", "burst 59")).to_have_count(1)  # what it does get is the newest
                lost = int(trace.lost.get_attribute("data-count") or 0)
                assert 0 < lost < 120
                pages.screenshot(trace.page, "lost")
            finally:
                client.close()


def this_machines_address() -> str:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
        address = str(probe.getsockname()[0])
    finally:
        probe.close()
    assert not address.startswith("127."), "this test needs a network interface besides loopback"
    return address


def test_from_another_address_the_page_asks_for_the_access_key(pages: Pages) -> None:
    address = this_machines_address()
    with EmulatorThread(host=address, access_key=KEY) as emu:
        page = pages.open(f"http://{address}:{emu.port}/trace", name="remote")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        page.get_by_label("Access key").fill("not-the-key-0123456789abcdefghijklmno")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_have_text("That is not this emulator's access key.")
        assert "not-the-key" not in page.url
        page.get_by_label("Access key").fill(KEY)
        page.get_by_role("button", name="Sign in").click()
        trace = TracePage(page)
        trace.expect_live()
        assert KEY not in page.url and page.url.endswith("/trace")
        assert page.evaluate("document.cookie") == ""  # HttpOnly: no script on the page can read it
        client = websocket.create_connection(emu.client_url("remote", user_id="frank"), subprotocols=[JSON])
        try:
            client.recv()
            expect(trace.connection("frank")).to_have_count(1)
        finally:
            client.close()
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    # the wrong key's answer is a 401 (the form again, with the message): the only thing the console reports
    assert pages.console["remote"] == [
        "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
    ]
