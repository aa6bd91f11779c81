"""MQTT clients as one more client protocol: the :class:`~.mqtt.session.MqttSession` of each client id, wired to the
core. Free of IO.

An MQTT session is a Web PubSub connection whose id is the client id. Its :class:`~.session.Session` holds an
:class:`MqttBinding` as ``kind_state``: the MQTT session machine (``mqtt/session.py``: subscriptions, QoS flows,
in-flight and queued messages, the will, keep-alive and expiry), the WebSocket it speaks over now (a :class:`Link`),
the upstream view of it and its next timer. The state of the two machines moves together:

==================  ===============  ==================================================================================
MQTT session        core session     how
==================  ===============  ==================================================================================
ONLINE              OPEN             :meth:`MqttClients.attach` opens it (new) or resumes it (``Core.resume``)
OFFLINE             HELD             the transport is gone and the session is kept: the adapter reports the loss
                                     (the protocol is resumable), the MQTT machine keeps its own expiry
ENDED               CLOSING / GONE   every :class:`~.mqtt.session.Ended` closes the core session (``Core.close``), and
                                     a REST close reaches the MQTT machine through :meth:`MqttClients.on_close`
==================  ===============  ==================================================================================

The core calls the protocol where it acts on a session itself: a fan-out hands each message to :meth:`accept` (the
MQTT machine lowers the QoS, numbers it and queues it while offline), REST membership changes are subscriptions with
default options (:meth:`on_join`, :meth:`on_leave`), and a REST close is the MQTT machine's ``End("rest")``.
What the MQTT machine asks for is carried out by :meth:`MqttClients.apply`: packets for the current WebSocket are queued
in the session's outbox (PUBLISHes counted toward the pending limits, written by the session's frame writer), packets
for a WebSocket that lost the session (a takeover, shutdown) are kept as its last words for the adapter, publishes fan
out to MQTT sessions with their MQTT properties and to every other protocol as Web PubSub messages. The three things
that need IO are callbacks the adapter sets: a user event to send upstream, a session that ended (``disconnected``),
and a WebSocket to close.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Iterable, List, Optional, Sequence, Set

from .clients import ClientProtocol
from .core import Core
from .mqtt.codec import encode
from .mqtt.codes import ReasonCode
from .mqtt.connect import KEEP_WINDOW
from .mqtt.errors import CLOSE_POLICY, MqttError
from .mqtt.messages import CONTENT_TYPES, Message, ttl_seconds
from .mqtt.packets import Connect, Packet, Publish
from .mqtt.session import (
    Action,
    Attach,
    CloseTransport,
    ConnectionLost,
    Deliver,
    Dropped,
    End,
    Ended,
    Event,
    Join,
    Leave,
    MqttSession,
    PacketIn,
    PublishToGroup,
    RestJoin,
    RestLeave,
    Send,
    Tick,
    UserEvent,
    Violation,
    plan_attach,
)
from .mqtt.topics import SERVER_MESSAGES
from .outbox import CloseFrame
from .roles import PermissionState
from .session import SessionState

if TYPE_CHECKING:
    from .outbox import Delivery, Outbound
    from .session import Session
    from .upstream_contract import EventTarget

__all__ = ["MQTT_SUBPROTOCOL", "Link", "MqttBinding", "MqttClients"]

log = logging.getLogger(__name__)

#: The WebSocket subprotocol MQTT clients offer (and the session's ``subprotocol``).
MQTT_SUBPROTOCOL = "mqtt"

_OPEN = SessionState.OPEN


class Link:
    """One WebSocket an MQTT session speaks over (the session machine's ``connection``).

    ``last_words`` and ``close`` collect what a link that lost its session must still be sent (a takeover's 5.0
    DISCONNECT 0x8E, the shutdown's 0x8B) and how to close it; ``io`` is the adapter's (its frame writer).
    """

    __slots__ = ("close", "io", "last_words", "physical_id")

    def __init__(self, physical_id: str) -> None:
        self.physical_id = physical_id
        self.last_words: List[bytes] = []
        self.close: Optional[CloseFrame] = None
        self.io: Any = None

    def __repr__(self) -> str:
        return f"<Link {self.physical_id}>"


class MqttBinding:
    """What an MQTT session keeps beside the core's :class:`~.session.Session` (its ``kind_state``)."""

    __slots__ = ("deadline", "lane", "link", "mqtt", "session_id", "target")

    def __init__(self, mqtt: MqttSession, session_id: str, target: Optional[EventTarget]) -> None:
        self.mqtt = mqtt
        #: the opaque id of this session (``ce-sessionId``)
        self.session_id = session_id
        #: the upstream view of the session (None when its hub has no event handler)
        self.target = target
        #: the WebSocket whose packets go through the session's outbox (None: none)
        self.link: Optional[Link] = None
        #: the clock time of the MQTT machine's next timer
        self.deadline: Optional[float] = None
        #: the adapter's queue of user events (sent upstream one at a time, in order)
        self.lane: Any = None


class MqttClients(ClientProtocol):
    """The MQTT client protocol of one core (one instance per emulator: it knows its core).

    :param keep_window: the longest a session outlives its connection (seconds).
    """

    name = MQTT_SUBPROTOCOL
    resumable = True
    takes_deliveries = True

    def __init__(self, core: Core, *, keep_window: float = KEEP_WINDOW) -> None:
        self.core = core
        self.keep_window = keep_window
        #: every live MQTT session (online or offline): the adapter runs their timers
        self.sessions: Set[Session] = set()
        #: the adapter sends a user event upstream and answers with :meth:`event_reply`
        self.request_event: Callable[[Session, UserEvent], None] = _unset
        #: the adapter sends ``disconnected`` with this body
        self.notify_ended: Callable[[Session, dict[str, Any]], None] = _unset
        #: the adapter stops writing the session's outbox to this link at once, then (soon after, asynchronously)
        #: writes its last words and closes it
        self.close_link: Callable[[Link], None] = _unset
        # the message of the last fan-out seen, built once for all its MQTT recipients
        self._last_delivery: Optional[Delivery] = None
        self._last_message: Optional[Message] = None

    # ------------------------------------------------------------------ sessions
    def attach(
        self,
        hub: str,
        connect: Connect,
        link: Link,
        *,
        client_id: str,
        user_id: Optional[str],
        permissions: PermissionState,
        groups: Sequence[str],
        target: Optional[EventTarget],
        session_id: str,
        user_properties: Sequence[tuple[str, str]] = (),
    ) -> tuple[Session, bool]:
        """Give an accepted CONNECT its session: resume the held one, or replace it, or start one (§4).

        Returns the session and whether it was resumed (then ``user_id``, ``permissions``, ``groups`` and ``target``
        are not used: they only apply to a new session). The caller refused a client id held by another protocol.
        """
        core = self.core
        existing = core.connection(hub, client_id)
        assert existing is None or existing.kind is self, "the client id belongs to another protocol"
        held: Optional[MqttBinding] = existing.kind_state if existing is not None else None
        plan = plan_attach(held.mqtt if held is not None else None, connect)
        if plan == "replace":
            assert existing is not None
            self.handle(existing, End("takeover"), farewell=True)
        elif plan == "resume":
            assert existing is not None and held is not None
            old = held.link
            if old is not None:
                self.close_link(old)  # an online takeover: the old WebSocket gets DISCONNECT 0x8E as last words
            resumed = core.resume(hub, client_id, held.session_id)
            assert resumed is existing
            held.link = link
            self.handle(existing, Attach(link, connect, tuple(user_properties)))
            return existing, True
        mqtt = MqttSession(client_id, permissions, clock=core.clock, keep_window=self.keep_window)
        binding = MqttBinding(mqtt, session_id, target)
        binding.link = link
        session = core.open_session(
            hub,
            user_id=user_id,
            kind=self,
            kind_state=binding,
            permissions=permissions,
            subprotocol=MQTT_SUBPROTOCOL,
            connection_id=client_id,
        )
        assert session.connection_id == client_id
        self.sessions.add(session)
        self.handle(session, Attach(link, connect, tuple(user_properties)))
        for group in groups:  # the token's or the connect answer's groups: subscriptions with default options
            core.join_group(session, group)
        return session, False

    def handle(self, session: Session, event: Event, *, farewell: bool = False, in_close: bool = False) -> None:
        """Feed one event to the session's MQTT machine and carry out what it asks for.

        ``farewell``: the session's WebSocket is leaving with it (its packets become last words, and it is closed).
        """
        binding: MqttBinding = session.kind_state
        if farewell and binding.link is not None:
            self.close_link(binding.link)  # it writes nothing more from the outbox; its last words follow
            binding.link = None
        self.apply(session, binding.mqtt.handle(event), in_close=in_close)

    def packet_in(self, session: Session, link: Link, packet: Packet) -> None:
        """A packet decoded from ``link``."""
        self.handle(session, PacketIn(link, packet))

    def violation(self, session: Session, link: Link, error: MqttError) -> None:
        """The input of ``link`` broke the protocol (the reassembly buffer's error, a text frame, ...)."""
        self.handle(session, Violation(link, error))

    def connection_lost(self, session: Session, link: Link) -> None:
        """The WebSocket ``link`` is gone (reported after the core was told)."""
        self.handle(session, ConnectionLost(link))

    def event_reply(self, session: Session, reply: Event) -> None:
        """The upstream answered a user event (an :class:`~.mqtt.session.EventReply`)."""
        self.handle(session, reply)

    def due(self, now: float) -> List[Session]:
        """The sessions whose next timer has come."""
        return [s for s in self.sessions if s.kind_state.deadline is not None and s.kind_state.deadline <= now]

    def tick(self, session: Session) -> None:
        """Run the session's timers (keep-alive, will delay, session expiry)."""
        self.handle(session, Tick())

    def shut_down(self, session: Session) -> None:
        """End the session because the emulator stops (5.0 DISCONNECT 0x8B, WebSocket 1001, no will)."""
        self.handle(session, End("shutdown"), farewell=True)

    # ------------------------------------------------------------------ the machine's actions
    def apply(self, session: Session, actions: Iterable[Action], *, in_close: bool = False) -> None:
        """Carry out the MQTT machine's actions, in order (``in_close``: the core is closing the session already)."""
        core = self.core
        binding: MqttBinding = session.kind_state
        work = deque(actions)
        while work:
            action = work.popleft()
            if isinstance(action, Send):
                data = action.data if action.data is not None else encode(action.packet, binding.mqtt.version)
                link = action.connection
                if link is not binding.link:
                    assert isinstance(link, Link)
                    link.last_words.append(data)
                elif not isinstance(action.packet, Publish):
                    core.send_control(session, data)
                elif not core.send_frame(session, data) and session.state is _OPEN:
                    log.warning("MQTT connection %s closed: its outbound buffer is full", session.connection_id)
                    error = MqttError(ReasonCode.QUOTA_EXCEEDED, "the outbound buffer is full", close_code=CLOSE_POLICY)
                    work.extend(binding.mqtt.handle(Violation(link, error)))
            elif isinstance(action, CloseTransport):
                if action.connection is binding.link:
                    core.send_close(session, action.status, action.reason)
                else:
                    assert isinstance(action.connection, Link)
                    action.connection.close = CloseFrame(action.status, action.reason)
            elif isinstance(action, PublishToGroup):
                self._publish(session, action)
            elif isinstance(action, Join):
                core.join_group(session, action.group)
            elif isinstance(action, Leave):
                core.leave_group(session, action.group)
            elif isinstance(action, UserEvent):
                self.request_event(session, action)
            elif isinstance(action, Ended):
                self.sessions.discard(session)
                binding.deadline = None
                self.notify_ended(session, action.body)
                if not in_close:
                    core.close(session, reason=action.body.get("reason") or "")
            elif isinstance(action, Dropped):
                log.info("MQTT %s: message to %r dropped: %s", session.connection_id, action.topic[:64], action.reason)
        binding.deadline = binding.mqtt.next_deadline()

    def _publish(self, session: Session, action: PublishToGroup) -> None:
        """Fan an MQTT message out to a group: MQTT members get it with its properties, the others as Web PubSub."""
        core = self.core
        others = []
        for target in core.targets_group(session.hub, action.group):
            if target.kind is self:
                self.handle(target, Deliver(action.message))
            else:
                others.append(target)
        if others:
            message = action.message
            core.deliver(
                others,
                message.web_payload(),
                group=action.group,
                from_user_id=session.user_id,
                ttl_seconds=ttl_seconds(message, core.clock()) if message.expires_at is not None else None,
            )

    # ------------------------------------------------------------------ what the core calls
    def accept(self, session: Session, delivery: Delivery) -> bool:
        """A Web PubSub message (REST, JSON, raw) for this session: its group's topic, or the server topic."""
        if delivery is not self._last_delivery:
            message = delivery.message
            topic = message["group"] if message.get("from") == "group" else SERVER_MESSAGES
            raw = delivery.raw
            payload = raw.encode("utf-8", "replace") if isinstance(raw, str) else raw
            content_type = CONTENT_TYPES.get(str(message.get("dataType")), CONTENT_TYPES["binary"])
            self._last_message = Message(str(topic), payload, 1, delivery.expires_at, content_type)
            self._last_delivery = delivery
        assert self._last_message is not None
        self.handle(session, Deliver(self._last_message))
        return True

    def render(self, session: Session, delivery: Delivery) -> Outbound:
        """A PUBLISH queued by :meth:`apply` (one session's own frame)."""
        return delivery.raw

    def on_join(self, session: Session, group: str) -> None:
        """A REST add is a subscription with default options (QoS 0); an existing one keeps its options."""
        self.handle(session, RestJoin(group))

    def on_leave(self, session: Session, group: str) -> None:
        """A REST remove ends the subscription."""
        self.handle(session, RestLeave(group))

    def on_close(self, session: Session, reason: str) -> None:
        """A REST close ends the session: 5.0 DISCONNECT 0x98 with the reason, the will, ``disconnected``."""
        self.handle(session, End("rest", reason or None), in_close=True)

    def resume_allowed(self, session: Session, credential: str) -> bool:
        """Only :meth:`attach` resumes MQTT sessions, with the session's own id."""
        binding: MqttBinding = session.kind_state
        return credential == binding.session_id

    def on_resume(self, session: Session) -> None:
        """A new WebSocket: what waited for the old one is dropped (QoS 1/2 messages in flight are re-sent)."""
        outbox = session.outbox
        if outbox is not None:
            outbox.queue.clear()
            outbox.forget_counts()


def _unset(*_args: Any) -> None:
    raise RuntimeError("the MQTT adapter did not wire this callback")
