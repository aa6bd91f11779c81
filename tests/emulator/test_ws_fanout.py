"""Fan-out writes: a message sent to many connections of every kind is framed once and spliced per reliable client.

The emulator writes frames itself (header + shared payload) while a socket takes data, so these tests check the frames
byte for byte from the clients' side around every WebSocket length boundary (125/126, 65535/65536), for raw, JSON and
reliable clients in the same fan-out.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any, Dict, List
from urllib.parse import quote

import aiohttp
from core_support import frames
from webpubsub_emulator.core import Core
from webpubsub_emulator.json_clients import JSON as JSON_CLIENTS
from webpubsub_emulator.outbox import Outbox, Sequenced
from webpubsub_emulator.protocol import Payload
from webpubsub_emulator.raw_clients import RAW, SEND_EVENT
from webpubsub_emulator.reliable_clients import RELIABLE as RELIABLE_CLIENTS
from webpubsub_emulator.reliable_clients import ReliableBuffer
from webpubsub_emulator.roles import PermissionState
from ws_support import JSON, RELIABLE, ClientPool, Rest, drop_transport, recv, recv_json

HUB = "fanouthub"
SIZES = (1, 100, 110, 125, 126, 127, 200, 65_400, 65_535, 65_536, 70_000)


def body_of(size: int, tag: str) -> bytes:
    return (tag * size)[:size].encode("ascii")


async def test_mixed_fan_out_frames_every_size_correctly(clients: ClientPool, rest: Rest) -> None:
    raws = [await clients.open_url(clients.url()) for _ in range(2)]
    jsons = [(await clients.subprotocol(JSON))[0] for _ in range(2)]
    reliables = [(await clients.subprotocol(RELIABLE))[0] for _ in range(2)]
    expected_seq = {id(ws): 1 for ws in reliables}
    for size in SIZES:
        for content_type, tag in (("text/plain", "t"), ("application/octet-stream", "b")):
            body = body_of(size, tag)
            assert await rest.send_to_all(body, content_type) == 202
            for ws in raws:
                msg = await recv(ws)
                if content_type == "text/plain":
                    assert msg.type == aiohttp.WSMsgType.TEXT and msg.data == body.decode(), size
                else:
                    assert msg.type == aiohttp.WSMsgType.BINARY and msg.data == body, size
            for ws in [*jsons, *reliables]:
                frame = await recv(ws)
                assert frame.type == aiohttp.WSMsgType.TEXT, size
                doc: Dict[str, Any] = json.loads(frame.data)
                assert doc["type"] == "message" and doc["from"] == "server", size
                if content_type == "text/plain":
                    assert doc["dataType"] == "text" and doc["data"] == body.decode(), size
                else:
                    assert doc["dataType"] == "binary" and base64.b64decode(doc["data"]) == body, size
                if ws in reliables:
                    assert doc["sequenceId"] == expected_seq[id(ws)], size
                    # spliced in by the frame writer, as the first member
                    assert frame.data.startswith(f'{{"sequenceId":{expected_seq[id(ws)]},"type":"message"'), size
                    expected_seq[id(ws)] += 1
                else:
                    assert "sequenceId" not in doc


async def test_reliable_fan_out_then_recovery_resends_spliced_frames(clients: ClientPool, rest: Rest) -> None:
    ws_a, connected_a, url_a = await clients.subprotocol(RELIABLE)
    ws_b, _connected_b, _ = await clients.subprotocol(RELIABLE)
    for i in range(3):
        assert await rest.send_to_all(f"m{i}".encode()) == 202
    for ws in (ws_a, ws_b):
        seen = [await recv_json(ws) for _ in range(3)]
        assert [(m["sequenceId"], m["data"]) for m in seen] == [(1, "m0"), (2, "m1"), (3, "m2")]
    drop_transport(ws_a)
    await asyncio.sleep(0.1)
    assert await rest.send_to_all(b"m3") == 202
    assert (await recv_json(ws_b))["sequenceId"] == 4
    recovered = await clients.open_url(
        f"{url_a}&awps_connection_id={quote(connected_a['connectionId'], safe='')}"
        f"&awps_reconnection_token={quote(connected_a['reconnectionToken'], safe='')}",
        (RELIABLE,),
    )
    again = [await recv_json(recovered) for _ in range(4)]
    assert [(m["sequenceId"], m["data"]) for m in again] == [(1, "m0"), (2, "m1"), (3, "m2"), (4, "m3")]
    assert all(m["type"] == "message" and m["from"] == "server" for m in again)


def test_take_shares_one_text_per_message() -> None:
    core = Core()
    conns = {
        kind: [core.open_session("h", user_id=None, kind=kind, permissions=PermissionState()) for _ in range(2)]
        for kind in (RAW, JSON_CLIENTS, RELIABLE_CLIENTS)
    }
    for conn in [c for group in conns.values() for c in group]:
        frames(core, conn)  # drop `connected`
    everyone = [c for group in conns.values() for c in group]
    core.deliver(everyone, Payload.text("hi"))
    raw_frames = [c.take(core.clock) for c in conns[RAW]]
    json_frames = [c.take(core.clock) for c in conns[JSON_CLIENTS]]
    reliable_frames = [c.take(core.clock) for c in conns[RELIABLE_CLIENTS]]
    assert raw_frames[0] == "hi" and raw_frames[0] is raw_frames[1]
    assert isinstance(json_frames[0], str) and json_frames[0] is json_frames[1]
    assert all(isinstance(f, Sequenced) and f.sequence_id == 1 for f in reliable_frames)
    texts: List[str] = [f.text for f in reliable_frames if isinstance(f, Sequenced)]
    assert texts[0] is texts[1] is json_frames[0]
    # the next message gets the next sequence id; the frame writer splices it in (see the fan-out test above)
    core.deliver(conns[RELIABLE_CLIENTS], Payload.text("again"))
    sequenced = conns[RELIABLE_CLIENTS][0].take(core.clock)
    assert isinstance(sequenced, Sequenced) and sequenced.sequence_id == 2
    assert json.loads(sequenced.text) == {"type": "message", "from": "server", "dataType": "text", "data": "again"}


def test_idle_connections_allocate_no_buffers() -> None:
    core = Core()
    raw = core.open_session("h", user_id="u", kind=RAW, permissions=PermissionState(["app.role"]))
    assert not hasattr(raw, "__dict__")
    # no outbox (queue, replay), no reliable buffer (the shared mode constant), no processed ack ids
    assert raw.outbox is None and raw.kind_state is SEND_EVENT and raw.processed_ack_ids is None
    assert raw.groups == set()
    core.join_group(raw, "g")
    assert raw.groups == {"g"}
    core.leave_group(raw, "g")
    assert raw.groups == set()
    reliable = core.open_session("h", user_id=None, kind=RELIABLE_CLIENTS, permissions=PermissionState())
    assert isinstance(reliable.kind_state, ReliableBuffer) and not hasattr(reliable.kind_state, "__dict__")
    assert isinstance(reliable.outbox, Outbox) and not hasattr(reliable.outbox, "__dict__")
    assert len(reliable.outbox) == 1  # `connected`
