"""A tiny application server standing in for an app's event handler: it records every request the emulator sends and
answers what the test tells it to (over real HTTP, on a free loopback port).

``HandlerServer.url`` is the template to configure (``http://127.0.0.1:PORT/events/{event}``); every path is served,
so a request the emulator should never send (another path, a redirect target) is recorded too. ``hold`` makes the
user-event answers wait until the test releases them; ``respond`` replaces the answer altogether.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator, Awaitable, Callable, Dict, List, Optional, Tuple

from aiohttp import web

__all__ = ["HandlerServer", "Reply", "handler_server"]

#: status, body, Content-Type, extra headers
Reply = Tuple[int, bytes, Optional[str], Dict[str, str]]


class HandlerServer:
    """Records ``(method, path, headers, body)`` of every request; answers OPTIONS with ``allowed_origin``."""

    def __init__(self) -> None:
        self.requests: List[Tuple[str, str, Dict[str, str], bytes]] = []
        self.connect_reply: Reply = (204, b"", None, {})
        self.event_reply: Reply = (204, b"", None, {})
        #: the ``WebHook-Allowed-Origin`` header lines of the validation answer (None: answer 403)
        self.allowed_origin: Optional[List[str]] = ["*"]
        self.events: asyncio.Queue[Tuple[str, Dict[str, str], bytes]] = asyncio.Queue()
        #: while set and not done, user-event answers (not validation, not system events) wait for it
        self.hold: Optional[asyncio.Future[None]] = None
        #: how many event requests are waiting on ``hold`` right now
        self.waiting = 0
        #: when set, answers every request instead of the recorder
        self.respond: Optional[Callable[[web.Request], Awaitable[web.StreamResponse]]] = None
        self.url = ""
        self.base = ""

    def paths(self, method: Optional[str] = None) -> List[str]:
        """The paths requested so far (of one method)."""
        return [path for m, path, _h, _b in self.requests if method is None or m == method]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append((request.method, request.raw_path, headers, body))
        if self.respond is not None:
            return await self.respond(request)
        if request.method in ("OPTIONS", "GET"):
            if self.allowed_origin is None:
                return web.Response(status=403)
            response = web.Response()
            for line in self.allowed_origin:
                response.headers.add("WebHook-Allowed-Origin", line)
            return response
        event = request.path.rsplit("/", 1)[-1]
        await self.events.put((event, headers, body))
        if self.hold is not None and event not in ("connect", "connected", "disconnected"):
            self.waiting += 1
            try:
                await asyncio.shield(self.hold)
            finally:
                self.waiting -= 1
        status, payload, content_type, extra = self.connect_reply if event == "connect" else self.event_reply
        if status == 204:
            return web.Response(status=204, headers=extra)
        return web.Response(status=status, body=payload, content_type=content_type, headers=extra)

    async def next_event(self, name: str, timeout: float = 5.0) -> Tuple[Dict[str, str], bytes]:
        """The next event request named ``name`` (earlier other events are skipped)."""
        while True:
            event, headers, body = await asyncio.wait_for(self.events.get(), timeout)
            if event == name:
                return headers, body


@contextlib.asynccontextmanager
async def handler_server() -> AsyncIterator[HandlerServer]:
    """A started :class:`HandlerServer` (held answers are released when it stops)."""
    server = HandlerServer()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.base = f"http://127.0.0.1:{port}"
    server.url = f"{server.base}/events/{{event}}"
    try:
        yield server
    finally:
        if server.hold is not None and not server.hold.done():
            server.hold.set_result(None)
        await runner.cleanup()
