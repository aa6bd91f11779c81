"""Raw (no subprotocol) WebSocket clients (service-behaviour.md §5, §9, §10)."""

from __future__ import annotations

import base64
import json
from typing import Any, Dict, Optional, Sequence, Tuple

import aiohttp
import pytest
from ws_support import JSON, ClientPool, Rest, expect_close, expect_silence, recv, recv_json

HUB = "rawhub"
WS = aiohttp.ClientWebSocketResponse


class Clients(ClientPool):
    """Opens raw and JSON clients (the ``clients`` fixture closes them at the end of the test)."""

    async def raw(
        self,
        user_id: Optional[str] = None,
        roles: Sequence[str] = (),
        groups: Sequence[str] = (),
        extra_query: str = "",
    ) -> WS:
        ws = await self.open_url(self.url(user_id, roles, groups) + extra_query)
        assert ws.protocol is None
        return ws

    async def json(
        self, user_id: Optional[str] = None, roles: Sequence[str] = (), groups: Sequence[str] = ()
    ) -> Tuple[WS, Dict[str, Any]]:
        ws, connected, _url = await self.subprotocol(JSON, user_id, roles, groups)
        return ws, connected


async def recv_text(ws: WS) -> str:
    msg = await recv(ws)
    assert msg.type == aiohttp.WSMsgType.TEXT, (msg.type, msg.data)
    assert isinstance(msg.data, str)
    return msg.data


async def recv_binary(ws: WS) -> bytes:
    msg = await recv(ws)
    assert msg.type == aiohttp.WSMsgType.BINARY, (msg.type, msg.data)
    assert isinstance(msg.data, bytes)
    return msg.data


async def test_raw_client_gets_no_system_messages(clients: Clients) -> None:
    ws = await clients.raw(user_id="u")
    await expect_silence(ws)


@pytest.mark.parametrize(
    ("content_type", "body", "binary"),
    [
        ("text/plain", b"Hello", False),
        ("text/plain; charset=utf-8", "h\u00e9llo".encode(), False),
        ("application/json", b'"Hello"', False),  # arrives with its quotes
        ("application/json", b'{"a": 1}', False),
        ("application/octet-stream", b"\x00\x01\xfe\xff", True),
        (None, b"\x00\x01", True),  # no Content-Type means binary
    ],
)
async def test_rest_sends_reach_raw_clients(
    clients: Clients, rest: Rest, content_type: Optional[str], body: bytes, binary: bool
) -> None:
    ws = await clients.raw(user_id="u1", groups=["g"])

    async def check() -> None:
        if binary:
            assert await recv_binary(ws) == body
        else:
            assert await recv_text(ws) == body.decode()

    assert await rest.send_to_all(body, content_type) == 202
    await check()
    assert await rest.send_to_user("u1", body, content_type) == 202
    await check()
    assert await rest.send_to_group("g", body, content_type) == 202
    await check()


async def test_json_quotes_are_kept_exactly(clients: Clients, rest: Rest) -> None:
    ws = await clients.raw()
    assert await rest.send_to_all(b'"Hello"', "application/json") == 202
    assert await recv_text(ws) == '"Hello"'


async def test_raw_client_receives_only_its_groups(clients: Clients, rest: Rest) -> None:
    ws = await clients.raw(groups=["mine"])
    assert await rest.send_to_group("other", b"no") == 202
    assert await rest.send_to_group("mine", b"yes") == 202
    assert await recv_text(ws) == "yes"
    await expect_silence(ws, 0.2)


async def test_rest_added_group_reaches_raw_client(clients: Clients, rest: Rest) -> None:
    ws = await clients.raw(user_id="adduser")
    assert await rest.call("PUT", "/users/adduser/groups/added") == (200, b"")
    assert await rest.send_to_group("added", b"hi") == 202
    assert await recv_text(ws) == "hi"


@pytest.mark.parametrize(
    ("data_type", "data", "binary", "expected"),
    [
        ("text", "plain text", False, "plain text"),
        ("json", {"k": ["v", 1]}, False, {"k": ["v", 1]}),
        ("json", "Hello", False, "Hello"),
        ("binary", base64.b64encode(b"\x00\xff").decode(), True, b"\x00\xff"),
    ],
)
async def test_client_group_messages_reach_raw_clients(
    clients: Clients, data_type: str, data: Any, binary: bool, expected: Any
) -> None:
    ws = await clients.raw(groups=["g"])
    sender, _ = await clients.json(user_id="s", roles=["webpubsub.sendToGroup"])
    await sender.send_json({"type": "sendToGroup", "group": "g", "ackId": 1, "dataType": data_type, "data": data})
    assert (await recv_json(sender))["success"] is True
    if binary:
        assert await recv_binary(ws) == expected
    elif data_type == "json":
        assert json.loads(await recv_text(ws)) == expected
    else:
        assert await recv_text(ws) == expected


