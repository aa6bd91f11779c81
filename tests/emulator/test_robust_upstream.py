"""What an event handler, or a client through it, can do to the emulator (issue 8, findings 5, 7, 8 and 13).

- A client's event name is one percent-encoded path segment of the handler URL: ``../../admin/delete?user=all`` used
  to make the emulator POST to ``/admin/delete?user=all`` on the handler host, a URL that never passed validation.
- Each hub has its own connection pool: one hub's slow handler used to make another hub's connects fail.
- A failed validation is remembered briefly and shared by the events waiting for it: it used to be retried one
  connect at a time.
- Answers are read up to a size and never inflated, and redirects are never followed.
- ``WebHook-Allowed-Origin`` may name ``host:port`` and come as several header lines (as the JS middleware answers).
"""

from __future__ import annotations

import asyncio
import gzip
import json
from typing import List
from urllib.parse import unquote

import aiohttp
import pytest
from aiohttp import web
from upstream_support import HandlerServer
from webpubsub_emulator import Emulator, EventHandler, limits
from ws_support import JSON, expect_close, recv_json

HUB = "uphub"
OTHER = "otherhub"
TIMEOUT = 10.0


async def json_client(session: aiohttp.ClientSession, emu: Emulator, hub: str = HUB) -> aiohttp.ClientWebSocketResponse:
    ws = await asyncio.wait_for(session.ws_connect(emu.client_url(hub, user_id="u"), protocols=(JSON,)), TIMEOUT)
    assert (await recv_json(ws))["event"] == "connected"
    return ws


async def event_ack(ws: aiohttp.ClientWebSocketResponse, event: str, ack_id: int = 1) -> dict:
    await ws.send_str(json.dumps({"type": "event", "event": event, "ackId": ack_id, "dataType": "text", "data": "x"}))
    while True:
        msg = await recv_json(ws, TIMEOUT)
        if msg["type"] == "ack":
            return msg


# ---- finding 5: the event name ------------------------------------------------------------------------------------


async def test_event_name_is_one_encoded_path_segment_of_the_handler_url(
    handler: HandlerServer, session: aiohttp.ClientSession
) -> None:
    async with Emulator(event_handlers={HUB: f"{handler.base}/api/{{event}}"}) as emu:
        ws = await json_client(session, emu)
        assert (await event_ack(ws, "../../admin/delete?user=all"))["success"] is True
        assert (await event_ack(ws, "a/b#c%2F", 2))["success"] is True
    # every request stayed under /api/, one segment deep, and that segment decodes to the event name exactly
    assert all(path.startswith("/api/") and path.count("/") == 2 for path in handler.paths()), handler.paths()
    events = [unquote(path.split("/")[2]) for path in handler.paths("POST")]
    assert "../../admin/delete?user=all" in events and "a/b#c%2F" in events


@pytest.mark.parametrize("event", [".", "..", "a\r\nX-Injected: 1", "nul\x00", "x" * 257])
async def test_invalid_event_name_is_a_bad_request_ack_and_nothing_is_sent(
    handler: HandlerServer, session: aiohttp.ClientSession, event: str
) -> None:
    async with Emulator(event_handlers={HUB: f"{handler.base}/api/{{event}}"}) as emu:
        ws = await json_client(session, emu)
        await handler.next_event("connected")  # (fire-and-forget: it may come after the connection is open)
        sent_before = len(handler.paths("POST"))
        ack = await event_ack(ws, event)
        assert ack["success"] is False and ack["error"]["name"] == "BadRequest", ack
        assert "event name" in ack["error"]["message"]
        await ws.send_str(json.dumps({"type": "ping"}))
        assert await recv_json(ws) == {"type": "pong"}  # still connected
        assert len(handler.paths("POST")) == sent_before


# ---- finding 7: hubs are isolated, failed validation is cached -------------------------------------------------


async def test_a_slow_handler_of_one_hub_never_holds_up_another_hub(handler: HandlerServer) -> None:
    busy = EventHandler(handler.url, "*", frozenset())  # user events only: the raw clients connect at once
    emu = Emulator(event_handlers={HUB: [busy], OTHER: handler.url})
    handler.hold = asyncio.get_running_loop().create_future()
    unlimited = aiohttp.TCPConnector(limit=0)  # the test's own client must not run out of connections first
    async with emu, aiohttp.ClientSession(connector=unlimited) as session:
        raw: List[aiohttp.ClientWebSocketResponse] = []
        in_flight = 100  # enough to fill a whole pool (checked against the limit below)
        for _ in range(in_flight):
            ws = await session.ws_connect(emu.client_url(HUB))
            await ws.send_str("slow")
            raw.append(ws)
        for _ in range(200):
            if handler.waiting >= in_flight:
                break
            await asyncio.sleep(0.05)
        assert handler.waiting == in_flight
        # another hub's connect (validation, the blocking connect event) goes through while those still wait
        other = await json_client(session, emu, OTHER)
        assert handler.waiting == in_flight and not handler.hold.done()
        await other.close()
        handler.hold.set_result(None)
        for ws in raw:
            await ws.close()
    assert in_flight == limits.UPSTREAM_MAX_CONNECTIONS_PER_HUB


