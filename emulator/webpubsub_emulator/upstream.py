"""aiohttp adapter for the upstream event handlers: the HTTP client that sends the service's CloudEvents.

What is sent and what an answer means is :mod:`.upstream_contract`; this module only does the IO: before the first
event to a handler URL it validates the URL (abuse protection: ``OPTIONS``, ``GET`` when that answers 404; a success
is cached for a minute, a failure for a few seconds, and concurrent events wait for the one validation under way),
POSTs events with the contract's headers, keeps the cookies handlers set per connection, and runs the
fire-and-forget ``connected`` / ``disconnected`` events as tasks. It implements
:class:`~.upstream_contract.UpstreamPort`, which is all the WebSocket adapter knows of it.

What a handler can do to the emulator is bounded (the values are in :mod:`.limits`): each hub has its own connection
pool (a slow handler of one hub never holds up another hub's calls), every call is timed out, an answer is read only
up to a size (the rest is never read), no redirect is followed (only validated URLs are ever called), answers are not
decompressed (none is asked for), and a connection keeps a bounded number of cookies.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Mapping, NamedTuple, Optional, Sequence, Union
from urllib.parse import urlsplit

import aiohttp

from . import limits
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

#: what the emulator's requests never carry: answers are not decompressed (a small answer must stay small)
_SKIP_HEADERS = ("Accept-Encoding",)
#: what makes a call fail (the handler is unreachable, too slow, or its answer or a header cannot be used)
_CALL_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError)


class _Validation(NamedTuple):
    """The outcome of validating one handler URL, kept until ``until`` (monotonic time)."""

    until: float
    error: Optional[str]


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
        #: seconds a blocking event may take (default :data:`.limits.UPSTREAM_TIMEOUT_SECONDS`)
        self.timeout = limits.UPSTREAM_TIMEOUT_SECONDS if timeout is None else timeout
        self.trace = trace if trace is not None else Trace()
        #: one HTTP client (its own connection pool) per hub
        self._sessions: dict[str, aiohttp.ClientSession] = {}
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
        """Release the HTTP clients."""
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()

    def _client(self, hub: str) -> aiohttp.ClientSession:
        session = self._sessions.get(hub)
        if session is None:
            # cookies are kept per connection (EventTarget.cookies), never in a shared jar
            session = self._sessions[hub] = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=limits.UPSTREAM_MAX_CONNECTIONS_PER_HUB),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
            )
        return session

    async def _validate(self, hub: str, url: str) -> None:
        """Validate a handler URL once per :data:`.limits.VALIDATION_TTL_SECONDS` (a failure is remembered for
        :data:`.limits.VALIDATION_FAILURE_TTL_SECONDS`); events that come meanwhile wait for the validation under way
        and share its outcome."""
        parts = urlsplit(url)
        key = f"{hub} {parts.scheme}://{parts.netloc}{parts.path}"  # per hub too: hubs never wait for one another
        lock = self._validation_locks.setdefault(key, asyncio.Lock())
        async with lock:
            known = self._validated.get(key)
            if known is None or known.until <= time.monotonic():
                error = await self._ask_validation(hub, url)
                ttl = limits.VALIDATION_TTL_SECONDS if error is None else limits.VALIDATION_FAILURE_TTL_SECONDS
                known = self._validated[key] = _Validation(time.monotonic() + ttl, error)
        if known.error is not None:
            raise UpstreamError(known.error)

    async def _ask_validation(self, hub: str, url: str) -> Optional[str]:
        """One abuse-protection exchange; the reason it failed, or None."""
        headers = validation_headers(self.origin)
        timeout = aiohttp.ClientTimeout(total=limits.VALIDATION_TIMEOUT_SECONDS)
        client = self._client(hub)
        try:
            for method in ("OPTIONS", "GET"):  # GET only when OPTIONS answers 404
                async with client.request(
                    method,
                    url,
                    headers=headers,
                    timeout=timeout,
                    allow_redirects=False,
                    skip_auto_headers=_SKIP_HEADERS,
                ) as resp:
                    status, allowed = resp.status, resp.headers.getall("WebHook-Allowed-Origin", [])
                if status != 404:
                    break
        except _CALL_ERRORS as exc:
            return f"event handler validation failed: {type(exc).__name__}"
        if not origin_allowed(status, allowed, self.origin, urlsplit(self.endpoint).port):
            return f"event handler validation failed (HTTP {status}, allowed origin {allowed!r})"
        return None

    async def send(self, target: EventTarget, call: EventCall) -> UpstreamResponse:
        """POST one event; raises :class:`~.errors.UpstreamError` when the handler is unreachable, not validated, too
        slow, redirects, or answers more than :data:`.limits.UPSTREAM_MAX_ANSWER_BYTES`."""
        handler, event_name = call.handler, call.event_name
        url = handler.url(event_name, target.hub)
        started = time.perf_counter()
        status: Optional[int] = None
        try:
            await self._validate(target.hub, handler.url("validate", target.hub))
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
                async with self._client(target.hub).post(
                    url, data=call.body, headers=headers, allow_redirects=False, skip_auto_headers=_SKIP_HEADERS
                ) as resp:
                    payload = await _read_answer(resp)
                    _keep_cookies(target, resp)
                    status = resp.status
                    return UpstreamResponse(
                        resp.status, payload, resp.headers.get("Content-Type"), tuple(resp.headers.items())
                    )
            except _CALL_ERRORS as exc:
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


async def _read_answer(resp: aiohttp.ClientResponse) -> bytes:
    """The answer's body, at most :data:`.limits.UPSTREAM_MAX_ANSWER_BYTES` (beyond that nothing more is read and the
    call fails); an answer compressed although none was asked for fails too."""
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


def _keep_cookies(target: EventTarget, resp: aiohttp.ClientResponse) -> None:
    """Keep the cookies the answer sets (at most ``limits.UPSTREAM_MAX_COOKIES`` per connection, each at most
    ``limits.UPSTREAM_MAX_COOKIE_BYTES``)."""
    cookies = target.cookies
    for morsel in resp.cookies.values():
        if len(morsel.key) + len(morsel.value) > limits.UPSTREAM_MAX_COOKIE_BYTES:
            continue
        if morsel.key in cookies or len(cookies) < limits.UPSTREAM_MAX_COOKIES:
            cookies[morsel.key] = morsel.value
