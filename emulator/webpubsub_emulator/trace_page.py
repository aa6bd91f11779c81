"""aiohttp adapter for the live trace page at ``/trace``: it only does the IO.

Who may watch is decided by :mod:`.trace_access`, what they see by :mod:`.trace_feed`. The page itself is plain HTML,
CSS and JavaScript shipped in the package (``trace_static/``), with no external assets. Routes:

=====================  ==========================================================================================
``GET /trace``         the page (or, for a visitor who must sign in, the sign-in form)
``POST /trace/sign-in``  the access key in a form body; sets the sign-in cookie and goes back to the page
``POST /trace/sign-out`` forgets the cookie
``GET /trace/static/*``  the page's script and style sheet (no data in them: served to anyone)
``GET /trace/api/snapshot``  the hubs and their live connections now, as JSON
``GET /trace/api/live``  the live channel: Server-Sent Events, first a ``snapshot``, then ``entries`` batches
=====================  ==========================================================================================

**The live channel** is Server-Sent Events rather than a WebSocket: it only goes one way; an ``EventSource``
reconnects by itself and says where it was (``Last-Event-ID``: a page that reconnects quickly gets what it missed);
and a page on another site cannot read it (the same-origin rule covers it, while any site may open a WebSocket to
``127.0.0.1``). Each watcher gets at most :data:`~.limits.TRACE_BATCH_ENTRIES` entries per write and one write per
:data:`~.limits.TRACE_FLUSH_SECONDS`; its writes wait for its own socket only (for at most
:data:`~.limits.TRACE_WRITE_TIMEOUT_SECONDS`, then it is disconnected). Meanwhile the feed moves on: what it falls
behind on is lost to it and counted in the next batch's ``lost``. So a slow or stalled page never slows the emulator,
its clients or the other pages, and holds at most one batch plus the socket's buffer. At most
:data:`~.limits.TRACE_MAX_WATCHERS` pages watch at once.
"""

from __future__ import annotations

import asyncio
import logging
from importlib import resources
from typing import Awaitable, Callable, Optional
from urllib.parse import parse_qs

from aiohttp import web

from . import limits, trace_access
from .core import Core
from .errors import (
    BadRequest,
    EmulatorError,
    Forbidden,
    InternalError,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    Unauthorized,
)
from .exposure import ServerNames
from .protocol import dumps
from .trace import Trace
from .trace_access import Access
from .trace_feed import TraceFeed

__all__ = ["PATH", "TracePage"]

log = logging.getLogger(__name__)

#: Where the page is served.
PATH = "/trace"
#: The static files, by name, with their media type.
_STATIC = {
    "trace.js": "text/javascript; charset=utf-8",
    "trace.css": "text/css; charset=utf-8",
}
#: On every answer: nothing from elsewhere, no framing, no referrer, no caching, no sniffing.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # (no-referrer would make a form post say "Origin: null")
    "Cache-Control": "no-store",
}
#: How often an idle live channel checks that its page is still connected.
_IDLE_POLL_SECONDS = 1.0
_WRONG_KEY = "That is not this emulator's access key."


def _asset(name: str) -> bytes:
    return resources.files(__package__).joinpath("trace_static").joinpath(name).read_bytes()


def _error(exc: EmulatorError, head: bool = False) -> web.Response:
    answer = exc.http(head=head)
    return web.Response(status=answer.status, headers={**answer.headers, **_SECURITY_HEADERS}, body=answer.body)


