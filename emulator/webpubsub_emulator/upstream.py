"""The upstream adapter: sends the service's CloudEvents to the event handlers.

What is sent and what an answer means is :mod:`.upstream_contract`; this module only does the IO: before the first
event to a handler URL it validates the URL (abuse protection: ``OPTIONS``, ``GET`` when that answers 404; a success
is cached for a minute, a failure for a few seconds, and concurrent events wait for the one validation under way),
POSTs events with the contract's headers, keeps the cookies handlers set per connection, and runs the
fire-and-forget ``connected`` / ``disconnected`` events as tasks. It implements
:class:`~.upstream_contract.UpstreamPort`, which is all the WebSocket adapter knows of it. The bytes move through a
:class:`~.upstream_contract.HandlerTransport`: an :class:`HttpTransport` (aiohttp) per hub for URLs, an
:class:`~.asgi_transport.AsgiTransport` for an in-process ASGI application.

What a handler can do to the emulator is bounded (the values are in :mod:`.limits`): each hub has its own connection
pool (a slow handler of one hub never holds up another hub's calls), every call is timed out, an answer is read only
up to a size (the rest is never read), no redirect is followed (only validated URLs are ever called), answers are not
decompressed (none is asked for), and a connection keeps a bounded number of cookies.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Mapping, NamedTuple, Optional, Sequence, Union
from urllib.parse import urlsplit

import aiohttp

from . import limits
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

#: what the emulator's requests never carry: answers are not decompressed (a small answer must stay small)
_SKIP_HEADERS = ("Accept-Encoding",)
#: what makes a call fail (the handler is unreachable, too slow, or its answer or a header cannot be used)
_CALL_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError)


class _Validation(NamedTuple):
    """The outcome of validating one handler URL, kept until ``until`` (monotonic time)."""

    until: float
    error: Optional[str]


class HttpTransport:
    """Requests to handlers over HTTP: one aiohttp session, with its own pool of ``limits.UPSTREAM_MAX_CONNECTIONS_
    PER_HUB`` connections (the upstream adapter keeps one transport per hub). Cookies are kept per connection, never
    in a shared jar; redirects are never followed; answers are read up to ``limits.UPSTREAM_MAX_ANSWER_BYTES`` and
    never inflated."""

    def __init__(self) -> None:
        self._session: Optional[aiohttp.ClientSession] = None

    async def request(
        self, method: str, url: str, headers: Sequence[tuple[str, str]], body: bytes, *, timeout: float
    ) -> UpstreamResponse:
        """Send one request and read the answer (:class:`~.upstream_contract.HandlerTransport`)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=limits.UPSTREAM_MAX_CONNECTIONS_PER_HUB),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
            )
        try:
            async with self._session.request(
                method,
                url,
                headers=headers,
                data=body if body or method == "POST" else None,
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,
                skip_auto_headers=_SKIP_HEADERS,
            ) as resp:
                payload = await _read_answer(resp)
                return UpstreamResponse(
                    resp.status, payload, resp.headers.get("Content-Type"), tuple(resp.headers.items())
                )
        except _CALL_ERRORS as exc:
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
        timeout: Optional[float] = None,
        trace: Optional[Trace] = None,
    ) -> None:
        self.access_key = access_key
        #: the emulator's own base URL (its host is the ``WebHook-Request-Origin``)
        self.endpoint = endpoint
        self._handlers = handlers if isinstance(handlers, HandlerTable) else HandlerTable(handlers)
        #: seconds a blocking event may take (default ``limits.UPSTREAM_TIMEOUT_SECONDS``)
        self.timeout = limits.UPSTREAM_TIMEOUT_SECONDS if timeout is None else timeout
        self.trace = trace if trace is not None else Trace()
        #: one HTTP transport (its own connection pool) per hub
        self._http: dict[str, HttpTransport] = {}
        self._apps: dict[int, AsgiTransport] = {}
        self._validated: dict[str, _Validation] = {}
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
        """Release the transports (the HTTP sessions; in-process applications get their lifespan shutdown)."""
        http, self._http = list(self._http.values()), {}
        for pool in http:
            await pool.close()
        apps, self._apps = list(self._apps.values()), {}
        for transport in apps:
            await transport.close()

    def _transport(self, handler: EventHandler, hub: str) -> HandlerTransport:
        app: Any = handler.app
        if app is None:
            pool = self._http.get(hub)
            if pool is None:
                pool = self._http[hub] = HttpTransport()
            return pool
        transport = self._apps.get(id(app))
        if transport is None:  # the transport holds the app, so its id stays unique while it is in the table
            transport = self._apps[id(app)] = AsgiTransport(app)
        return transport

    async def _validate(self, transport: HandlerTransport, hub: str, url: str) -> None:
        """Validate a handler URL once per ``limits.VALIDATION_TTL_SECONDS`` (a failure is remembered for
        ``limits.VALIDATION_FAILURE_TTL_SECONDS``); events that come meanwhile wait for the validation under way and
        share its outcome. Each hub validates for itself (hubs never wait for one another)."""
        parts = urlsplit(url)
        key = f"{hub} {id(transport)}:{parts.scheme}://{parts.netloc}{parts.path}"
        known = self._validated.get(key)
        if known is None or known.until <= time.monotonic():  # (a valid outcome is read without the lock)
            lock = self._validation_locks.get(key) or self._validation_locks.setdefault(key, asyncio.Lock())
            async with lock:
                known = self._validated.get(key)
                if known is None or known.until <= time.monotonic():
                    error = await self._ask_validation(transport, url)
                    ttl = limits.VALIDATION_TTL_SECONDS if error is None else limits.VALIDATION_FAILURE_TTL_SECONDS
                    known = self._validated[key] = _Validation(time.monotonic() + ttl, error)
        if known.error is not None:
            raise UpstreamError(known.error)

    async def _ask_validation(self, transport: HandlerTransport, url: str) -> Optional[str]:
        """One abuse-protection exchange; the reason it failed, or None."""
        headers = list(validation_headers(self.origin).items())
        timeout = limits.VALIDATION_TIMEOUT_SECONDS
        try:
            resp = await transport.request("OPTIONS", url, headers, b"", timeout=timeout)
            if resp.status == 404:
                resp = await transport.request("GET", url, headers, b"", timeout=timeout)
        except UpstreamError as exc:
            return f"event handler validation failed: {exc.message}"
        allowed = resp.header_values("WebHook-Allowed-Origin")  # every line: the JS middleware sends one per endpoint
        if not origin_allowed(resp.status, allowed, self.origin, urlsplit(self.endpoint).port):
            return f"event handler validation failed (HTTP {resp.status}, allowed origin {allowed!r})"
        return None

    async def send(self, target: EventTarget, call: EventCall) -> UpstreamResponse:
        """POST one event; raises :class:`~.errors.UpstreamError` when the handler is unreachable, not validated, too
        slow, redirects, or answers more than ``limits.UPSTREAM_MAX_ANSWER_BYTES``."""
        handler, event_name = call.handler, call.event_name
        url = handler.url(event_name, target.hub)
        started = time.perf_counter()
        status: Optional[int] = None
        transport = self._transport(handler, target.hub)
        try:
            await self._validate(transport, target.hub, handler.url("validate", target.hub))
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
            _keep_cookies(target, cookies_of(resp))
            status = resp.status
            return resp
        finally:
            if self.trace.observers:
                ms = (time.perf_counter() - started) * 1000
                self.trace.emit(  # the URL without its query: a handler's ?code= is a secret
                    "upstream",
                    target.hub,
                    target.connection_id,
                    event=event_name,
                    url=url.split("?", 1)[0],
                    status=status,
                    ms=ms,
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


async def _read_answer(resp: aiohttp.ClientResponse) -> bytes:
    """The answer's body, at most ``limits.UPSTREAM_MAX_ANSWER_BYTES`` (beyond that nothing more is read and the call
    fails); an answer compressed although none was asked for fails too."""
    limit = limits.UPSTREAM_MAX_ANSWER_BYTES
    encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise UpstreamError(f"the event handler answered with Content-Encoding {encoding[:20]!r}")
    if resp.content_length is not None and resp.content_length > limit:
        raise UpstreamError(f"the event handler's answer is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise UpstreamError(f"the event handler's answer is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _keep_cookies(target: EventTarget, cookies: Mapping[str, str]) -> None:
    """Keep the cookies an answer sets: at most ``limits.UPSTREAM_MAX_COOKIES`` per connection, each at most
    ``limits.UPSTREAM_MAX_COOKIE_BYTES``."""
    kept = target.cookies
    for name, value in cookies.items():
        if len(name) + len(value) > limits.UPSTREAM_MAX_COOKIE_BYTES:
            continue
        if name in kept or len(kept) < limits.UPSTREAM_MAX_COOKIES:
            kept[name] = value
