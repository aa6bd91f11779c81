"""Message TTL (``messageTtlSeconds``) with a slow client that stops reading and a fast one that keeps up.

Time is the emulator's injectable clock, so nothing sleeps: the test fills the slow client's socket until the
emulator's writer for it is blocked, queues messages with and without a TTL behind that, moves the clock past the short
TTL, and lets the slow client read again.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Dict, List

import aiohttp
import pytest
from faults_support import NumberSender
from webpubsub_emulator import Emulator

HUB = "ttl"
JSON_PROTOCOL = "json.webpubsub.azure.v1"
FILLER = "f" * (900 * 1024)  # just under the 1 MiB REST body limit
TIMEOUT = 10.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def read_messages(ws: aiohttp.ClientWebSocketResponse, until: str) -> List[str]:
    """The data of every ``message`` up to and including ``until`` (fillers left out)."""
    seen: List[str] = []
    while True:
        msg = await asyncio.wait_for(ws.receive(), TIMEOUT)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        data: Dict[str, Any] = json.loads(msg.data)
        if data.get("type") != "message" or data["data"] == FILLER:
            continue
        seen.append(data["data"])
        if data["data"] == until:
            return seen


async def test_only_expired_messages_are_dropped_and_only_for_the_slow_client() -> None:
    clock = FakeClock()
    async with Emulator(clock=clock) as emu, aiohttp.ClientSession() as session:
        slow = await session.ws_connect(emu.client_url(HUB, user_id="slow"), protocols=(JSON_PROTOCOL,))
        fast = await session.ws_connect(emu.client_url(HUB, user_id="fast"), protocols=(JSON_PROTOCOL,))
        slow_id = json.loads((await slow.receive()).data)["connectionId"]
        assert json.loads((await fast.receive()).data)["event"] == "connected"
        fast_reading = asyncio.create_task(read_messages(fast, until="end"))
        sender = NumberSender(session, emu.endpoint, emu.access_key, HUB, "/:send")

        # the slow client does not read: fill its socket until the emulator's writer for it is stuck with a backlog
        slow_conn = emu.core.connection(HUB, slow_id)
        assert slow_conn is not None
        for _ in range(200):
            await sender.send(FILLER)
            if slow_conn.outbox is not None and len(slow_conn.outbox) >= 3:
                break
        else:
            raise AssertionError("the slow client's writer never blocked")

        # behind that backlog: a short TTL, no TTL and a TTL that will not pass, interleaved
        expected_slow: List[str] = []
        everything: List[str] = []
        for i in range(5):
            await sender.send(f"short-{i}", ttl=10)
            await sender.send(f"none-{i}")
            await sender.send(f"long-{i}", ttl=300)
            everything += [f"short-{i}", f"none-{i}", f"long-{i}"]
            expected_slow += [f"none-{i}", f"long-{i}"]
        waiting = slow_conn.outbox
        assert waiting is not None and len(waiting) >= 15  # all still waiting in the emulator, none written yet

        clock.now += 11  # the short TTL passes, the long one does not
        await sender.send("end")

        assert await read_messages(slow, until="end") == [*expected_slow, "end"]
        assert await asyncio.wait_for(fast_reading, TIMEOUT) == [*everything, "end"]
        await slow.close()
        await fast.close()


async def test_slow_clients_work_without_aiohttps_private_drain_helper(monkeypatch: pytest.MonkeyPatch) -> None:
    """The emulator waits on aiohttp's private ``_drain_helper``; without it, it polls the writing-paused flag."""
    from webpubsub_emulator import frame_writer

    # hidden from the emulator only: aiohttp's own WebSocket writer still needs it on aiohttp 3.10
    monkeypatch.setattr(frame_writer, "_DRAIN_HELPER", "_no_drain_helper_in_this_aiohttp")
    await test_only_expired_messages_are_dropped_and_only_for_the_slow_client()
