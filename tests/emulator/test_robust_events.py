"""Acks keep flowing while a user event waits upstream, and events stay in order (issue 8, finding 6).

Before, the connection's reader awaited the handler's answer: a slow user event blocked the client's ``sequenceAck``
frames, so a reliable client that acknowledged everything was closed for "buffer full" while its event waited. Now
events wait in the connection's own queue (sent one at a time, in order) and the reader keeps reading.
"""

from __future__ import annotations

import asyncio
import json
from typing import AsyncIterator

import aiohttp
import pytest
from upstream_support import HandlerServer
from webpubsub_emulator import Emulator, EventHandler, limits
from ws_support import JSON, RELIABLE, Rest, expect_silence, recv_json

HUB = "eventhub"


@pytest.fixture(autouse=True)
async def held(handler: HandlerServer) -> None:
    """Every user event waits at the handler until the test releases it."""
    handler.hold = asyncio.get_running_loop().create_future()


@pytest.fixture
async def emulator(handler: HandlerServer) -> AsyncIterator[Emulator]:
    async with Emulator(event_handlers={HUB: [EventHandler(handler.url, "*", frozenset())]}) as emu:
        yield emu


def event(ack_id: int, name: str = "slow") -> str:
    return json.dumps({"type": "event", "event": name, "ackId": ack_id, "dataType": "text", "data": str(ack_id)})


async def held_events(handler: HandlerServer, count: int) -> None:
    """Wait until ``count`` events wait at the handler."""
    for _ in range(200):
        if handler.waiting >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{handler.waiting} events wait at the handler, not {count}")


async def test_a_reliable_client_acks_its_messages_while_its_event_waits(
    emulator: Emulator, handler: HandlerServer, session: aiohttp.ClientSession
) -> None:
    rest = Rest(session, emulator.endpoint, emulator.access_key, HUB)
    ws = await session.ws_connect(emulator.client_url(HUB, user_id="r"), protocols=(RELIABLE,))
    cid = (await recv_json(ws))["connectionId"]
    await ws.send_str(event(1))
    await held_events(handler, 1)
    total = limits.BUFFER_MAX_MESSAGES + 100  # more than the buffer holds unacknowledged
    for n in range(1, total + 1):
        assert await rest.send_to_connection(cid, str(n).encode()) == 202
        msg = await recv_json(ws)
        assert (msg.get("type"), msg.get("sequenceId")) == ("message", n), msg
        if n % 50 == 0:
            await ws.send_str(json.dumps({"type": "sequenceAck", "sequenceId": n}))
    await ws.send_str(json.dumps({"type": "ping"}))
    assert await recv_json(ws) == {"type": "pong"}  # answered while the event still waits
    assert handler.waiting == 1
    assert handler.hold is not None
    handler.hold.set_result(None)
    assert await recv_json(ws) == {"type": "ack", "ackId": 1, "success": True}
    assert await rest.connection_exists(cid) == 200


async def test_user_events_go_upstream_one_at_a_time_in_order(
    emulator: Emulator, handler: HandlerServer, session: aiohttp.ClientSession
) -> None:
    ws = await session.ws_connect(emulator.client_url(HUB), protocols=(JSON,))
    await recv_json(ws)
    for ack_id in (1, 2, 3):
        await ws.send_str(event(ack_id, f"e{ack_id}"))
    await held_events(handler, 1)
    await ws.send_str(json.dumps({"type": "ping"}))
    assert await recv_json(ws) == {"type": "pong"}  # the reader went on
    assert [path.rsplit("/", 1)[1] for path in handler.paths("POST")] == ["e1"]  # the others wait their turn
    assert handler.hold is not None
    handler.hold.set_result(None)
    acks = [await recv_json(ws) for _ in range(3)]
    assert [a["ackId"] for a in acks] == [1, 2, 3] and all(a["success"] for a in acks)
    assert [path.rsplit("/", 1)[1] for path in handler.paths("POST")] == ["e1", "e2", "e3"]


async def test_events_waiting_are_bounded_then_the_reader_waits(
    handler: HandlerServer, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    cap = 3
    monkeypatch.setattr(limits, "EVENT_QUEUE_MAX_EVENTS", cap, raising=False)  # as in test_robust_limits
    async with Emulator(event_handlers={HUB: [EventHandler(handler.url, "*", frozenset())]}) as emu:
        ws = await session.ws_connect(emu.client_url(HUB), protocols=(JSON,))
        cid = (await recv_json(ws))["connectionId"]
        for ack_id in range(1, cap + 2):  # one at the handler, `cap` waiting: the reader stops after those
            await ws.send_str(event(ack_id))
        await held_events(handler, 1)
        await ws.send_str(json.dumps({"type": "ping"}))
        await expect_silence(ws, 0.3)  # not read yet: the client is pushed back on, nothing piles up
        assert len(handler.paths("POST")) == 1
        assert handler.hold is not None
        handler.hold.set_result(None)
        seen = [await recv_json(ws) for _ in range(cap + 2)]
        assert [m.get("ackId") for m in seen if m["type"] == "ack"] == list(range(1, cap + 2))
        assert {"type": "pong"} in seen
        assert await Rest(session, emu.endpoint, emu.access_key, HUB).connection_exists(cid) == 200