async def _connect_status(session: aiohttp.ClientSession, emu: Emulator) -> int:
    try:
        ws = await session.ws_connect(emu.client_url(HUB), protocols=(JSON,))
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status
    await ws.close()
    return 101


async def test_a_failed_validation_is_asked_once_for_every_connect_waiting_for_it(
    handler: HandlerServer, session: aiohttp.ClientSession
) -> None:
    handler.allowed_origin = None  # the handler refuses validation (403)
    async with Emulator(event_handlers={HUB: handler.url}) as emu:
        assert await asyncio.gather(*(_connect_status(session, emu) for _ in range(5))) == [500] * 5
        assert await _connect_status(session, emu) == 500
    assert handler.paths("OPTIONS") == ["/events/validate"]  # one validation for all six connects


async def test_a_failed_validation_is_remembered_only_briefly(
    handler: HandlerServer, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "VALIDATION_FAILURE_TTL_SECONDS", 0.2)
    handler.allowed_origin = None
    async with Emulator(event_handlers={HUB: handler.url}) as emu:
        assert [await _connect_status(session, emu) for _ in range(2)] == [500, 500]
        assert len(handler.paths("OPTIONS")) == 1
        handler.allowed_origin = ["*"]  # the handler is fixed: once the failure is forgotten, connects work
        await asyncio.sleep(0.3)
        assert await _connect_status(session, emu) == 101
        assert len(handler.paths("OPTIONS")) == 2


# ---- finding 8: bounded answers, no redirects ------------------------------------------------------------------


async def test_redirects_are_never_followed(handler: HandlerServer, session: aiohttp.ClientSession) -> None:
    async def redirect(request: web.Request) -> web.StreamResponse:
        if request.method == "OPTIONS":
            return web.Response(headers={"WebHook-Allowed-Origin": "*"})
        if request.path.startswith("/elsewhere"):
            return web.Response(status=204)
        return web.Response(status=307, headers={"Location": f"{handler.base}/elsewhere{request.path}"})

    async with Emulator(event_handlers={HUB: [EventHandler(handler.url, "*", frozenset())]}) as emu:
        ws = await json_client(session, emu)
        handler.respond = redirect
        ack = await event_ack(ws, "e")
        assert ack["success"] is False and ack["error"]["name"] == "InternalServerError"
        _frames, code = await expect_close(ws)
        assert code == 1011
    async with Emulator(event_handlers={OTHER: handler.url}) as emu:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await session.ws_connect(emu.client_url(OTHER), protocols=(JSON,))
        assert info.value.status == 500
    assert not [p for p in handler.paths() if p.startswith("/elsewhere")], handler.paths()


