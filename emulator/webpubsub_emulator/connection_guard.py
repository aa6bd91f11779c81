"""The unauthenticated phase of every connection: from the moment it is accepted until its first request's head (the
request line and headers) has arrived.

Nothing is known of such a connection yet, so what it may cost is bounded here, before aiohttp parses anything
(the values are in :mod:`.limits`):

- its head must arrive within ``HEADER_TIMEOUT_SECONDS`` of the connection's start (a socket that sends nothing, or
  half a request, is dropped);
- its head may be at most ``MAX_HEAD_BYTES`` long (a socket that keeps sending header lines is dropped);
- at most ``MAX_PENDING_CONNECTIONS`` connections may be waiting like this: when one more arrives, the one waiting
  longest is dropped, so that idle sockets can never use up the process's file descriptors and stop it answering.

A connection whose first head arrived is handed over to aiohttp alone: its later requests are bounded by aiohttp's own
limits (``MAX_HEADERS``, ``MAX_LINE_BYTES``, ``KEEPALIVE_TIMEOUT_SECONDS``), passed by the runner, and a WebSocket
handshake by the gateway's cap on handshakes in progress.

:class:`GuardedRunner` is an ``aiohttp.web.AppRunner`` whose protocol factory (what a site hands to
``loop.create_server``) wraps every connection's aiohttp protocol in a :class:`_Guarded` one; the aiohttp protocol
itself sees every byte and every call unchanged. The guard also knows every connection until it is lost, so that
:meth:`GuardedRunner.cleanup` leaves none open: aiohttp's shutdown closes each connection, but a TLS connection whose
peer never answers the closing handshake (``close_notify``) would stay open for asyncio's SSL shutdown timeout, past
the end of the event loop, and be reclaimed by the garbage collector (where Python 3.13.0's asyncio raises).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any, Callable, Optional

from aiohttp import web

from . import limits

__all__ = ["ConnectionGuard", "GuardedRunner"]

log = logging.getLogger(__name__)

_END_OF_HEAD = b"\r\n\r\n"


class ConnectionGuard:
    """The connections still waiting for their first request's head, oldest first."""

    def __init__(self) -> None:
        self.waiting: OrderedDict[_Guarded, None] = OrderedDict()
        #: every connection made and not yet lost
        self.open: set[_Guarded] = set()

    def wrap(self, factory: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """A protocol factory whose protocols are ``factory``'s, guarded."""

        def guarded() -> asyncio.Protocol:
            return _Guarded(self, factory())

        return guarded

    def _enter(self, conn: _Guarded) -> None:
        while len(self.waiting) >= limits.MAX_PENDING_CONNECTIONS:
            oldest, _ = self.waiting.popitem(last=False)
            oldest.drop("too many connections are waiting for their request headers")
        self.waiting[conn] = None

    def _leave(self, conn: _Guarded) -> None:
        self.waiting.pop(conn, None)

    def abort_open(self) -> int:
        """Cut every connection still open (after a shutdown has closed what it could); how many there were."""
        left = list(self.open)
        for conn in left:
            conn.abort()
        return len(left)


class _Guarded(asyncio.Protocol):
    """One connection: counts and times its first head, then only passes everything on."""

    __slots__ = ("_timer", "_transport", "guard", "head_bytes", "inner", "tail", "waiting")

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol) -> None:
        self.guard = guard
        self.inner = inner
        #: True until the first head has arrived
        self.waiting = True
        self.head_bytes = 0
        #: the last bytes seen, for an end of head that spans two reads
        self.tail = b""
        self._transport: Optional[asyncio.Transport] = None
        self._timer: Optional[asyncio.TimerHandle] = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self.guard.open.add(self)
        self.guard._enter(self)
        self._timer = asyncio.get_running_loop().call_later(
            limits.HEADER_TIMEOUT_SECONDS, self.drop, "its request headers did not arrive in time"
        )
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.waiting:
            seen = self.tail + data
            end = seen.find(_END_OF_HEAD)
            if end < 0:
                self.head_bytes += len(data)
                if self.head_bytes > limits.MAX_HEAD_BYTES:
                    self.drop("its request headers are too large")
                    return
                self.tail = seen[-(len(_END_OF_HEAD) - 1) :]
            else:
                self.head_bytes += end + len(_END_OF_HEAD) - len(self.tail)
                if self.head_bytes > limits.MAX_HEAD_BYTES:
                    self.drop("its request headers are too large")
                    return
                self._settled()
        self.inner.data_received(data)

    def _settled(self) -> None:
        """The first head arrived: from now on aiohttp alone looks after this connection."""
        self.waiting = False
        self.tail = b""
        self.guard._leave(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def drop(self, why: str) -> None:
        """Cut the connection (nothing of it is known: no answer is owed)."""
        if not self.waiting:
            return
        log.info("connection dropped before its first request: %s", why)
        self._settled()
        self.abort()

    def abort(self) -> None:
        """Cut the connection at once (no closing handshake)."""
        if self._transport is not None:
            self._transport.abort()

    def eof_received(self) -> Optional[bool]:
        return self.inner.eof_received()

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self._settled()
        self.guard.open.discard(self)
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


class GuardedRunner(web.AppRunner):
    """An ``AppRunner`` whose connections pass through a :class:`ConnectionGuard` (``guard``) until their first
    request head has arrived. ``kwargs`` go to ``AppRunner`` (aiohttp's own per-request limits)."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.guard = ConnectionGuard()

    @property
    def server(self) -> Any:
        """The protocol factory the sites serve with: aiohttp's, guarded."""
        server = super().server
        return None if server is None else self.guard.wrap(server)

    async def cleanup(self) -> None:
        """aiohttp's shutdown, then cut what it left open (see the module docstring); on Python 3.13+ also the
        connections still in their TLS opening handshake, which no protocol of ours has seen yet."""
        servers = [getattr(site, "_server", None) for site in self.sites]  # the sites' asyncio servers
        await super().cleanup()
        left = self.guard.abort_open()
        for server in servers:
            abort_clients = getattr(server, "abort_clients", None)  # asyncio.Server.abort_clients: Python 3.13+
            if abort_clients is not None:
                abort_clients()
        if left:
            log.debug("%d connection(s) still closing at shutdown were cut", left)
        await asyncio.sleep(0)  # let the aborted transports report connection_lost before the loop may end
