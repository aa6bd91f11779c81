"""The upstream adapter: sends the service's CloudEvents to the event handlers.

What is sent and what an answer means is :mod:`.upstream_contract`; this module only does the IO: before the first
event to a handler URL it validates the URL (abuse protection: ``OPTIONS``, ``GET`` when that answers 404; a success
is cached for a minute), POSTs events with the contract's headers, keeps the cookies handlers set per connection, and
runs the fire-and-forget ``connected`` / ``disconnected`` events as tasks. It implements
:class:`~.upstream_contract.UpstreamPort`, which is all the WebSocket adapter knows of it. The bytes move through a
:class:`~.upstream_contract.HandlerTransport` per handler: :class:`HttpTransport` (aiohttp) for a URL, an
:class:`~.asgi_transport.AsgiTransport` for an in-process ASGI application.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Mapping, Optional, Sequence, Union
from urllib.parse import urlsplit

import aiohttp

from .asgi_transport import AsgiTransport
from .errors import UpstreamError
from .trace import Trace
from .upstream_contract import (
    EventCall,
    EventHandler,
    EventTarget,
    HandlerTable,
    HandlerTransport,
    UpstreamResponse,
    cookies_of,
    event_headers,
    origin_allowed,
    system_call,
    validation_headers,
)

__all__ = ["HttpTransport", "Upstream"]

log = logging.getLogger(__name__)

_VALIDATION_TTL = 60.0
_VALIDATION_TIMEOUT = 10.0
_EVENT_TIMEOUT = 30.0


class HttpTransport:
    """Requests to handlers over HTTP (one aiohttp session; cookies are kept per connection, never in a shared jar)."""

    def __init__(self) -> None:
        self._session: Optional[aiohttp.ClientSession] = None

    async def request(
        self, method: str, url: str, headers: Sequence[tuple[str, str]], body: bytes, *, timeout: float
    ) -> UpstreamResponse:
        """Send one request and read the whole answer (:class:`~.upstream_contract.HandlerTransport`)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        try:
            async with self._session.request(
                method,
                url,
                headers=headers,
                data=body if body or method == "POST" else None,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as resp:
                payload = await resp.read()
                return UpstreamResponse(
                    resp.status, payload, resp.headers.get("Content-Type"), tuple(resp.headers.items())
                )
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise UpstreamError(type(exc).__name__) from None

    async def close(self) -> None:
        """Release the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None


class Upstream:
    """Sends CloudEvents to the configured handlers. ``handlers`` maps hub names (any case) to ordered handlers."""

    def __init__(
        self,
        access_key: str,
        endpoint: str,
        handlers: Union[HandlerTable, Mapping[str, Sequence[EventHandler]]],
        *,
        timeout: float = _EVENT_TIMEOUT,
        trace: Optional[Trace] = None,
    ) -> None:
        self.access_key = access_key
        #: the emulator's own base URL (its host is the ``WebHook-Request-Origin``)
        self.endpoint = endpoint
        self._handlers = handlers if isinstance(handlers, HandlerTable) else HandlerTable(handlers)
        self.timeout = timeout
        self.trace = trace if trace is not None else Trace()
        self._http = HttpTransport()
        self._apps: dict[int, AsgiTransport] = {}
        self._validated: dict[str, float] = {}
        self._validation_locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def handlers(self) -> HandlerTable:
        """The handler table."""
        return self._handlers

    @property
    def origin(self) -> str:
        """The host the service calls itself in ``WebHook-Request-Origin``."""
        return urlsplit(self.endpoint).hostname or "localhost"

    async def close(self) -> None:
        """Release the transports (the HTTP session; in-process applications get their lifespan shutdown)."""
        await self._http.close()
        apps, self._apps = list(self._apps.values()), {}
        for transport in apps:
            await transport.close()

    def _transport(self, handler: EventHandler) -> HandlerTransport:
        app: Any = handler.app
        if app is None:
            return self._http
        transport = self._apps.get(id(app))
        if transport is None:  # the transport holds the app, so its id stays unique while it is in the table
            transport = self._apps[id(app)] = AsgiTransport(app)
        return transport

    async def _validate(self, transport: HandlerTransport, url: str) -> None:
        parts = urlsplit(url)
        key = f"{id(transport)}:{parts.scheme}://{parts.netloc}{parts.path}"
        lock = self._validation_locks.setdefault(key, asyncio.Lock())
        async with lock:
            if self._validated.get(key, 0.0) > time.monotonic():
                return
            headers = list(validation_headers(self.origin).items())
            try:
                resp = await transport.request("OPTIONS", url, headers, b"", timeout=_VALIDATION_TIMEOUT)
                if resp.status == 404:
                    resp = await transport.request("GET", url, headers, b"", timeout=_VALIDATION_TIMEOUT)
            except UpstreamError as exc:
                raise UpstreamError(f"event handler validation failed: {exc.message}") from None
            lines = resp.header_values("WebHook-Allowed-Origin")
            status, allowed = resp.status, lines[0] if lines else None
            if not origin_allowed(status, allowed, self.origin):
                raise UpstreamError(f"event handler validation failed (HTTP {status}, allowed origin {allowed!r})")
            self._validated[key] = time.monotonic() + _VALIDATION_TTL

    async def send(self, target: EventTarget, call: EventCall) -> UpstreamResponse:
        """POST one event; raises :class:`~.errors.UpstreamError` when the handler is unreachable or not validated."""
        handler, event_name = call.handler, call.event_name
        url = handler.url(event_name, target.hub)
        started = time.perf_counter()
        status: Optional[int] = None
        transport = self._transport(handler)
        try:
            await self._validate(transport, handler.url("validate", target.hub))
            headers = event_headers(
                target,
                event_name=event_name,
                ce_type=call.ce_type,
                content_type=call.content_type,
                origin=self.origin,
                access_key=self.access_key,
                extra_headers=call.extra_headers,
            )
            try:
                resp = await transport.request("POST", url, headers, call.body, timeout=self.timeout)
            except UpstreamError as exc:
                raise UpstreamError(f"event handler unreachable: {exc.message}") from None
            target.cookies.update(cookies_of(resp))
            status = resp.status
            return resp
        finally:
            if self.trace.observers:
                ms = (time.perf_counter() - started) * 1000
                self.trace.emit(
                    "upstream", target.hub, target.connection_id, event=event_name, url=url, status=status, ms=ms
                )

    def fire(self, target: EventTarget, event: str, body: bytes) -> None:
        """Send a non-blocking system event (``connected`` / ``disconnected``); failures are only logged."""
        handler = self._handlers.find(target.hub, system_event=event)
        if handler is None:
            return

        async def run() -> None:
            try:
                resp = await self.send(target, system_call(handler, event, body))
                if not resp.ok:
                    log.warning("%s event of %s answered HTTP %s", event, target.connection_id, resp.status)
            except UpstreamError as exc:
                log.warning("%s event of %s failed: %s", event, target.connection_id, exc)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain_events(self, timeout: float = 5.0) -> None:
        """Wait (up to ``timeout``) for pending ``connected``/``disconnected`` events, then cancel what is left."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)
        for task in list(self._tasks):
            task.cancel()