async def test_a_validation_that_redirects_fails(handler: HandlerServer, session: aiohttp.ClientSession) -> None:
    async def redirect(request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/elsewhere"):
            return web.Response(headers={"WebHook-Allowed-Origin": "*"})
        return web.Response(status=301, headers={"Location": f"{handler.base}/elsewhere"})

    handler.respond = redirect
    async with Emulator(event_handlers={HUB: handler.url}) as emu:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await session.ws_connect(emu.client_url(HUB), protocols=(JSON,))
        assert info.value.status == 500
    assert "/elsewhere" not in handler.paths()


async def test_an_answer_larger_than_the_limit_fails_the_event(
    handler: HandlerServer, session: aiohttp.ClientSession
) -> None:
    limit = 1024 * 1024  # limits.UPSTREAM_MAX_ANSWER_BYTES (checked below)
    big = b"x" * (limit + 1)
    async with Emulator(event_handlers={HUB: handler.url}, event_failure="ack") as emu:
        ws = await json_client(session, emu)
        handler.event_reply = (200, big, "text/plain", {})
        ack = await event_ack(ws, "e")  # no 1 MiB message before it: the answer was never delivered
        assert ack["success"] is False and ack["error"]["name"] == "InternalServerError"
        handler.event_reply = (200, big[:-1], "text/plain", {})
        assert await _event_then_messages(ws) == ["message", "ack"]  # an answer of exactly the limit is delivered
    assert limit == limits.UPSTREAM_MAX_ANSWER_BYTES


async def _event_then_messages(ws: aiohttp.ClientWebSocketResponse) -> List[str]:
    await ws.send_str(json.dumps({"type": "event", "event": "e", "ackId": 2, "dataType": "text", "data": "x"}))
    kinds = []
    while not kinds or kinds[-1] != "ack":
        kinds.append((await recv_json(ws, TIMEOUT))["type"])
    return kinds


async def test_an_endless_answer_is_not_read_on(handler: HandlerServer, session: aiohttp.ClientSession) -> None:
    written = 0
    total = 32 * 1024 * 1024

    async def endless(request: web.Request) -> web.StreamResponse:
        nonlocal written
        if request.method == "OPTIONS":
            return web.Response(headers={"WebHook-Allowed-Origin": "*"})
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        await response.prepare(request)
        chunk = b"\0" * (64 * 1024)
        try:
            while written < total:
                await response.write(chunk)
                written += len(chunk)
        except (ConnectionError, RuntimeError):
            pass
        return response

    async with Emulator(event_handlers={HUB: [EventHandler(handler.url, "*", frozenset())]}) as emu:
        ws = await json_client(session, emu)
        handler.respond = endless
        ack = await event_ack(ws, "e")
        assert ack["success"] is False
    assert written < total // 2, f"the emulator read {written} bytes of the answer"


async def test_a_compressed_answer_is_never_inflated(handler: HandlerServer, session: aiohttp.ClientSession) -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))  # 64 MiB of zeros in about 64 KiB

    asked: List[str] = []

    async def compressed(request: web.Request) -> web.StreamResponse:
        if request.method == "OPTIONS":
            return web.Response(headers={"WebHook-Allowed-Origin": "*"})
        asked.append(request.headers.get("Accept-Encoding", ""))
        return web.Response(body=bomb, headers={"Content-Type": "text/plain", "Content-Encoding": "gzip"})

    user_events = [EventHandler(handler.url, "*", frozenset())]
    async with Emulator(event_handlers={HUB: user_events}, event_failure="ack") as emu:
        ws = await json_client(session, emu)
        handler.respond = compressed
        ack = await event_ack(ws, "e")  # no 64 MiB message before it
        assert ack["success"] is False and ack["error"]["name"] == "InternalServerError"
    assert asked and not any("gzip" in value for value in asked)  # and the emulator never asked for compression


# ---- finding 13: the allowed origin of the JS middleware ----------------------------------------------------------


async def test_allowed_origin_with_the_port_and_on_several_lines_is_accepted(
    handler: HandlerServer, session: aiohttp.ClientSession
) -> None:
    async with Emulator(event_handlers={HUB: handler.url}) as emu:
        handler.allowed_origin = ["other.example:443", f"127.0.0.1:{emu.port}"]
        ws = await json_client(session, emu)
        await handler.next_event("connect")
        await ws.close()
    async with Emulator(event_handlers={HUB: handler.url}) as emu:
        handler.allowed_origin = [f"127.0.0.1:{emu.port + 1}"]  # another port is another origin
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await session.ws_connect(emu.client_url(HUB), protocols=(JSON,))
        assert info.value.status == 500


async def test_the_cookies_a_handler_sets_on_one_connection_are_capped(
    handler: HandlerServer, session: aiohttp.ClientSession
) -> None:
    async def cookies(request: web.Request) -> web.StreamResponse:
        if request.method == "OPTIONS":
            return web.Response(headers={"WebHook-Allowed-Origin": "*"})
        response = web.Response(status=204)
        for i in range(60):  # (aiohttp reads at most 128 header lines of an answer)
            response.set_cookie(f"c{request.path[-1]}{i}", "v" * 10)
        return response

    async with Emulator(event_handlers={HUB: handler.url}) as emu:
        handler.respond = cookies
        ws = await json_client(session, emu)  # the connect answer sets 60 cookies
        for ack_id in (1, 2):
            assert (await event_ack(ws, f"e{ack_id}", ack_id))["success"] is True  # each answer sets 60 more
        conns = emu.core.live_connections(HUB)
        assert len(conns) == 1 and conns[0].upstream is not None
        assert len(conns[0].upstream.cookies) == 50  # of the 180 set
    assert limits.UPSTREAM_MAX_COOKIES == 50