async def test_excluded_and_filter_apply_to_raw_clients(clients: Clients, rest: Rest) -> None:
    a = await clients.raw(user_id="a")
    b = await clients.raw(user_id="b")
    assert await rest.send_to_all(b"only b", filter="userId eq 'b'") == 202
    assert await recv_text(b) == "only b"
    await expect_silence(a, 0.2)


async def test_raw_message_without_upstream_handler_closes_1011(clients: Clients) -> None:
    ws = await clients.raw(user_id="u")
    await ws.send_str("hello")
    frames, code = await expect_close(ws)
    assert frames == []  # raw clients get no disconnected message
    assert code == 1011


async def test_raw_binary_message_without_upstream_handler_closes_1011(clients: Clients) -> None:
    ws = await clients.raw()
    await ws.send_bytes(b"\x00")
    _, code = await expect_close(ws)
    assert code == 1011


async def test_raw_frame_over_1mib_closes_1009(clients: Clients) -> None:
    ws = await clients.raw(roles=["webpubsub.sendToGroup"], extra_query="&webpubsub_mode=sendToGroup&group=g")
    await ws.send_bytes(b"x" * (1024 * 1024 + 1))
    _, code = await expect_close(ws)
    assert code == 1009


async def test_rest_close_raw_client(clients: Clients, rest: Rest) -> None:
    ws = await clients.raw(user_id="closeme")
    assert await rest.close_user("closeme", reason="go away") == 204
    frames, code = await expect_close(ws)
    assert frames == []
    assert code == 1000


# ---- webpubsub_mode=sendToGroup ------------------------------------------------------------------------------


async def test_send_to_group_mode(clients: Clients) -> None:
    listener, _ = await clients.json(groups=["g"])
    ws = await clients.raw(
        user_id="pub", roles=["webpubsub.sendToGroup.g"], extra_query="&webpubsub_mode=sendToGroup&group=g"
    )
    await ws.send_str("text frame")
    assert await recv_json(listener) == {
        "type": "message",
        "from": "group",
        "group": "g",
        "fromUserId": "pub",
        "dataType": "text",
        "data": "text frame",
    }
    await ws.send_bytes(b"\x01\x02")
    msg = await recv_json(listener)
    assert msg["dataType"] == "binary" and base64.b64decode(msg["data"]) == b"\x01\x02"


async def test_send_to_group_mode_reaches_raw_members(clients: Clients) -> None:
    member = await clients.raw(groups=["g"])
    ws = await clients.raw(roles=["webpubsub.sendToGroup"], extra_query="&webpubsub_mode=sendToGroup&group=g")
    await ws.send_str("hi raw")
    assert await recv_text(member) == "hi raw"


async def test_send_to_group_mode_without_permission_drops_frames(clients: Clients) -> None:
    listener, _ = await clients.json(groups=["g"])
    ws = await clients.raw(roles=["webpubsub.sendToGroup.other"], extra_query="&webpubsub_mode=sendToGroup&group=g")
    await ws.send_str("dropped")
    await expect_silence(listener, 0.3)
    await expect_silence(ws, 0.1)  # the connection stays open


async def test_send_to_group_mode_permission_checked_per_frame(
    clients: Clients, rest: Rest, session: aiohttp.ClientSession
) -> None:
    listener, _ = await clients.json(groups=["g"])
    ws = await clients.raw(user_id="late", extra_query="&webpubsub_mode=sendToGroup&group=g")
    await ws.send_str("before grant")
    await expect_silence(listener, 0.3)
    # find the raw connection's id through the group listing after adding the user to a probe group
    assert await rest.call("PUT", "/users/late/groups/probe") == (200, b"")
    status, body = await rest.call("GET", "/groups/probe/connections")
    assert status == 200
    (member,) = json.loads(body)["value"]
    assert await rest.permission("PUT", "sendToGroup", member["connectionId"], "g") == 200
    await ws.send_str("after grant")
    assert (await recv_json(listener))["data"] == "after grant"


async def test_send_to_group_mode_no_echo(clients: Clients) -> None:
    echo = await clients.raw(
        roles=["webpubsub.sendToGroup"], groups=["g"], extra_query="&webpubsub_mode=sendToGroup&group=g"
    )
    await echo.send_str("me too")
    assert await recv_text(echo) == "me too"
    quiet = await clients.raw(
        roles=["webpubsub.sendToGroup"], groups=["g"], extra_query="&webpubsub_mode=sendToGroup&group=g&noEcho=true"
    )
    await quiet.send_str("not me")
    assert await recv_text(echo) == "not me"
    await expect_silence(quiet, 0.2)
