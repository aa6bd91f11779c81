"""One client connection as the service sees it: a :class:`Session`, and its life cycle as a state machine.

A session outlives its transports: a reliable client that loses its socket is held for recovery and resumes on a new
one. Every change of :attr:`Session.state` goes through the one method :meth:`Session.transition`, which applies this
table (any pair not in it is refused: the state and the session stay as they are, and the caller is told so):

=========  ================  =========  ==========================================================================
state      event             next       when / what happens
=========  ================  =========  ==========================================================================
OPEN       ``DROP``          HELD       the client protocol keeps sessions (reliable JSON): held for recovery
OPEN       ``DROP``          GONE       any other protocol: the session ends
OPEN       ``CLIENT_CLOSE``  GONE       the client sent a close frame: a deliberate end, never held
OPEN       ``CLOSE``         CLOSING    the service closes it (REST close, overflow, protocol error, failed event):
                                        it ends now, its last frames (``disconnected``, the close) are queued
OPEN       ``RESUME``        OPEN       a recovery replaced a transport the emulator had not seen drop yet
HELD       ``RESUME``        OPEN       a recovery within the window: unacked messages are replayed first
HELD       ``CLOSE``         GONE       closed while held (REST close): it ends, it can never be recovered
HELD       ``EXPIRE``        GONE       the recovery window passed
CLOSING    ``CLOSED``        GONE       the close handshake was written (or the transport given up)
CLOSING    ``DROP``          GONE       the transport broke before the close handshake finished
CLOSING    ``CLIENT_CLOSE``  GONE       the client closed first
=========  ================  =========  ==========================================================================

A session *ends* (leaves its hub: groups, user index, ``connectionExists``; the upstream ``disconnected`` event fires)
on exactly the steps OPEN → CLOSING, OPEN → GONE and HELD → GONE: :attr:`Step.ended`. :class:`~.core.Core` reacts to
that in one place. Closing twice, a late transport report, a recovery of a closed session: refused, nothing happens.

Per-session state that never leaves the session lives here too: its groups, permissions, the processed ack ids of a
JSON client, and :attr:`Session.kind_state`, what its client protocol keeps per session. The frames waiting for the
client are in its :class:`~.outbox.Outbox`, created on first use (there may be many thousands of idle sessions). The
session's client protocol (:attr:`Session.kind`) says how it speaks; it is a shared, stateless object.
"""

from __future__ import annotations

import enum
import time
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Optional, Protocol, Union

from .outbox import Control, Delivery, Outbound, Outbox
from .roles import PermissionState

if TYPE_CHECKING:
    from .upstream_contract import EventTarget

__all__ = ["TRANSITIONS", "Session", "SessionEvent", "SessionKind", "SessionState", "Step"]


class SessionState(enum.Enum):
    """Where a session is in its life cycle."""

    #: a transport is attached
    OPEN = "open"
    #: no transport: kept for recovery until :attr:`Session.held_until`
    HELD = "held"
    #: the service closed it; its final frames are being written
    CLOSING = "closing"
    #: over: nothing is kept
    GONE = "gone"


class SessionEvent(enum.Enum):
    """What can happen to a session."""

    #: the transport broke without a close frame from the client
    DROP = "drop"
    #: the client sent a close frame
    CLIENT_CLOSE = "client-close"
    #: the service closes the session
    CLOSE = "close"
    #: the transport of a closing session is done
    CLOSED = "closed"
    #: a client reattached with the session's reconnection pair
    RESUME = "resume"
    #: the recovery window of a held session passed
    EXPIRE = "expire"


_S = SessionState
_E = SessionEvent

#: The allowed transitions: (state, event) -> next state. ``(OPEN, DROP)`` maps to (resumable, otherwise).
TRANSITIONS: dict[tuple[SessionState, SessionEvent], Union[SessionState, tuple[SessionState, SessionState]]] = {
    (_S.OPEN, _E.DROP): (_S.HELD, _S.GONE),
    (_S.OPEN, _E.CLIENT_CLOSE): _S.GONE,
    (_S.OPEN, _E.CLOSE): _S.CLOSING,
    (_S.OPEN, _E.RESUME): _S.OPEN,
    (_S.HELD, _E.RESUME): _S.OPEN,
    (_S.HELD, _E.CLOSE): _S.GONE,
    (_S.HELD, _E.EXPIRE): _S.GONE,
    (_S.CLOSING, _E.CLOSED): _S.GONE,
    (_S.CLOSING, _E.DROP): _S.GONE,
    (_S.CLOSING, _E.CLIENT_CLOSE): _S.GONE,
}

_ALIVE = (_S.OPEN, _S.HELD)


