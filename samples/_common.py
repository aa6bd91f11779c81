"""Shared plumbing for the samples: where the service is, and a small WebSocket client that records what it receives.

Nothing in here is part of the SDK. The samples import it so that each of them can stay focused on the SDK calls it
demonstrates.

* :func:`service_target` gives a sample its connection string and hub. It uses ``WEBPUBSUB_CONNECTION_STRING`` (and
  ``WEBPUBSUB_HUB``) when set, so every sample also runs against a real Azure Web PubSub resource; otherwise it starts
  the local emulator (``webpubsub_emulator.EmulatorThread``) on a free port and stops it afterwards.
* :class:`WebSocketClient` plays the part of a browser or device: it connects with a client access URL minted by the
  SDK, speaks either no subprotocol ("raw"), ``json.webpubsub.azure.v1`` or ``json.reliable.webpubsub.azure.v1``, and
  keeps every frame it receives so a sample can *wait* for an expected delivery (with a timeout) instead of sleeping.

The client runs aiohttp (a dependency of the emulator and of the SDK's ``aio`` extra) on a private event loop in a
background thread, so the samples themselves can stay plain synchronous code.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import json
import os
import ssl
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable, Optional

import aiohttp

RAW = None
JSON = "json.webpubsub.azure.v1"
RELIABLE = "json.reliable.webpubsub.azure.v1"

#: How long to wait for something that should happen "immediately" on a local emulator. A real service is farther away,
#: so the default is generous; override with WEBPUBSUB_SAMPLE_TIMEOUT (seconds).
TIMEOUT = float(os.environ.get("WEBPUBSUB_SAMPLE_TIMEOUT", "10"))


class SampleError(RuntimeError):
    """Something the sample expected did not happen. The message says what."""


# --------------------------------------------------------------------------------------------------------------------
# Where is the service?
# --------------------------------------------------------------------------------------------------------------------


@dataclass
class Target:
    connection_string: str
    hub: str
    emulator: Any = None  # the running webpubsub_emulator.EmulatorThread, or None for a real service

    @property
    def endpoint(self) -> str:
        for part in self.connection_string.split(";"):
            key, _, value = part.partition("=")
            if key.strip().lower() == "endpoint":
                return value.strip().rstrip("/")
        raise SampleError("the connection string has no Endpoint")

    @property
    def access_key(self) -> str:
        for part in self.connection_string.split(";"):
            key, _, value = part.partition("=")
            if key.strip().lower() == "accesskey":
                return value.strip()
        raise SampleError("the connection string has no AccessKey")

    @property
    def where(self) -> str:
        return f"local emulator at {self.endpoint}" if self.emulator else f"the service at {self.endpoint}"


@contextlib.contextmanager
def service_target(default_hub: str, *, event_handler: Any = None) -> Iterator[Target]:
    """Yield the service to talk to: ``WEBPUBSUB_CONNECTION_STRING`` if set, else a freshly started local emulator.

    ``event_handler`` becomes the hub's event handler on a started emulator: a URL template with ``{event}``, or an
    ASGI application, which the emulator then calls in-process at ``/eventhandler/{event}`` (no web server needed).
    A real service's event handlers are configured on the resource instead.
    """
    connection_string = os.environ.get("WEBPUBSUB_CONNECTION_STRING")
    hub = os.environ.get("WEBPUBSUB_HUB") or default_hub
    if connection_string:
        yield Target(connection_string, hub)
        return
    try:
        from webpubsub_emulator import EmulatorThread
    except ImportError as exc:  # pragma: no cover - only without the emulator installed
        raise SampleError(
            "set WEBPUBSUB_CONNECTION_STRING, or install the local emulator: pip install ./emulator"
        ) from exc
    handlers = {hub: event_handler} if event_handler is not None else None
    with EmulatorThread(host="127.0.0.1", port=0, event_handlers=handlers) as emulator:  # port 0: any free port
        yield Target(emulator.connection_string, hub, emulator)


def check(condition: object, message: str) -> None:
    """Fail the sample with ``message`` unless ``condition`` holds."""
    if not condition:
        raise SampleError(message)


def run(main: Callable[[], None]) -> None:
    """Run a sample's ``main``; turn a failed expectation into a clear message and exit code 1."""
    try:
        main()
    except SampleError as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr)
        sys.exit(1)


# --------------------------------------------------------------------------------------------------------------------
# A WebSocket client that records what it receives
# --------------------------------------------------------------------------------------------------------------------


