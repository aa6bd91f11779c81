"""The ``json.reliable.webpubsub.azure.v1`` rules: the JSON rules plus sequence ids, acknowledgements and recovery.

Every message a reliable client receives carries ``sequenceId`` (from 1, rising by one per session, across
recoveries) and stays in the session's :class:`ReliableBuffer` until a cumulative ``sequenceAck`` covers it; it counts
toward the buffer limits (``limits.BUFFER_MAX_MESSAGES`` / ``limits.BUFFER_MAX_BYTES``) until then. The session is
resumable: when its transport drops it is held, and a client that comes back with ``awps_connection_id`` and the
secret ``awps_reconnection_token`` within the window gets every unacked message again, before anything newer, and no
second ``connected``.
"""

from __future__ import annotations

import secrets
from collections import deque
from typing import TYPE_CHECKING

from .json_clients import JsonClients
from .outbox import Outbound, Sequenced
from .protocol import RELIABLE_PROTOCOL

if TYPE_CHECKING:
    from .outbox import Delivery
    from .session import Session

__all__ = ["RELIABLE", "ReliableBuffer", "ReliableClients"]


class ReliableBuffer:
    """A reliable session's sequence counter and its messages written but not acknowledged yet."""

    __slots__ = ("next_sequence_id", "unacked")

    def __init__(self) -> None:
        self.next_sequence_id = 1
        #: (sequence id, the shared message text, its size), oldest first
        self.unacked: deque[tuple[int, str, int]] = deque()


class ReliableClients(JsonClients):
    """The reliable JSON client protocol (:attr:`~.session.Session.kind_state` is its :class:`ReliableBuffer`)."""

    name = RELIABLE_PROTOCOL
    resumable = True
    keeps_until_acked = True
    #: after a REST close, 1008: both official clients (Python and JS) recover from any other code, are then refused,
    #: and report the refusal instead of the reason the service gave; 1008 tells them not to (see emulator/README.md)
    deliberate_close_code = 1008

    def on_open(self, session: Session) -> None:
        """A reconnection token and an empty buffer."""
        session.reconnection_token = secrets.token_urlsafe(32)
        session.kind_state = ReliableBuffer()

    def render(self, session: Session, delivery: Delivery) -> Outbound:
        """The next sequence id and the shared text; the message stays buffered until acknowledged."""
        buffer: ReliableBuffer = session.kind_state
        seq = buffer.next_sequence_id
        buffer.next_sequence_id = seq + 1
        text = delivery.json_text()
        buffer.unacked.append((seq, text, delivery.size))
        return Sequenced(seq, text)

    def sequence_ack(self, session: Session, sequence_id: int) -> None:
        """A cumulative ack: every buffered message up to ``sequence_id`` is released."""
        buffer: ReliableBuffer = session.kind_state
        unacked = buffer.unacked
        outbox = session.outbox
        while unacked and unacked[0][0] <= sequence_id:
            _seq, _text, size = unacked.popleft()
            if outbox is not None:
                outbox.release(size)

    def resume_allowed(self, session: Session, credential: str) -> bool:
        """The reconnection token, compared in constant time."""
        token = session.reconnection_token
        return token is not None and secrets.compare_digest(token.encode(), credential.encode())

    def on_resume(self, session: Session) -> None:
        """Every unacked message is written again first."""
        buffer: ReliableBuffer = session.kind_state
        if buffer.unacked and session.outbox is not None:
            session.outbox.replay = deque(Sequenced(seq, text) for seq, text, _size in buffer.unacked)

    def on_end(self, session: Session) -> None:
        """Nothing will ever be re-sent."""
        buffer: ReliableBuffer = session.kind_state
        buffer.unacked.clear()


#: The ``json.reliable.webpubsub.azure.v1`` client protocol.
RELIABLE = ReliableClients()