class SessionKind(Protocol):
    """What a session needs of its client protocol (:class:`~.clients.ClientProtocol` is the base of every one)."""

    #: the subprotocol (``"raw"`` for raw clients)
    name: str
    #: a dropped transport holds the session for recovery
    resumable: bool
    #: a written message stays counted toward the session's limits until the client acknowledges it
    keeps_until_acked: bool
    #: fanned-out messages go to :meth:`accept` instead of the outbox
    takes_deliveries: bool
    #: the close code when the service ends the session on purpose
    deliberate_close_code: int

    def on_open(self, session: Session) -> None:
        """Set up the protocol's per-session state."""

    def greeting(self, session: Session) -> Optional[Control]:
        """The first frame the client gets (None: none)."""

    def farewell(self, reason: str) -> Optional[Control]:
        """The frame sent before the service closes the connection (None: none)."""

    def render(self, session: Session, delivery: Delivery) -> Outbound:
        """The frame of a fanned-out message for this session."""

    def resume_allowed(self, session: Session, credential: str) -> bool:
        """True when ``credential`` lets a client take this session over."""

    def accept(self, session: Session, delivery: Delivery) -> bool:
        """Take a fanned-out message (protocols with :attr:`takes_deliveries`)."""

    def on_join(self, session: Session, group: str) -> None:
        """The session joined a group."""

    def on_leave(self, session: Session, group: str) -> None:
        """The session left a group while it lives on."""

    def on_close(self, session: Session, reason: str) -> None:
        """The service is about to close the session."""

    def on_resume(self, session: Session) -> None:
        """The session got a new transport."""

    def on_end(self, session: Session) -> None:
        """The session ended."""


class Step(NamedTuple):
    """The outcome of :meth:`Session.transition`."""

    event: SessionEvent
    old: SessionState
    new: SessionState
    #: False when the table has no such transition (nothing changed)
    allowed: bool

    @property
    def ended(self) -> bool:
        """True when the session stopped existing with this step (OPEN/HELD to CLOSING/GONE)."""
        return self.allowed and self.old in _ALIVE and self.new not in _ALIVE


class Session:
    """A client connection: identity, groups, permissions, state, outbound frames. ``connection_id``, ``user_id``,
    ``groups`` and :attr:`protocol` are what OData filters see."""

    __slots__ = (
        "close_reason",
        "connection_id",
        "groups",
        "held_until",
        "hub",
        "kind",
        "kind_state",
        "opened_at",
        "outbox",
        "permissions",
        "processed_ack_ids",
        "reconnection_token",
        "state",
        "subprotocol",
        "upstream",
        "user_id",
        "wakeup",
    )

    def __init__(
        self,
        connection_id: str,
        hub: str,
        user_id: Optional[str],
        kind: SessionKind,
        permissions: PermissionState,
        subprotocol: Optional[str] = None,
    ) -> None:
        self.connection_id = connection_id
        self.hub = hub
        self.user_id = user_id
        self.kind = kind
        self.permissions = permissions
        self.subprotocol = subprotocol
        #: a shared empty frozenset until the session joins a group, then its own set
        self.groups: Union[set[str], frozenset[str]] = _NO_GROUPS
        self.state = SessionState.OPEN
        #: when the session opened (wall-clock seconds, what a trace shows as "since")
        self.opened_at = time.time()
        #: the frames waiting for the client (None until the first one)
        self.outbox: Optional[Outbox] = None
        #: called whenever a frame was queued (the transport adapter writes it)
        self.wakeup: Optional[Callable[[], None]] = None
        #: when a held session's recovery window ends (clock time)
        self.held_until: Optional[float] = None
        #: why the session ended (the upstream ``disconnected`` reason)
        self.close_reason: Optional[str] = None
        #: the upstream view of this connection (cookies, event ids), when its hub has event handlers
        self.upstream: Optional[EventTarget] = None
        #: what the client protocol keeps per session (raw: the mode; reliable: the unacked messages; ...)
        self.kind_state: Any = None
        #: JSON clients: the newest ackIds processed successfully, oldest first (None until the first)
        self.processed_ack_ids: Optional[dict[int, None]] = None
        #: reliable clients: the secret that authenticates a recovery
        self.reconnection_token: Optional[str] = None

    def __repr__(self) -> str:
        return f"<Session {self.connection_id} hub={self.hub} user={self.user_id} {self.kind.name} {self.state.value}>"

    @property
    def protocol(self) -> str:
        """The subprotocol name, or ``"raw"`` (what a filter's ``protocol`` sees)."""
        return self.subprotocol or "raw"

    @property
    def alive(self) -> bool:
        """True while the session exists for the service (open, or held for recovery)."""
        return self.state in _ALIVE

    def transition(self, event: SessionEvent) -> Step:
        """Apply ``event`` per :data:`TRANSITIONS` and do the session's own bookkeeping; refused: nothing changes."""
        old = self.state
        target = TRANSITIONS.get((old, event))
        if target is None:
            return Step(event, old, old, False)
        if isinstance(target, tuple):
            target = target[0] if self.kind.resumable else target[1]
        self.state = target
        if target is SessionState.HELD:
            self.wakeup = None
            if self.outbox is not None:
                self.outbox.replay = None
        elif target is SessionState.OPEN:  # resumed: the old transport (if any) writes no more
            self.wakeup = None
            self.held_until = None
            self.kind.on_resume(self)
        elif target is SessionState.GONE:
            self.wakeup = None
            self.outbox = None
            self.held_until = None
        if old in _ALIVE and target not in _ALIVE:
            if self.close_reason is None:
                self.close_reason = "The connection ended."
            if self.outbox is not None:
                self.outbox.forget_counts()
            self.kind.on_end(self)
        return Step(event, old, target, True)

    def take(self, clock: Callable[[], float]) -> Optional[Outbound]:
        """The next frame to write to the client (None: nothing is ready, or the session has no transport)."""
        outbox = self.outbox
        if outbox is None or self.state is SessionState.HELD:
            return None
        item = outbox.next_item(clock)
        if not isinstance(item, Delivery):
            return item
        kind = self.kind
        if not kind.keeps_until_acked:
            outbox.release(item.size)
        return kind.render(self, item)


_NO_GROUPS: frozenset[str] = frozenset()
