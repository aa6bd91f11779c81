"""The in-process transport to an event handler: the emulator calls an ASGI 3 application directly, no server needed.

A hub's handler given as ``EventHandler(url_template, app=asgi_app)`` (or the application alone, at
``/eventhandler/{event}``) receives the same requests an HTTP handler would (the abuse-protection ``OPTIONS``, then
every event ``POST`` with its CloudEvents headers, ``Host`` and ``Content-Length`` included) as ASGI ``http`` scopes.

The application runs on an event loop of its own, in a thread of its own, as it would in its own server: a callback
that blocks, or that calls the emulator back synchronously through the SDK, cannot stall the emulator. Its lifespan
protocol runs first when it has one (``startup`` before the first request, ``shutdown`` when the emulator stops), as
uvicorn's ``lifespan="auto"`` does: an application that refuses lifespan scopes (Django) is simply called without.
An application that raises before answering gets a 500, as a server would give; an answer larger than
:data:`MAX_ANSWER_BYTES` or later than the timeout is a handler failure.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from typing import Any, Callable, MutableMapping, Optional, Sequence
from urllib.parse import unquote, urlsplit

from . import limits
from .errors import UpstreamError
from .upstream_contract import UpstreamResponse

__all__ = ["MAX_ANSWER_BYTES", "AsgiTransport"]

log = logging.getLogger(__name__)

#: An application's answer larger than this is a handler failure (``limits.UPSTREAM_MAX_ANSWER_BYTES``, as over HTTP).
MAX_ANSWER_BYTES = limits.UPSTREAM_MAX_ANSWER_BYTES
#: How long the application's lifespan startup and shutdown may take (``limits.ASGI_LIFESPAN_TIMEOUT_SECONDS``).
LIFESPAN_TIMEOUT = limits.ASGI_LIFESPAN_TIMEOUT_SECONDS
_ASGI = {"version": "3.0", "spec_version": "2.3"}

Message = MutableMapping[str, Any]


class _AnswerTooLarge(Exception):
    pass


class AsgiTransport:
    """Requests into one ASGI application (a :class:`~.upstream_contract.HandlerTransport`)."""

    def __init__(self, app: Callable[..., Any], *, max_answer_bytes: int = MAX_ANSWER_BYTES) -> None:
        self.app = app
        self.max_answer_bytes = max_answer_bytes
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._starting: Optional[asyncio.Lock] = None
        self._started = False
        #: the lifespan ``state`` (ASGI 2.3): what startup stored, shallow-copied into every request's scope
        self._state: dict[str, Any] = {}
        self._lifespan_inbox: Optional[asyncio.Queue[Message]] = None
        self._lifespan_done: Optional[asyncio.Event] = None
        self._lifespan_task: Optional[asyncio.Task[None]] = None

    # ------------------------------------------------------------------ the application's own loop
    def _run_loop(self, loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _on_app_loop(self, coro: Any) -> concurrent.futures.Future[Any]:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def _ensure_started(self) -> None:
        if self._started:
            return
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._started:
                return
            loop = asyncio.new_event_loop()
            ready = threading.Event()
            thread = threading.Thread(
                target=self._run_loop, args=(loop, ready), name="webpubsub-emulator-asgi-app", daemon=True
            )
            thread.start()
            ready.wait()
            self._loop, self._thread = loop, thread
            await asyncio.wrap_future(self._on_app_loop(self._lifespan_startup()))
            self._started = True

    async def _lifespan_startup(self) -> None:
        inbox: asyncio.Queue[Message] = asyncio.Queue()
        done = asyncio.Event()
        started: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._lifespan_inbox, self._lifespan_done = inbox, done

        async def send(message: Message) -> None:
            kind = message.get("type")
            if kind == "lifespan.startup.complete" and not started.done():
                started.set_result(True)
            elif kind == "lifespan.startup.failed" and not started.done():
                started.set_exception(UpstreamError(f"the event handler app failed to start: {message.get('message')}"))
            elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                done.set()

        async def run() -> None:
            try:
                await self.app({"type": "lifespan", "asgi": _ASGI, "state": self._state}, inbox.get, send)
            except BaseException:  # lifespan not supported (Django raises): the app is called without it
                log.debug("the event handler app does not run the ASGI lifespan protocol", exc_info=True)
            finally:
                if not started.done():
                    started.set_result(False)
                done.set()

        await inbox.put({"type": "lifespan.startup"})
        task = asyncio.get_running_loop().create_task(run())
        self._lifespan_task = task
        try:
            await asyncio.wait_for(asyncio.shield(started), limits.ASGI_LIFESPAN_TIMEOUT_SECONDS)
        except asyncio.TimeoutError:
            raise UpstreamError("the event handler app did not finish its lifespan startup") from None

    async def _lifespan_shutdown(self) -> None:
        inbox, done = self._lifespan_inbox, self._lifespan_done
        if inbox is None or done is None:
            return
        if not done.is_set():
            await inbox.put({"type": "lifespan.shutdown"})
            try:
                await asyncio.wait_for(done.wait(), limits.ASGI_LIFESPAN_TIMEOUT_SECONDS)
            except asyncio.TimeoutError:
                log.warning("the event handler app did not finish its lifespan shutdown in time")
        task = self._lifespan_task
        if task is not None and not task.done():
            task.cancel()

    # ------------------------------------------------------------------ requests
    def _scope(self, method: str, url: str, headers: Sequence[tuple[str, str]], body: bytes) -> dict[str, Any]:
        parts = urlsplit(url)
        scheme = parts.scheme or "http"
        port = parts.port or (443 if scheme == "https" else 80)
        raw_headers = [(b"host", parts.netloc.encode("utf-8"))]
        raw_headers += [(k.lower().encode("latin-1"), v.encode("utf-8")) for k, v in headers if k.lower() != "host"]
        if body or method in ("POST", "PUT", "PATCH"):
            raw_headers.append((b"content-length", str(len(body)).encode("ascii")))
        return {
            "type": "http",
            "asgi": _ASGI,
            "http_version": "1.1",
            "method": method,
            "scheme": scheme,
            "path": unquote(parts.path or "/"),
            "raw_path": (parts.path or "/").encode("utf-8"),
            "query_string": parts.query.encode("utf-8"),
            "root_path": "",
            "headers": raw_headers,
            "client": ("127.0.0.1", 0),
            "server": (parts.hostname or "localhost", port),
            "state": dict(self._state),
        }

    async def _call(self, scope: dict[str, Any], body: bytes) -> UpstreamResponse:
        answered = asyncio.Event()
        body_sent = False
        status: Optional[int] = None
        answer_headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []
        size = 0

        async def receive() -> Message:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await answered.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status, size
            kind = message.get("type")
            if kind == "http.response.start":
                if status is not None:
                    raise RuntimeError("http.response.start sent twice")
                status = int(message["status"])
                for name, value in message.get("headers", ()):
                    answer_headers.append((bytes(name).decode("latin-1"), bytes(value).decode("latin-1")))
            elif kind == "http.response.body":
                if status is None:
                    raise RuntimeError("http.response.body sent before http.response.start")
                chunk = bytes(message.get("body", b""))
                size += len(chunk)
                if size > self.max_answer_bytes:
                    raise _AnswerTooLarge
                chunks.append(chunk)
                if not message.get("more_body", False):
                    answered.set()

        try:
            await self.app(scope, receive, send)
        except _AnswerTooLarge:
            raise UpstreamError(f"the event handler's answer exceeds {self.max_answer_bytes} bytes") from None
        except Exception:
            if status is not None:
                log.warning("the event handler app failed while answering", exc_info=True)
                raise UpstreamError("the event handler app failed while answering") from None
            log.warning("the event handler app failed before answering (answered 500)", exc_info=True)
            return UpstreamResponse(500, b"", None, ())
        finally:
            answered.set()
        if status is None:
            return UpstreamResponse(500, b"", None, ())  # returned without answering: a server answers 500
        content_type = next((v for k, v in answer_headers if k.lower() == "content-type"), None)
        return UpstreamResponse(status, b"".join(chunks), content_type, tuple(answer_headers))

    async def request(
        self, method: str, url: str, headers: Sequence[tuple[str, str]], body: bytes, *, timeout: float
    ) -> UpstreamResponse:
        """Call the application with one request (on its own loop) and return its whole answer."""
        await self._ensure_started()
        future = self._on_app_loop(self._call(self._scope(method, url, headers, body), body))
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except asyncio.TimeoutError:
            future.cancel()
            raise UpstreamError("the event handler app did not answer in time") from None

    async def close(self) -> None:
        """Run the application's lifespan shutdown and stop its loop."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = self._thread = None
        self._started = False
        try:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._lifespan_shutdown(), loop))
        finally:
            loop.call_soon_threadsafe(loop.stop)
            await asyncio.get_running_loop().run_in_executor(None, thread.join, LIFESPAN_TIMEOUT)
