"""aiohttp adapter for WebSocket clients at ``/client/hubs/{hub}`` and ``/client/?hub=``: it only does the IO.

It reads the upgrade request and hands it to :mod:`.handshake` (hub, subprotocol, token, identity, raw mode), calls
the blocking ``connect`` event through the :class:`~.upstream_contract.UpstreamPort` it was given (never the upstream
adapter itself), upgrades, opens the session in the core, then reads frames and hands each to the session's client
protocol (:mod:`.raw_clients`, :mod:`.json_clients`, :mod:`.reliable_clients`), performs the user events they ask for,
and sends their acks, each after a short delay (:attr:`WebSocketGateway.ack_delay`). The session's frames are written
by its :class:`~.frame_writer.FrameWriter`. User events go through the session's :class:`~.event_queue.EventQueue`, so
that the next frames are read while one waits for the handler. When the socket is gone it tells the core once, and the
session's state machine decides what that means.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Optional, Union

from aiohttp import WSMsgType, web

from . import handshake, limits
from .clients import ClientContext, ClientProtocol
from .core import Core
from .errors import BadRequest, EmulatorError, HttpAnswer, InternalError, ServiceUnavailable, UpstreamError
from .event_queue import EventQueue
from .exposure import ServerNames
from .fanout_pump import FanOutPump
from .faults import FaultInjector
from .frame_writer import FrameWriter, WriterContext
from .protocol import disconnected_message, dumps
from .raw_clients import RAW
from .session import Session, SessionState
from .trace import Trace, preview
from .upstream_contract import (
    ConnectOutcome,
    EventHandler,
    EventTarget,
    HandlerTable,
    UpstreamPort,
    UpstreamResponse,
    UserEvent,
    connect_body,
    parse_connect_answer,
    system_call,
    user_call,
)

__all__ = ["DEFAULT_ACK_DELAY", "WebSocketGateway"]

log = logging.getLogger(__name__)

CLOSE_TOO_BIG = 1009
CLOSE_POLICY = 1008
CLOSE_GOING_AWAY = 1001
#: Seconds between processing a JSON client's request and writing its ack (see :attr:`WebSocketGateway.ack_delay`).
DEFAULT_ACK_DELAY = 0.005

_OPEN = SessionState.OPEN
_FRAME_TYPES = (WSMsgType.TEXT, WSMsgType.BINARY)


def _http(answer: HttpAnswer) -> web.Response:
    return web.Response(status=answer.status, headers=answer.headers, body=answer.body)


#: an accepted handshake: the socket, the session and the client protocol it speaks
_Accepted = tuple[web.WebSocketResponse, Session, ClientProtocol]


class WebSocketGateway:
    """Serves ``/client/hubs/{hub}`` and ``/client/?hub=`` over a shared :class:`Core`."""

    def __init__(
        self,
        core: Core,
        access_key: str,
        endpoint: str,
        upstream: Optional[UpstreamPort] = None,
        faults: Optional[FaultInjector] = None,
        trace: Optional[Trace] = None,
        pump: Optional[FanOutPump] = None,
    ) -> None:
        self.core = core
        #: carries out the fan-outs the core parks (shared with the REST adapter)
        self.pump = pump if pump is not None else FanOutPump(core)
        self.access_key = access_key
        self.endpoint = endpoint
        #: the names this emulator answers to (``Host`` headers and token audiences)
        self.names = ServerNames.of_endpoint(endpoint)
        self.upstream = upstream
        self.trace = trace if trace is not None else core.trace
        self.handlers = upstream.handlers if upstream is not None else HandlerTable({})
        self.context = ClientContext(core, self.handlers)
        #: Seconds to hold back each ack of a JSON client's request (0: none). The real service never acks within
        #: microseconds; clients that start waiting for an ack only after sending (azure-messaging-webpubsubclient
        #: 1.1.0) miss an ack that comes faster and then wait for their whole ack timeout.
        self.ack_delay = DEFAULT_ACK_DELAY
        self._writers: dict[tuple[str, str], FrameWriter] = {}
        #: handshakes under way (see :meth:`handle`)
        self._handshakes = 0
        #: each session's user events waiting for the handler (as long as the session lives)
        self._events: dict[tuple[str, str], EventQueue] = {}
        #: the timer that queues a connection's held-back acks when they are due
        self._ack_timers: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._writer_context = WriterContext(core.clock, core.transport_closed, faults, self.trace)
        core.on_ended = self._on_ended

    @property
    def close_on_event_failure(self) -> bool:
        """False: a JSON client's failed user event only gets an ``InternalServerError`` ack ([ms-emu] behaviour)."""
        return self.context.close_on_event_failure

    @close_on_event_failure.setter
    def close_on_event_failure(self, value: bool) -> None:
        self.context.close_on_event_failure = value

    # ------------------------------------------------------------------ handshake
    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Entry point for every request under ``/client``. At most ``limits.MAX_PENDING_HANDSHAKES`` handshakes
        (token, ``connect`` event, upgrade) are under way at once: one more is refused with 503."""
        if self._handshakes >= limits.MAX_PENDING_HANDSHAKES:
            busy = ServiceUnavailable("Too many WebSocket handshakes are in progress; try again later.")
            return self._refused(busy, request)
        self._handshakes += 1
        try:
            accepted = await self._handshake(request)
        except EmulatorError as exc:
            return self._refused(exc, request)
        except Exception:
            log.exception("unexpected error while serving a WebSocket client")
            return self._refused(InternalError("The emulator hit an internal error."), request)
        finally:
            self._handshakes -= 1
        if isinstance(accepted, web.StreamResponse):
            return accepted
        # the handshake's frame (token claims, headers, the probe response...) is gone by now: an idle connection
        # keeps only what serving it needs
        return await self._serve(request, *accepted)

    def _refused(self, exc: EmulatorError, request: web.Request) -> web.Response:
        if self.trace.listening:
            self.trace.emit(
                "refused", None, None, status=exc.status, code=exc.code, reason=exc.message, path=request.path
            )
        return _http(exc.http())

    async def _handshake(self, request: web.Request) -> Union[web.StreamResponse, _Accepted]:
        self.names.check_host_header(request.headers.get("Host"))
        hub = handshake.hub_of(request.raw_path, request.query.get("hub"))
        offered = handshake.offered_subprotocols(request.headers.getall("Sec-WebSocket-Protocol", []))
        chosen = handshake.choose_subprotocol(offered)
        if not web.WebSocketResponse(protocols=(chosen,) if chosen else ()).can_prepare(request).ok:
            raise BadRequest("A WebSocket upgrade request is expected here.")
        pair = handshake.recovery_pair(request.query)
        if pair is not None:
            return await self._recover(request, hub, offered, chosen, *pair)
        claims = handshake.client_claims(
            request.query.get("access_token"),
            request.headers.get("Authorization"),
            self.access_key,
            hub=hub,
            names=self.names,
        )
        admission = handshake.admit(hub, claims, chosen)
        connection_id = self.core.new_connection_id(hub)
        target: Optional[EventTarget] = None
        if self.handlers.has_handlers(hub):
            target = EventTarget(hub.lower(), connection_id, admission.user_id)
            handler = self.handlers.find(hub, system_event="connect")
            if handler is not None:
                outcome = await self._connect_event(request, handler, target, claims, offered, chosen)
                admission = handshake.with_connect_outcome(admission, outcome)
        kind = handshake.kind_of(admission.subprotocol)
        raw_mode = handshake.raw_mode_of(request.query) if kind is RAW else None
        ws = self._socket(admission.subprotocol)
        await ws.prepare(request)
        session = self.core.open_session(
            hub,
            user_id=admission.user_id,
            kind=kind,
            kind_state=raw_mode,
            permissions=admission.permissions,
            subprotocol=admission.subprotocol,
            groups=admission.groups,
            connection_id=connection_id,
        )
        if target is not None:
            target.user_id, target.subprotocol = admission.user_id, admission.subprotocol
            target.connection_state = admission.connection_state
            session.upstream = target
            if self.upstream is not None:
                self.upstream.fire(target, "connected", b"{}")
        log.info(
            "connection %s (user %s, %s) joined hub %s", session.connection_id, session.user_id, session.protocol, hub
        )
        return ws, session, kind

    async def _connect_event(
        self,
        request: web.Request,
        handler: EventHandler,
        target: EventTarget,
        claims: dict[str, Any],
        offered: list[str],
        chosen: Optional[str],
    ) -> ConnectOutcome:
        """Call the blocking ``connect`` event and read its answer (errors refuse the upgrade)."""
        assert self.upstream is not None
        try:
            body = connect_body(claims, request.query.items(), request.headers.items(), offered)
            resp = await self.upstream.send(target, system_call(handler, "connect", body))
        except UpstreamError as exc:
            log.warning("connect event for %s failed: %s", target.connection_id, exc)
            raise UpstreamError("The connect event handler failed.") from None
        if not resp.ok and not 400 <= resp.status < 500:
            log.warning("connect event for %s answered %s", target.connection_id, resp.status)
        return parse_connect_answer(resp, offered=offered, user_id=target.user_id, chosen=chosen)

    @staticmethod
    def _socket(chosen: Optional[str]) -> web.WebSocketResponse:
        return web.WebSocketResponse(
            protocols=(chosen,) if chosen else (), max_msg_size=limits.HARD_FRAME_BYTES, autoping=True, compress=False
        )

    async def _recover(
        self, request: web.Request, hub: str, offered: list[str], chosen: Optional[str], conn_id: str, token: str
    ) -> Union[web.StreamResponse, _Accepted]:
        # a recovery keeps the session's subprotocol: one that does not offer it is refused (the session stays held)
        session = self.core.resume(hub, conn_id, token, offered) if conn_id and token else None
        old = self._writers.get((session.hub, session.connection_id)) if session is not None else None
        if old is not None:
            old.superseded = True  # at once: the old transport must not take the re-sent frames
        ws = self._socket(session.subprotocol if session is not None else chosen)
        await ws.prepare(request)
        if session is None:
            log.info("recovery of connection %r in hub %s refused", conn_id[:64], hub)
            if chosen is not None:
                try:
                    await ws.send_str(disconnected_message("The connection cannot be recovered."))
                except Exception:
                    log.debug("could not tell a refused recovery why", exc_info=True)
            await ws.close(code=CLOSE_POLICY, message=b"Recovery failed")
            return ws
        if old is not None:
            await old.supersede(CLOSE_GOING_AWAY, b"Replaced by a recovered connection")
        log.info("connection %s in hub %s recovered", session.connection_id, hub)
        return ws, session, handshake.kind_of(session.subprotocol)

    # ------------------------------------------------------------------ frames
    async def _serve(
        self, request: web.Request, ws: web.WebSocketResponse, session: Session, kind: ClientProtocol
    ) -> web.WebSocketResponse:
        writer = FrameWriter(ws, request, session, self._writer_context)
        self._writers[(session.hub, session.connection_id)] = writer
        writer.attach()  # whatever was queued before the socket was ready (``connected``, re-sends)
        client_closed = False
        trace = self.trace
        try:
            while True:
                msg = await ws.receive()
                if msg.type in _FRAME_TYPES:
                    if trace.observers:
                        self._trace_frame_in(session, msg.data)
                    await self._on_frame(session, kind, msg.data)
                    if session.state is not _OPEN:
                        break
                    if self.core.backlog:  # a fan-out it made is carried out in slices: read on once it is done
                        await self.pump.drained()
                elif msg.type is WSMsgType.CLOSE:
                    # a close frame from the client: a deliberate close, the session ends (no recovery)
                    client_closed = True
                    if trace.observers:
                        trace.emit(
                            "frame-in",
                            session.hub,
                            session.connection_id,
                            type="close",
                            size=0,
                            code=msg.data,
                            reason=msg.extra or "",
                        )
                    break
                elif msg.type is WSMsgType.ERROR:
                    log.info("connection %s: transport error %s", session.connection_id, ws.exception())
                    if ws.close_code == CLOSE_TOO_BIG:
                        self.core.close(session, code=CLOSE_TOO_BIG, reason="The frame is too large.")
                    break
                else:  # CLOSING / CLOSED
                    break
        except ConnectionError:
            log.info("connection %s: transport reset", session.connection_id)
        except Exception:
            log.exception("unexpected error while reading from %s", session.connection_id)
        finally:
            await self._finish(writer, client_closed)
        return ws

    def _trace_frame_in(self, session: Session, data: Union[str, bytes]) -> None:
        if isinstance(data, str):
            self.trace.emit(
                "frame-in", session.hub, session.connection_id, type="text", size=len(data), text=preview(data)
            )
        else:
            self.trace.emit("frame-in", session.hub, session.connection_id, type="binary", size=len(data))

    async def _on_frame(self, session: Session, kind: ClientProtocol, data: Union[str, bytes]) -> None:
        """Hand one client frame to the session's protocol rules and do the IO they ask for. A user event joins the
        session's :class:`~.event_queue.EventQueue` (sent in order, one at a time) and the next frame is read at once:
        acks, pings and other requests keep flowing while an event waits for the handler."""
        context = self.context
        try:
            outcome = kind.on_frame(context, session, data)
            if isinstance(outcome, UserEvent):
                key = (session.hub, session.connection_id)
                queue = self._events.get(key)
                if queue is None:
                    queue = self._events[key] = EventQueue()
                await queue.put(session, kind, outcome, context=context, send=self._user_event, ack=self._send_ack)
            elif outcome is not None:
                self._send_ack(session, outcome)
        except EmulatorError as exc:
            self.core.refuse(session, exc)
        except Exception:
            log.exception("failed to process a frame of %s", session.connection_id)
            self.core.refuse(session, InternalError("Internal error.", close_reason="Internal error"))

    async def _user_event(self, session: Session, request: UserEvent) -> Optional[UpstreamResponse]:
        """Send a blocking user event; None when the handler could not be used."""
        target = session.upstream
        handler = self.handlers.find(session.hub, user_event=request.event)
        if self.upstream is None or target is None or handler is None:
            return None
        try:
            return await self.upstream.send(target, user_call(handler, request))
        except UpstreamError as exc:
            log.warning("event %r of %s failed: %s", request.event, session.connection_id, exc)
            return None

    async def _finish(self, writer: FrameWriter, client_closed: bool) -> None:
        """The socket is done: stop writing and tell the core, once (unless a recovery took the session over)."""
        await writer.finish()
        session = writer.session
        key = (session.hub, session.connection_id)
        if self._writers.get(key) is writer:
            del self._writers[key]
            timer = self._ack_timers.pop(key, None)
            if timer is not None:
                timer.cancel()
        if writer.superseded:
            return
        was = session.state
        held = self.core.transport_lost(session, client_closed=client_closed)
        if was is _OPEN:
            log.info("connection %s %s", session.connection_id, "held for recovery" if held else "disconnected")

    # ------------------------------------------------------------------ acks
    def _send_ack(self, session: Session, text: str) -> None:
        """Queue an ack frame after :attr:`ack_delay`; acks keep their order and nothing else waits for them. A held
        ack counts toward the session's control limits from now on (the session holds it, see ``Core.hold_control``)."""
        key = (session.hub, session.connection_id)
        if self.ack_delay <= 0 or key not in self._writers:
            self.core.send_control(session, text)
            return
        loop = asyncio.get_running_loop()
        if self.core.hold_control(session, text, loop.time() + self.ack_delay):
            self._ack_timers[key] = loop.call_later(self.ack_delay, self._flush_acks, session)

    def _flush_acks(self, session: Session) -> None:
        key = (session.hub, session.connection_id)
        self._ack_timers.pop(key, None)
        loop = asyncio.get_running_loop()
        next_due = self.core.release_held(session, loop.time() + 0.001)  # the loop may run a timer a bit early
        if next_due is not None and key in self._writers:
            self._ack_timers[key] = loop.call_at(next_due, self._flush_acks, session)

    # ------------------------------------------------------------------ system events, shutdown
    def _on_ended(self, session: Session) -> None:
        queue = self._events.pop((session.hub, session.connection_id), None)
        if queue is not None:
            queue.stop()  # the events it still had queued are not sent: the connection is gone
        target = session.upstream
        if target is not None and self.upstream is not None:
            reason = session.close_reason or "The connection ended."
            self.upstream.fire(target, "disconnected", dumps({"reason": reason}).encode("utf-8"))

    async def close_all(self) -> None:
        """Close every socket with 1001 (server shutdown), all at once."""
        writers = list(self._writers.values())
        self._writers.clear()
        for timer in self._ack_timers.values():
            timer.cancel()
        self._ack_timers.clear()
        for queue in self._events.values():
            queue.stop()
        self._events.clear()
        await asyncio.gather(*(w.supersede(CLOSE_GOING_AWAY, b"The emulator is shutting down") for w in writers))
