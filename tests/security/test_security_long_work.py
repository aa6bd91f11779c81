"""One authenticated request over many connections never stops the emulator serving others (issue 8, finding 9).

Before, one ``:addToGroups`` over many connections held the event loop until it was done (every other request and
client waited ~22 s), and a 1 MiB filter took ~3.5 s to parse. The emulator runs as its own process here, so that
nothing but its own event loop decides when it answers.
"""

from __future__ import annotations

import asyncio
import json
from typing import List, Tuple

import aiohttp
from security_support import API_VERSION, HUB, cli_emulator, client_url, rest_token

CLIENTS = 150  # fewer than a page of ListConnectionsInGroup: one GET sees the whole membership
GROUPS = 1000


async def _call(
    session: aiohttp.ClientSession, endpoint: str, method: str, path: str, body: bytes = b""
) -> Tuple[int, bytes]:
    url = f"{endpoint}/api/hubs/{HUB}{path}?api-version={API_VERSION}"
    headers = {"Authorization": f"Bearer {rest_token(url)}", "Content-Type": "application/json"}
    async with session.request(method, url, data=body or None, headers=headers) as resp:
        return resp.status, await resp.read()


async def test_batch_membership_over_many_connections_lets_other_requests_be_served() -> None:
    with cli_emulator() as (_proc, endpoint):
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            clients = [await session.ws_connect(client_url(endpoint)) for _ in range(CLIENTS)]
            body = json.dumps({"groups": [f"g{i}" for i in range(GROUPS)]}).encode()
            big = asyncio.ensure_future(_call(session, endpoint, "POST", "/:addToGroups", body))
            seen: List[int] = []
            while not big.done():
                # another request while the batch is under way: answered, and it sees the batch half done
                status, page = await _call(session, endpoint, "GET", "/groups/g0/connections")
                assert status == 200
                seen.append(len(json.loads(page)["value"]))
            assert (await big)[0] == 200
            partial = [n for n in seen if 0 < n < CLIENTS]
            assert partial, f"no request was served while the batch was under way (members seen: {sorted(set(seen))})"
            status, page = await _call(session, endpoint, "GET", f"/groups/g{GROUPS - 1}/connections")
            assert len(json.loads(page)["value"]) == CLIENTS
            for ws in clients:
                await ws.close()


async def test_a_filter_longer_than_the_limit_is_refused_before_it_is_parsed() -> None:
    with cli_emulator() as (_proc, endpoint):
        async with aiohttp.ClientSession() as session:
            values = ",".join("'u'" for _ in range(250_000))  # a 1 MiB filter
            body = json.dumps({"groups": ["g"], "filter": f"userId in ({values})"}).encode()
            status, data = await _call(session, endpoint, "POST", "/:addToGroups", body)
            assert status == 400
            assert "longer than" in json.loads(data)["message"]
