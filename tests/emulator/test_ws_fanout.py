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
from webpubsub_emulator.core import ConnectionKind, Core, Sequenced
from webpubsub_emulator.protocol import Payload
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
                doc: Dict[str, Any] = await recv_json(ws)
                assert doc["type"] == "message" and doc["from"] == "server", size
                if content_type == "text/plain":
                    assert doc["dataType"] == "text" and doc["data"] == body.decode(), size
                else:
                    assert doc["dataType"] == "binary" and base64.b64decode(doc["data"]) == body, size
                if ws in reliables:
                    assert doc["sequenceId"] == expected_seq[id(ws)], size
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


def test_take_frame_shares_one_text_per_message() -> None:
    core = Core()
    conns = {
        kind: [core.add_connection("h", user_id=None, kind=kind, permissions=PermissionState()) for _ in range(2)]
        for kind in ConnectionKind
    }
    for conn in [c for group in conns.values() for c in group]:
        list(core.pending(conn))  # drop `connected`
    everyone = [c for group in conns.values() for c in group]
    core.deliver(everyone, Payload.text("hi"))
    raw_frames = [core.take_frame(c) for c in conns[ConnectionKind.RAW]]
    json_frames = [core.take_frame(c) for c in conns[ConnectionKind.JSON]]
    reliable_frames = [core.take_frame(c) for c in conns[ConnectionKind.RELIABLE]]
    assert raw_frames[0] == "hi" and raw_frames[0] is raw_frames[1]
    assert isinstance(json_frames[0], str) and json_frames[0] is json_frames[1]
    assert all(isinstance(f, Sequenced) and f.sequence_id == 1 for f in reliable_frames)
    texts: List[str] = [f.text for f in reliable_frames if isinstance(f, Sequenced)]
    assert texts[0] is texts[1] is json_frames[0]
    # next_frame (the same queue) hands out the spliced form
    core.deliver(conns[ConnectionKind.RELIABLE], Payload.text("again"))
    spliced = core.next_frame(conns[ConnectionKind.RELIABLE][0])
    assert isinstance(spliced, str)
    assert json.loads(spliced) == {
        "sequenceId": 2,
        "type": "message",
        "from": "server",
        "dataType": "text",
        "data": "again",
    }
    assert spliced.startswith('{"sequenceId":2,')


def test_idle_connections_allocate_no_buffers() -> None:
    core = Core()
    raw = core.add_connection("h", user_id="u", kind=ConnectionKind.RAW, permissions=PermissionState(["app.role"]))
    assert not hasattr(raw, "__dict__")
    assert raw._queue is None and raw.unacked is None and raw.resend is None and raw.processed_ack_ids is None
    assert raw.groups == set() and len(raw.queue) == 0
    core.join_group(raw, "g")
    assert raw.groups == {"g"}
    core.leave_group(raw, "g")
    assert raw.groups == set()
    reliable = core.add_connection("h", user_id=None, kind=ConnectionKind.RELIABLE, permissions=PermissionState())
    assert reliable.unacked is not None and len(reliable.queue) == 1  # `connected`
