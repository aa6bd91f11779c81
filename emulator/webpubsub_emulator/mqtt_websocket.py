"""aiohttp adapter for MQTT clients at ``/clients/mqtt/hubs/{hub}`` (WebSocket, subprotocol ``mqtt``): only the IO.

It upgrades a request that offers ``mqtt`` (else 400), feeds binary frames to the connection's reassembly buffer
(:class:`~.mqtt.framing.PacketBuffer`), waits up to 10 s for the CONNECT, and decides it: the CONNECT rules
(:func:`~.mqtt.connect.check_connect`), the access token (``access_token`` query or bearer header, ``aud`` on the MQTT
endpoint), the client id, and the blocking upstream ``connect`` (its refusals become CONNACK codes). An accepted
CONNECT gets its session from :mod:`.mqtt_clients`, which does everything else without IO; this module writes the
session's frames (a :class:`~.frame_writer.FrameWriter` per WebSocket), reads packets until the socket is gone, runs
the sessions' timers, sends user events upstream one at a time per session (acks and pings keep flowing meanwhile),
fires ``connected`` / ``disconnected``, and closes WebSockets that lost their session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import deque
from typing import Any, Optional, Sequence

from aiohttp import WSMsgType, web

from . import handshake, limits
from .core import Core
from .errors import BadRequest, EmulatorError, HttpAnswer, UpstreamError
from .exposure import ServerNames
from .fanout_pump import FanOutPump
from .faults import FaultInjector
from .frame_writer import FrameWriter, WriterContext
from .mqtt.codec import encode
from .mqtt.codes import MQTT_5, ReasonCode
from .mqtt.connect import CONNECT_TIMEOUT, KEEP_WINDOW, Refusal, assign_client_id, check_connect, refuse
from .mqtt.connect import refusal_for_error as _refusal_for_error
from .mqtt.errors import CLOSE_MESSAGE_TOO_BIG, CLOSE_NORMAL, CLOSE_PROTOCOL_ERROR, CLOSE_UNSUPPORTED_DATA, MqttError
from .mqtt.framing import MAX_PACKET_SIZE, PacketBuffer
from .mqtt.packets import Connect, Packet
from .mqtt.session import EventReply, UserEvent
from .mqtt.upstream import answer_user_properties, connect_refusal
from .mqtt.upstream import connect_body as mqtt_connect_body
from .mqtt_clients import MQTT_SUBPROTOCOL, Link, MqttBinding, MqttClients
from .outbox import CloseFrame
from .protocol import dumps
from .roles import RoleError
from .session import Session
from .trace import Trace
from .upstream_contract import (
    EventCall,
    EventTarget,
    HandlerTable,
    UpstreamPort,
    connect_body,
    connection_state_of,
    parse_connect_answer,
    system_call,
)
from .validation import ValidationError, validate_hub

__all__ = ["MAX_PENDING_EVENTS", "TICK_SECONDS", "MqttGateway"]

log = logging.getLogger(__name__)

#: How often the sessions' timers (keep-alive, will delay, session expiry) are looked at, in seconds.
TICK_SECONDS = 0.2
#: User events of one session waiting for the upstream (the JSON clients' bound); with more, its frames wait unread.
MAX_PENDING_EVENTS = limits.EVENT_QUEUE_MAX_EVENTS
#: The largest WebSocket frame read (a frame may hold several packets; one packet is at most 1 MiB).
MAX_FRAME_BYTES = 2 * MAX_PACKET_SIZE
_FAILED_EVENT = b"The upstream event handler failed."
_NO_HANDLER = b"No event handler is configured for this event."


def _http(answer: HttpAnswer) -> web.Response:
    return web.Response(status=answer.status, headers=answer.headers, body=answer.body)


class _TextFrame(Exception):
    """A text frame: MQTT travels in binary frames only."""


class _Lane:
    """One session's user events waiting for the upstream, sent one at a time in order."""

    __slots__ = ("events", "room", "task")

    def __init__(self) -> None:
        self.events: deque[UserEvent] = deque()
        self.task: Optional[asyncio.Task[None]] = None
        self.room = asyncio.Event()
        self.room.set()


