"""Bad identities and bad handshake input are refused at the handshake with a 4xx and a reason (issue 8, finding 10).

Before, a user id with CR/LF or a lone surrogate, an upgrade header that is not UTF-8, or a deeply nested ``connect``
answer ended in 500 (with a traceback in the log) or a connection cut with 1011 "Internal error". Now a client's bad
input is a 400 whose body says what is wrong, and a handler's unusable answer is the documented 500, logged as a
handler failure (no traceback).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import AsyncIterator, Dict, List, Tuple

import aiohttp
import pytest
from aiohttp import web
from upstream_support import HandlerServer
from webpubsub_emulator import Emulator, limits
from ws_support import JSON, client_token, raw_http, recv_json

HUB = "idhub"


@pytest.fixture
async def upstream_emu(handler: HandlerServer) -> AsyncIterator[Emulator]:
    async with Emulator(event_handlers={HUB: handler.url}) as emulator:
        yield emulator


async def refused(session: aiohttp.ClientSession, url: str) -> Tuple[int, Dict[str, str]]:
    """The status and JSON body of a refused upgrade (fails when the upgrade is accepted)."""
    async with session.get(url, headers={"Upgrade": "websocket", "Connection": "Upgrade", **_ws_headers()}) as resp:
        assert resp.status != 101, "upgrade accepted"
        body = await resp.read()
        return resp.status, json.loads(body) if body else {}


def _ws_headers() -> Dict[str, str]:
    return {
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Protocol": JSON,
    }


def _url(emu: Emulator, **claims: object) -> str:
    token = client_token(emu.endpoint, emu.access_key, HUB, **claims)
    return f"ws://127.0.0.1:{emu.port}/client/hubs/{HUB}?access_token={token}"


@pytest.mark.parametrize(
    "sub", ["alice\r\nX-Injected: 1", "\ud800", "nul\x00", "x" * 1025], ids=["crlf", "surrogate", "nul", "long"]
)
@pytest.mark.parametrize("with_handler", [False, True], ids=["no-handler", "handler"])
async def test_bad_user_id_in_the_token_is_400_with_a_reason(
    emu: Emulator,
    upstream_emu: Emulator,
    session: aiohttp.ClientSession,
    handler: HandlerServer,
    sub: str,
    with_handler: bool,
) -> None:
    target = upstream_emu if with_handler else emu
    status, body = await refused(session, _url(target, sub=sub))
    assert status == 400 and body["code"] == "BadRequest"
    assert "user id" in body["message"]
    assert handler.paths("POST") == []  # nothing reached the handler
    # the emulator keeps serving: a good identity connects
    ws = await session.ws_connect(_url(target, sub="alice"), protocols=(JSON,))
    assert (await recv_json(ws))["userId"] == "alice"
    await ws.close()


async def test_upgrade_header_that_is_not_utf8_is_400_naming_it(upstream_emu: Emulator, handler: HandlerServer) -> None:
    token = client_token(upstream_emu.endpoint, upstream_emu.access_key, HUB, sub="u")
    headers = [(k, v.encode()) for k, v in _ws_headers().items()]
    headers += [("Upgrade", b"websocket"), ("Connection", b"Upgrade"), ("X-Note", b"caf\xe9")]
    status, body = await raw_http(upstream_emu.endpoint, "GET", f"/client/hubs/{HUB}?access_token={token}", headers)
    assert status == 400, body
    assert "X-Note" in json.loads(body)["message"]
    assert handler.paths("POST") == []


async def test_token_claims_that_are_not_valid_unicode_are_400(
    upstream_emu: Emulator, session: aiohttp.ClientSession, handler: HandlerServer
) -> None:
    status, body = await refused(session, _url(upstream_emu, sub="u", note="\udfff"))
    assert status == 400 and "claims" in body["message"]
    assert handler.paths("POST") == []


@pytest.mark.parametrize(
    "answer",
    [
        b'{"userId":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"userId":"bob\\r\\nX-Injected: 1"}',
        b'{"userId":"\\ud800"}',
    ],
    ids=["deep", "crlf-user", "surrogate-user"],
)
async def test_unusable_connect_answer_is_a_handler_failure_without_a_traceback(
    upstream_emu: Emulator,
    session: aiohttp.ClientSession,
    handler: HandlerServer,
    caplog: pytest.LogCaptureFixture,
    answer: bytes,
) -> None:
    handler.connect_reply = (200, answer, "application/json", {})
    expect_refusal = pytest.raises(aiohttp.WSServerHandshakeError)
    with caplog.at_level(logging.WARNING, logger="webpubsub_emulator"), expect_refusal as info:
        await session.ws_connect(_url(upstream_emu, sub="u"), protocols=(JSON,))
    assert info.value.status == 500
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    handler.connect_reply = (204, b"", None, {})
    ws = await session.ws_connect(_url(upstream_emu, sub="u"), protocols=(JSON,))
    assert (await recv_json(ws))["userId"] == "u"
    await ws.close()


async def test_handshakes_in_progress_are_capped(
    handler: HandlerServer, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 8, finding 4: handshakes waiting (here for a slow connect handler) are capped; one more gets 503 at once
    while the others keep waiting, and the emulator keeps answering everything else."""
    cap = 2
    monkeypatch.setattr(limits, "MAX_PENDING_HANDSHAKES", cap, raising=False)  # raising=False: see test_robust_limits
    release = asyncio.get_running_loop().create_future()
    connects: List[str] = []

    async def slow_connect(request: web.Request) -> web.StreamResponse:
        if request.method == "OPTIONS":
            return web.Response(headers={"WebHook-Allowed-Origin": "*"})
        if request.path.endswith("/connect"):
            connects.append(request.path)
            await release
        return web.Response(status=204)

    handler.respond = slow_connect
    async with Emulator(event_handlers={HUB: handler.url}) as emu:
        waiting = [asyncio.ensure_future(session.ws_connect(_url(emu, sub="u"), protocols=(JSON,))) for _ in range(cap)]
        for _ in range(200):
            if len(connects) == cap:
                break
            await asyncio.sleep(0.01)
        assert len(connects) == cap
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await asyncio.wait_for(session.ws_connect(_url(emu, sub="u"), protocols=(JSON,)), 5)
        assert info.value.status == 503
        async with session.head(f"{emu.endpoint}/api/health") as resp:
            assert resp.status == 200
        release.set_result(None)
        for ws in await asyncio.gather(*waiting):
            assert (await recv_json(ws))["event"] == "connected"
            await ws.close()
