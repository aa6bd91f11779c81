"""Per-connection memory is capped (issue 8, findings 3 and 11): every frame kind counts toward a connection's limits.

Before, acks and pongs were not counted: a client with no role that sent requests and never read grew the process by
hundreds of MiB and was never closed. The ackIds a session remembers and the groups it is in grew without a cap too.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import List

import aiohttp
import pytest
from webpubsub_emulator import Emulator, limits
from ws_support import JSON, RELIABLE, Rest, recv_json

HUB = "limithub"
ROLES = ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"]


async def test_a_client_that_never_reads_its_acks_is_closed_and_its_memory_stays_bounded(
    emu: Emulator, session: aiohttp.ClientSession, rest: Rest
) -> None:
    ws = await session.ws_connect(emu.client_url(HUB), protocols=(JSON,))  # no role: every join is Forbidden
    cid = (await recv_json(ws))["connectionId"]
    other = await session.ws_connect(emu.client_url(HUB, groups=["news"]), protocols=(JSON,))
    await recv_json(other)
    group = "g" * 1000  # each Forbidden ack names the group: about 1.1 KB that the client never reads
    peak = 0
    for ack_id in range(40_000):
        await ws.send_str(json.dumps({"type": "joinGroup", "group": group, "ackId": ack_id}))
        if ack_id % 100 == 0:
            await asyncio.sleep(0)  # the emulator runs on this loop: let it read
            conn = emu.core.connection(HUB, cid)
            if conn is None:
                break
            if conn.outbox is not None:
                peak = max(peak, len(conn.outbox))  # frames waiting for the client
        if ack_id % 1000 == 0:
            await ws.send_str(json.dumps({"type": "ping"}))  # pongs count too
    assert emu.core.connection(HUB, cid) is None, "the client that never reads was not closed"
    assert peak <= limits.CONTROL_MAX_FRAMES
    # the other client never noticed
    assert await rest.send_to_group("news", b"hi") == 202
    assert (await recv_json(other))["data"] == "hi"


async def test_remembered_ack_ids_are_capped_to_the_newest(
    emu: Emulator, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    cap = 50
    # raising=False: run against an emulator without the cap, the test still runs (and fails on its assertions)
    monkeypatch.setattr(limits, "MAX_REMEMBERED_ACK_IDS", cap, raising=False)
    ws = await session.ws_connect(emu.client_url(HUB, roles=ROLES), protocols=(JSON,))
    cid = (await recv_json(ws))["connectionId"]

    async def send(ack_id: int) -> dict:
        await ws.send_str(json.dumps({"type": "sendToGroup", "group": "nobody", "ackId": ack_id, "data": 1}))
        return await recv_json(ws)

    for ack_id in range(1, 3 * cap + 1):
        assert (await send(ack_id))["success"] is True
    conn = emu.core.connection(HUB, cid)
    assert conn is not None and conn.processed_ack_ids is not None
    assert len(conn.processed_ack_ids) == cap  # the memory of one connection does not grow with its requests
    assert (await send(3 * cap))["error"]["name"] == "Duplicate"  # the newest are remembered
    assert (await send(1))["success"] is True  # the oldest were forgotten: processed again


async def test_groups_per_connection_are_capped(
    emu: Emulator, session: aiohttp.ClientSession, rest: Rest, monkeypatch: pytest.MonkeyPatch
) -> None:
    cap = 20
    monkeypatch.setattr(limits, "MAX_GROUPS_PER_CONNECTION", cap, raising=False)  # as above
    ws = await session.ws_connect(emu.client_url(HUB, roles=ROLES), protocols=(JSON,))
    cid = (await recv_json(ws))["connectionId"]
    for i in range(cap):
        await ws.send_str(json.dumps({"type": "joinGroup", "group": f"g{i}", "ackId": i + 1}))
        assert (await recv_json(ws))["success"] is True
    await ws.send_str(json.dumps({"type": "joinGroup", "group": "one-more", "ackId": 100}))
    ack = await recv_json(ws)
    assert ack["success"] is False and ack["error"]["name"] == "BadRequest", ack
    assert str(cap) in ack["error"]["message"]
    await ws.send_str(json.dumps({"type": "joinGroup", "group": "g0", "ackId": 101}))
    assert (await recv_json(ws))["success"] is True  # joining a group it is in is still fine
    status, body = await rest.call("PUT", f"/groups/one-more/connections/{cid}")
    assert status == 400 and str(cap) in json.loads(body)["message"]
    status, body = await rest.call(
        "POST", "/:addToGroups", body=json.dumps({"groups": ["x1", "x2"]}).encode(), content_type="application/json"
    )
    assert status == 400 and str(cap) in json.loads(body)["message"]
    conn = emu.core.connection(HUB, cid)
    assert conn is not None and len(conn.groups) == cap and "x1" not in conn.groups  # nothing half-applied
    # leaving one makes room again
    await ws.send_str(json.dumps({"type": "leaveGroup", "group": "g0", "ackId": 102}))
    assert (await recv_json(ws))["success"] is True
    assert (await rest.call("PUT", f"/groups/one-more/connections/{cid}"))[0] == 200


async def test_token_or_batch_with_more_groups_than_a_connection_may_join_is_400(
    emu: Emulator, session: aiohttp.ClientSession, rest: Rest
) -> None:
    groups: List[str] = [f"g{i}" for i in range(limits.MAX_GROUPS_PER_CONNECTION + 1)]
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await session.ws_connect(emu.client_url(HUB, groups=groups), protocols=(RELIABLE,))
    assert info.value.status == 400
    too_many = {"groups": [f"g{i}" for i in range(limits.MAX_BATCH_GROUPS + 1)]}
    status, _ = await rest.call(
        "POST", "/:addToGroups", body=json.dumps(too_many).encode(), content_type="application/json"
    )
    assert status == 400


def _shown(name: str, value: float) -> str:
    """A limit's value as the README's Limits table shows it."""
    if name.endswith("_BYTES"):
        number = int(value)
        if number % (1 << 20) == 0:
            return f"{number >> 20} MiB"
        if number % 1024 == 0:
            return f"{number >> 10} KiB"
        return f"{number} bytes"
    if name.endswith("_SECONDS"):
        return f"{value:g} s"
    return f"{int(value):,}"


def test_every_limit_is_documented_in_the_readme_with_its_value() -> None:
    readme = (Path(__file__).resolve().parents[2] / "emulator" / "README.md").read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| `([A-Z_]+)` \| ([^|]+?) \|", readme, flags=re.MULTILINE))
    constants = {name: getattr(limits, name) for name in limits.__all__ if name.isupper()}
    assert set(table) == set(constants), "the README's Limits table and limits.py name different limits"
    for name, value in constants.items():
        assert table[name] == _shown(name, value), name
