"""Writing a session's frames to its WebSocket: the only module that touches aiohttp internals.

A frame is written straight away, in the call that queued it, while the socket takes data. When it does not (a slow
client), a writer task of that connection waits for it to drain, and the frames wait in the session's outbox, where
their TTL runs and its limits apply, so a slow client never holds up the others. A message fanned out to many
connections is encoded into a WebSocket frame once.

Invariants:

1. One writer at a time per connection: the direct path (:meth:`FrameWriter.wake`) writes only while no writer task
   exists, and a writer task exists only while the socket is paused or a close handshake is under way.
2. A frame leaves the outbox only when it is about to be written (``Session.take``), so TTLs and limits act on what
   really waits, and frames go out in outbox order.
3. Every data frame is final, unmasked and uncompressed (the sockets are made with ``compress=False``), built whole and
   written with one ``transport.write``: it can never interleave with a frame aiohttp writes itself (pongs, closes).
4. The bytes of the last frame object written are cached by identity (:class:`WriterContext`): a fan-out hands the
   same object to every recipient of one kind, so it is encoded once; a reliable message's text is encoded once and
   only its ``sequenceId`` prefix is built per recipient.
5. The close handshake goes through aiohttp's public ``WebSocketResponse.close``; after it, or once the connection was
   superseded (a recovery took it over) or aborted, nothing more is written.
6. The aiohttp internals used, all here: the request's asyncio transport (written to directly, past aiohttp's
   WebSocket writer), its protocol's write-pause flag (``writing_paused``; ``_paused`` on aiohttp releases before it
   became public, such as 3.9.0) and the protocol's ``_drain_helper`` waiter (polling the flag if it ever goes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from typing import Any, Callable, Optional, Union

from aiohttp import web
from aiohttp.base_protocol import BaseProtocol

from . import limits
from .faults import FaultInjector
from .outbox import CloseFrame, Sequenced
from .session import Session, SessionState
from .trace import Trace, preview

__all__ = ["FrameWriter", "WriterContext", "frame_header"]

log = logging.getLogger(__name__)

_OP_TEXT = 0x1
_OP_BINARY = 0x2
_PACK_LEN1 = struct.Struct("!BB").pack
_PACK_LEN2 = struct.Struct("!BBH").pack
_PACK_LEN3 = struct.Struct("!BBQ").pack
#: the protocol's write-pause flag: public from aiohttp 3.9.x on, the same private slot before
_PAUSED = "writing_paused" if hasattr(BaseProtocol, "writing_paused") else "_paused"
#: The protocol's private drain waiter (looked up by name, so a test can hide it from the emulator alone).
_DRAIN_HELPER = "_drain_helper"
_CLOSING = SessionState.CLOSING


def frame_header(opcode: int, length: int) -> bytes:
    """The header of a final, unmasked, uncompressed server frame (RFC 6455 section 5.2)."""
    if length < 126:
        return _PACK_LEN1(0x80 | opcode, length)
    if length < 65536:
        return _PACK_LEN2(0x80 | opcode, 126, length)
    return _PACK_LEN3(0x80 | opcode, 127, length)


class WriterContext:
    """What every writer of one server shares: the clock, the close callback, faults, trace and the encode cache."""

    __slots__ = ("clock", "faults", "frame_bytes", "frame_key", "on_closed", "text_bytes", "text_key", "trace")

    def __init__(
        self,
        clock: Callable[[], float],
        on_closed: Callable[[Session], None],
        faults: Optional[FaultInjector],
        trace: Trace,
    ) -> None:
        self.clock = clock
        #: the close handshake of a closing session was written
        self.on_closed = on_closed
        self.faults = faults
        self.trace = trace
        # the last frame built and the last text encoded, by identity (invariant 4)
        self.frame_key: object = None
        self.frame_bytes = b""
        self.text_key: object = None
        self.text_bytes = b""

    def encoded(self, text: str) -> bytes:
        """``text`` as UTF-8, encoded once while the same object comes again."""
        if text is not self.text_key:
            self.text_key, self.text_bytes = text, text.encode("utf-8")
        return self.text_bytes


class FrameWriter:
    """Writes one session's frames to one WebSocket. Slots: there may be many thousands."""

    __slots__ = ("ctx", "protocol", "raw", "session", "superseded", "task", "watchdog", "ws")

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, session: Session, ctx: WriterContext) -> None:
        self.ws = ws
        self.session = session
        self.ctx = ctx
        self.raw: Optional[asyncio.Transport] = request.transport
        #: aiohttp's protocol object of the connection: tells whether the socket takes data (flow control)
        self.protocol: Any = request.protocol
        #: the writer task, only while frames wait for a slow socket (or for the close handshake)
        self.task: Optional[asyncio.Task[None]] = None
        self.watchdog: Optional[asyncio.TimerHandle] = None
        #: a recovery took the session over: this writer never writes again
        self.superseded = False

    def attach(self) -> None:
        """Take over the session's output: write whatever was queued before the socket was ready, then every frame."""
        self.session.wakeup = self.wake
        self.wake()

    def wake(self) -> None:
        """A frame was queued: write what the socket takes now, or leave it to the writer task."""
        if self.session.state is _CLOSING and self.watchdog is None:
            # a client that stopped reading must not keep a closed connection alive: give the final frames some time
            self.watchdog = asyncio.get_running_loop().call_later(limits.CLOSE_GRACE_SECONDS, self._abort_if_stuck)
        task = self.task
        if (task is None or task.done()) and not self.superseded:
            self.task = None
            try:
                self._pump()
            except Exception:
                log.exception("unexpected error while writing to %s", self.session.connection_id)
                self.abort()

    def _pump(self) -> None:
        """Write every pending frame the socket takes without waiting; start the writer task for the rest."""
        session, protocol, clock = self.session, self.protocol, self.ctx.clock
        while not self.superseded:
            if getattr(protocol, _PAUSED):
                # a slow client: the frames stay queued (their TTL runs) until its socket drains
                self._start(None)
                return
            if not self._writable():
                return  # the reader notices the broken transport and decides what happens next
            outbox = session.outbox
            delivered = outbox.delivered if outbox is not None else 0
            frame = session.take(clock)
            if frame is None:
                return
            if isinstance(frame, CloseFrame):
                self._start(frame)  # the close handshake needs to wait
                return
            self._send(frame)
            if outbox is not None and outbox.delivered > delivered and self._fault_drop(outbox.delivered):
                return

    def _start(self, first: Optional[CloseFrame]) -> None:
        self.task = asyncio.get_running_loop().create_task(self._write(first))

    def _writable(self) -> bool:
        raw = self.raw
        return not self.ws.closed and raw is not None and not raw.is_closing()

    def _send(self, frame: Union[str, bytes, Sequenced]) -> None:
        """Write one data frame to the socket (it buffers what the kernel does not take yet)."""
        raw = self.raw
        assert raw is not None
        ctx = self.ctx
        if isinstance(frame, Sequenced):
            # a reliable client's message: the body is encoded once per message, the sequence id spliced in here
            body = ctx.encoded(frame.text)
            prefix = b'{"sequenceId":%d,' % frame.sequence_id
            size = len(prefix) + len(body) - 1
            raw.write(b"".join((frame_header(_OP_TEXT, size), prefix, memoryview(body)[1:])))
        elif frame is ctx.frame_key:
            size = len(ctx.frame_bytes)
            raw.write(ctx.frame_bytes)
        else:
            if isinstance(frame, str):
                body, opcode = ctx.encoded(frame), _OP_TEXT
            else:
                body, opcode = frame, _OP_BINARY
            data = frame_header(opcode, len(body)) + body
            # the same object goes to every recipient of a fan-out (the core shares it): build the frame once
            ctx.frame_key, ctx.frame_bytes = frame, data
            size = len(data)
            raw.write(data)
        if ctx.trace.observers:
            self._trace_frame_out(frame, size)

    def _trace_frame_out(self, frame: Union[str, bytes, Sequenced], size: int) -> None:
        session = self.session
        if isinstance(frame, bytes):
            self.ctx.trace.emit("frame-out", session.hub, session.connection_id, type="binary", size=size)
        else:
            if isinstance(frame, str):
                text = preview(frame)
            else:  # as written: the sequence id spliced in
                text = f'{{"sequenceId":{frame.sequence_id},{preview(frame.text)[1:]}'
            self.ctx.trace.emit("frame-out", session.hub, session.connection_id, type="text", size=size, text=text)

    def _fault_drop(self, delivered: int) -> bool:
        """After the ``delivered``-th message: cut the transport if the fault plan says so (True: cut)."""
        faults = self.ctx.faults
        if faults is None or not faults.should_drop(delivered):
            return False
        trace = self.ctx.trace
        if trace.listening:
            effect = f"transport dropped after message {delivered}"
            trace.emit("fault", self.session.hub, self.session.connection_id, fault="ws-drop", effect=effect)
        self.abort()
        return True

    def abort(self) -> None:
        """Cut the TCP connection without a close frame."""
        if self.raw is not None:
            self.raw.abort()

    async def _drained(self) -> None:
        """Wait until the socket takes data again (aiohttp's own flow control, as its WebSocket writer uses)."""
        protocol = self.protocol
        drain = getattr(protocol, _DRAIN_HELPER, None)
        if drain is not None:
            await drain()
            return
        raw = self.raw
        while getattr(protocol, _PAUSED) and raw is not None and not raw.is_closing():
            await asyncio.sleep(0.005)

    def _abort_if_stuck(self) -> None:
        if self.task is not None and not self.task.done() and self.raw is not None:
            log.info(
                "connection %s: final frames not written in time; dropping the transport", self.session.connection_id
            )
            self.raw.abort()

    async def _write(self, first: Optional[CloseFrame]) -> None:
        """The slow path: wait for the socket to drain, write what is pending, perform the close handshake."""
        ws, session, ctx = self.ws, self.session, self.ctx
        frame: Union[str, bytes, Sequenced, CloseFrame, None] = first
        try:
            while not self.superseded:
                outbox = session.outbox
                delivered = outbox.delivered if outbox is not None else 0
                if frame is None:
                    if getattr(self.protocol, _PAUSED):
                        await self._drained()
                        continue
                    if not self._writable():
                        return
                    frame = session.take(ctx.clock)
                    if frame is None:
                        return
                if isinstance(frame, CloseFrame):
                    if ctx.trace.observers:
                        ctx.trace.emit(
                            "frame-out",
                            session.hub,
                            session.connection_id,
                            type="close",
                            size=0,
                            code=frame.code,
                            reason=frame.reason,
                        )
                    await ws.close(code=frame.code, message=limits.close_reason(frame.reason).encode("utf-8"))
                    ctx.on_closed(session)
                    return
                self._send(frame)
                frame = None
                if outbox is not None and outbox.delivered > delivered and self._fault_drop(outbox.delivered):
                    return
        except (ConnectionError, RuntimeError) as exc:
            log.info("connection %s: write failed (%s)", session.connection_id, type(exc).__name__)
            # the reader notices the broken transport and decides what happens next
        except Exception:
            log.exception("unexpected error while writing to %s", session.connection_id)
            self.abort()
        finally:
            if self.task is asyncio.current_task():
                self.task = None

    async def finish(self) -> None:
        """The reader is done: let a closing session's last frames go out (bounded), then stop writing."""
        task = self.task
        if self.session.state is _CLOSING and not self.superseded and task is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(task), timeout=limits.CLOSE_GRACE_SECONDS)
        self.stop()

    def stop(self) -> None:
        """Cancel the watchdog and the writer task."""
        if self.watchdog is not None:
            self.watchdog.cancel()
        task = self.task
        if task is not None and not task.done():
            task.cancel()

    async def supersede(self, code: int, message: bytes) -> None:
        """Stop for good and close the socket (a recovery took the session over, or the server shuts down)."""
        self.superseded = True
        if self.task is not None:
            self.task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(code=code, message=message), timeout=2)
