"""The chat sample's server end to end: the app (served by uvicorn) as the hub's event handler of a real emulator,
with real WebSocket clients speaking ``json.webpubsub.azure.v1`` the way the page does.
"""

from __future__ import annotations

import base64
import os
from typing import Any, Callable, Optional
from urllib.parse import parse_qs

import jwt
import pytest
import requests
from _common import JSON, Frame, WebSocketClient
from announce import announce
from app import REPLACED, SUBPROTOCOL, UNKNOWN, ChatServer, taken
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice.eventhandler import testing
from run import RunningChat

TAB_A = "a" * 32
TAB_B = "b" * 32
TAB_C = "c" * 32


def server_of(chat: RunningChat) -> ChatServer:
    server: ChatServer = chat.app.state.chat_server
    return server


def negotiate(chat: RunningChat, name: Any, session: Any = TAB_A) -> requests.Response:
    return requests.post(chat.url + "negotiate", json={"name": name, "session": session}, timeout=10)


def sign_in(chat: RunningChat, name: str, session: str) -> WebSocketClient:
    response = negotiate(chat, name, session)
    assert response.status_code == 200, response.text
    return WebSocketClient(response.json()["url"], protocol=JSON, name=name)  # `with` connects it


def handshake(url: str, protocol: Optional[str] = SUBPROTOCOL) -> requests.Response:
    """A WebSocket upgrade request by hand, to read the status and body of a refused one (a browser cannot)."""
    headers = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
    }
    if protocol:
        headers["Sec-WebSocket-Protocol"] = protocol
    return requests.get(url.replace("ws://", "http://", 1), headers=headers, timeout=10)


def of_kind(kind: str, **fields: Any) -> Callable[[Frame], bool]:
    """A predicate for the app's messages: ``data.kind == kind`` and the given fields."""

    def matches(frame: Frame) -> bool:
        data = frame.data.get("data") if frame.kind == "json" and frame.data.get("type") == "message" else None
        return isinstance(data, dict) and data.get("kind") == kind and all(data.get(k) == v for k, v in fields.items())

    return matches


