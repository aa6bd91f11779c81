"""The emulator's ack delay (``ack_delay``, default 5 ms).

azure-messaging-webpubsubclient 1.1.0 starts waiting for an ack only after it has sent the request; an ack that comes
back before that is missed and the call returns only when its ``ack_timeout`` (30 s by default) runs out. The real
service never answers within microseconds; the emulator holds acks back a little so the official client works with its
defaults. The delay applies to acks only: other frames are not held up, and acks keep their order.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Dict, Iterator

import aiohttp
import pytest
from azure.messaging.webpubsubclient import WebPubSubClient, WebPubSubClientCredential
from azure.messaging.webpubsubclient.models import WebPubSubDataType
from webpubsub_emulator import Emulator, EmulatorThread
from webpubsub_emulator.cli import parse_args

JSON_PROTOCOL = "json.webpubsub.azure.v1"
ROLES = ("webpubsub.joinLeaveGroup", "webpubsub.sendToGroup")
#: far below the client's 30 s ack timeout, far above what a prompt ack needs
BOUND_SECONDS = 5.0


@pytest.fixture
def emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread() as emu:  # the default ack delay
        yield emu


# closing the official client can leave its sequenceAck thread writing to the closed socket (its noise, not a failure)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_official_client_calls_return_promptly_with_the_default_ack_timeout(emulator: EmulatorThread) -> None:
    client = WebPubSubClient(WebPubSubClientCredential(emulator.client_url("acks", roles=ROLES)))  # ack_timeout 30 s
    client.open()
    try:
        for i in range(10):
            started = time.monotonic()
            client.join_group(f"group-{i}")
            client.send_to_group(f"group-{i}", {"n": i}, WebPubSubDataType.JSON)
            client.leave_group(f"group-{i}")
            took = time.monotonic() - started
            assert took < BOUND_SECONDS, f"round {i} took {took:.1f} s: an ack was missed"
    finally:
        client.close()


async def recv_json(ws: aiohttp.ClientWebSocketResponse) -> Dict[str, Any]:
    msg = await asyncio.wait_for(ws.receive(), 5)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    value: Dict[str, Any] = json.loads(msg.data)
    return value


async def test_acks_are_delayed_in_order_without_holding_up_other_frames() -> None:
    async with Emulator(ack_delay=0.3) as emu, aiohttp.ClientSession() as session:
        ws = await session.ws_connect(emu.client_url("acks", roles=ROLES), protocols=(JSON_PROTOCOL,))
        assert (await recv_json(ws))["event"] == "connected"
        started = time.monotonic()
        await ws.send_str(json.dumps({"type": "joinGroup", "group": "g", "ackId": 1}))
        await ws.send_str(json.dumps({"type": "sendToGroup", "group": "g", "ackId": 2, "data": "hi"}))
        await ws.send_str(json.dumps({"type": "joinGroup", "group": "", "ackId": 3}))  # BadRequest
        await ws.send_str(json.dumps({"type": "joinGroup", "group": "g", "ackId": 1}))  # Duplicate
        await ws.send_str(json.dumps({"type": "ping"}))
        # the group message and the pong are not held back by the pending acks
        assert (await recv_json(ws))["data"] == "hi"
        assert (await recv_json(ws))["type"] == "pong"
        assert time.monotonic() - started < 0.3
        acks = [await recv_json(ws) for _ in range(4)]
        assert time.monotonic() - started >= 0.3
        assert [(a["ackId"], a["success"], a.get("error", {}).get("name")) for a in acks] == [
            (1, True, None),
            (2, True, None),
            (3, False, "BadRequest"),
            (1, False, "Duplicate"),
        ]
        await ws.close()


async def test_ack_delay_zero_acks_at_once() -> None:
    async with Emulator(ack_delay=0) as emu, aiohttp.ClientSession() as session:
        ws = await session.ws_connect(emu.client_url("acks", roles=ROLES), protocols=(JSON_PROTOCOL,))
        assert (await recv_json(ws))["event"] == "connected"
        await ws.send_str(json.dumps({"type": "joinGroup", "group": "g", "ackId": 1}))
        await ws.send_str(json.dumps({"type": "ping"}))
        assert (await recv_json(ws))["type"] == "ack"  # queued before the pong
        assert (await recv_json(ws))["type"] == "pong"
        await ws.close()


def test_ack_delay_options() -> None:
    assert Emulator().ack_delay == 0.005
    assert Emulator(ack_delay=0).ack_delay == 0
    with pytest.raises(ValueError):
        Emulator(ack_delay=-1)
    assert parse_args([]).ack_delay_ms == 5.0
    assert parse_args(["--ack-delay-ms", "0"]).ack_delay_ms == 0
    with pytest.raises(SystemExit):
        parse_args(["--ack-delay-ms", "-3"])
