"""Long work yields to the event loop (issue 8, finding 9): other clients and requests are served meanwhile.

Before, one ``:addToGroups`` over many connections held the loop until it was done (every other request and client
waited ~22 s), and a 1 MiB filter took ~3.5 s to parse. Now work over many connections is done in slices with the
loop free between them, a fan-out to many connections is carried out slice by slice in order, and a filter longer
than the limit is refused before it is parsed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Iterator, List

import aiohttp
import pytest
from core_support import messages, open_session
from webpubsub_emulator import EmulatorThread, limits
from webpubsub_emulator.core import Core
from webpubsub_emulator.protocol import Payload
from webpubsub_emulator.session import Session
from ws_support import Rest

HUB = "longhub"
CLIENTS = 150  # fewer than a page of ListConnectionsInGroup: one GET sees the whole membership
GROUPS = 1000


@pytest.fixture
def threaded() -> Iterator[EmulatorThread]:
    with EmulatorThread(port=0) as emu:
        yield emu


async def test_batch_membership_over_many_connections_lets_other_requests_be_served(threaded: EmulatorThread) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        rest = Rest(session, threaded.endpoint, threaded.access_key, HUB)
        clients = [await session.ws_connect(threaded.client_url(HUB)) for _ in range(CLIENTS)]
        body = json.dumps({"groups": [f"g{i}" for i in range(GROUPS)]}).encode()
        big = asyncio.ensure_future(rest.call("POST", "/:addToGroups", body=body, content_type="application/json"))
        seen: List[int] = []
        while not big.done():
            # another request while the batch is under way: it is answered, and it can see the batch half done
            status, page = await rest.call("GET", "/groups/g0/connections")
            assert status == 200
            seen.append(len(json.loads(page)["value"]))
        assert (await big)[0] == 200
        partial = [n for n in seen if 0 < n < CLIENTS]
        assert partial, f"no request was served while the batch was under way (members seen: {sorted(set(seen))})"
        status, page = await rest.call("GET", f"/groups/g{GROUPS - 1}/connections")
        assert len(json.loads(page)["value"]) == CLIENTS
        for ws in clients:
            await ws.close()


async def test_a_filter_longer_than_the_limit_is_refused_before_it_is_parsed(threaded: EmulatorThread) -> None:
    async with aiohttp.ClientSession() as session:
        rest = Rest(session, threaded.endpoint, threaded.access_key, HUB)
        values = ",".join("'u'" for _ in range(250_000))  # a 1 MiB filter
        body = json.dumps({"groups": ["g"], "filter": f"userId in ({values})"}).encode()
        status, data = await rest.call("POST", "/:addToGroups", body=body, content_type="application/json")
        assert status == 400
        assert "longer than" in json.loads(data)["message"]


def _targets(core: Core, count: int) -> List[Session]:
    return [open_session(core, user=f"u{i}") for i in range(count)]


def _data(core: Core, session: Session) -> List[Any]:
    return [m["data"] for m in messages(core, session)]


def test_a_large_fan_out_is_carried_out_in_slices_and_in_order() -> None:
    core = Core()
    size = limits.WORK_SLICE
    targets = _targets(core, 3 * size)
    assert core.deliver(targets, Payload.text("first")) == 0  # too many for one go: parked
    last = targets[-1]
    assert core.deliver([last], Payload.text("second")) == 0  # parked behind the first, so that order is kept
    assert core.backlog == 2
    assert core.drain() is True  # one slice, then the loop is free again
    assert all(_data(core, s) == ["first"] for s in targets[:size])
    assert _data(core, targets[size]) == []  # not yet
    while core.drain():
        pass
    assert core.backlog == 0
    assert all(_data(core, s) == ["first"] for s in targets[size:-1])
    assert _data(core, last) == ["first", "second"]


def test_a_small_fan_out_is_delivered_at_once() -> None:
    core = Core()
    targets = _targets(core, 3)
    assert core.deliver(targets, Payload.text("now")) == 3
    assert core.backlog == 0
    assert all(_data(core, s) == ["now"] for s in targets)