def take(client: WebSocketClient, kind: str, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = client.take(of_kind(kind, **fields), what=f"a {kind} message {fields}").data["data"]
    return data


def event(client: WebSocketClient, name: str, data: Any, *, data_type: str = "json") -> None:
    ack = client.request({"type": "event", "event": name, "dataType": data_type, "data": data})
    assert ack.data["success"], ack.describe()


def test_negotiate_mints_a_url_for_the_name_and_explains_a_refusal(chat: RunningChat) -> None:
    response = negotiate(chat, "  alice ", TAB_A)
    assert response.status_code == 200
    url = response.json()["url"]
    assert url.startswith(chat.connection_string.split(";")[0].replace("Endpoint=http", "ws") + "/client/hubs/chat?")
    assert url.endswith(f"&session={TAB_A}")
    token = url.split("access_token=")[1].split("&")[0]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == "alice" and "role" not in claims  # no roles: rooms are the server's business
    for name, session, reason in [
        ("", TAB_A, "Enter a name"),
        ("   ", TAB_A, "Enter a name"),
        ("<b>", TAB_A, "letters, digits"),
        ("alice", "", "session"),
    ]:
        refused = negotiate(chat, name, session)
        assert refused.status_code == 400 and reason in refused.json()["detail"], (name, refused.text)


def test_a_taken_name_is_refused_at_negotiate_and_at_connect(
    chat: RunningChat, service: WebPubSubServiceClient
) -> None:
    with sign_in(chat, "alice", TAB_A) as alice:
        assert alice.user_id == "alice"
        refused = negotiate(chat, "ALICE", TAB_B)  # names compare case-insensitively
        assert refused.status_code == 409
        assert refused.json()["detail"] == 'The name "ALICE" is taken. Pick another one.'
        # connect is the check that counts: a valid token for the name, from another tab, is refused too
        url = service.get_client_access_token(user_id="alice")["url"] + f"&session={TAB_B}"
        answer = handshake(url)
        assert (answer.status_code, answer.text) == (403, 'The name "alice" is taken. Pick another one.')


@pytest.mark.parametrize(
    ("user", "query", "protocol", "reason"),
    [
        (None, f"&session={TAB_B}", SUBPROTOCOL, "Enter a name to sign in."),
        ("bob", "", SUBPROTOCOL, "The page sent no valid session id; reload it."),
        ("bob", f"&session={TAB_B}", None, f"This chat speaks the {SUBPROTOCOL} subprotocol."),
    ],
    ids=["no-user", "no-session", "raw-client"],
)
def test_connect_refuses_what_the_page_would_never_send(
    chat: RunningChat,
    service: WebPubSubServiceClient,
    user: Optional[str],
    query: str,
    protocol: Optional[str],
    reason: str,
) -> None:
    answer = handshake(service.get_client_access_token(user_id=user)["url"] + query, protocol)
    assert (answer.status_code, answer.text) == (400, reason)


def test_the_same_tab_takes_its_name_back_and_its_older_connection_is_closed(chat: RunningChat) -> None:
    with sign_in(chat, "alice", TAB_A) as old, sign_in(chat, "alice", TAB_A) as new:
        assert old.wait_disconnected().data["message"] == REPLACED
        assert old.wait_closed() == 1000
        assert take(new, "presence")["online"] == ["alice"]


def test_rooms_messages_and_presence(chat: RunningChat) -> None:
    with sign_in(chat, "alice", TAB_A) as alice, sign_in(chat, "bob", TAB_B) as bob:
        assert take(alice, "presence", online=["alice", "bob"])

        event(alice, "join", {"room": "General"})
        room = take(alice, "room", room="general")
        assert room["members"] == ["alice"] and room["history"] == []
        event(bob, "join", {"room": "general"})
        assert take(bob, "room", room="general")["members"] == ["alice", "bob"]
        joined = take(alice, "joined", room="general", user="bob")
        assert joined["members"] == ["alice", "bob"] and joined["rev"] > room["rev"]

        event(alice, "message", {"room": "general", "text": "  hello bob "})
        for client in (alice, bob):
            message = take(client, "message", room="general")
            assert (message["user"], message["text"]) == ("alice", "hello bob")

        for name, data, data_type, reason in [
            ("message", {"room": "random", "text": "hi"}, "json", "Join #random before you write there."),
            ("message", {"room": "general", "text": " "}, "json", "A message needs some text."),
            ("message", "general: hi", "text", "The message event takes a JSON object."),
            ("join", {"room": "no spaces"}, "json", "Room names are 1 to 24"),
        ]:
            event(bob, name, data, data_type=data_type)
            assert take(bob, "error")["text"].startswith(reason)

        with sign_in(chat, "carol", TAB_C) as carol:
            event(carol, "join", {"room": "general"})
            history = take(carol, "room", room="general")["history"]
            assert [(m["user"], m["text"]) for m in history] == [("alice", "hello bob")]
            take(alice, "joined", user="carol")

            event(bob, "leave", {"room": "general"})
            assert take(bob, "left", room="general", user="bob")["members"] == ["alice", "carol"]
            assert take(alice, "left", room="general", user="bob")["members"] == ["alice", "carol"]

        # carol closed her page: her room hears it, and everyone gets the new list of who is online
        assert take(alice, "left", room="general", user="carol")["members"] == ["alice"]
        assert take(bob, "presence", online=["alice", "bob"])


def test_a_name_whose_holder_the_service_no_longer_has_is_free(chat: RunningChat) -> None:
    # as if carol's disconnected event had been lost: the app still thinks she holds the name
    server_of(chat).chat.claim("carol", TAB_A, "connection-the-service-does-not-have")
    with sign_in(chat, "carol", TAB_B) as carol:
        assert carol.user_id == "carol"


def test_a_connection_the_app_does_not_know_is_asked_to_reconnect(chat: RunningChat) -> None:
    with sign_in(chat, "alice", TAB_A) as alice:
        assert alice.connection_id is not None
        take(alice, "presence")  # the app has seen her connected event
        server_of(chat).chat.disconnected(alice.connection_id)  # as after a restart of the app
        alice.send({"type": "event", "event": "join", "dataType": "json", "data": {"room": "general"}})
        assert alice.wait_disconnected().data["message"] == UNKNOWN
        assert alice.wait_closed() == 1000


def test_a_connected_event_for_a_connection_without_the_name_closes_it(chat: RunningChat) -> None:
    # What the app does when a connection's connected event finds it without a name: another tab took the name
    # while it was connecting, or the app restarted in between. Sent here as signed events, as the service would.
    with sign_in(chat, "alice", TAB_A) as alice:
        take(alice, "presence")
        for connection_id, user, reason in [("late-1", "alice", taken("alice")), ("late-2", "zed", UNKNOWN)]:
            request = testing.connected_request(
                hub=chat.hub, connection_id=connection_id, user_id=user, access_key=chat.emulator.access_key
            )
            url = chat.url.rstrip("/") + request.path
            assert requests.post(url, headers=dict(request.headers.items()), data=request.body, timeout=10).ok
            closes = [r for r in chat.emulator.rest_log if r.method == "DELETE" and r.path.endswith(connection_id)]
            assert [parse_qs(r.query)["reason"] for r in closes] == [[reason]]


def test_announcements_from_the_server_sdk_reach_everyone_or_one_room(
    chat: RunningChat, service: WebPubSubServiceClient
) -> None:
    with sign_in(chat, "alice", TAB_A) as alice, sign_in(chat, "bob", TAB_B) as bob:
        event(alice, "join", {"room": "general"})
        take(alice, "room")
        announce(service, "for #general", room="general")
        announce(service, "for everyone")
        assert take(alice, "announcement")["text"] == "for #general"
        assert take(alice, "announcement")["text"] == "for everyone"
        assert take(bob, "announcement")["text"] == "for everyone"  # the room's one never reached bob