class MqttGateway:
    """Serves ``/clients/mqtt/hubs/{hub}`` over a shared :class:`Core`.

    :param keep_window: the longest a session outlives its connection (seconds, default 30).
    """

    def __init__(
        self,
        core: Core,
        access_key: str,
        endpoint: str,
        upstream: Optional[UpstreamPort] = None,
        faults: Optional[FaultInjector] = None,
        trace: Optional[Trace] = None,
        pump: Optional[FanOutPump] = None,
        *,
        keep_window: float = KEEP_WINDOW,
    ) -> None:
        self.core = core
        self.access_key = access_key
        self.endpoint = endpoint
        #: the names this emulator answers to (Host headers, token audiences); the server sets them once bound
        self.names = ServerNames.of_endpoint(endpoint)
        self.pump = pump if pump is not None else FanOutPump(core)
        self.upstream = upstream
        self.trace = trace if trace is not None else core.trace
        self.handlers = upstream.handlers if upstream is not None else HandlerTable({})
        self.clients = MqttClients(core, keep_window=keep_window)
        self.clients.request_event = self._queue_event
        self.clients.notify_ended = self._on_ended
        self.clients.close_link = self._close_link
        self._writer_context = WriterContext(core.clock, core.transport_closed, faults, self.trace)
        self._ticker: Optional[asyncio.Task[None]] = None
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ the WebSocket
    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Entry point for ``/clients/mqtt/hubs/{hub}``."""
        try:
            self.names.check_host_header(request.headers.get("Host"))
            hub = validate_hub(request.match_info["hub"])
            offered = handshake.offered_subprotocols(request.headers.getall("Sec-WebSocket-Protocol", []))
            if MQTT_SUBPROTOCOL not in offered:
                raise BadRequest("MQTT clients must offer the WebSocket subprotocol 'mqtt'.")
            ws = web.WebSocketResponse(
                protocols=(MQTT_SUBPROTOCOL,), max_msg_size=MAX_FRAME_BYTES, autoping=True, compress=False
            )
            if not ws.can_prepare(request).ok:
                raise BadRequest("A WebSocket upgrade request is expected here.")
        except (EmulatorError, ValidationError) as exc:
            error = exc if isinstance(exc, EmulatorError) else BadRequest(str(exc))
            if self.trace.listening:
                self.trace.emit("refused", None, None, status=error.status, code=error.code, reason=error.message)
            return _http(error.http())
        await ws.prepare(request)
        self._start_ticker()
        link = Link(secrets.token_hex(16))
        buffer = PacketBuffer()
        try:
            session = await self._connect(request, ws, hub, link, buffer)
        except Exception:
            log.exception("unexpected error while accepting an MQTT client")
            await self._close(ws, CLOSE_PROTOCOL_ERROR, "internal error")
            return ws
        if session is not None:
            await self._serve(request, ws, session, link, buffer)
        return ws

    async def _first_packet(self, ws: web.WebSocketResponse, buffer: PacketBuffer) -> Optional[Packet]:
        while True:
            msg = await ws.receive()
            if msg.type is WSMsgType.BINARY:
                buffer.append(msg.data)
                packet = buffer.next_packet()
                if packet is not None:
                    return packet
            elif msg.type is WSMsgType.TEXT:
                raise _TextFrame()
            else:
                return None

    async def _connect(
        self, request: web.Request, ws: web.WebSocketResponse, hub: str, link: Link, buffer: PacketBuffer
    ) -> Optional[Session]:
        """Read and decide the CONNECT; the session when it was accepted (None: refused, and closed)."""
        try:
            packet = await asyncio.wait_for(self._first_packet(ws, buffer), CONNECT_TIMEOUT)
        except asyncio.TimeoutError:
            await self._close(ws, CLOSE_NORMAL, "no CONNECT in time")
            return None
        except _TextFrame:
            await self._close(ws, CLOSE_UNSUPPORTED_DATA, "MQTT needs binary frames")
            return None
        except MqttError as exc:
            await self._refuse(ws, _refusal_for_error(exc), exc.close_code)
            return None
        if packet is None:
            return None
        if not isinstance(packet, Connect):
            await self._close(ws, CLOSE_PROTOCOL_ERROR, "the first packet must be CONNECT")
            return None
        connect = packet
        version = connect.protocol_level
        refusal = check_connect(connect)
        if refusal is not None:
            await self._refuse(ws, refusal)
            return None
        try:
            claims = handshake.client_claims(
                request.query.get("access_token"),
                request.headers.get("Authorization"),
                self.access_key,
                hub=hub,
                names=self.names,
                client_type="MQTT",
            )
            admission = handshake.admit(hub, claims, MQTT_SUBPROTOCOL)
        except EmulatorError as exc:
            await self._refuse(ws, refuse("token", version, exc.message))
            return None
        client_id = connect.client_id or assign_client_id()
        if self._taken_by_another_protocol(hub, client_id):
            await self._refuse(ws, refuse("client_id", version, "the client identifier is in use by another client"))
            return None
        user_id, permissions, groups = admission.user_id, admission.permissions, admission.groups
        target: Optional[EventTarget] = None
        user_properties: Sequence[tuple[str, str]] = ()
        if self.handlers.has_handlers(hub):
            target = EventTarget(
                hub.lower(), client_id, user_id, MQTT_SUBPROTOCOL, physical_connection_id=link.physical_id
            )
            handler = self.handlers.find(hub, system_event="connect")
            if handler is not None:
                body = connect_body(
                    claims,
                    request.query.items(),
                    request.headers.items(),
                    [MQTT_SUBPROTOCOL],
                    {"mqtt": mqtt_connect_body(connect)},
                )
                answer = await self._connect_event(target, system_call(handler, "connect", body), version)
                if isinstance(answer, Refusal):
                    await self._refuse(ws, answer)
                    return None
                outcome, user_properties = answer
                if outcome.roles is not None:
                    try:
                        permissions.replace_roles(outcome.roles)
                    except RoleError:
                        await self._refuse(ws, self._upstream_refusal(None, None, version))
                        return None
                user_id = outcome.user_id
                groups = outcome.groups or groups
                target.user_id = user_id
                target.connection_state = outcome.state
        if ws.closed or self._taken_by_another_protocol(hub, client_id):  # things moved while upstream answered
            await self._refuse(ws, refuse("client_id", version, "the client identifier is in use by another client"))
            return None
        session_id = secrets.token_hex(16)
        if target is not None:
            target.session_id = session_id
        session, resumed = self.clients.attach(
            hub,
            connect,
            link,
            client_id=client_id,
            user_id=user_id,
            permissions=permissions,
            groups=groups,
            target=target,
            session_id=session_id,
            user_properties=user_properties,
        )
        binding: MqttBinding = session.kind_state
        if resumed and binding.target is not None:
            binding.target.physical_connection_id = link.physical_id
        writer = FrameWriter(ws, request, session, self._writer_context)
        link.io = writer
        writer.attach()
        if not resumed and target is not None and self.upstream is not None:
            self.upstream.fire(target, "connected", b"{}")
        log.info(
            "MQTT client %s (user %s, MQTT %s) %s hub %s",
            client_id,
            session.user_id,
            "5.0" if version == MQTT_5 else "3.1.1",
            "resumed its session in" if resumed else "joined",
            hub,
        )
        return session

    def _taken_by_another_protocol(self, hub: str, client_id: str) -> bool:
        existing = self.core.connection(hub, client_id)
        return existing is not None and existing.kind is not self.clients

    async def _connect_event(
        self, target: EventTarget, call: EventCall, version: int
    ) -> Any:  # Refusal, or (ConnectOutcome, user properties)
        assert self.upstream is not None
        try:
            resp = await self.upstream.send(target, call)
        except UpstreamError as exc:
            log.warning("connect event of MQTT client %s failed: %s", target.connection_id, exc)
            return self._upstream_refusal(None, None, version)
        try:
            doc = json.loads(resp.body) if resp.body.strip() else None
        except ValueError:
            doc = None
        if not resp.ok:
            log.info("connect event of MQTT client %s answered %s", target.connection_id, resp.status)
            return self._upstream_refusal(resp.status, doc, version)
        try:
            outcome = parse_connect_answer(
                resp, offered=[MQTT_SUBPROTOCOL], user_id=target.user_id, chosen=MQTT_SUBPROTOCOL
            )
        except EmulatorError:
            log.warning("connect event of MQTT client %s answered values that cannot be used", target.connection_id)
            return self._upstream_refusal(None, None, version)
        return outcome, answer_user_properties(doc)

    @staticmethod
    def _upstream_refusal(status: Optional[int], body: Any, version: int) -> Refusal:
        answer = connect_refusal(status, body, version)
        reason = answer.reason or "the connect event handler refused the connection"
        refusal = refuse("internal", version, reason, code=answer.code, user_properties=answer.user_properties)
        assert refusal is not None
        return refusal

    async def _refuse(self, ws: web.WebSocketResponse, refusal: Optional[Refusal], status: int = 0) -> None:
        if refusal is None:  # pragma: no cover - every refusal kind refuses in some form
            await self._close(ws, CLOSE_PROTOCOL_ERROR, "refused")
            return
        if self.trace.listening:
            self.trace.emit("refused", None, None, status=None, code="mqtt", reason=refusal.reason)
        if refusal.connack is None:
            await self._close(ws, status or CLOSE_PROTOCOL_ERROR, refusal.reason)
            return
        with contextlib.suppress(Exception):
            await ws.send_bytes(encode(refusal.connack, refusal.version))
        await self._close(ws, CLOSE_NORMAL, refusal.reason)

    @staticmethod
    async def _close(ws: web.WebSocketResponse, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(code=code, message=reason[:120].encode("utf-8")), 2)

    # ------------------------------------------------------------------ packets
    async def _serve(
        self, request: web.Request, ws: web.WebSocketResponse, session: Session, link: Link, buffer: PacketBuffer
    ) -> None:
        clients = self.clients
        trace = self.trace
        binding: MqttBinding = session.kind_state
        broken = False
        try:
            for packet in list(buffer.packets()):  # pipelined behind the CONNECT
                clients.packet_in(session, link, packet)
            while True:
                msg = await ws.receive()
                if msg.type is WSMsgType.BINARY:
                    if trace.observers:
                        trace.emit("frame-in", session.hub, session.connection_id, type="binary", size=len(msg.data))
                    if broken:
                        continue
                    try:
                        packets = buffer.feed(msg.data)
                    except MqttError as exc:
                        broken = True
                        clients.violation(session, link, exc)
                        continue
                    for packet in packets:
                        clients.packet_in(session, link, packet)
                    if self.core.backlog:  # a fan-out it made is carried out in slices: read on once it is done
                        await self.pump.drained()
                    lane = binding.lane
                    if lane is not None and len(lane.events) >= MAX_PENDING_EVENTS:
                        await lane.room.wait()
                elif msg.type is WSMsgType.TEXT:
                    if not broken:
                        broken = True
                        error = MqttError(
                            ReasonCode.PROTOCOL_ERROR, "MQTT needs binary frames", close_code=CLOSE_UNSUPPORTED_DATA
                        )
                        clients.violation(session, link, error)
                elif msg.type is WSMsgType.ERROR:
                    log.info("MQTT connection %s: transport error %s", session.connection_id, ws.exception())
                    if ws.close_code == CLOSE_MESSAGE_TOO_BIG and not broken:
                        clients.violation(session, link, MqttError.too_large(MAX_FRAME_BYTES + 1, MAX_FRAME_BYTES))
                    break
                else:  # CLOSE, CLOSING, CLOSED
                    break
        except ConnectionError:
            log.info("MQTT connection %s: transport reset", session.connection_id)
        except Exception:
            log.exception("unexpected error while serving MQTT connection %s", session.connection_id)
        finally:
            await self._finish(session, link)

    async def _finish(self, session: Session, link: Link) -> None:
        """The WebSocket is gone: the core hears it first (held or gone), then the MQTT machine (offline or ended)."""
        writer: FrameWriter = link.io
        await writer.finish()
        if writer.superseded:  # a takeover or the shutdown took the session from this WebSocket
            return
        held = self.core.transport_lost(session)
        if held:
            session.held_until = None  # the MQTT machine keeps the session's expiry itself
        self.clients.connection_lost(session, link)

    def _close_link(self, link: Link) -> None:
        """Stop writing the outbox to ``link`` now; write its last words and close it soon after."""
        writer: Optional[FrameWriter] = link.io
        if writer is None:
            return
        writer.superseded = True
        if writer.task is not None:
            writer.task.cancel()

        async def farewell() -> None:
            ws = writer.ws
            with contextlib.suppress(Exception):
                for data in link.last_words:
                    await asyncio.wait_for(ws.send_bytes(data), 2)
            close = link.close or CloseFrame(CLOSE_NORMAL, "")
            await self._close(ws, close.code, close.reason)

        self._spawn(farewell())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ timers
    def _start_ticker(self) -> None:
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        clients = self.clients
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                for session in clients.due(self.core.clock()):
                    clients.tick(session)
            except Exception:
                log.exception("MQTT timers failed")

    # ------------------------------------------------------------------ upstream
    def _queue_event(self, session: Session, event: UserEvent) -> None:
        binding: MqttBinding = session.kind_state
        lane: Optional[_Lane] = binding.lane
        if lane is None:
            lane = binding.lane = _Lane()
        lane.events.append(event)
        if len(lane.events) >= MAX_PENDING_EVENTS:
            lane.room.clear()
        if lane.task is None or lane.task.done():
            lane.task = asyncio.get_running_loop().create_task(self._run_lane(session, lane))

    async def _run_lane(self, session: Session, lane: _Lane) -> None:
        while lane.events:
            event = lane.events[0]
            try:
                reply = await self._user_event(session, event)
            except Exception:
                log.exception("user event %r of MQTT client %s failed", event.name, session.connection_id)
                reply = EventReply(event.request_id, 500, _FAILED_EVENT, "text/plain")
            lane.events.popleft()
            if len(lane.events) < MAX_PENDING_EVENTS:
                lane.room.set()
            self.clients.event_reply(session, reply)

    async def _user_event(self, session: Session, event: UserEvent) -> EventReply:
        binding: MqttBinding = session.kind_state
        target = binding.target
        handler = self.handlers.find(session.hub, user_event=event.name)
        if self.upstream is None or target is None or handler is None:
            log.info("MQTT %s: event %r has no event handler", session.connection_id, event.name[:64])
            return EventReply(event.request_id, 500, _NO_HANDLER, "text/plain")
        call = EventCall(
            handler,
            event.name,
            f"azure.webpubsub.user.{event.name}",
            event.message.payload,
            event.content_type,
            event.headers,
        )
        try:
            resp = await self.upstream.send(target, call)
        except UpstreamError as exc:
            log.warning("event %r of MQTT client %s failed: %s", event.name, session.connection_id, exc)
            return EventReply(event.request_id, 500, _FAILED_EVENT, "text/plain")
        try:
            state = connection_state_of(resp)
        except UpstreamError:
            log.warning("event %r of MQTT client %s set the state twice", event.name, session.connection_id)
            return EventReply(event.request_id, 500, _FAILED_EVENT, "text/plain")
        if state is not None and resp.ok:  # only a 2xx answer sets the state (as for the other protocols)
            target.connection_state = state
        return EventReply(event.request_id, resp.status, resp.body, resp.content_type, resp.headers)

    def _on_ended(self, session: Session, body: dict[str, Any]) -> None:
        binding: MqttBinding = session.kind_state
        lane: Optional[_Lane] = binding.lane
        if lane is not None:
            lane.events.clear()
            lane.room.set()
        target = binding.target
        if target is not None and self.upstream is not None:
            self.upstream.fire(target, "disconnected", dumps(body).encode("utf-8"))

    # ------------------------------------------------------------------ shutdown
    async def close_all(self) -> None:
        """End every MQTT session (5.0 DISCONNECT 0x8B, WebSocket 1001) and stop the timers."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        for session in list(self.clients.sessions):
            self.clients.shut_down(session)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
