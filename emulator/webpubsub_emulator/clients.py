"""What every client protocol provides: :class:`ClientProtocol`, and the :class:`ClientContext` its rules work in.

A client protocol is a shared, stateless object (one per protocol: raw, ``json.webpubsub.azure.v1``,
``json.reliable.webpubsub.azure.v1``; MQTT would be one more) held by every session that speaks it as
:attr:`~.session.Session.kind`. Outbound, it renders a fanned-out message for one session
(:meth:`~ClientProtocol.render`) and says what system frames the client gets (:meth:`~ClientProtocol.greeting`,
:meth:`~ClientProtocol.farewell`).
Inbound, its rules turn one client frame into what happens next (:meth:`~ClientProtocol.on_frame`): nothing more,
an ack to send, or a blocking upstream user event, whose answer :meth:`~ClientProtocol.after_event` reads. Rules apply
group changes and fan-outs to the core directly; an :class:`~.errors.EmulatorError` they raise ends the connection
(the adapter closes it with the error's close code and message). None of it performs IO.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Optional, Union

from .errors import UpstreamError
from .upstream_contract import HandlerTable, UpstreamResponse, UserEvent, connection_state_of

if TYPE_CHECKING:
    from .core import Core
    from .outbox import Control, Delivery, Outbound
    from .session import Session

__all__ = ["ClientContext", "ClientProtocol", "FrameOutcome", "answer_ok"]

log = logging.getLogger(__name__)

#: What a client frame leads to: nothing more (None), an ack frame to send (``str``), or a user event to call.
FrameOutcome = Union[None, str, UserEvent]


class ClientContext:
    """What the rules of the client protocols work with: the core, the event handlers, the event-failure policy."""

    __slots__ = ("close_on_event_failure", "core", "handlers")

    def __init__(self, core: Core, handlers: HandlerTable, *, close_on_event_failure: bool = True) -> None:
        self.core = core
        self.handlers = handlers
        #: False: a JSON client's failed user event only gets an ``InternalServerError`` ack ([ms-emu] behaviour)
        self.close_on_event_failure = close_on_event_failure


class ClientProtocol:
    """How one kind of client speaks. Subclasses override what differs; every method is IO-free."""

    #: the subprotocol (``"raw"`` for raw clients)
    name = "raw"
    #: a dropped transport holds the session for recovery (see :data:`~.session.TRANSITIONS`)
    resumable = False
    #: a written message stays counted toward the session's limits until the client acknowledges it
    keeps_until_acked = False
    #: the core hands fanned-out messages to :meth:`accept` instead of queuing them (the protocol keeps its own
    #: per-session queues and numbering: MQTT)
    takes_deliveries = False
    #: the close code when the service ends the session on purpose (a REST close): 1000 ("normal"), or 1008 for
    #: protocols whose clients would otherwise try to recover the session (they must not, and must report why)
    deliberate_close_code = 1000

    def on_open(self, session: Session) -> None:
        """Set up the protocol's per-session state (:attr:`~.session.Session.kind_state`)."""

    def greeting(self, session: Session) -> Optional[Control]:
        """The first frame the client gets (None: none)."""
        return None

    def farewell(self, reason: str) -> Optional[Control]:
        """The frame sent before the service closes the connection (None: none)."""
        return None

    def render(self, session: Session, delivery: Delivery) -> Outbound:
        """The frame of a fanned-out message for this session (share one object among recipients where possible)."""
        raise NotImplementedError

    def resume_allowed(self, session: Session, credential: str) -> bool:
        """True when ``credential`` lets a client take this session over (recovery)."""
        return False

    def on_resume(self, session: Session) -> None:
        """The session got a new transport (queue what must be sent again)."""

    def on_end(self, session: Session) -> None:
        """The session ended: drop what only a recovery would have needed."""

    def accept(self, session: Session, delivery: Delivery) -> bool:
        """Take a fanned-out message (only called when :attr:`takes_deliveries`); True when it was taken."""
        raise NotImplementedError

    def on_join(self, session: Session, group: str) -> None:
        """The session joined ``group`` (by its own request, the token, a ``connect`` answer or REST)."""

    def on_leave(self, session: Session, group: str) -> None:
        """The session left ``group`` while it lives on (its end removes it from every group without this call)."""

    def on_close(self, session: Session, reason: str) -> None:
        """The service is about to close the session: queue the protocol's own last words (the farewell and the close
        frame follow)."""

    def on_frame(self, ctx: ClientContext, session: Session, data: Union[str, bytes]) -> FrameOutcome:
        """Apply one client frame."""
        raise NotImplementedError

    def after_event(
        self, ctx: ClientContext, session: Session, request: UserEvent, answer: Optional[UpstreamResponse]
    ) -> Optional[str]:
        """Apply the handler's answer to a user event (None: the call failed)."""
        raise NotImplementedError


def answer_ok(session: Session, request: UserEvent, answer: Optional[UpstreamResponse]) -> bool:
    """True when a user event's answer is a usable 2xx; it then applies the ``ce-connectionState`` it sets."""
    if answer is None:
        return False
    if not answer.ok:
        log.warning("event %r of %s answered HTTP %s", request.event, session.connection_id, answer.status)
        return False
    try:
        state = connection_state_of(answer)
    except UpstreamError:
        log.warning("event %r of %s set the connection state twice", request.event, session.connection_id)
        return False
    if state is not None and session.upstream is not None:
        session.upstream.connection_state = state
    return True
