"""(c) fan-out, (d) idle-connection scale and (e) scaling curves: the emulator versus a raw aiohttp broadcast server.

Both servers run as child processes; the WebSocket clients are raw ``aiohttp`` clients in this process.

* Fan-out: N clients connect; the sender makes M broadcast REST calls (at most ``WINDOW`` outstanding, counted until
  every client has the message). Each client stamps the arrival; latency = arrival - the moment the REST call began.
  Throughput = deliveries / (last arrival - first call). The emulator gets ``POST /api/hubs/bench/:send`` (text/plain,
  signed JWT, delivered to raw clients as text frames); the raw server gets ``POST /broadcast``.
* Scale: the server's RSS (``/proc/<pid>/status``) after one warm-up connection and broadcast, then after N idle
  connections have settled; the difference divided by N. Connect time is the wall time to open all N (at most
  ``CONNECT_CONCURRENCY`` handshakes in flight).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable, ContextManager, Dict, List, Optional

import aiohttp

from ._common import (
    API_VERSION,
    HUB,
    Broadcasts,
    ServerProcess,
    client_ws_url,
    emulator_process,
    raise_nofile,
    raw_server_process,
    rest_token,
    rss_kib,
    safe_ratio,
    status,
)

WINDOW = 2
CONNECT_CONCURRENCY = 200
SETTLE_SECONDS = 0.5


@dataclass
class Point:
    server: str
    connections: int
    messages: int
    connect_s: float = float("nan")
    rss_delta_kib_per_connection: float = float("nan")
    msgs_per_s: float = float("nan")
    latency_p50_ms: float = float("nan")
    latency_p99_ms: float = float("nan")
    delivered_fraction: float = float("nan")
    #: the server's CPU time over the broadcasts (when _measure was given a ``cpu`` reading)
    cpu_s: float = float("nan")
    notes: List[str] = field(default_factory=list)


@dataclass
class _Target:
    ws_url: Callable[[], str]
    broadcast: Callable[[aiohttp.ClientSession, int], Awaitable[None]]


def rest_broadcast(endpoint: str) -> Callable[[aiohttp.ClientSession, int], Awaitable[None]]:
    """The emulator's broadcast: ``POST /api/hubs/bench/:send`` with the sequence number as text, signed afresh."""
    url = f"{endpoint}/api/hubs/{HUB}/:send?api-version={API_VERSION}"

    async def broadcast(session: aiohttp.ClientSession, seq: int) -> None:
        headers = {"Authorization": "Bearer " + rest_token(url), "Content-Type": "text/plain"}
        async with session.post(url, data=str(seq).encode(), headers=headers) as response:
            await response.read()
            if response.status != 202:
                raise RuntimeError(f"emulator :send answered {response.status}")

    return broadcast


def _emulator_target(server: ServerProcess) -> _Target:
    ws = client_ws_url(server.endpoint)
    return _Target(lambda: ws, rest_broadcast(server.endpoint))


def _raw_target(server: ServerProcess) -> _Target:
    url = f"{server.endpoint}/broadcast"
    ws = server.endpoint.replace("http://", "ws://", 1) + "/ws"

    async def broadcast(session: aiohttp.ClientSession, seq: int) -> None:
        async with session.post(url, data=str(seq).encode()) as response:
            await response.read()
            if response.status != 202:
                raise RuntimeError(f"raw /broadcast answered {response.status}")

    return _Target(lambda: ws, broadcast)


async def _measure(
    server: ServerProcess,
    target: _Target,
    n: int,
    messages: int,
    point: Point,
    cpu: Optional[Callable[[], float]] = None,
) -> None:
    """Connect ``n`` clients and make ``messages`` broadcasts (``cpu``: a reading of the server's CPU seconds, taken
    around the broadcasts into ``point.cpu_s``)."""
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        sockets: List[aiohttp.ClientWebSocketResponse] = []
        receivers: List[asyncio.Task] = []
        run = Broadcasts(n)

        async def receive(ws: aiohttp.ClientWebSocketResponse) -> None:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    seq = int(msg.data)
                except ValueError:
                    continue
                run.arrived(seq)

        sem = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def connect_one() -> None:
            async with sem:
                ws = await session.ws_connect(target.ws_url(), autoping=True, max_msg_size=0)
            sockets.append(ws)
            receivers.append(asyncio.create_task(receive(ws)))

        try:
            # Warm-up: one connection and one broadcast, so that lazy imports and first-use caches are not counted.
            await connect_one()
            await target.broadcast(session, -1)
            await asyncio.sleep(SETTLE_SECONDS)
            rss_before = rss_kib(server.pid)
            start = time.perf_counter()
            await asyncio.gather(*(connect_one() for _ in range(n - 1)))
            point.connect_s = time.perf_counter() - start
            await asyncio.sleep(SETTLE_SECONDS)
            point.rss_delta_kib_per_connection = (rss_kib(server.pid) - rss_before) / max(1, n - 1)

            if messages:
                cpu_before = cpu() if cpu is not None else 0.0
                figures = await run.run(lambda seq: target.broadcast(session, seq), messages, WINDOW, 10.0 + n / 500.0)
                if cpu is not None:
                    point.cpu_s = cpu() - cpu_before
                point.delivered_fraction = figures.delivered_fraction
                point.msgs_per_s, point.latency_p50_ms = figures.msgs_per_s, figures.latency_p50_ms
                point.latency_p99_ms = figures.latency_p99_ms
                if figures.note is not None:
                    point.notes.append(figures.note)
        finally:
            close_sem = asyncio.Semaphore(500)

            async def close(ws: aiohttp.ClientWebSocketResponse) -> None:
                async with close_sem:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(ws.close(), 5)

            await asyncio.gather(*(close(ws) for ws in sockets))
            for task in receivers:
                task.cancel()
            await asyncio.gather(*receivers, return_exceptions=True)


def measure_point(kind: str, n: int, messages: int) -> Point:
    """Start a fresh server of ``kind`` ("emulator" or "raw"), connect ``n`` clients, broadcast ``messages``."""
    raise_nofile(2 * n + 1024)
    factory: Callable[[], ContextManager[ServerProcess]] = (
        emulator_process if kind == "emulator" else raw_server_process
    )
    point = Point(kind, n, messages)
    with factory() as server:
        target = _emulator_target(server) if kind == "emulator" else _raw_target(server)
        status(f"{kind}: {n} connections, {messages} broadcasts (pid {server.pid})")
        asyncio.run(_measure(server, target, n, messages, point))
        if server.proc.poll() is not None:
            point.notes.append(f"{kind} exited with {server.proc.returncode} during the run")
    for note in point.notes:
        status(f"NOTE {kind} n={n}: {note}")
    return point


def messages_for(n: int, quick: bool) -> int:
    if quick:
        return 3
    return max(5, min(200, 100_000 // n))


def pair(n: int, messages: int) -> Dict[str, Point]:
    return {kind: measure_point(kind, n, messages) for kind in ("raw", "emulator")}


def ratio(emulator: Optional[float], raw: Optional[float]) -> float:
    return safe_ratio(emulator or 0.0, raw or 0.0)