@dataclass
class Frame:
    """One frame received by a :class:`WebSocketClient`.

    ``kind`` is ``"text"`` or ``"binary"`` for a raw client and ``"json"`` for the JSON subprotocols (``data`` is then
    the parsed message, e.g. ``{"type": "message", "from": "server", "dataType": "text", "data": "hi"}``).
    """

    kind: str
    data: Any

    @property
    def is_message(self) -> bool:
        """A data message (as opposed to a system message, an ack or a pong)."""
        return self.kind != "json" or self.data.get("type") == "message"

    def describe(self) -> str:
        """A short, human-readable rendering for tables and logs."""
        if self.kind == "text":
            return f"text {_short(self.data)}"
        if self.kind == "binary":
            return f"binary {self.data.hex(' ')}"
        msg = self.data
        kind = msg.get("type")
        if kind == "message":
            origin = f" (group {msg.get('group')})" if msg.get("from") == "group" else ""
            data_type = msg.get("dataType")
            if data_type == "binary":
                payload = base64.b64decode(msg.get("data", "")).hex(" ")
            elif data_type == "json":
                payload = json.dumps(msg.get("data"), separators=(",", ":"))
            else:
                payload = _short(msg.get("data"))
            return f"{data_type} {payload}{origin}"
        if kind == "ack":
            if msg.get("success"):
                return f"ack #{msg.get('ackId')} ok"
            return f"ack #{msg.get('ackId')} {msg.get('error', {}).get('name')}"
        if kind == "system":
            return f"{msg.get('event')} {_short(msg.get('message') or '')}".strip()
        return json.dumps(msg)


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value) if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class WebSocketClient:
    """A WebSocket client (raw or JSON subprotocol) that keeps every frame it receives.

    Usage::

        with WebSocketClient(token["url"], protocol=JSON, name="json") as client:
            print(client.connection_id)
            frame = client.next_message()        # waits up to TIMEOUT seconds for the next data message
    """

    def __init__(
        self, url: str, *, protocol: Optional[str] = RAW, name: str = "client", cafile: Optional[str] = None
    ) -> None:
        self.url = url
        self.protocol = protocol
        self.name = name
        self.cafile = cafile  # a certificate to trust for wss:// (e.g. the emulator's self-signed one)
        self.connection_id: Optional[str] = None
        self.user_id: Optional[str] = None
        self.close_code: Optional[int] = None
        self._inbox: list[Frame] = []
        self._cond = threading.Condition()
        self._closed = False
        self._opened = threading.Event()
        self._error: Optional[BaseException] = None
        self._loop = asyncio.new_event_loop()
        self._ws: Optional[aiohttp.ClientWebSocketResponse] = None
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"ws-{name}", daemon=True)
        self._task: Optional[concurrent.futures.Future[None]] = None
        self._next_ack_id = 0
        self._last_sequence_id = 0

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def connect(self, timeout: float = TIMEOUT) -> WebSocketClient:
        """Open the connection; for the JSON subprotocols also wait for the ``connected`` system message."""
        self._thread.start()
        self._task = asyncio.run_coroutine_threadsafe(self._run(), self._loop)
        if not self._opened.wait(timeout):
            raise SampleError(f"{self.name}: the WebSocket did not open within {timeout:.0f} s")
        if self._error is not None:
            raise SampleError(f"{self.name}: could not connect: {self._error}") from self._error
        if self.protocol is not None:
            connected = self.take(
                lambda f: f.data.get("type") == "system" and f.data.get("event") == "connected",
                what="the 'connected' system message",
                timeout=timeout,
            )
            self.connection_id = connected.data["connectionId"]
            self.user_id = connected.data.get("userId")
        return self

    def close(self) -> None:
        """Close the connection (if still open) and stop the background loop."""
        if self._thread.is_alive():
            if self._ws is not None and not self._ws.closed:
                with contextlib.suppress(Exception):
                    asyncio.run_coroutine_threadsafe(self._ws.close(), self._loop).result(TIMEOUT)
            if self._task is not None:
                with contextlib.suppress(Exception):
                    self._task.result(TIMEOUT)  # let the receive loop finish cleanly
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(TIMEOUT)
        if not self._loop.is_running():
            self._loop.close()

    def expect_refused(self, timeout: float = TIMEOUT) -> str:
        """Connect, expecting the service to refuse the handshake; return why (e.g. ``401, message=...``)."""
        try:
            self.connect(timeout)
        except SampleError as refused:
            return str(refused)
        finally:
            self.close()
        raise SampleError(f"{self.name}: the connection should have been refused")

    def __enter__(self) -> WebSocketClient:
        return self.connect()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def _run(self) -> None:
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.ws_connect(
                    self.url,
                    protocols=[self.protocol] if self.protocol else [],
                    ssl=ssl.create_default_context(cafile=self.cafile) if self.cafile else True,
                ) as ws,
            ):
                if self.protocol is not None and ws.protocol != self.protocol:
                    raise SampleError(f"the service did not accept the subprotocol {self.protocol!r}")
                self._ws = ws
                self._opened.set()
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        await self._received(msg.data)
                    elif msg.type == aiohttp.WSMsgType.BINARY:
                        self._push(Frame("binary", msg.data))
                self.close_code = ws.close_code
        except BaseException as exc:  # reported to the thread waiting in connect()
            self._error = exc
        finally:
            self._opened.set()
            with self._cond:
                self._closed = True
                self._cond.notify_all()

    async def _received(self, text: str) -> None:
        if self.protocol is None:
            self._push(Frame("text", text))
            return
        message = json.loads(text)
        self._push(Frame("json", message))
        sequence_id = message.get("sequenceId")
        if self.protocol == RELIABLE and isinstance(sequence_id, int) and sequence_id > self._last_sequence_id:
            # Reliable clients acknowledge what they got, so the service can drop it from its resend buffer.
            self._last_sequence_id = sequence_id
            assert self._ws is not None
            await self._ws.send_str(json.dumps({"type": "sequenceAck", "sequenceId": sequence_id}))

    def _push(self, frame: Frame) -> None:
        with self._cond:
            self._inbox.append(frame)
            self._cond.notify_all()

    # -- receiving ---------------------------------------------------------------------------------------------------

    def take(self, predicate: Callable[[Frame], bool], *, what: str, timeout: float = TIMEOUT) -> Frame:
        """Remove and return the first received frame that matches ``predicate``, waiting up to ``timeout`` s."""
        with self._cond:
            found: list[Frame] = []

            def ready() -> bool:
                for frame in self._inbox:
                    if predicate(frame):
                        self._inbox.remove(frame)
                        found.append(frame)
                        return True
                return self._closed

            self._cond.wait_for(ready, timeout)
            if found:
                return found[0]
            state = f"the connection closed (code {self.close_code})" if self._closed else f"{timeout:.0f} s passed"
            pending = ", ".join(f.describe() for f in self._inbox) or "nothing"
            raise SampleError(f"{self.name} client: expected {what}, but {state}; unread frames: {pending}")

    def next_message(self, timeout: float = TIMEOUT) -> Frame:
        """The next data message, whatever it is (system messages and acks are left alone)."""
        return self.take(lambda f: f.is_message, what="a message", timeout=timeout)

    def expect_message(self, expected: Any, *, data_type: Optional[str] = None, timeout: float = TIMEOUT) -> Frame:
        """Wait for the next data message and check its payload; raise :class:`SampleError` if it differs.

        For a raw client ``expected`` is the frame payload (``str`` for text frames, ``bytes`` for binary frames). For
        a JSON client it is the decoded ``data`` (``bytes`` for ``dataType`` binary) and ``data_type`` is checked too.
        """
        frame = self.next_message(timeout)
        if frame.kind == "text" and not isinstance(expected, str):
            got: Any = json.loads(frame.data)  # a raw client gets JSON as its text; compare the parsed value
        elif frame.kind in ("text", "binary"):
            got = frame.data
        else:
            got = frame.data.get("data")
            if frame.data.get("dataType") == "binary":
                got = base64.b64decode(got)
            if data_type is not None and frame.data.get("dataType") != data_type:
                raise SampleError(f"{self.name} client: expected dataType {data_type!r}, got {frame.describe()}")
        if got != expected:
            raise SampleError(f"{self.name} client: expected {expected!r}, got {frame.describe()}")
        return frame

    def wait_disconnected(self, timeout: float = TIMEOUT) -> Frame:
        """Wait for the ``disconnected`` system message (JSON subprotocols only)."""
        return self.take(
            lambda f: f.kind == "json" and f.data.get("type") == "system" and f.data.get("event") == "disconnected",
            what="the 'disconnected' system message",
            timeout=timeout,
        )

    def wait_closed(self, timeout: float = TIMEOUT) -> Optional[int]:
        """Wait until the service closes the connection; return the close code."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._closed, timeout):
                raise SampleError(f"{self.name} client: the connection was still open after {timeout:.0f} s")
        return self.close_code

    # -- sending (JSON subprotocols) ---------------------------------------------------------------------------------

    def send(self, message: dict[str, Any]) -> None:
        """Send one JSON protocol message as a text frame."""
        if self._ws is None:
            raise SampleError(f"{self.name} client is not connected")
        asyncio.run_coroutine_threadsafe(self._ws.send_str(json.dumps(message)), self._loop).result(TIMEOUT)

    def request(self, message: dict[str, Any], timeout: float = TIMEOUT) -> Frame:
        """Send a message with a fresh ``ackId`` and wait for its ack (successful or not)."""
        self._next_ack_id += 1
        ack_id = self._next_ack_id
        self.send({**message, "ackId": ack_id})
        return self.take(
            lambda f: f.kind == "json" and f.data.get("type") == "ack" and f.data.get("ackId") == ack_id,
            what=f"the ack for {message.get('type')} (ackId {ack_id})",
            timeout=timeout,
        )

    def join_group(self, group: str) -> Frame:
        return self.request({"type": "joinGroup", "group": group})

    def send_to_group(self, group: str, data: Any, *, data_type: str = "json", no_echo: bool = False) -> Frame:
        return self.request(
            {"type": "sendToGroup", "group": group, "dataType": data_type, "data": data, "noEcho": no_echo}
        )


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    """Print rows as a plain-text table with a header line."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    line = "+".join("-" * (w + 2) for w in widths)
    print("+" + line + "+")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |")
    print("+" + line + "+")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths)) + " |")
    print("+" + line + "+")
