"""The ``json.reliable.webpubsub.azure.v1`` subprotocol: sequencing, acks, recovery, buffer limits (§7)."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Dict, Optional, Sequence, Tuple
from urllib.parse import quote

import aiohttp
from webpubsub_emulator import Emulator
from ws_support import (
    JSON,
    RELIABLE,
    ClientPool,
    Rest,
    client_token,
    drop_transport,
    expect_close,
    expect_silence,
    recv_json,
)

HUB = "reliablehub"
WS = aiohttp.ClientWebSocketResponse


class Clients(ClientPool):
    """Opens reliable clients (the ``clients`` fixture closes them at the end of the test)."""

    async def connect(
        self, user_id: Optional[str] = None, roles: Sequence[str] = (), groups: Sequence[str] = ()
    ) -> Tuple[WS, Dict[str, Any], str]:
        return await self.subprotocol(RELIABLE, user_id, roles, groups)

    async def recover(self, url: str, connected: Dict[str, Any]) -> WS:
        ws = await self.open_url(recovery_url(url, connected), (RELIABLE,))
        assert ws.protocol == RELIABLE
        return ws


def recovery_url(url: str, connected: Dict[str, Any], token: Optional[str] = None) -> str:
    return (
        f"{url}&awps_connection_id={quote(connected['connectionId'], safe='')}"
        f"&awps_reconnection_token={quote(token or connected['reconnectionToken'], safe='')}"
    )


async def recv_message(ws: WS) -> Dict[str, Any]:
    msg = await recv_json(ws)
    assert msg["type"] == "message", msg
    return msg


async def test_connected_has_reconnection_token(clients: Clients) -> None:
    _, connected, _ = await clients.connect(user_id="alice")
    assert set(connected) == {"type", "event", "userId", "connectionId", "reconnectionToken"}
    assert connected["userId"] == "alice"
    assert isinstance(connected["reconnectionToken"], str) and connected["reconnectionToken"]
    _, anonymous, _ = await clients.connect()
    assert anonymous["userId"] is None and anonymous["reconnectionToken"]


async def test_sequence_ids_start_at_1_and_rise(clients: Clients, rest: Rest) -> None:
    ws, connected, _ = await clients.connect(user_id="u", groups=["g"])
    assert await rest.send_to_all(b"a") == 202
    assert await rest.send_to_user("u", b'{"x":1}', "application/json") == 202
    assert await rest.send_to_group("g", b"\x00", "application/octet-stream") == 202
    assert await rest.send_to_connection(connected["connectionId"], b"d") == 202
    messages = [await recv_message(ws) for _ in range(4)]
    assert [m["sequenceId"] for m in messages] == [1, 2, 3, 4]
    assert messages[0] == {"type": "message", "from": "server", "dataType": "text", "data": "a", "sequenceId": 1}
    assert messages[1]["dataType"] == "json" and messages[1]["data"] == {"x": 1}
    assert messages[2]["from"] == "group" and messages[2]["group"] == "g" and messages[2]["dataType"] == "binary"
    assert messages[2]["fromUserId"] is None


async def test_acks_and_pongs_have_no_sequence_id(clients: Clients) -> None:
    ws, _, _ = await clients.connect(roles=["webpubsub.sendToGroup", "webpubsub.joinLeaveGroup"])
    await ws.send_json({"type": "ping"})
    assert await recv_json(ws) == {"type": "pong"}
    await ws.send_json({"type": "joinGroup", "group": "g", "ackId": 1})
    assert await recv_json(ws) == {"type": "ack", "ackId": 1, "success": True}
    await ws.send_json({"type": "sendToGroup", "group": "g", "ackId": 2, "dataType": "text", "data": "x"})
    first, second = await recv_json(ws), await recv_json(ws)
    by_type = {first["type"]: first, second["type"]: second}
    assert "sequenceId" not in by_type["ack"]
    assert by_type["message"]["sequenceId"] == 1


async def test_group_messages_from_clients_carry_sequence_ids(clients: Clients) -> None:
    member, _, _ = await clients.connect(groups=["g"])
    sender, _, _ = await clients.connect(user_id="s", roles=["webpubsub.sendToGroup"])
    for i in range(3):
        await sender.send_json({"type": "sendToGroup", "group": "g", "dataType": "json", "data": i})
    messages = [await recv_message(member) for _ in range(3)]
    assert [(m["sequenceId"], m["data"], m["fromUserId"]) for m in messages] == [(1, 0, "s"), (2, 1, "s"), (3, 2, "s")]


async def test_sequence_ack_is_accepted_silently(clients: Clients, rest: Rest) -> None:
    ws, _, _ = await clients.connect()
    assert await rest.send_to_all(b"x") == 202
    assert (await recv_message(ws))["sequenceId"] == 1
    await ws.send_json({"type": "sequenceAck", "sequenceId": 1})
    await ws.send_json({"type": "sequenceAck", "sequenceId": 1})  # repeated acks are harmless
    await expect_silence(ws, 0.2)
    await ws.send_json({"type": "ping"})
    assert await recv_json(ws) == {"type": "pong"}


async def test_drop_and_recover(clients: Clients, rest: Rest) -> None:
    ws, connected, url = await clients.connect(user_id="r", roles=["webpubsub.joinLeaveGroup"])
    cid = connected["connectionId"]
    await ws.send_json({"type": "joinGroup", "group": "g", "ackId": 1})
    assert (await recv_json(ws))["success"] is True
    for body in (b"m1", b"m2", b"m3"):
        assert await rest.send_to_all(body) == 202
    assert [(await recv_message(ws))["sequenceId"] for _ in range(3)] == [1, 2, 3]
    await ws.send_json({"type": "sequenceAck", "sequenceId": 1})  # cumulative: 1 is done, 2 and 3 are not
    await ws.send_json({"type": "ping"})
    assert await recv_json(ws) == {"type": "pong"}  # the ack has been processed by now

    drop_transport(ws)
    await asyncio.sleep(0.1)
    assert await rest.connection_exists(cid) == 200  # held for recovery
    assert await rest.send_to_user("r", b"m4") == 202
    assert await rest.send_to_group("g", b"m5") == 202  # groups survive the drop

    recovered = await clients.recover(url, connected)
    messages = [await recv_message(recovered) for _ in range(4)]  # no second connected message
    assert [(m["sequenceId"], m["data"]) for m in messages] == [(2, "m2"), (3, "m3"), (4, "m4"), (5, "m5")]
    assert messages[3]["from"] == "group" and messages[3]["group"] == "g"

    # the same connection: the sequence continues, and it is still the same id for REST
    assert await rest.send_to_connection(cid, b"m6") == 202
    assert (await recv_message(recovered))["sequenceId"] == 6
    await recovered.send_json({"type": "leaveGroup", "group": "g", "ackId": 2})
    assert (await recv_json(recovered))["success"] is True
    await recovered.send_json({"type": "joinGroup", "group": "g", "ackId": 1})  # ack ids survive too
    duplicate = await recv_json(recovered)
    assert duplicate["success"] is False and duplicate["error"]["name"] == "Duplicate"


async def test_recover_twice(clients: Clients, rest: Rest) -> None:
    ws, connected, url = await clients.connect(user_id="twice")
    drop_transport(ws)
    await asyncio.sleep(0.05)
    assert await rest.send_to_user("twice", b"1") == 202
    first = await clients.recover(url, connected)
    assert (await recv_message(first))["sequenceId"] == 1
    drop_transport(first)
    await asyncio.sleep(0.05)
    assert await rest.send_to_user("twice", b"2") == 202
    second = await clients.recover(url, connected)
    assert [(await recv_message(second))["sequenceId"] for _ in range(2)] == [1, 2]


async def test_recovery_ignores_an_expired_access_token(
    emu: Emulator, clients: Clients, rest: Rest, session: aiohttp.ClientSession
) -> None:
    ws, connected, _ = await clients.connect(user_id="exp")
    drop_transport(ws)
    await asyncio.sleep(0.05)
    assert await rest.send_to_user("exp", b"after") == 202
    expired = client_token(emu.endpoint, emu.access_key, HUB, lifetime=-3600, sub="exp")
    url = f"ws://127.0.0.1:{emu.port}/client/hubs/{HUB}?access_token={expired}"
    recovered = await session.ws_connect(recovery_url(url, connected), protocols=(RELIABLE,))
    clients.open.append(recovered)
    assert (await recv_message(recovered))["data"] == "after"


async def expect_recovery_rejected(session: aiohttp.ClientSession, url: str) -> None:
    ws = await session.ws_connect(url, protocols=(RELIABLE,))
    try:
        frames, code = await expect_close(ws)
        assert code == 1008, (code, [f.data for f in frames])
        assert all(json.loads(f.data).get("type") != "message" for f in frames)
    finally:
        await ws.close()


async def test_bad_reconnection_token_is_1008(clients: Clients, session: aiohttp.ClientSession, rest: Rest) -> None:
    ws, connected, url = await clients.connect(user_id="victim")
    drop_transport(ws)
    await asyncio.sleep(0.05)
    await expect_recovery_rejected(session, recovery_url(url, connected, token="forged-token"))
    # the genuine pair still works afterwards
    assert await rest.send_to_user("victim", b"ok") == 202
    recovered = await clients.recover(url, connected)
    assert (await recv_message(recovered))["data"] == "ok"


async def test_unknown_connection_recovery_is_1008(clients: Clients, session: aiohttp.ClientSession) -> None:
    _, connected, url = await clients.connect()
    fake = {"connectionId": "no-such-connection", "reconnectionToken": connected["reconnectionToken"]}
    await expect_recovery_rejected(session, recovery_url(url, fake))


async def test_token_of_another_connection_is_1008(clients: Clients, session: aiohttp.ClientSession) -> None:
    a, ca, url = await clients.connect()
    _, cb, _ = await clients.connect()
    drop_transport(a)
    await asyncio.sleep(0.05)
    mixed = {"connectionId": ca["connectionId"], "reconnectionToken": cb["reconnectionToken"]}
    await expect_recovery_rejected(session, recovery_url(url, mixed))


async def test_recovery_keeps_its_subprotocol(clients: Clients, session: aiohttp.ClientSession, rest: Rest) -> None:
    """A recovery that does not offer the session's subprotocol is refused (1008) and the session stays held; one that
    offers it among others gets it (issue 8, finding 11: a recovery could switch a reliable session to plain JSON)."""
    ws, connected, url = await clients.connect(user_id="keep")
    drop_transport(ws)
    await asyncio.sleep(0.05)
    assert await rest.send_to_user("keep", b"while away") == 202
    switched = await session.ws_connect(recovery_url(url, connected), protocols=(JSON,))
    try:
        frames, code = await expect_close(switched)
        assert code == 1008 and all(json.loads(f.data).get("type") != "message" for f in frames)
    finally:
        await switched.close()
    assert await rest.connection_exists(connected["connectionId"]) == 200  # still held, for a proper recovery
    recovered = await clients.open_url(recovery_url(url, connected), (JSON, RELIABLE))
    assert recovered.protocol == RELIABLE
    assert (await recv_message(recovered))["data"] == "while away"


async def test_no_recovery_after_deliberate_close(clients: Clients, session: aiohttp.ClientSession, rest: Rest) -> None:
    ws, connected, url = await clients.connect()
    await ws.close()  # a close frame: the session ends
    await asyncio.sleep(0.1)
    assert await rest.connection_exists(connected["connectionId"]) == 404
    await expect_recovery_rejected(session, recovery_url(url, connected))


async def test_no_recovery_after_rest_close(clients: Clients, session: aiohttp.ClientSession, rest: Rest) -> None:
    ws, connected, url = await clients.connect()
    assert await rest.close_connection(connected["connectionId"], reason="closed by server") == 204
    frames, code = await expect_close(ws)
    assert [json.loads(f.data) for f in frames] == [
        {"type": "system", "event": "disconnected", "message": "closed by server"}
    ]
    assert code == 1008  # not 1000: the client must not try to recover (and then report the refusal, not the reason)
    assert await rest.connection_exists(connected["connectionId"]) == 404
    await expect_recovery_rejected(session, recovery_url(url, connected))


async def test_rest_close_while_held_ends_the_session(
    clients: Clients, session: aiohttp.ClientSession, rest: Rest
) -> None:
    ws, connected, url = await clients.connect()
    drop_transport(ws)
    await asyncio.sleep(0.1)
    assert await rest.connection_exists(connected["connectionId"]) == 200
    assert await rest.close_connection(connected["connectionId"]) == 204
    assert await rest.connection_exists(connected["connectionId"]) == 404
    await expect_recovery_rejected(session, recovery_url(url, connected))


async def test_buffer_overflow_by_count_closes_1008(
    clients: Clients, session: aiohttp.ClientSession, rest: Rest
) -> None:
    ws, connected, url = await clients.connect(user_id="slow")
    semaphore = asyncio.Semaphore(16)

    async def send(i: int) -> int:
        async with semaphore:
            return await rest.send_to_user("slow", str(i).encode())

    statuses = await asyncio.gather(*(send(i) for i in range(1000)))  # never acked: the buffer is now full
    assert set(statuses) == {202}
    messages = [await recv_message(ws) for _ in range(1000)]
    assert sorted(m["sequenceId"] for m in messages) == list(range(1, 1001))
    await ws.send_json({"type": "ping"})
    assert await recv_json(ws) == {"type": "pong"}  # 1000 unacked messages still fit

    assert await rest.send_to_user("slow", b"one too many") == 202
    frames, code = await expect_close(ws)
    last = json.loads(frames[-1].data)
    assert last["type"] == "system" and last["event"] == "disconnected", last
    assert code == 1008
    assert await rest.connection_exists(connected["connectionId"]) == 404
    await expect_recovery_rejected(session, recovery_url(url, connected))


async def test_acked_messages_do_not_count_towards_the_buffer(clients: Clients, rest: Rest) -> None:
    ws, _, _ = await clients.connect(user_id="fast")
    semaphore = asyncio.Semaphore(16)

    async def send(i: int) -> int:
        async with semaphore:
            return await rest.send_to_user("fast", str(i).encode())

    for batch in range(3):
        statuses = await asyncio.gather(*(send(i) for i in range(400)))
        assert set(statuses) == {202}
        messages = [await recv_message(ws) for _ in range(400)]
        last = messages[-1]["sequenceId"]
        assert last == 400 * (batch + 1)
        await ws.send_json({"type": "sequenceAck", "sequenceId": last})
        await ws.send_json({"type": "ping"})
        assert await recv_json(ws) == {"type": "pong"}
    await expect_silence(ws, 0.1)


async def test_buffer_overflow_by_size_closes_1008(clients: Clients, rest: Rest) -> None:
    ws, _, _ = await clients.connect(user_id="big")
    body = b"x" * 1_000_000  # under the 1 MB REST body limit

    reader = asyncio.ensure_future(expect_close(ws, timeout=20))
    for _ in range(18):  # 18 MB > 16 MiB, never acked
        assert await rest.send_to_user("big", body) == 202
        if reader.done():
            break
    _, code = await reader
    assert code == 1008