class TracePage:
    """Serves ``/trace`` over a shared :class:`Core` and its :class:`Trace`.

    :param access_key: what a visitor from beyond this machine signs in with.
    :param endpoint: the emulator's base URL (its names, until the runner sets :attr:`names`).
    """

    def __init__(self, core: Core, access_key: str, endpoint: str, trace: Optional[Trace] = None) -> None:
        self.access_key = access_key
        #: the names this emulator answers to (``Host`` headers)
        self.names = ServerNames.of_endpoint(endpoint)
        self.feed = TraceFeed(core, trace if trace is not None else core.trace)
        self._assets: dict[str, bytes] = {}
        self._wakeups: set[asyncio.Event] = set()
        self._closing = False
        self._routes: dict[tuple[str, str], Callable[[web.Request], Awaitable[web.StreamResponse]]] = {
            (PATH, "GET"): self._page,
            (PATH, "HEAD"): self._page,
            (PATH + "/", "GET"): self._to_page,
            (PATH + "/sign-in", "POST"): self._sign_in,
            (PATH + "/sign-out", "POST"): self._sign_out,
            (PATH + "/api/snapshot", "GET"): self._snapshot,
            (PATH + "/api/live", "GET"): self._live,
        }

    # ------------------------------------------------------------------ dispatch
    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Entry point for every request under ``/trace``."""
        head = request.method == "HEAD"
        try:
            return await self._dispatch(request)
        except EmulatorError as exc:
            return _error(exc, head)
        except Exception:
            log.exception("unexpected error on the trace page")
            return _error(InternalError("The emulator hit an internal error."), head)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.names.check_host_header(request.headers.get("Host"))  # a DNS-rebinding page gets nothing, not even files
        path, method = request.path, request.method
        if path.startswith(PATH + "/static/"):
            return self._static(path[len(PATH) + 8 :], method)
        handler = self._routes.get((path, method))
        if handler is None:
            raise NotFound("No such page.")
        return await handler(request)

    def _access(self, request: web.Request) -> Access:
        """What ``request`` may do; another site's page gets nothing (403)."""
        access = trace_access.decide(
            remote=request.remote,
            forwarded=any(h in request.headers for h in trace_access.FORWARDING_HEADERS),
            host=request.headers.get("Host"),
            origin=request.headers.get("Origin"),
            scheme=request.scheme,
            cookie=request.cookies.get(trace_access.COOKIE),
            access_key=self.access_key,
        )
        if access is Access.CROSS_ORIGIN:
            raise Forbidden("The trace page does not answer other sites' pages.")
        return access

    def _allowed(self, request: web.Request) -> Access:
        """The access of a request for data; raises when it has none."""
        access = self._access(request)
        if access is Access.SIGN_IN:
            raise Unauthorized("Sign in at /trace with the emulator's access key.")
        return access

    # ------------------------------------------------------------------ pages and files
    def _file(self, name: str) -> bytes:
        data = self._assets.get(name)
        if data is None:
            data = self._assets[name] = _asset(name)
        return data

    def _html(self, name: str, status: int = 200, message: str = "") -> web.Response:
        body = self._file(name)
        if message:  # a fixed message of this module, never anything the visitor sent
            body = body.replace(
                b'<p id="error" role="alert"></p>', f'<p id="error" role="alert">{message}</p>'.encode()
            )
        return web.Response(
            status=status, body=body, content_type="text/html", charset="utf-8", headers=_SECURITY_HEADERS
        )

    def _static(self, name: str, method: str) -> web.Response:
        if name not in _STATIC or method not in ("GET", "HEAD"):
            raise NotFound("No such file.")
        return web.Response(body=self._file(name), headers={**_SECURITY_HEADERS, "Content-Type": _STATIC[name]})

    async def _page(self, request: web.Request) -> web.StreamResponse:
        access = self._access(request)
        if access is Access.SIGN_IN:
            return self._html("sign-in.html")
        return self._html("index.html")

    async def _to_page(self, request: web.Request) -> web.StreamResponse:
        return _to_page(308)

    async def _sign_in(self, request: web.Request) -> web.StreamResponse:
        self._access(request)  # refuses another site's page
        length = request.content_length
        if length is None:
            raise BadRequest("The sign-in form has no Content-Length.")
        if length > limits.TRACE_LOGIN_BYTES:
            raise PayloadTooLarge("The sign-in form is too large.")
        body = await request.read()
        form = parse_qs(body.decode("utf-8", "replace"), max_num_fields=8)
        key = form.get("key", [""])[0]
        if not trace_access.key_matches(key, self.access_key):
            log.info("trace page: a sign-in from %s with a wrong key", request.remote)
            return self._html("sign-in.html", 401, _WRONG_KEY)
        response = _to_page(303)
        response.set_cookie(
            trace_access.COOKIE,
            trace_access.mint_sign_in(self.access_key),
            max_age=int(limits.TRACE_LOGIN_SECONDS),
            path=PATH,
            httponly=True,
            samesite="Strict",
            secure=request.secure,
        )
        return response

    async def _sign_out(self, request: web.Request) -> web.StreamResponse:
        self._access(request)  # refuses another site's page
        response = _to_page(303)
        response.del_cookie(trace_access.COOKIE, path=PATH)
        return response

    # ------------------------------------------------------------------ data
    def _snapshot_of(self, access: Access, resumed: bool = False) -> str:
        snapshot = self.feed.snapshot()
        snapshot["access"] = access.value
        snapshot["resumed"] = resumed
        snapshot["watchers"] = len(self.feed.watchers)
        snapshot["limits"] = {
            "feed": self.feed.size,
            "batch": limits.TRACE_BATCH_ENTRIES,
            "flushSeconds": limits.TRACE_FLUSH_SECONDS,
        }
        return dumps(snapshot)

    async def _snapshot(self, request: web.Request) -> web.StreamResponse:
        access = self._allowed(request)
        body = self._snapshot_of(access).encode("utf-8")
        return web.Response(body=body, content_type="application/json", headers=_SECURITY_HEADERS)

    async def _live(self, request: web.Request) -> web.StreamResponse:
        access = self._allowed(request)
        if len(self.feed.watchers) >= limits.TRACE_MAX_WATCHERS:
            raise ServiceUnavailable(f"The trace page has {limits.TRACE_MAX_WATCHERS} watchers already.")
        after = _last_event_id(request.headers.get("Last-Event-ID"))
        response = web.StreamResponse(
            headers={**_SECURITY_HEADERS, "Content-Type": "text/event-stream; charset=utf-8", "X-Accel-Buffering": "no"}
        )
        await response.prepare(request)
        wakeup = asyncio.Event()
        # attached and photographed in one step: every entry from the snapshot's seq on is in the feed
        watcher = self.feed.attach(wakeup.set, after=after)
        self._wakeups.add(wakeup)
        try:
            resumed = after is not None and watcher.cursor == after + 1
            first = f"retry: 2000\nevent: snapshot\ndata: {self._snapshot_of(access, resumed)}\n\n"
            await self._write(response, first)
            idle = 0.0
            while not self._closing:
                if not watcher.pending:
                    try:
                        await asyncio.wait_for(wakeup.wait(), _IDLE_POLL_SECONDS)
                    except asyncio.TimeoutError:
                        if request.transport is None or request.transport.is_closing():
                            break  # the page went away
                        idle += _IDLE_POLL_SECONDS
                        if idle >= limits.TRACE_KEEPALIVE_SECONDS:
                            idle = 0.0
                            await self._write(response, ": keep-alive\n\n")
                        continue
                wakeup.clear()
                if self._closing:
                    break
                batch = self.feed.take(watcher)
                if batch.entries or batch.lost:
                    entries = ",".join(batch.entries)
                    data = f'{{"lost":{batch.lost},"entries":[{entries}]}}'
                    event_id = f"id: {batch.last_seq}\n" if batch.last_seq >= 0 else ""
                    await self._write(response, f"{event_id}event: entries\ndata: {data}\n\n")
                    idle = 0.0
                await asyncio.sleep(limits.TRACE_FLUSH_SECONDS)
        except asyncio.TimeoutError:
            log.info("trace page: a watcher at %s stopped reading; disconnected", request.remote)
            if request.transport is not None:
                request.transport.abort()  # its unsent bytes go too: nothing waits for it any more
        except ConnectionError:
            pass  # the page went away
        finally:
            self.feed.detach(watcher)
            self._wakeups.discard(wakeup)
        return response

    @staticmethod
    async def _write(response: web.StreamResponse, text: str) -> None:
        await asyncio.wait_for(response.write(text.encode("utf-8")), limits.TRACE_WRITE_TIMEOUT_SECONDS)

    async def close_all(self) -> None:
        """End every live channel (the emulator shuts down)."""
        self._closing = True
        for wakeup in self._wakeups:
            wakeup.set()


def _to_page(status: int) -> web.Response:
    """A redirect to the page."""
    return web.Response(status=status, headers={**_SECURITY_HEADERS, "Location": PATH})


def _last_event_id(value: Optional[str]) -> Optional[int]:
    if value is None or not value.strip().isdigit() or len(value) > 19:
        return None
    return int(value)
