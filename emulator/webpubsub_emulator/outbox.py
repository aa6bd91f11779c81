"""A session's outbound queue: what waits to be written to one client, oldest first, with message TTLs and counts.

The queue holds control frames (acks, pongs, system messages: ``str``, or ``bytes`` for binary protocols), close
instructions (:class:`CloseFrame`) and messages (:class:`Delivery`). A message fanned out to many sessions is one
:class:`Delivery` in every recipient's queue; each session's client protocol renders it when the frame is taken
(``Session.take``), so that every recipient of one kind gets the very same object and an adapter encodes it once.

A message counts toward the session's limits (:attr:`Outbox.messages`, :attr:`Outbox.bytes`) from the moment it is
queued until it is written, or, for protocols that keep messages until the client acknowledges them, until then.
Control frames count too, apart (:attr:`Outbox.controls`, :attr:`Outbox.control_bytes`), from the moment they are
queued (or held back, see :attr:`Outbox.held`) until they are written: a client that sends requests and never reads
its acks or pongs fills its own limit, not the emulator's memory. Nothing here blocks or performs IO; time comes from
the caller's clock.
"""

from __future__ import annotations

from collections import deque
from typing import Callable, NamedTuple, Optional, Union

from .protocol import dumps

__all__ = ["CloseFrame", "Control", "Delivery", "Outbound", "Outbox", "Sequenced"]


class CloseFrame(NamedTuple):
    """Close the transport with ``code`` and ``reason`` once everything before it was written."""

    code: int
    reason: str = ""


class Sequenced(NamedTuple):
    """A reliable client's message: ``text`` (shared by every recipient) still needs ``"sequenceId":seq`` spliced in."""

    sequence_id: int
    text: str


#: A control frame: text for the JSON subprotocols, bytes for binary protocols.
Control = Union[str, bytes]
#: What ``Session.take`` hands to a transport: a text or binary frame, a reliable message, or a close instruction.
Outbound = Union[str, bytes, Sequenced, CloseFrame]


class Delivery:
    """One message fanned out to several sessions: the raw frame, the JSON message (its text built once), its size
    and the clock time it expires at (None: never)."""

    __slots__ = ("_text", "expires_at", "message", "raw", "size")

    def __init__(
        self, message: dict[str, object], raw: Union[str, bytes], size: int, expires_at: Optional[float] = None
    ) -> None:
        self.message = message
        self.raw = raw
        self.size = size
        self.expires_at = expires_at
        self._text: Optional[str] = None

    def json_text(self) -> str:
        """The JSON text of :attr:`message` (the same object for every recipient)."""
        if self._text is None:
            self._text = dumps(self.message)
        return self._text


class Outbox:
    """The frames waiting for one session's transport, and the session's message counts.

    ``replay`` holds frames to write before the queue (a reliable client's unacked messages after a recovery).
    """

    __slots__ = ("bytes", "control_bytes", "controls", "delivered", "held", "messages", "queue", "replay")

    def __init__(self) -> None:
        self.queue: deque[Union[Control, CloseFrame, Delivery]] = deque()
        self.replay: Optional[deque[Outbound]] = None
        #: control frames held back until a clock time (delayed acks), oldest first; they join the queue when due
        self.held: Optional[deque[tuple[float, Control]]] = None
        #: messages (and their bytes) counted toward the session's limits
        self.messages = 0
        self.bytes = 0
        #: control frames (and their size) waiting, queued or held
        self.controls = 0
        self.control_bytes = 0
        #: how many messages were taken for writing (each once: a replay does not count)
        self.delivered = 0

    def __len__(self) -> int:
        """How many frames wait (replayed and held ones included)."""
        return len(self.queue) + len(self.replay or ()) + len(self.held or ())

    def admit_control(self, frame: Control, max_frames: int, max_bytes: int) -> bool:
        """Count one more control frame; False (and nothing counted) when it would pass a limit."""
        size = len(frame)
        if self.controls + 1 > max_frames or self.control_bytes + size > max_bytes:
            return False
        self.controls += 1
        self.control_bytes += size
        return True

    def hold(self, frame: Control, due: float) -> bool:
        """Hold a counted control frame back until ``due``; True when it is the first held (a timer must be set)."""
        held = self.held
        if held is None:
            held = self.held = deque()
        held.append((due, frame))
        return len(held) == 1

    def release_held(self, now: float) -> Optional[float]:
        """Move the held frames due by ``now`` to the queue (in order); the due time of the next one (None: none)."""
        held = self.held
        while held and held[0][0] <= now:
            self.queue.append(held.popleft()[1])
        return held[0][0] if held else None

    def admit(self, size: int, max_messages: int, max_bytes: int) -> bool:
        """Count one more message of ``size`` bytes; False (and nothing counted) when it would pass a limit."""
        if self.messages + 1 > max_messages or self.bytes + size > max_bytes:
            return False
        self.messages += 1
        self.bytes += size
        return True

    def release(self, size: int) -> None:
        """A counted message of ``size`` bytes no longer counts (written, acknowledged or expired)."""
        self.messages -= 1
        self.bytes -= size

    def forget_counts(self) -> None:
        """Nothing counts any more (the session was closed: its buffered messages will never be re-sent, its held
        frames never sent)."""
        self.replay = None
        self.held = None
        self.messages = 0
        self.bytes = 0
        self.controls = 0
        self.control_bytes = 0

    def purge_expired(self, now: float) -> None:
        """Drop the queued messages whose TTL passed."""
        queue = self.queue
        if all(not isinstance(item, Delivery) or item.expires_at is None or item.expires_at > now for item in queue):
            return
        kept: deque[Union[Control, CloseFrame, Delivery]] = deque()
        for item in queue:
            if isinstance(item, Delivery) and item.expires_at is not None and item.expires_at <= now:
                self.release(item.size)
            else:
                kept.append(item)
        self.queue = kept

    def next_item(self, clock: Callable[[], float]) -> Optional[Union[Outbound, Delivery]]:
        """The next thing to write (None: nothing waits): a replayed frame, a control frame, a close instruction, or
        a message that has not expired (expired ones are dropped here; a message taken counts as delivered)."""
        replay = self.replay
        if replay:
            return replay.popleft()
        queue = self.queue
        now: Optional[float] = None
        while queue:
            item = queue.popleft()
            if not isinstance(item, Delivery):
                if not isinstance(item, CloseFrame) and self.controls:
                    self.controls -= 1
                    self.control_bytes -= len(item)
                return item  # a control frame or a close instruction
            if item.expires_at is not None:
                if now is None:
                    now = clock()
                if item.expires_at <= now:
                    self.release(item.size)
                    continue
            self.delivered += 1
            return item
        return None
