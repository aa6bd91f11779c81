"""aiohttp adapter for WebSocket clients: raw, ``json.webpubsub.azure.v1`` and ``json.reliable.webpubsub.azure.v1``.

It authenticates the upgrade, negotiates the subprotocol, and then only translates frames: every decision is taken by
:class:`~.core.Core`. Frames are written straight away, in the call that queued them, while the connection's socket
takes data; when it does not (a slow client), a writer task of that connection waits for it to drain and the frames wait
in the core's queue (where their TTL runs), so a slow client never holds up the others. A message fanned out to many
connections is encoded into a WebSocket frame once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
from collections import deque
from dataclasses import dataclass
from functools import partial
from typing import Any, Optional, Union
from urllib.parse import unquote

from aiohttp import WSMsgType, web
from multidict import MultiMapping

from . import auth
from .core import CloseFrame, Connection, ConnectionKind, ConnectionState, Core, Sequenced
from .faults import FaultInjector
from .protocol import (
    JSON_PROTOCOL,
    RELIABLE_PROTOCOL,
    SUPPORTED_PROTOCOLS,
    ClientRequest,
    MalformedMessage,
    Payload,
    disconnected_message,
    dumps,
    parse_client_message,
)
from .rest import ApiError, error_response
from .roles import SEND_TO_GROUP, PermissionState, RoleError
from .upstream import EventTarget, Upstream, UpstreamError, UpstreamResponse
from .validation import ValidationError, validate_group, validate_hub

__all__ = ["DEFAULT_ACK_DELAY", "MAX_FRAME_BYTES", "WebSocketGateway"]

log = logging.getLogger(__name__)

#: Client frames larger than this are refused with ``disconnected`` (JSON clients) and close code 1009.
MAX_FRAME_BYTES = 1024 * 1024
#: Frames beyond this are cut off by aiohttp itself (close 1009 without a reason) before they are buffered.
_HARD_FRAME_BYTES = 16 * 1024 * 1024
CLOSE_TOO_BIG = 1009
#: How long a closing connection may take to write its last frames before its transport is dropped.
CLOSE_GRACE_SECONDS = 10.0
CLOSE_INVALID_DATA = 1007
CLOSE_POLICY = 1008
CLOSE_INTERNAL = 1011
CLOSE_GOING_AWAY = 1001
#: Seconds between processing a JSON client's request and writing its ack (see :attr:`WebSocketGateway.ack_delay`).
DEFAULT_ACK_DELAY = 0.005


_OP_TEXT = 0x1
_OP_BINARY = 0x2
_PACK_LEN1 = struct.Struct("!BB").pack
_PACK_LEN2 = struct.Struct("!BBH").pack
_PACK_LEN3 = struct.Struct("!BBQ").pack


def _frame_header(opcode: int, length: int) -> bytes:
    """The header of a final, unmasked, uncompressed server frame (RFC 6455 section 5.2)."""
    if length < 126:
        return _PACK_LEN1(0x80 | opcode, length)
    if length < 65536:
        return _PACK_LEN2(0x80 | opcode, 126, length)
    return _PACK_LEN3(0x80 | opcode, 127, length)


#: aiohttp's private drain waiter (see :meth:`WebSocketGateway._drained`); a name, so a test can take it away from us
#: without taking it away from aiohttp's own writer (which uses it up to 3.10).
_DRAIN_HELPER = "_drain_helper"


def _writing_paused(protocol: Any) -> bool:
    """Whether the socket's buffer is full (aiohttp's public flag from 3.11; 3.10 keeps it as ``_paused``)."""
    paused = getattr(protocol, "writing_paused", None)
    return bool(protocol._paused if paused is None else paused)


class _Transport:
    """The socket side of one connection. Slots: there may be many thousands."""

    __slots__ = (
        "ack_timer",
        "acks",
        "client_closed",
        "conn",
        "protocol",
        "raw_transport",
        "superseded",
        "watchdog",
        "writer",
        "ws",
    )

    def __init__(self, ws: web.WebSocketResponse, conn: Connection, request: web.Request) -> None:
        self.ws = ws
        self.conn = conn
        self.raw_transport: Optional[asyncio.Transport] = request.transport
        #: aiohttp's protocol object of the connection: tells whether the socket takes data (flow control)
        self.protocol: Any = request.protocol
        #: the writer task, only while frames wait for a slow socket (or for the close handshake)
        self.writer: Optional[asyncio.Task[None]] = None
        self.superseded = False
        self.client_closed = False
        self.watchdog: Optional[asyncio.TimerHandle] = None
        #: delayed acks (due time, frame), oldest first, and the timer that queues them
        self.acks: Optional[deque[tuple[float, str]]] = None
        self.ack_timer: Optional[asyncio.TimerHandle] = None


@dataclass
class _ConnectOutcome:
    user_id: Optional[str]
    subprotocol: Optional[str]
    state: Optional[str] = None
    roles: Optional[list[str]] = None
    groups: Optional[list[str]] = None


def _multi(values: MultiMapping[str], *, drop: set[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in values.items():
        if key.lower() not in drop:
            out.setdefault(key, []).append(value)
    return out


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def _close_reason(text: str) -> str:
    """A WebSocket close reason must fit in 123 bytes."""
    data = text.encode("utf-8")
    return text if len(data) <= 123 else data[:120].decode("utf-8", "ignore") + "..."


class WebSocketGateway:
    """Serves ``/client/hubs/{hub}`` and ``/client/?hub=`` over a shared :class:`Core`."""

    def __init__(
        self,
        core: Core,
        access_key: str,
        endpoint: str,
        upstream: Optional[Upstream] = None,
        faults: Optional[FaultInjector] = None,
    ) -> None:
        self.core = core
        self.access_key = access_key
        self.endpoint = endpoint
        self.upstream = upstream
        self.faults = faults
        #: False: a JSON client's failed user event only gets an InternalServerError ack ([ms-emu] behaviour)
        self.close_on_event_failure = True
        #: Seconds to hold back each ack of a JSON client's request (0: none). The real service never acks within
        #: microseconds; clients that start waiting for an ack only after sending (azure-messaging-webpubsubclient
        #: 1.1.0) miss an ack that comes faster and then wait for their whole ack timeout.
        self.ack_delay = DEFAULT_ACK_DELAY
        self._transports: dict[tuple[str, str], _Transport] = {}
        self._targets: dict[tuple[str, str], EventTarget] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # the last frame built and the last text encoded, by identity: a fan-out hands the same object to every
        # recipient, so each message is encoded once (see _send)
        self._frame_key: object = None
        self._frame_bytes = b""
        self._text_key: object = None
        self._text_bytes = b""
        core.on_ended = self._on_ended

    # ------------------------------------------------------------------ handshake
    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Entry point for every request under ``/client``."""
        try:
            accepted = await self._handle(request)
        except ApiError as exc:
            return error_response(exc.status, exc.code, exc.message)
        except Exception:
            log.exception("unexpected error while serving a WebSocket client")
            return error_response(500, "InternalServerError", "The emulator hit an internal error.")
        if isinstance(accepted, web.StreamResponse):
            return accepted
        # the handshake's frame (token claims, headers, the probe response...) is gone by now: an idle connection
        # keeps only what serving it needs
        return await self._serve(request, *accepted)

    def _hub(self, request: web.Request) -> str:
        raw_path = request.raw_path.split("?", 1)[0]
        segments = [unquote(s) for s in raw_path.split("/")]
        if len(segments) == 4 and segments[:3] == ["", "client", "hubs"]:
            hub = segments[3]
        elif segments in (["", "client"], ["", "client", ""]):
            hub = request.query.get("hub", "")
            if not hub:
                raise ApiError(400, "BadRequest", "The query parameter 'hub' is required.")
        else:
            raise ApiError(404, "NotFound", "No such endpoint.")
        try:
            return validate_hub(hub)
        except ValidationError as exc:
            raise ApiError(400, "BadRequest", str(exc)) from None

    @staticmethod
    def _offered(request: web.Request) -> list[str]:
        offered: list[str] = []
        for header in request.headers.getall("Sec-WebSocket-Protocol", []):
            offered.extend(p.strip() for p in header.split(",") if p.strip())
        return offered

    def _claims(self, request: web.Request, hub: str) -> dict[str, Any]:
        token = request.query.get("access_token")
        if not token:
            header = request.headers.get("Authorization", "")
            scheme, _, value = header.partition(" ")
            if scheme.lower() == "bearer":
                token = value.strip()
        if not token:
            raise ApiError(401, "Unauthorized", "An access token is required (access_token query or bearer header).")
        try:
            claims = auth.decode_token(token, self.access_key)
            auth.check_client_audience(
                claims,
                hub=hub,
                request_scheme=request.scheme,
                host_header=request.headers.get("Host"),
                endpoint=self.endpoint,
            )
        except auth.AuthError as exc:
            raise ApiError(401, "Unauthorized", str(exc)) from None
        return claims

    @staticmethod
    def _identity(claims: dict[str, Any]) -> tuple[Optional[str], list[str], list[str]]:
        subs = _as_list(claims.get("sub"))
        if len(subs) > 1:
            raise ApiError(401, "Unauthorized", "The access token carries more than one 'sub' claim.")
        user_id = None if not subs or subs[0] is None else str(subs[0])
        roles = [r for r in _as_list(claims.get("role")) if isinstance(r, str)]
        groups = _as_list(claims.get("webpubsub.group")) + _as_list(claims.get("group"))
        checked: list[str] = []
        for group in groups:
            if not isinstance(group, str):
                raise ApiError(400, "BadRequest", "The token's group claim must hold strings.")
            try:
                checked.append(validate_group(group))
            except ValidationError as exc:
                raise ApiError(400, "BadRequest", str(exc)) from None
        return (user_id or None), roles, checked

    async def _handle(
        self, request: web.Request
    ) -> Union[web.StreamResponse, tuple[web.WebSocketResponse, Connection]]:
        hub = self._hub(request)
        offered = self._offered(request)
        chosen = next((p for p in offered if p in SUPPORTED_PROTOCOLS), None)
        probe = web.WebSocketResponse(protocols=(chosen,) if chosen else ())
        if not probe.can_prepare(request).ok:
            raise ApiError(400, "BadRequest", "A WebSocket upgrade request is expected here.")
        conn_id = request.query.get("awps_connection_id")
        recon_token = request.query.get("awps_reconnection_token")
        if conn_id is not None or recon_token is not None:
            return await self._recover(request, hub, chosen, conn_id or "", recon_token or "")
        claims = self._claims(request, hub)
        user_id, roles, groups = self._identity(claims)
        try:
            permissions = PermissionState(roles)
        except RoleError as exc:
            raise ApiError(400, "BadRequest", f"Invalid role in the access token: {exc}") from None
        connection_id = self.core.new_connection_id(hub)
        target: Optional[EventTarget] = None
        state: Optional[str] = None
        if self.upstream is not None and self.upstream.handlers.get(hub.lower()):
            target = EventTarget(hub.lower(), connection_id, user_id)
            handler = self.upstream.find(hub, system_event="connect")
            if handler is not None:
                outcome = await self._connect_event(request, target, claims, offered, chosen)
                if isinstance(outcome, web.Response):
                    return outcome
                user_id, chosen, state = outcome.user_id, outcome.subprotocol, outcome.state
                if outcome.roles is not None:
                    try:
                        permissions.replace_roles(outcome.roles)
                    except RoleError:
                        log.warning("connect handler returned an invalid role; upgrade refused")
                        return error_response(500, "InternalServerError", "The connect event handler failed.")
                if outcome.groups:
                    groups = outcome.groups
        raw_mode, raw_group, raw_no_echo = "sendEvent", None, False
        if chosen not in SUPPORTED_PROTOCOLS:
            raw_mode, raw_group, raw_no_echo = self._raw_mode(request)
        kind = {JSON_PROTOCOL: ConnectionKind.JSON, RELIABLE_PROTOCOL: ConnectionKind.RELIABLE}.get(
            chosen or "", ConnectionKind.RAW
        )
        ws = self._socket(chosen)
        await ws.prepare(request)
        conn = self.core.add_connection(
            hub,
            user_id=user_id,
            kind=kind,
            permissions=permissions,
            subprotocol=chosen,
            groups=groups,
            connection_id=connection_id,
        )
        conn.raw_mode, conn.raw_group, conn.raw_no_echo = raw_mode, raw_group, raw_no_echo
        conn.connection_state = state
        if target is not None:
            target.user_id, target.subprotocol, target.connection_state = user_id, chosen, state
            self._targets[(conn.hub, conn.connection_id)] = target
            self._fire(target, "connected", b"{}")
        log.info("connection %s (user %s, %s) joined hub %s", conn.connection_id, user_id, chosen or "raw", hub)
        return ws, conn

    async def _connect_event(
        self,
        request: web.Request,
        target: EventTarget,
        claims: dict[str, Any],
        offered: list[str],
        chosen: Optional[str],
    ) -> Union[web.Response, _ConnectOutcome]:
        """Call the blocking ``connect`` event; a Response means the upgrade is refused with it."""
        assert self.upstream is not None
        handler = self.upstream.find(target.hub, system_event="connect")
        assert handler is not None

        def strings(value: Any) -> list[str]:
            items = value if isinstance(value, list) else [value]
            return [v if isinstance(v, str) else json.dumps(v) for v in items]

        query = _multi(request.query, drop={"access_token"})
        headers = _multi(request.headers, drop={"authorization"})
        body = {
            "claims": {k: strings(v) for k, v in claims.items()},
            "query": query,
            "headers": headers,
            "subprotocols": offered,
            "clientCertificates": [],
        }
        try:
            resp = await self.upstream.send(
                handler,
                target,
                event_name="connect",
                ce_type="azure.webpubsub.sys.connect",
                body=dumps(body).encode("utf-8"),
                content_type="application/json",
            )
        except UpstreamError as exc:
            log.warning("connect event for %s failed: %s", target.connection_id, exc)
            return error_response(500, "InternalServerError", "The connect event handler failed.")
        if 400 <= resp.status < 500:
            return web.Response(
                status=resp.status,
                body=resp.body,
                headers={"Content-Type": resp.content_type} if resp.content_type else None,
            )
        if not resp.ok:
            log.warning("connect event for %s answered %s", target.connection_id, resp.status)
            return error_response(500, "InternalServerError", "The connect event handler failed.")
        outcome = _ConnectOutcome(user_id=target.user_id, subprotocol=chosen)
        states = resp.headers.getall("ce-connectionState", [])
        if len(states) > 1:
            return error_response(500, "InternalServerError", "The connect event handler set the state twice.")
        outcome.state = states[0] if states else None
        if resp.status == 204 or not resp.body.strip():
            return outcome
        try:
            doc = json.loads(resp.body)
        except ValueError:
            return error_response(500, "InternalServerError", "The connect event handler answered invalid JSON.")
        if doc is None:
            return outcome
        if not isinstance(doc, dict):
            return error_response(500, "InternalServerError", "The connect event handler answered invalid JSON.")
        try:
            if "userId" in doc and doc["userId"] is not None:
                if not isinstance(doc["userId"], str):
                    raise ValueError("userId")
                outcome.user_id = doc["userId"]
            if doc.get("roles") is not None:
                if not isinstance(doc["roles"], list) or not all(isinstance(r, str) for r in doc["roles"]):
                    raise ValueError("roles")
                outcome.roles = doc["roles"]
            if doc.get("groups"):
                if not isinstance(doc["groups"], list) or not all(isinstance(g, str) for g in doc["groups"]):
                    raise ValueError("groups")
                outcome.groups = [validate_group(g) for g in doc["groups"]]
            if doc.get("subprotocol") is not None:
                if doc["subprotocol"] not in offered:
                    raise ValueError("subprotocol")
                outcome.subprotocol = doc["subprotocol"]
        except ValueError as exc:
            log.warning("connect event for %s: invalid %s in the answer", target.connection_id, exc)
            return error_response(500, "InternalServerError", "The connect event handler answered invalid values.")
        return outcome

    @staticmethod
    def _raw_mode(request: web.Request) -> tuple[str, Optional[str], bool]:
        mode = request.query.get("webpubsub_mode", "sendEvent")
        if mode.lower() == "sendevent":
            return "sendEvent", None, False
        if mode.lower() != "sendtogroup":
            raise ApiError(400, "BadRequest", "webpubsub_mode must be 'sendEvent' or 'sendToGroup'.")
        groups = request.query.getall("group", [])
        if len(groups) != 1:
            raise ApiError(400, "BadRequest", "webpubsub_mode=sendToGroup needs exactly one 'group' parameter.")
        try:
            group = validate_group(groups[0])
        except ValidationError as exc:
            raise ApiError(400, "BadRequest", str(exc)) from None
        no_echo = request.query.get("noEcho", "false").lower() == "true"
        return "sendToGroup", group, no_echo

    @staticmethod
    def _socket(chosen: Optional[str]) -> web.WebSocketResponse:
        return web.WebSocketResponse(
            protocols=(chosen,) if chosen else (), max_msg_size=_HARD_FRAME_BYTES, autoping=True, compress=False
        )

    async def _recover(
        self, request: web.Request, hub: str, chosen: Optional[str], conn_id: str, token: str
    ) -> Union[web.StreamResponse, tuple[web.WebSocketResponse, Connection]]:
        conn = self.core.recover(hub, conn_id, token) if conn_id and token else None
        ws = self._socket(chosen)
        await ws.prepare(request)
        if conn is None:
            log.info("recovery of connection %r in hub %s refused", conn_id[:64], hub)
            if chosen is not None:
                with contextlib.suppress(Exception):
                    await ws.send_str(disconnected_message("The connection cannot be recovered."))
            await ws.close(code=CLOSE_POLICY, message=b"Recovery failed")
            return ws
        old = self._transports.get((conn.hub, conn.connection_id))
        if old is not None:
            old.superseded = True
            if old.writer is not None:
                old.writer.cancel()
            with contextlib.suppress(Exception):
                await old.ws.close(code=CLOSE_GOING_AWAY, message=b"Replaced by a recovered connection")
        log.info("connection %s in hub %s recovered", conn.connection_id, hub)
        return ws, conn

    # ------------------------------------------------------------------ frames
    async def _serve(self, request: web.Request, ws: web.WebSocketResponse, conn: Connection) -> web.WebSocketResponse:
        transport = _Transport(ws, conn, request)
        key = (conn.hub, conn.connection_id)
        self._transports[key] = transport
        conn.wakeup = partial(self._wake, transport)
        self._wake(transport)  # whatever was queued before the socket was ready (``connected``, re-sends)
        try:
            while True:
                msg = await ws.receive()
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    try:
                        await self._on_frame(conn, msg.data)
                    except Exception:
                        log.exception("failed to process a frame of %s", conn.connection_id)
                        self.core.close(
                            conn, code=CLOSE_INTERNAL, reason="Internal error.", close_reason="Internal error"
                        )
                    if conn.state is not ConnectionState.OPEN:
                        break
                elif msg.type is WSMsgType.CLOSE:
                    # a close frame from the client: a deliberate close, the session ends (no recovery)
                    transport.client_closed = True
                    break
                elif msg.type is WSMsgType.ERROR:
                    log.info("connection %s: transport error %s", conn.connection_id, ws.exception())
                    if ws.close_code == CLOSE_TOO_BIG:
                        self.core.close(conn, code=CLOSE_TOO_BIG, reason="The frame is too large.")
                    break
                elif msg.type in (WSMsgType.CLOSING, WSMsgType.CLOSED):
                    break
        except ConnectionError:
            log.info("connection %s: transport reset", conn.connection_id)
        except Exception:
            log.exception("unexpected error while reading from %s", conn.connection_id)
        finally:
            await self._finish(transport)
        return ws

    async def _finish(self, transport: _Transport) -> None:
        conn = transport.conn
        if conn.state is ConnectionState.CLOSING and not transport.superseded and transport.writer is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(transport.writer), timeout=10)
            self.core.finished(conn)
        self._lost(transport)

    def _lost(self, transport: _Transport) -> None:
        conn = transport.conn
        if transport.watchdog is not None:
            transport.watchdog.cancel()
        if transport.ack_timer is not None:
            transport.ack_timer.cancel()
        if transport.writer is not None and not transport.writer.done():
            transport.writer.cancel()
        key = (conn.hub, conn.connection_id)
        if self._transports.get(key) is transport:
            del self._transports[key]
        if transport.superseded:
            return
        if conn.state is ConnectionState.OPEN:
            held = self.core.transport_lost(conn, deliberate=transport.client_closed)
            log.info("connection %s %s", conn.connection_id, "held for recovery" if held else "disconnected")
        elif conn.state is ConnectionState.CLOSING:
            self.core.finished(conn)

    def _wake(self, transport: _Transport) -> None:
        """The core queued a frame: write what the socket takes now, or leave it to the writer task."""
        if transport.conn.state is ConnectionState.CLOSING and transport.watchdog is None:
            # a client that stopped reading must not keep a closed connection alive: give the final frames some time
            loop = asyncio.get_running_loop()
            transport.watchdog = loop.call_later(CLOSE_GRACE_SECONDS, self._abort_if_stuck, transport)
        writer = transport.writer
        if (writer is None or writer.done()) and not transport.superseded:
            transport.writer = None
            try:
                self._pump(transport)
            except Exception:
                log.exception("unexpected error while writing to %s", transport.conn.connection_id)
                if transport.raw_transport is not None:
                    transport.raw_transport.abort()

    def _pump(self, transport: _Transport) -> None:
        """Write every pending frame the socket takes without waiting; start the writer task for the rest."""
        conn, core, protocol = transport.conn, self.core, transport.protocol
        while not transport.superseded:
            if _writing_paused(protocol):
                # a slow client: the frames stay queued (their TTL runs) until its socket drains
                self._start_writer(transport, None)
                return
            if not self._writable(transport):
                return  # the reader notices the broken transport and decides what happens next
            delivered = conn.delivered
            frame = core.take_frame(conn)
            if frame is None:
                return
            if isinstance(frame, CloseFrame):
                self._start_writer(transport, frame)  # the close handshake needs to wait
                return
            self._send(transport, frame)
            if conn.delivered > delivered and self.faults is not None and self.faults.should_drop(conn.delivered):
                self._drop(transport)
                return

    def _start_writer(self, transport: _Transport, first: Optional[CloseFrame]) -> None:
        transport.writer = asyncio.get_running_loop().create_task(self._write(transport, first))

    @staticmethod
    def _writable(transport: _Transport) -> bool:
        raw = transport.raw_transport
        return not transport.ws.closed and raw is not None and not raw.is_closing()

    def _send(self, transport: _Transport, frame: Union[str, bytes, Sequenced]) -> None:
        """Write one data frame to the socket (it buffers what the kernel does not take yet)."""
        raw = transport.raw_transport
        assert raw is not None
        if isinstance(frame, Sequenced):
            # a reliable client's message: the body is encoded once per message, the sequence id spliced in here
            body = self._encoded(frame.text)
            prefix = b'{"sequenceId":%d,' % frame.sequence_id
            size = len(prefix) + len(body) - 1
            raw.write(b"".join((_frame_header(_OP_TEXT, size), prefix, memoryview(body)[1:])))
            return
        if frame is self._frame_key:
            raw.write(self._frame_bytes)
            return
        if isinstance(frame, str):
            body, opcode = self._encoded(frame), _OP_TEXT
        else:
            body, opcode = frame, _OP_BINARY
        data = _frame_header(opcode, len(body)) + body
        # the same object goes to every recipient of a fan-out (the core shares it): build the frame once
        self._frame_key, self._frame_bytes = frame, data
        raw.write(data)

    def _encoded(self, text: str) -> bytes:
        if text is not self._text_key:
            self._text_key, self._text_bytes = text, text.encode("utf-8")
        return self._text_bytes

    async def _drained(self, transport: _Transport) -> None:
        """Wait until the socket takes data again (aiohttp's own flow control, as its WebSocket writer uses).

        ``_drain_helper`` is aiohttp's private waiter (3.9 to 3.14 have it); should a later aiohttp drop it, poll the
        public ``writing_paused`` flag instead of failing.
        """
        drain = getattr(transport.protocol, _DRAIN_HELPER, None)
        if drain is not None:
            await drain()
            return
        raw = transport.raw_transport
        while _writing_paused(transport.protocol) and raw is not None and not raw.is_closing():
            await asyncio.sleep(0.005)

    def _abort_if_stuck(self, transport: _Transport) -> None:
        if transport.writer is not None and not transport.writer.done() and transport.raw_transport is not None:
            log.info(
                "connection %s: final frames not written in time; dropping the transport", transport.conn.connection_id
            )
            transport.raw_transport.abort()

    async def _write(self, transport: _Transport, first: Optional[CloseFrame]) -> None:
        """The slow path: wait for the socket to drain, write what is pending, perform the close handshake."""
        ws, conn = transport.ws, transport.conn
        frame: Union[str, bytes, Sequenced, CloseFrame, None] = first
        try:
            while not transport.superseded:
                delivered = conn.delivered
                if frame is None:
                    if _writing_paused(transport.protocol):
                        await self._drained(transport)
                        continue
                    if not self._writable(transport):
                        return
                    frame = self.core.take_frame(conn)
                    if frame is None:
                        return
                if isinstance(frame, CloseFrame):
                    await ws.close(code=frame.code, message=_close_reason(frame.reason).encode("utf-8"))
                    self.core.finished(conn)
                    return
                self._send(transport, frame)
                frame = None
                if conn.delivered > delivered and self.faults is not None and self.faults.should_drop(conn.delivered):
                    self._drop(transport)
                    return
        except (ConnectionError, RuntimeError) as exc:
            log.info("connection %s: write failed (%s)", conn.connection_id, type(exc).__name__)
            # the reader notices the broken transport and decides what happens next
        except Exception:
            log.exception("unexpected error while writing to %s", conn.connection_id)
            if transport.raw_transport is not None:
                transport.raw_transport.abort()
        finally:
            if transport.writer is asyncio.current_task():
                transport.writer = None

    @staticmethod
    def _drop(transport: _Transport) -> None:
        """Injected fault: cut the TCP connection without a close frame (reliable clients will try to recover)."""
        log.info("connection %s: fault injected, transport dropped", transport.conn.connection_id)
        if transport.raw_transport is not None:
            transport.raw_transport.abort()

    async def _on_frame(self, conn: Connection, data: Union[str, bytes]) -> None:
        size = len(data) if isinstance(data, bytes) or len(data) * 4 <= MAX_FRAME_BYTES else len(data.encode("utf-8"))
        if size > MAX_FRAME_BYTES:
            reason = f"The frame is larger than {MAX_FRAME_BYTES} bytes."
            log.info("connection %s refused: %s", conn.connection_id, reason)
            self.core.close(conn, code=CLOSE_TOO_BIG, reason=reason, close_reason=reason)
            return
        if conn.kind is ConnectionKind.RAW:
            await self._on_raw_frame(conn, data)
            return
        if isinstance(data, bytes):
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError:
                self._protocol_error(conn, "A binary frame must hold UTF-8 JSON.")
                return
        try:
            req = parse_client_message(data)
        except MalformedMessage as exc:
            self._protocol_error(conn, f"Invalid message: {exc}.")
            return
        await self._on_request(conn, req)

    def _protocol_error(self, conn: Connection, reason: str) -> None:
        log.info("connection %s refused: %s", conn.connection_id, reason)
        self.core.close(conn, code=CLOSE_INVALID_DATA, reason=reason, close_reason=reason)

    async def _on_raw_frame(self, conn: Connection, data: Union[str, bytes]) -> None:
        if conn.raw_mode == "sendToGroup" and conn.raw_group is not None:
            group = conn.raw_group
            if not conn.permissions.allows(SEND_TO_GROUP, group):
                log.info("connection %s has no permission to send to %r; frame dropped", conn.connection_id, group)
                return
            payload = Payload.text(data) if isinstance(data, str) else Payload.binary(data)
            targets = self.core.targets_group(conn.hub, group)
            if conn.raw_no_echo:
                targets = [t for t in targets if t is not conn]
            self.core.deliver(targets, payload, group=group, from_user_id=conn.user_id)
            return
        # sendEvent mode: the frame is the upstream `message` event; without a handler, or when it fails, the service
        # drops the connection (close 1011).
        target = self._targets.get((conn.hub, conn.connection_id))
        handler = self.upstream.find(conn.hub, user_event="message") if self.upstream else None
        if handler is None or target is None or self.upstream is None:
            log.info("connection %s: no event handler is configured for hub %s; closing", conn.connection_id, conn.hub)
            self._upstream_failed(conn, "No event handler is configured for this hub.")
            return
        body = data.encode("utf-8") if isinstance(data, str) else data
        content_type = "text/plain; charset=utf-8" if isinstance(data, str) else "application/octet-stream"
        resp = await self._user_event(conn, target, "message", body, content_type)
        if resp is None:
            return
        if resp.status == 200 and resp.body:
            mime = (resp.content_type or "").partition(";")[0].strip().lower()
            if mime in ("text/plain", "application/json"):
                reply = Payload.text(resp.body.decode("utf-8", "replace"))
            else:
                reply = Payload.binary(resp.body)
            self.core.deliver([conn], reply)

    def _upstream_failed(self, conn: Connection, reason: str) -> None:
        self.core.close(conn, code=CLOSE_INTERNAL, reason=reason, close_reason=reason)

    async def _user_event(
        self,
        conn: Connection,
        target: EventTarget,
        event: str,
        body: bytes,
        content_type: str,
        metadata: Optional[dict[str, str]] = None,
        ack_id: Optional[int] = None,
    ) -> Optional[UpstreamResponse]:
        """Send a blocking user event; on failure the connection is dropped (1011) and None is returned."""
        assert self.upstream is not None
        handler = self.upstream.find(conn.hub, user_event=event)
        assert handler is not None
        target.connection_state = conn.connection_state
        extra = {f"x-webpubsub-metadata-{k.lower()}": v for k, v in (metadata or {}).items()}
        try:
            resp = await self.upstream.send(
                handler,
                target,
                event_name=event,
                ce_type=f"azure.webpubsub.user.{event}",
                body=body,
                content_type=content_type,
                extra_headers=extra,
            )
        except UpstreamError as exc:
            log.warning("event %r of %s failed: %s", event, conn.connection_id, exc)
            resp = None
        states = resp.headers.getall("ce-connectionState", []) if resp is not None else []
        if resp is None or not resp.ok or len(states) > 1:
            if resp is not None:
                log.warning("event %r of %s answered HTTP %s", event, conn.connection_id, resp.status)
            if conn.kind is ConnectionKind.RAW or self.close_on_event_failure:
                self.core.ack(conn, ack_id, ("InternalServerError", "The upstream event handler failed."))
                self._upstream_failed(conn, "The upstream event handler failed.")
            return None
        if states:
            conn.connection_state = target.connection_state = states[0]
        return resp

    async def _on_event(self, conn: Connection, req: ClientRequest) -> Optional[tuple[str, str]]:
        """A JSON client's ``event``: sent upstream; a 200 body comes back as a server message before the ack."""
        target = self._targets.get((conn.hub, conn.connection_id))
        event = req.event or ""
        handler = self.upstream.find(conn.hub, user_event=event) if self.upstream else None
        if handler is None or target is None:
            log.info("connection %s: event %r dropped, no event handler is configured", conn.connection_id, event)
            return ("InternalServerError", f"No event handler is configured for hub '{conn.hub}'.")
        payload = req.payload
        assert payload is not None
        if payload.data_type == "binary":
            body, content_type = (
                bytes(payload.raw) if isinstance(payload.raw, bytes) else b"",
                "application/octet-stream",
            )
        elif payload.data_type == "json":
            body, content_type = str(payload.raw).encode("utf-8"), "application/json"
        else:
            body, content_type = str(payload.raw).encode("utf-8"), "text/plain; charset=utf-8"
        resp = await self._user_event(conn, target, event, body, content_type, req.metadata, req.ack_id)
        if resp is None:  # in "close" mode the ack was sent and the connection is closing already
            return ("InternalServerError", "The upstream event handler failed.")
        if resp.status == 200 and resp.body:
            mime = (resp.content_type or "").partition(";")[0].strip().lower()
            reply: Payload
            if mime == "text/plain":
                reply = Payload.text(resp.body.decode("utf-8", "replace"))
            elif mime in ("application/json", "text/json"):
                try:
                    reply = Payload.json_text(resp.body.decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    reply = Payload.text(resp.body.decode("utf-8", "replace"))
            else:
                reply = Payload.binary(resp.body)
            self.core.deliver([conn], reply)
        return None

    # ------------------------------------------------------------------ system events
    def _fire(self, target: EventTarget, event: str, body: bytes) -> None:
        """Send a non-blocking system event (``connected`` / ``disconnected``); failures are only logged."""
        upstream = self.upstream
        if upstream is None:
            return
        handler = upstream.find(target.hub, system_event=event)
        if handler is None:
            return

        async def run() -> None:
            try:
                resp = await upstream.send(
                    handler,
                    target,
                    event_name=event,
                    ce_type=f"azure.webpubsub.sys.{event}",
                    body=body,
                    content_type="application/json",
                )
                if not resp.ok:
                    log.warning("%s event of %s answered HTTP %s", event, target.connection_id, resp.status)
            except UpstreamError as exc:
                log.warning("%s event of %s failed: %s", event, target.connection_id, exc)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_ended(self, conn: Connection) -> None:
        target = self._targets.pop((conn.hub, conn.connection_id), None)
        if target is not None:
            target.connection_state = conn.connection_state
            reason = conn.close_reason or "The connection ended."
            self._fire(target, "disconnected", dumps({"reason": reason}).encode("utf-8"))

    async def drain_events(self, timeout: float = 5.0) -> None:
        """Wait (up to ``timeout``) for pending ``connected``/``disconnected`` events."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)
        for task in list(self._tasks):
            task.cancel()

    async def _on_request(self, conn: Connection, req: ClientRequest) -> None:
        core = self.core
        if req.type == "ping":
            core.send_control(conn, dumps({"type": "pong"}))
            return
        if req.type == "sequenceAck":
            if conn.kind is ConnectionKind.RELIABLE and req.sequence_id is not None:
                core.sequence_ack(conn, req.sequence_id)
            else:
                log.info("connection %s: sequenceAck ignored on a non-reliable connection", conn.connection_id)
            return
        if req.type not in ("joinGroup", "leaveGroup", "sendToGroup", "event"):
            log.info("connection %s: unknown message type %r ignored", conn.connection_id, req.type[:64])
            return
        duplicate = core.duplicate_ack(conn, req.ack_id)
        if duplicate is not None:
            self._send_ack(conn, duplicate)
            return
        if req.bad_request is not None:
            self._ack(conn, req.ack_id, ("BadRequest", req.bad_request))
            return
        if req.group is not None:
            try:
                validate_group(req.group)
            except ValidationError as exc:
                self._ack(conn, req.ack_id, ("BadRequest", str(exc)))
                return
        error: Optional[tuple[str, str]]
        if req.type == "joinGroup":
            assert req.group is not None
            error = core.client_join(conn, req.group)
        elif req.type == "leaveGroup":
            assert req.group is not None
            error = core.client_leave(conn, req.group)
        elif req.type == "sendToGroup":
            assert req.group is not None and req.payload is not None
            error = core.client_send_to_group(
                conn,
                req.group,
                req.payload,
                no_echo=req.no_echo,
                ttl_seconds=req.ttl_seconds,
                metadata=req.metadata,
            )
        else:
            error = await self._on_event(conn, req)
            if conn.state is not ConnectionState.OPEN:
                return
        self._ack(conn, req.ack_id, error)

    # ------------------------------------------------------------------ acks
    def _ack(self, conn: Connection, ack_id: Optional[int], error: Optional[tuple[str, str]]) -> None:
        text = self.core.settle(conn, ack_id, error)
        if text is not None:
            self._send_ack(conn, text)

    def _send_ack(self, conn: Connection, text: str) -> None:
        """Queue an ack frame after :attr:`ack_delay`; acks keep their order and nothing else waits for them."""
        transport = self._transports.get((conn.hub, conn.connection_id))
        if self.ack_delay <= 0 or transport is None or transport.conn is not conn:
            self.core.send_control(conn, text)
            return
        loop = asyncio.get_running_loop()
        if transport.acks is None:
            transport.acks = deque()
        transport.acks.append((loop.time() + self.ack_delay, text))
        if transport.ack_timer is None:
            transport.ack_timer = loop.call_later(self.ack_delay, self._flush_acks, transport)

    def _flush_acks(self, transport: _Transport) -> None:
        transport.ack_timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        acks = transport.acks
        while acks and acks[0][0] <= now + 0.001:  # the loop may run a timer a bit early
            self.core.send_control(transport.conn, acks.popleft()[1])
        if acks:
            transport.ack_timer = loop.call_at(acks[0][0], self._flush_acks, transport)

    # ------------------------------------------------------------------ shutdown
    async def close_all(self) -> None:
        """Close every socket with 1001 (server shutdown), all at once."""
        transports = list(self._transports.values())
        self._transports.clear()

        async def close_one(transport: _Transport) -> None:
            transport.superseded = True
            if transport.writer is not None:
                transport.writer.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    transport.ws.close(code=CLOSE_GOING_AWAY, message=b"The emulator is shutting down"), timeout=2
                )

        await asyncio.gather(*(close_one(t) for t in transports))
