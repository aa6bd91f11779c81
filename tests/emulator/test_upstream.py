"""Upstream event handlers (CloudEvents over HTTP): connect, connected, disconnected and user events.

These drive the REST close/send paths together with the upstream dispatcher, over real HTTP on both sides: a tiny
application server records every event the emulator sends and answers what the test tells it to.
"""

from __future__ import annotations

import json
from typing import AsyncIterator

import aiohttp
import pytest
from upstream_support import HandlerServer as Upstream
from webpubsub_emulator import DEFAULT_ACCESS_KEY, Emulator
from ws_support import JSON, Api, recv, recv_json, run_cli

KEY = DEFAULT_ACCESS_KEY
JSON_P = JSON


@pytest.fixture
def upstream(handler: Upstream) -> Upstream:
    return handler


@pytest.fixture
async def hapi(upstream: Upstream) -> AsyncIterator[Api]:
    async with Emulator(event_handlers={"Chat": upstream.url}) as emulator, aiohttp.ClientSession() as session:
        yield Api(session, emulator, hub="chat")


def _sig(connection_id: str) -> str:
    import hashlib
    import hmac

    return "sha256=" + hmac.new(KEY.encode(), connection_id.encode(), hashlib.sha256).hexdigest()


async def test_upstream_connect_connected_disconnected(hapi: Api, upstream: Upstream) -> None:
    url = hapi.emu.client_url("chat", user_id="u1", roles=["webpubsub.joinLeaveGroup"]) + "&extra=1"
    ws = await hapi.session.ws_connect(url, protocols=(JSON_P,))
    cid = (await recv_json(ws))["connectionId"]
    headers, body = await upstream.next_event("connect")
    assert upstream.requests[0][0] == "OPTIONS"  # abuse protection first
    assert upstream.requests[0][1] == "/events/validate"
    assert headers["ce-type"] == "azure.webpubsub.sys.connect"
    assert headers["ce-awpsversion"] == "1.0" and headers["ce-specversion"] == "1.0"
    assert headers["ce-source"] == f"/hubs/chat/client/{cid}"
    assert headers["ce-connectionid"] == cid and headers["ce-userid"] == "u1" and headers["ce-hub"] == "chat"
    assert headers["ce-signature"] == _sig(cid)
    assert headers["ce-eventname"] == "connect" and headers["ce-id"] == "0"
    doc = json.loads(body)
    assert doc["claims"]["sub"] == ["u1"] and doc["claims"]["role"] == ["webpubsub.joinLeaveGroup"]
    assert doc["query"]["extra"] == ["1"] and "access_token" not in doc["query"]
    assert not any(k.lower() == "authorization" for k in doc["headers"])
    assert doc["subprotocols"] == [JSON_P]
    headers, body = await upstream.next_event("connected")
    assert headers["ce-type"] == "azure.webpubsub.sys.connected" and json.loads(body) == {}
    assert headers["ce-subprotocol"] == JSON_P
    assert await hapi.status("DELETE", f"/connections/{cid}", [("reason", "done")]) == 204
    headers, body = await upstream.next_event("disconnected")
    assert json.loads(body) == {"reason": "done"}


async def test_upstream_connect_response_sets_identity(hapi: Api, upstream: Upstream) -> None:
    reply = {"userId": "from-handler", "groups": ["g1"], "roles": ["webpubsub.sendToGroup"]}
    upstream.connect_reply = (200, json.dumps(reply).encode(), "application/json", {"ce-connectionState": "s1"})
    ws = await hapi.session.ws_connect(hapi.emu.client_url("chat", user_id="token-user"), protocols=(JSON_P,))
    msg = await recv_json(ws)
    assert msg["userId"] == "from-handler"
    assert await hapi.status("HEAD", "/groups/g1") == 200
    assert await hapi.status("HEAD", "/users/token-user") == 404
    await ws.send_str(json.dumps({"type": "sendToGroup", "group": "any", "ackId": 1, "data": 1}))
    assert (await recv_json(ws))["success"] is True
    await ws.send_str(json.dumps({"type": "event", "event": "e", "ackId": 2, "dataType": "text", "data": "x"}))
    headers, _ = await upstream.next_event("e")
    assert headers["ce-connectionstate"] == "s1"


