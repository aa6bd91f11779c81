"""aiohttp adapter for the upstream event handlers: the HTTP client that sends the service's CloudEvents.

What is sent and what an answer means is :mod:`.upstream_contract`; this module only does the IO: before the first
event to a handler URL it validates the URL (abuse protection: ``OPTIONS``, ``GET`` when that answers 404; a success
is cached for a minute), POSTs events with the contract's headers, keeps the cookies handlers set per connection, and
runs the fire-and-forget ``connected`` / ``disconnected`` events as tasks. It implements
:class:`~.upstream_contract.UpstreamPort`, which is all the WebSocket adapter knows of it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Mapping, Optional, Sequence, Union
from urllib.parse import urlsplit

import aiohttp

from .errors import UpstreamError
from .trace import Trace
from .upstream_contract import (
    EventCall,
    EventHandler,
    EventTarget,
    HandlerTable,
    UpstreamResponse,
    event_headers,
    origin_allowed,
    system_call,
    validation_headers,
)

__all__ = ["Upstream"]

log = logging.getLogger(__name__)

_VALIDATION_TTL = 60.0
_VALIDATION_TIMEOUT = 10.0
_EVENT_TIMEOUT = 30.0


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
        self._session: Optional[aiohttp.ClientSession] = None
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
        """Release the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            # cookies are kept per connection (EventTarget.cookies), never in a shared jar
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout), cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def _validate(self, url: str) -> None:
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}{parts.path}"
        lock = self._validation_locks.setdefault(key, asyncio.Lock())
        async with lock:
            if self._validated.get(key, 0.0) > time.monotonic():
                return
            headers = validation_headers(self.origin)
            timeout = aiohttp.ClientTimeout(total=_VALIDATION_TIMEOUT)
            try:
                async with self._client().options(url, headers=headers, timeout=timeout) as resp:
                    status, allowed = resp.status, resp.headers.get("WebHook-Allowed-Origin")
                if status == 404:
                    async with self._client().get(url, headers=headers, timeout=timeout) as resp:
                        status, allowed = resp.status, resp.headers.get("WebHook-Allowed-Origin")
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                raise UpstreamError(f"event handler validation failed: {type(exc).__name__}") from None
            if not origin_allowed(status, allowed, self.origin):
                raise UpstreamError(f"event handler validation failed (HTTP {status}, allowed origin {allowed!r})")
            self._validated[key] = time.monotonic() + _VALIDATION_TTL

    async def send(self, target: EventTarget, call: EventCall) -> UpstreamResponse:
        """POST one event; raises :class:`~.errors.UpstreamError` when the handler is unreachable or not validated."""
        handler, event_name = call.handler, call.event_name
        url = handler.url(event_name, target.hub)
        started = time.perf_counter()
        status: Optional[int] = None
        try:
            await self._validate(handler.url("validate", target.hub))
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
                async with self._client().post(url, data=call.body, headers=headers) as resp:
                    payload = await resp.read()
                    for morsel in resp.cookies.values():
                        target.cookies[morsel.key] = morsel.value
                    status = resp.status
                    return UpstreamResponse(
                        resp.status, payload, resp.headers.get("Content-Type"), tuple(resp.headers.items())
                    )
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                raise UpstreamError(f"event handler unreachable: {type(exc).__name__}") from None
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
