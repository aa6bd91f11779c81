"""One connection's user events, sent to the event handler one at a time and in order, while its frames keep being read.

A user event blocks on the handler's answer (its reply and its ack follow the answer). It must not block the
connection's reader as well: a reliable client's ``sequenceAck`` frames, its pings and its other requests keep being
read and answered meanwhile (otherwise a client that acknowledged everything would be closed for a full buffer while
its event waits). So the WebSocket adapter puts each event in the connection's :class:`EventQueue`; one task per
connection sends them, in the order they came, and applies each answer with the client protocol's rules.

What waits is bounded (``limits.EVENT_QUEUE_MAX_EVENTS``, ``limits.EVENT_QUEUE_MAX_BYTES``): while the queue is full,
:meth:`EventQueue.put` waits, so the reader reads no more of that client's frames (TCP pushes back on it, no one
else). The queue lives as long as its session: a reliable session held for recovery keeps it; a session that ends
stops it (:meth:`EventQueue.stop`), and what was still queued is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Awaitable, Callable, Optional

from . import limits
from .clients import ClientContext, ClientProtocol
from .core import Core
from .errors import EmulatorError, InternalError
from .session import Session
from .upstream_contract import UpstreamResponse, UserEvent

__all__ = ["EventQueue"]

log = logging.getLogger(__name__)

#: sends one event upstream; None when the handler could not be used
Sender = Callable[[Session, UserEvent], Awaitable[Optional[UpstreamResponse]]]
#: writes an ack frame the rules returned (the adapter holds acks back a little)
AckWriter = Callable[[Session, str], None]


class EventQueue:
    """The user events of one session waiting for the handler, oldest first, and the task that sends them."""

    __slots__ = ("_room", "_task", "bytes", "events")

    def __init__(self) -> None:
        self.events: deque[tuple[ClientProtocol, UserEvent]] = deque()
        #: the size of the queued events' bodies
        self.bytes = 0
        self._task: Optional[asyncio.Task[None]] = None
        self._room = asyncio.Event()
        self._room.set()

    def _full(self) -> bool:
        return len(self.events) >= limits.EVENT_QUEUE_MAX_EVENTS or self.bytes >= limits.EVENT_QUEUE_MAX_BYTES

    async def put(
        self,
        session: Session,
        kind: ClientProtocol,
        event: UserEvent,
        *,
        context: ClientContext,
        send: Sender,
        ack: AckWriter,
    ) -> None:
        """Queue ``event`` (waiting while the queue is full) and make sure the task sending them runs."""
        while self._full() and session.alive:
            self._room.clear()
            await self._room.wait()
        if not session.alive:
            return
        self.events.append((kind, event))
        self.bytes += len(event.body)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(session, context, send, ack))

    async def _run(self, session: Session, context: ClientContext, send: Sender, ack: AckWriter) -> None:
        core: Core = context.core
        try:
            while self.events and session.alive:
                kind, event = self.events[0]
                answer = await send(session, event)
                self.events.popleft()
                self.bytes -= len(event.body)
                if not self._full():
                    self._room.set()
                if not session.alive:
                    break
                try:
                    frame = kind.after_event(context, session, event, answer)
                except EmulatorError as exc:
                    core.refuse(session, exc)
                    break
                except Exception:
                    log.exception("failed to apply the answer to an event of %s", session.connection_id)
                    core.refuse(session, InternalError("Internal error.", close_reason="Internal error"))
                    break
                if frame is not None:
                    ack(session, frame)
        finally:
            self._task = None

    def stop(self) -> None:
        """The session ended: drop what waits, stop sending, release a reader waiting for room."""
        self.events.clear()
        self.bytes = 0
        if self._task is not None:
            self._task.cancel()
        self._room.set()