@pytest.mark.parametrize(("status", "expected"), [(401, 401), (400, 400), (403, 403), (500, 500), (503, 500)])
async def test_upstream_connect_rejection(hapi: Api, upstream: Upstream, status: int, expected: int) -> None:
    upstream.connect_reply = (status, b"nope", "text/plain", {})
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await hapi.session.ws_connect(hapi.emu.client_url("chat"), protocols=(JSON_P,))
    assert info.value.status == expected


async def test_upstream_connect_bad_subprotocol_is_500(hapi: Api, upstream: Upstream) -> None:
    upstream.connect_reply = (200, b'{"subprotocol":"other"}', "application/json", {})
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await hapi.session.ws_connect(hapi.emu.client_url("chat"), protocols=(JSON_P,))
    assert info.value.status == 500


async def test_upstream_user_event_reply_then_ack(hapi: Api, upstream: Upstream) -> None:
    ws = await hapi.session.ws_connect(hapi.emu.client_url("chat"), protocols=(JSON_P,))
    await recv_json(ws)
    upstream.event_reply = (200, b'{"r":1}', "application/json", {})
    frame = {"type": "event", "event": "Echo", "ackId": 5, "dataType": "binary", "data": "AAE=", "metadata": {"K": "v"}}
    await ws.send_str(json.dumps(frame))
    headers, body = await upstream.next_event("Echo")
    assert headers["ce-type"] == "azure.webpubsub.user.Echo"
    assert headers["content-type"] == "application/octet-stream" and body == b"\x00\x01"
    assert headers["x-webpubsub-metadata-k"] == "v"
    assert await recv_json(ws) == {"type": "message", "from": "server", "dataType": "json", "data": {"r": 1}}
    assert await recv_json(ws) == {"type": "ack", "ackId": 5, "success": True}


async def test_upstream_user_event_failure_drops_the_client(hapi: Api, upstream: Upstream) -> None:
    ws = await hapi.session.ws_connect(hapi.emu.client_url("chat"), protocols=(JSON_P,))
    await recv_json(ws)
    upstream.event_reply = (500, b"boom", "text/plain", {})
    await ws.send_str(json.dumps({"type": "event", "event": "e", "ackId": 1, "dataType": "text", "data": "x"}))
    ack = await recv_json(ws)
    assert ack["success"] is False and ack["error"]["name"] == "InternalServerError"
    assert (await recv_json(ws))["event"] == "disconnected"
    msg = await recv(ws)
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1011


async def test_upstream_raw_message_event(hapi: Api, upstream: Upstream) -> None:
    ws = await hapi.session.ws_connect(hapi.emu.client_url("chat"))
    upstream.event_reply = (200, b"pong!", "text/plain", {})
    await ws.send_str("ping!")
    headers, body = await upstream.next_event("message")
    assert headers["ce-type"] == "azure.webpubsub.user.message" and body == b"ping!"
    assert headers["content-type"].startswith("text/plain")
    msg = await recv(ws)
    assert (msg.type, msg.data) == (aiohttp.WSMsgType.TEXT, "pong!")
    upstream.event_reply = (200, b"\x01\x02", "application/octet-stream", {})
    await ws.send_bytes(b"\x09")
    headers, body = await upstream.next_event("message")
    assert body == b"\x09" and headers["content-type"] == "application/octet-stream"
    msg = await recv(ws)
    assert (msg.type, msg.data) == (aiohttp.WSMsgType.BINARY, b"\x01\x02")


async def test_hub_without_handler_is_unaffected(hapi: Api, upstream: Upstream) -> None:
    ws, _ = await hapi.connect(hub="other")
    await ws.send_str(json.dumps({"type": "event", "event": "e", "ackId": 1, "dataType": "text", "data": "x"}))
    ack = await recv_json(ws)
    assert ack["error"]["name"] == "InternalServerError"
    assert upstream.requests == []


