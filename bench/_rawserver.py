"""The raw baseline for the fan-out benchmarks: the least an aiohttp server can do to broadcast.

``GET /ws`` accepts a WebSocket (no auth, no subprotocol); ``POST /broadcast`` sends the request body as a text frame
to every open WebSocket and answers 202. That is the floor the emulator is compared with: the emulator does the same
fan-out plus authentication, validation, routing and per-connection bookkeeping.

Run as ``python -m bench._rawserver --port 0``; it prints ``listening on http://127.0.0.1:<port>``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Set

from aiohttp import WSMsgType, web

SOCKETS: web.AppKey[Set[web.WebSocketResponse]] = web.AppKey("sockets", Set[web.WebSocketResponse])


async def ws_handler(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(autoping=True)
    await ws.prepare(request)
    sockets = request.app[SOCKETS]
    sockets.add(ws)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.ERROR:
                break
    finally:
        sockets.discard(ws)
    return ws


async def broadcast(request: web.Request) -> web.Response:
    text = await request.text()
    for ws in list(request.app[SOCKETS]):
        if not ws.closed:
            await ws.send_str(text)
    return web.Response(status=202)


async def health(request: web.Request) -> web.Response:
    return web.Response(status=200)


def make_app() -> web.Application:
    app = web.Application()
    app[SOCKETS] = set()
    app.router.add_get("/ws", ws_handler)
    app.router.add_post("/broadcast", broadcast)
    app.router.add_route("HEAD", "/health", health)
    return app


async def serve(host: str, port: int) -> None:
    runner = web.AppRunner(make_app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    assert server is not None
    actual = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"listening on http://{host}:{actual}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
