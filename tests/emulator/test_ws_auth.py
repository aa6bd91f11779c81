"""WebSocket upgrade: client-token checks and subprotocol negotiation (service-behaviour.md §1-§3)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any, AsyncIterator, Dict, Optional

import aiohttp
import jwt
import pytest
from webpubsub_emulator import Emulator
from ws_support import JSON, RELIABLE, client_token, expect_handshake_status, expect_silence, recv_json

KEY = "a-test-access-key-that-is-not-the-default-0123456789"
HUB = "authhub"


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(host="127.0.0.1", port=0, access_key=KEY) as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def ws_base(emu: Emulator, hub: str = HUB) -> str:
    return f"ws://127.0.0.1:{emu.port}/client/hubs/{hub}"


def token(emu: Emulator, hub: str = HUB, extra: Optional[Dict[str, Any]] = None, **claims: Any) -> str:
    return client_token(emu.endpoint, KEY, hub, extra=extra, **claims)


async def connected(session: aiohttp.ClientSession, url: str, **kwargs: Any) -> Dict[str, Any]:
    ws = await session.ws_connect(url, protocols=(JSON,), **kwargs)
    try:
        return await recv_json(ws)
    finally:
        await ws.close()


def unsigned(claims: Dict[str, Any]) -> str:
    def part(obj: Dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


# ---- the emulator's own URL -------------------------------------------------------------------------------------


async def test_client_url_connects(emu: Emulator, session: aiohttp.ClientSession) -> None:
    url = emu.client_url(HUB, user_id="alice")
    assert url.startswith(f"ws://127.0.0.1:{emu.port}/client/hubs/{HUB}?access_token=")
    msg = await connected(session, url)
    assert msg["type"] == "system" and msg["event"] == "connected" and msg["userId"] == "alice"


# ---- refused before the upgrade ---------------------------------------------------------------------------------


async def test_missing_token_is_401(emu: Emulator, session: aiohttp.ClientSession) -> None:
    await expect_handshake_status(session, ws_base(emu), 401)
    await expect_handshake_status(session, ws_base(emu), 401, protocols=(JSON,))


async def test_bad_signature_is_401(emu: Emulator, session: aiohttp.ClientSession) -> None:
    bad = client_token(emu.endpoint, KEY + "x", HUB)
    await expect_handshake_status(session, f"{ws_base(emu)}?access_token={bad}", 401, protocols=(JSON,))


async def test_default_key_is_not_accepted_when_another_is_configured(
    emu: Emulator, session: aiohttp.ClientSession
) -> None:
    other = client_token(emu.endpoint, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH", HUB)
    await expect_handshake_status(session, f"{ws_base(emu)}?access_token={other}", 401)


async def test_garbage_token_is_401(emu: Emulator, session: aiohttp.ClientSession) -> None:
    for bad in ("garbage", "a.b.c", ""):
        await expect_handshake_status(session, f"{ws_base(emu)}?access_token={bad}", 401)


@pytest.mark.parametrize(
    "aud",
    [
        "http://127.0.0.1:{port}/client/hubs/otherhub",  # another hub
        "http://127.0.0.1:{port}/client/hubs/authhub/extra",
        "http://127.0.0.1:{port}/api/hubs/authhub",
        "http://127.0.0.2:{port}/client/hubs/authhub",  # another host
        "http://127.0.0.1:1/client/hubs/authhub",  # another port
        "ftp://127.0.0.1:{port}/client/hubs/authhub",  # unsupported scheme
    ],
)
async def test_wrong_aud_is_401(emu: Emulator, session: aiohttp.ClientSession, aud: str) -> None:
    bad = jwt.encode({"aud": aud.format(port=emu.port), "exp": int(time.time()) + 600}, KEY, algorithm="HS256")
    await expect_handshake_status(session, f"{ws_base(emu)}?access_token={bad}", 401, protocols=(JSON,))


async def test_missing_aud_is_401(emu: Emulator, session: aiohttp.ClientSession) -> None:
    bad = jwt.encode({"exp": int(time.time()) + 600}, KEY, algorithm="HS256")
    await expect_handshake_status(session, f"{ws_base(emu)}?access_token={bad}", 401)


async def test_expired_token_is_401(emu: Emulator, session: aiohttp.ClientSession) -> None:
    expired = token(emu, lifetime=-600)  # beyond the 5 minutes of clock skew
    await expect_handshake_status(session, f"{ws_base(emu)}?access_token={expired}", 401, protocols=(JSON,))


async def test_recently_expired_token_is_within_clock_skew(emu: Emulator, session: aiohttp.ClientSession) -> None:
    recent = token(emu, lifetime=-60)
    msg = await connected(session, f"{ws_base(emu)}?access_token={recent}")
    assert msg["event"] == "connected"


async def test_token_without_exp_is_401(emu: Emulator, session: aiohttp.ClientSession) -> None:
    no_exp = jwt.encode({"aud": f"{emu.endpoint}/client/hubs/{HUB}"}, KEY, algorithm="HS256")
    await expect_handshake_status(session, f"{ws_base(emu)}?access_token={no_exp}", 401)


async def test_alg_none_is_401(emu: Emulator, session: aiohttp.ClientSession) -> None:
    claims = {"aud": f"{emu.endpoint}/client/hubs/{HUB}", "exp": int(time.time()) + 600, "sub": "mallory"}
    await expect_handshake_status(session, f"{ws_base(emu)}?access_token={unsigned(claims)}", 401)


@pytest.mark.filterwarnings("ignore:The HMAC key is")  # PyJWT 2.10+ (the class is not in older ones)
async def test_other_hmac_algorithm_is_401(emu: Emulator, session: aiohttp.ClientSession) -> None:
    claims = {"aud": f"{emu.endpoint}/client/hubs/{HUB}", "exp": int(time.time()) + 600}
    hs512 = jwt.encode(claims, KEY, algorithm="HS512")
    await expect_handshake_status(session, f"{ws_base(emu)}?access_token={hs512}", 401)


async def test_bad_bearer_header_is_401(emu: Emulator, session: aiohttp.ClientSession) -> None:
    bad = client_token(emu.endpoint, KEY + "x", HUB)
    await expect_handshake_status(session, ws_base(emu), 401, headers={"Authorization": f"Bearer {bad}"})


async def test_invalid_group_claim_is_400(emu: Emulator, session: aiohttp.ClientSession) -> None:
    bad = token(emu, extra={"webpubsub.group": ["ok", "   "]})
    await expect_handshake_status(session, f"{ws_base(emu)}?access_token={bad}", 400, protocols=(JSON,))


# ---- accepted tokens --------------------------------------------------------------------------------------------


async def test_bearer_header_is_accepted(emu: Emulator, session: aiohttp.ClientSession) -> None:
    msg = await connected(session, ws_base(emu), headers={"Authorization": f"Bearer {token(emu, sub='bob')}"})
    assert msg["userId"] == "bob"


async def test_hub_query_form(emu: Emulator, session: aiohttp.ClientSession) -> None:
    url = f"ws://127.0.0.1:{emu.port}/client/?hub={HUB}&access_token={token(emu, sub='carol')}"
    msg = await connected(session, url)
    assert msg["event"] == "connected" and msg["userId"] == "carol"


async def test_hub_query_form_checks_the_token(emu: Emulator, session: aiohttp.ClientSession) -> None:
    wrong_hub = token(emu, hub="otherhub")
    url = f"ws://127.0.0.1:{emu.port}/client/?hub={HUB}&access_token={wrong_hub}"
    await expect_handshake_status(session, url, 401)


@pytest.mark.parametrize(
    "aud",
    [
        "http://127.0.0.1:{port}/client/hubs/authhub",
        "https://127.0.0.1:{port}/client/hubs/authhub",
        "ws://127.0.0.1:{port}/client/hubs/authhub",
        "wss://127.0.0.1:{port}/client/hubs/authhub",
        "http://127.0.0.1:{port}/client/hubs/AuthHub",  # hub names are case-insensitive
    ],
)
async def test_lenient_aud_variants(emu: Emulator, session: aiohttp.ClientSession, aud: str) -> None:
    good = jwt.encode({"aud": aud.format(port=emu.port), "exp": int(time.time()) + 600}, KEY, algorithm="HS256")
    msg = await connected(session, f"{ws_base(emu)}?access_token={good}")
    assert msg["event"] == "connected"


async def test_hub_in_url_is_case_insensitive(emu: Emulator, session: aiohttp.ClientSession) -> None:
    msg = await connected(session, f"{ws_base(emu, 'AUTHHUB')}?access_token={token(emu)}")
    assert msg["event"] == "connected"


async def test_anonymous_connection(emu: Emulator, session: aiohttp.ClientSession) -> None:
    msg = await connected(session, f"{ws_base(emu)}?access_token={token(emu)}")
    assert "userId" in msg and msg["userId"] is None


async def test_role_and_group_claims_as_single_strings(emu: Emulator, session: aiohttp.ClientSession) -> None:
    tok = token(emu, sub="dave", role="webpubsub.sendToGroup", extra={"webpubsub.group": "g1"})
    ws = await session.ws_connect(f"{ws_base(emu)}?access_token={tok}", protocols=(JSON,))
    try:
        assert (await recv_json(ws))["event"] == "connected"
        # the single-string role lets it publish; the single-string group made it a member, so it hears its own send
        await ws.send_json({"type": "sendToGroup", "group": "g1", "ackId": 1, "dataType": "text", "data": "hi"})
        seen = [await recv_json(ws), await recv_json(ws)]
        ack = next(m for m in seen if m["type"] == "ack")
        message = next(m for m in seen if m["type"] == "message")
        assert ack["success"] is True
        assert message["group"] == "g1" and message["data"] == "hi" and message["fromUserId"] == "dave"
    finally:
        await ws.close()


async def test_older_group_claim_name(emu: Emulator, session: aiohttp.ClientSession) -> None:
    tok = token(emu, sub="erin", role=["webpubsub.sendToGroup"], group=["g2"])
    ws = await session.ws_connect(f"{ws_base(emu)}?access_token={tok}", protocols=(JSON,))
    try:
        await recv_json(ws)
        await ws.send_json({"type": "sendToGroup", "group": "g2", "dataType": "text", "data": "x"})
        message = await recv_json(ws)
        assert message["type"] == "message" and message["group"] == "g2"
    finally:
        await ws.close()


# ---- subprotocol negotiation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [
        ((JSON,), JSON),
        ((RELIABLE,), RELIABLE),
        (("custom.protocol", JSON), JSON),  # the first supported one
        ((RELIABLE, JSON), RELIABLE),
        ((JSON, RELIABLE), JSON),
    ],
)
async def test_subprotocol_is_echoed(
    emu: Emulator, session: aiohttp.ClientSession, offered: tuple[str, ...], chosen: str
) -> None:
    ws = await session.ws_connect(emu.client_url(HUB), protocols=offered)
    try:
        assert ws.protocol == chosen
        assert ws._response.headers.get("Sec-WebSocket-Protocol") == chosen
        msg = await recv_json(ws)
        assert msg["event"] == "connected"
        assert ("reconnectionToken" in msg) == (chosen == RELIABLE)
    finally:
        await ws.close()


@pytest.mark.parametrize("offered", [(), ("custom.protocol",), ("mqtt",)])
async def test_no_supported_subprotocol_means_raw(
    emu: Emulator, session: aiohttp.ClientSession, offered: tuple[str, ...]
) -> None:
    ws = await session.ws_connect(emu.client_url(HUB), protocols=offered)
    try:
        assert ws.protocol is None
        await expect_silence(ws)  # raw clients get no connected message
    finally:
        await ws.close()


async def test_websocket_client_library_handshake(emu: Emulator) -> None:
    """websocket-client (used by the Python client SDK) aborts the handshake unless the subprotocol is echoed."""
    import asyncio

    import websocket

    def run() -> Dict[str, Any]:
        ws = websocket.create_connection(emu.client_url(HUB, user_id="wsc"), subprotocols=[RELIABLE], timeout=5)
        try:
            return dict(json.loads(ws.recv()))
        finally:
            ws.close()

    msg = await asyncio.to_thread(run)
    assert msg["event"] == "connected" and msg["userId"] == "wsc" and msg["reconnectionToken"]