async def test_first_matching_event_handler_wins(upstream: Upstream) -> None:
    from webpubsub_emulator import EventHandler

    handlers = [
        EventHandler(upstream.url.replace("/events/", "/events/first-"), "a, B", frozenset({"connected"})),
        EventHandler(upstream.url, "*", frozenset({"disconnected"})),
    ]
    async with Emulator(event_handlers={"chat": handlers}) as emu, aiohttp.ClientSession() as session:
        ws = await session.ws_connect(emu.client_url("chat"), protocols=(JSON_P,))
        await recv_json(ws)  # no connect handler: accepted with the token's claims
        await upstream.next_event("first-connected")
        for ack_id, event in enumerate(("b", "c"), start=1):
            await ws.send_str(json.dumps({"type": "event", "event": event, "ackId": ack_id, "data": 1}))
            assert (await recv_json(ws))["success"] is True
        await upstream.next_event("first-b")
        await upstream.next_event("c")
        await ws.close()
        await upstream.next_event("disconnected")
    assert not any(path.endswith("/connect") for _m, path, _h, _b in upstream.requests)


def test_event_handler_settings_are_validated() -> None:
    from webpubsub_emulator import EventHandler
    from webpubsub_emulator.upstream_contract import parse_handler_spec

    with pytest.raises(ValueError):
        EventHandler("ftp://h/x")
    with pytest.raises(ValueError):
        EventHandler("http://{event}.example/x")
    with pytest.raises(ValueError):
        EventHandler("http://h/x", system_events=frozenset({"joined"}))
    hub, handler = parse_handler_spec("chat=http://localhost:3000/api/{event}?code=abc")
    assert hub == "chat" and handler.url("connect", "chat") == "http://localhost:3000/api/connect?code=abc"
    with pytest.raises(ValueError):
        parse_handler_spec("no-equals-sign")


def test_cli_rejects_a_bad_event_handler() -> None:
    proc = run_cli("--port", "0", "--event-handler", "chat")
    assert proc.returncode == 2 and "--event-handler" in proc.stderr


async def test_upstream_cookies_are_kept_per_connection(hapi: Api, upstream: Upstream) -> None:
    upstream.connect_reply = (204, b"", None, {"Set-Cookie": "session=one; Path=/"})
    first = await hapi.session.ws_connect(hapi.emu.client_url("chat"), protocols=(JSON_P,))
    await recv_json(first)
    upstream.connect_reply = (204, b"", None, {})
    second = await hapi.session.ws_connect(hapi.emu.client_url("chat"), protocols=(JSON_P,))
    await recv_json(second)
    for ws in (first, second):
        await ws.send_str(json.dumps({"type": "event", "event": "e", "ackId": 1, "data": 1}))
        assert (await recv_json(ws))["success"] is True
    first_headers, _ = await upstream.next_event("e")
    second_headers, _ = await upstream.next_event("e")
    assert first_headers.get("cookie") == "session=one"
    assert "cookie" not in second_headers


async def test_event_failure_ack_mode_keeps_the_client(upstream: Upstream) -> None:
    emu = Emulator(event_handlers={"chat": upstream.url}, event_failure="ack")
    async with emu, aiohttp.ClientSession() as session:
        ws = await session.ws_connect(emu.client_url("chat"), protocols=(JSON_P,))
        await recv_json(ws)
        upstream.event_reply = (500, b"boom", "text/plain", {})
        await ws.send_str(json.dumps({"type": "event", "event": "e", "ackId": 1, "data": 1}))
        ack = await recv_json(ws)
        assert ack["success"] is False and ack["error"]["name"] == "InternalServerError"
        await ws.send_str(json.dumps({"type": "ping"}))
        assert await recv_json(ws) == {"type": "pong"}  # no second ack, still open
    with pytest.raises(ValueError):
        Emulator(event_failure="ignore")
