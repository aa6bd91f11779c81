"""The MQTT session (mqtt.md §4, §6) as a pure state machine: one :meth:`MqttSession.handle` entry point, an
injected clock, and actions out for the adapter and Core to carry out.

A session is the Web PubSub connection of one client id: its subscriptions, in-flight and queued messages, QoS 2
ids and will outlive a WebSocket while the session is kept. States and transitions (:data:`TRANSITIONS`):

=========  ================  =======================  ==========================================================
state      event             next                     what happens
=========  ================  =======================  ==========================================================
NEW        Attach            ONLINE                   CONNACK (Session Present 0)
ONLINE     Attach            ONLINE                   takeover: old connection gets 5.0 DISCONNECT 0x8E and is
                                                      closed (its will goes out), then as a resume
OFFLINE    Attach            ONLINE                   resume: CONNACK (Session Present 1), pending will
                                                      cancelled, in-flight re-sent with DUP, PUBRELs, the queue
ONLINE     PacketIn          ONLINE, OFFLINE, ENDED   the packet's flow (PUBLISH, acks, SUBSCRIBE, PINGREQ…);
                                                      DISCONNECT or a violation ends the connection
ONLINE     Violation         OFFLINE, ENDED           5.0 DISCONNECT with the error's code, close, will
ONLINE     ConnectionLost    OFFLINE, ENDED           will (now or after its delay)
ONLINE     Deliver           ONLINE                   QoS 0 sent; QoS 1/2 sent within Receive Maximum, else queued
OFFLINE    Deliver           OFFLINE                  QoS 1/2 queued (bounded), QoS 0 dropped
ONLINE     Tick              ONLINE, OFFLINE, ENDED   keep-alive: 1.5 x silence → 5.0 DISCONNECT 0x8D, close
OFFLINE    Tick              OFFLINE, ENDED           delayed will; session expiry ends the session
ON/OFF     End               ENDED                    REST close 0x98 / clean-start takeover 0x8E / shutdown
                                                      0x8B (5.0 DISCONNECT when online), will, ``Ended``
ON/OFF     RestJoin/Leave    same                     subscription added with QoS 0 (options kept) / removed
ON/OFF     EventReply        same                     reply PUBLISH on ``…/succeeded|failed``, then the ack
NEW/ENDED  others            same                     ignored (Attach on ENDED, or a clean-start Attach on a held
                                                      session, is an error: :func:`plan_attach` says what to do)
OFF/ENDED  connection ones   same                     ignored (a stale connection's packet, loss or violation)
=========  ================  =======================  ==========================================================

Every session-ending path emits :class:`Ended` with the ``disconnected`` body; a will whose delay has not passed
goes out then. Events that name a ``connection`` other than the current one are ignored.
"""

from __future__ import annotations

import enum
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, FrozenSet, List, NamedTuple, Optional, Tuple, Type, Union

from ..roles import SEND_TO_GROUP, PermissionState
from .codec import encode
from .codes import MQTT_5, ReasonCode
from .connect import KEEP_WINDOW, accept, granted_session_expiry
from .errors import CLOSE_NORMAL, CLOSE_POLICY, CLOSE_PROTOCOL_ERROR, MqttError
from .messages import Message
from .packets import (
    Auth,
    Connect,
    Disconnect,
    Packet,
    Pingreq,
    Pingresp,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    Unsuback,
    Unsubscribe,
    Will,
)
from .properties import Properties
from .topics import SERVER_MESSAGES, decide_publish, decide_subscribe, decide_unsubscribe, event_reply_topic
from .upstream import Disconnection, disconnected_body, event_content_type, event_headers, reply_user_properties

__all__ = [
    "CLOSE_GOING_AWAY",
    "END_CAUSES",
    "MAX_QUEUED_BYTES",
    "MAX_QUEUED_MESSAGES",
    "TRANSITIONS",
    "Action",
    "Attach",
    "CloseTransport",
    "ConnectionLost",
    "Deliver",
    "Dropped",
    "End",
    "Ended",
    "Event",
    "EventReply",
    "InvalidTransition",
    "Join",
    "Leave",
    "MqttSession",
    "PacketIn",
    "PublishToGroup",
    "RestJoin",
    "RestLeave",
    "Send",
    "State",
    "Subscribed",
    "Tick",
    "UserEvent",
    "Violation",
    "plan_attach",
]

MAX_QUEUED_MESSAGES = 1000
"""Queued (offline, or beyond Receive Maximum) QoS 1/2 messages kept per session; newer ones are dropped."""
MAX_QUEUED_BYTES = 16 * 1024 * 1024
"""Payload bytes queued per session; newer messages are dropped."""
CLOSE_GOING_AWAY = 1001
"""WebSocket close code at shutdown."""
_MAX_ID = 65535


class State(enum.Enum):
    """Where a session is in its life."""

    NEW = "new"  #: created, no connection attached yet
    ONLINE = "online"  #: a connection is attached
    OFFLINE = "offline"  #: kept after its connection ended, until it resumes or expires
    ENDED = "ended"  #: over; Core forgets it


# ------------------------------------------------------------------------------------------------ events (inputs)


@dataclass(frozen=True)
class Attach:
    """An accepted CONNECT for this session's client id arrived on ``connection`` (any adapter object)."""

    connection: object
    connect: Connect
    user_properties: Tuple[Tuple[str, str], ...] = ()  #: the upstream's, for the 5.0 CONNACK


@dataclass(frozen=True)
class PacketIn:
    """A packet decoded from ``connection``."""

    connection: object
    packet: Packet


@dataclass(frozen=True)
class Violation:
    """The reassembly buffer of ``connection`` raised ``error`` (malformed input, oversize, …)."""

    connection: object
    error: MqttError


@dataclass(frozen=True)
class ConnectionLost:
    """The transport of ``connection`` closed without a DISCONNECT."""

    connection: object
    reason: str = "the connection was lost"


@dataclass(frozen=True)
class Deliver:
    """Core delivers ``message`` to this session (a group it subscribed to, or a service topic)."""

    message: Message


@dataclass(frozen=True)
class Tick:
    """Time passed: run the timers (keep-alive, will delay, session expiry, message expiry)."""


@dataclass(frozen=True)
class End:
    """End the session from outside: ``cause`` is ``"rest"`` (REST close), ``"takeover"`` (clean-start CONNECT
    for the same client id) or ``"shutdown"``."""

    cause: str
    reason: Optional[str] = None


@dataclass(frozen=True)
class RestJoin:
    """REST added the session to ``group``: a subscription with default options (QoS 0) unless one exists."""

    group: str


@dataclass(frozen=True)
class RestLeave:
    """REST removed the session from ``group``."""

    group: str


@dataclass(frozen=True)
class EventReply:
    """The upstream answered user event ``request_id`` (see :class:`UserEvent`)."""

    request_id: int
    status: int
    payload: bytes = b""
    content_type: Optional[str] = None
    headers: Tuple[Tuple[str, str], ...] = ()


Event = Union[Attach, PacketIn, Violation, ConnectionLost, Deliver, Tick, End, RestJoin, RestLeave, EventReply]
"""Any input of :meth:`MqttSession.handle`."""


# ------------------------------------------------------------------------------------------------ actions (outputs)


class Send(NamedTuple):
    """Encode ``packet`` at the session's version and send it on ``connection`` (one packet per frame). ``data``: its
    encoding, when the machine already made it (to check the client's Maximum Packet Size)."""

    connection: object
    packet: Packet
    data: Optional[bytes] = None


class CloseTransport(NamedTuple):
    """Close the WebSocket ``connection`` with ``status``."""

    connection: object
    status: int
    reason: str


class PublishToGroup(NamedTuple):
    """Core fans ``message`` out to ``group`` (MQTT sessions get ``message``, others ``message.web_payload()``)."""

    group: str
    message: Message
    will: bool = False


class Join(NamedTuple):
    """Core adds the session to ``group`` (a SUBSCRIBE created the subscription)."""

    group: str


class Leave(NamedTuple):
    """Core removes the session from ``group`` (an UNSUBSCRIBE removed the subscription)."""

    group: str


class UserEvent(NamedTuple):
    """Send user event ``name`` upstream; answer with :class:`EventReply` carrying ``request_id``."""

    request_id: int
    name: str
    message: Message
    content_type: str
    headers: List[Tuple[str, str]]


class Ended(NamedTuple):
    """The session is over: Core drops it (groups, user entry, grants) and sends ``disconnected`` with ``body``."""

    body: Dict[str, Any]


class Dropped(NamedTuple):
    """A message was not delivered (log it); ``reason`` says why."""

    reason: str
    topic: str


Action = Union[Send, CloseTransport, PublishToGroup, Join, Leave, UserEvent, Ended, Dropped]
"""Any output of :meth:`MqttSession.handle`."""


class InvalidTransition(RuntimeError):
    """An event the session can never take in its state (a bug in the caller, not client input)."""


# ------------------------------------------------------------------------------------------------ the session


@dataclass
class Subscribed:
    """The options of one subscription (group, or a service topic)."""

    qos: int = 0
    no_local: bool = False
    subscription_id: Optional[int] = None


class _Flight(NamedTuple):
    message: Message
    qos: int
    subscription_id: Optional[int]
    released: bool  # QoS 2: PUBREC received, PUBREL sent


class _Queued(NamedTuple):
    message: Message
    qos: int
    subscription_id: Optional[int]


class _PendingEvent(NamedTuple):
    name: str
    qos: int
    packet_id: Optional[int]
    correlation_data: Optional[bytes]


S = State
_CONNECTION_EVENTS = (PacketIn, Violation, ConnectionLost)

# End cause -> (5.0 DISCONNECT code, WebSocket close code, default reason, will sent)
END_CAUSES: Dict[str, Tuple[int, int, str, bool]] = {
    "rest": (ReasonCode.ADMINISTRATIVE_ACTION, CLOSE_NORMAL, "closed by the service API", True),
    "takeover": (ReasonCode.SESSION_TAKEN_OVER, CLOSE_NORMAL, "a new connection took the session over", True),
    "shutdown": (ReasonCode.SERVER_SHUTTING_DOWN, CLOSE_GOING_AWAY, "the server is shutting down", False),
}
"""How each outside end of a session is told to the client."""


@dataclass
class _Transition:
    handler: Optional[str]  # method name; None = ignored
    next_states: FrozenSet[State]


def _t(handler: Optional[str], *next_states: State) -> _Transition:
    return _Transition(handler, frozenset(next_states))


TRANSITIONS: Dict[Tuple[State, Type[Any]], _Transition] = {
    (S.NEW, Attach): _t("_attach", S.ONLINE),
    (S.ONLINE, Attach): _t("_attach", S.ONLINE),
    (S.OFFLINE, Attach): _t("_attach", S.ONLINE),
    (S.ONLINE, PacketIn): _t("_packet", S.ONLINE, S.OFFLINE, S.ENDED),
    (S.ONLINE, Violation): _t("_violation", S.OFFLINE, S.ENDED),
    (S.ONLINE, ConnectionLost): _t("_lost", S.OFFLINE, S.ENDED),
    (S.ONLINE, Deliver): _t("_deliver", S.ONLINE),
    (S.OFFLINE, Deliver): _t("_deliver", S.OFFLINE),
    (S.ONLINE, Tick): _t("_tick", S.ONLINE, S.OFFLINE, S.ENDED),
    (S.OFFLINE, Tick): _t("_tick", S.OFFLINE, S.ENDED),
    (S.ONLINE, End): _t("_end_by", S.ENDED),
    (S.OFFLINE, End): _t("_end_by", S.ENDED),
    (S.ONLINE, RestJoin): _t("_rest_join", S.ONLINE),
    (S.OFFLINE, RestJoin): _t("_rest_join", S.OFFLINE),
    (S.ONLINE, RestLeave): _t("_rest_leave", S.ONLINE),
    (S.OFFLINE, RestLeave): _t("_rest_leave", S.OFFLINE),
    (S.ONLINE, EventReply): _t("_event_reply", S.ONLINE),
    (S.OFFLINE, EventReply): _t("_event_reply", S.OFFLINE),
}
"""(state, event type) → handler and the states it may lead to; a pair not listed is ignored (state unchanged),
except Attach on ENDED, which raises :class:`InvalidTransition`."""


class MqttSession:
    """One MQTT session. Feed it events with :meth:`handle`; carry out the actions it returns, in order.

    :param client_id: the client id (= Web PubSub connection id).
    :param permissions: the session's group permissions (roles, grants); checked on every packet.
    :param clock: seconds, monotonic (tests inject their own).
    :param keep_window: the longest a session outlives its connection.
    """

    def __init__(
        self,
        client_id: str,
        permissions: Optional[PermissionState] = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        keep_window: float = KEEP_WINDOW,
        max_queued_messages: int = MAX_QUEUED_MESSAGES,
        max_queued_bytes: int = MAX_QUEUED_BYTES,
    ) -> None:
        self.client_id = client_id
        self.permissions = permissions if permissions is not None else PermissionState()
        self.clock = clock
        self.keep_window = keep_window
        self.max_queued_messages = max_queued_messages
        self.max_queued_bytes = max_queued_bytes
        self.state = State.NEW
        self.connection: Optional[object] = None
        self.version = MQTT_5
        self.session_present = False
        self.subscriptions: Dict[str, Subscribed] = {}
        self.dropped = 0  #: messages dropped because the queue was full
        self.expired = 0  #: queued messages dropped because their expiry passed
        # per connection
        self._keep_alive = 0
        self._last_seen = 0.0
        self._receive_maximum = _MAX_ID
        self._client_max_packet: Optional[int] = None
        self._asked_expiry = 0
        self._will: Optional[Will] = None
        # per session
        self.session_expiry = 0.0
        self._expires_at: Optional[float] = None
        self._pending_will: Optional[Tuple[float, Will]] = None
        self._inflight: OrderedDict[int, _Flight] = OrderedDict()
        self._last_id = 0
        self._queue: Deque[_Queued] = deque()
        self._queued_bytes = 0
        self._inbound_qos2: set[int] = set()
        self._events: Dict[int, _PendingEvent] = {}
        self._last_event = 0
        self._last = Disconnection(False, None)

    # -------------------------------------------------------------------------------------------- the entry point

    def handle(self, event: Event) -> List[Action]:
        """Take one event; return the actions to carry out, in order."""
        if isinstance(event, _CONNECTION_EVENTS) and event.connection is not self.connection:
            return []
        transition = TRANSITIONS.get((self.state, type(event)))
        if transition is None:
            if isinstance(event, Attach):
                raise InvalidTransition(f"cannot attach a connection to a {self.state.value} session")
            return []
        assert transition.handler is not None
        actions: List[Action] = getattr(self, transition.handler)(event)
        if self.state not in transition.next_states:  # pragma: no cover - a bug in this module
            raise InvalidTransition(f"{transition.handler} left the session {self.state.value}")
        return actions

    # -------------------------------------------------------------------------------------------- introspection

    @property
    def in_flight(self) -> int:
        """Outbound QoS 1/2 messages sent and not yet acknowledged."""
        return len(self._inflight)

    @property
    def queued(self) -> int:
        """Messages waiting (offline, or beyond the client's Receive Maximum)."""
        return len(self._queue)

    def groups(self) -> List[str]:
        """The groups the session is subscribed to (service topics are not groups)."""
        return [topic for topic in self.subscriptions if not topic.startswith("$")]

    def next_deadline(self) -> Optional[float]:
        """The clock time of the next timer (keep-alive, will delay, session expiry), None when none runs: call
        ``handle(Tick())`` then."""
        deadlines = []
        if self.state is S.ONLINE and self._keep_alive:
            deadlines.append(self._last_seen + 1.5 * self._keep_alive)
        if self._pending_will is not None:
            deadlines.append(self._pending_will[0])
        if self._expires_at is not None:
            deadlines.append(self._expires_at)
        return min(deadlines) if deadlines else None

    # -------------------------------------------------------------------------------------------- connections

    def _attach(self, event: Attach) -> List[Action]:
        if event.connect.clean_start and self.state is not S.NEW:
            raise InvalidTransition("a clean-start CONNECT starts a new session (see plan_attach)")
        actions: List[Action] = []
        resumed = self.state is not S.NEW
        if self.state is S.ONLINE:
            actions += self._drop(*END_CAUSES["takeover"][:3], keep=True)
        connect = event.connect
        self.state = S.ONLINE
        self.connection = event.connection
        self.version = connect.protocol_level
        self.session_present = resumed
        self._keep_alive = connect.keep_alive
        self._last_seen = self.clock()
        self._receive_maximum = connect.properties.receive_maximum or _MAX_ID
        self._client_max_packet = connect.properties.maximum_packet_size
        self._asked_expiry = connect.properties.session_expiry_interval or 0
        self.session_expiry = granted_session_expiry(connect, self.keep_window)
        self._will = connect.will
        self._pending_will = None  # a resume within the will delay cancels it
        self._expires_at = None
        connack = accept(
            connect,
            self.client_id,
            session_present=resumed,
            keep_window=self.keep_window,
            user_properties=list(event.user_properties),
        )
        actions.append(Send(event.connection, connack))
        if resumed:
            actions += self._redeliver()
        return actions + self._pump()

    def _redeliver(self) -> List[Action]:
        now = self.clock()
        actions: List[Action] = []
        for packet_id, flight in self._inflight.items():
            if flight.released:
                actions.append(Send(self.connection, Pubrel(packet_id)))
            else:
                publish = flight.message.to_publish(
                    qos=flight.qos, packet_id=packet_id, now=now, subscription_id=flight.subscription_id
                )
                publish.dup = True
                actions.append(Send(self.connection, publish))
        return actions

    def _drop(self, code: int, status: int, reason: str, *, keep: bool = False) -> List[Action]:
        """End the current connection from our side: 5.0 DISCONNECT ``code``, close, will."""
        actions: List[Action] = []
        if self.version == MQTT_5:
            actions.append(Send(self.connection, Disconnect(code, Properties(reason_string=reason))))
        actions.append(CloseTransport(self.connection, status, reason))
        self._last = Disconnection(False, reason, code if self.version == MQTT_5 else None)
        return actions + self._detach(will=True, keep=keep)

    def _detach(self, *, will: bool, keep: bool = False) -> List[Action]:
        """The connection is gone: schedule or discard the will; go OFFLINE or end (unless ``keep``)."""
        self.connection = None
        actions: List[Action] = []
        if will and self._will is not None:
            delay = self._will.properties.will_delay_interval or 0
            if delay:
                self._pending_will = (self.clock() + delay, self._will)
            else:
                actions += self._publish_will(self._will)
        self._will = None
        if keep:
            return actions
        if self.session_expiry > 0:
            self.state = S.OFFLINE
            self._expires_at = self.clock() + self.session_expiry
            return actions
        return actions + self._end()

    def _publish_will(self, will: Will) -> List[Action]:
        self._pending_will = None
        if not self.permissions.allows(SEND_TO_GROUP, will.topic):
            return [Dropped("will refused: no sendToGroup permission", will.topic)]
        publish = Publish(will.topic, will.payload, will.qos, properties=will.properties)
        return [
            PublishToGroup(will.topic, Message.from_publish(publish, sender=self.client_id, now=self.clock()), True)
        ]

    def _end(self) -> List[Action]:
        actions: List[Action] = []
        if self._pending_will is not None:
            actions += self._publish_will(self._pending_will[1])
        self.state = S.ENDED
        self.connection = None
        self._expires_at = None
        self._inflight.clear()
        self._queue.clear()
        self._queued_bytes = 0
        self._inbound_qos2.clear()
        self._events.clear()
        return [*actions, Ended(disconnected_body(self._last))]

    def _violation(self, event: Violation) -> List[Action]:
        return self._drop(event.error.reason_code, event.error.close_code, event.error.message)

    def _lost(self, event: ConnectionLost) -> List[Action]:
        self._last = Disconnection(False, event.reason)
        return self._detach(will=True)

    def _end_by(self, event: End) -> List[Action]:
        code, status, default_reason, will = END_CAUSES[event.cause]
        reason = event.reason or default_reason
        if not will:
            self._will = self._pending_will = None
        actions = self._drop(code, status, reason, keep=True) if self.state is S.ONLINE else []
        self._last = Disconnection(False, reason, code if self.version == MQTT_5 else None)
        return actions + self._end()

    def _tick(self, event: Tick) -> List[Action]:
        now = self.clock()
        actions: List[Action] = []
        self._purge_expired(now)
        if self.state is S.ONLINE and self._keep_alive and now >= self._last_seen + 1.5 * self._keep_alive:
            return self._drop(ReasonCode.KEEP_ALIVE_TIMEOUT, CLOSE_NORMAL, "keep-alive timeout")
        if self._pending_will is not None and now >= self._pending_will[0]:
            actions += self._publish_will(self._pending_will[1])
        if self.state is S.OFFLINE and self._expires_at is not None and now >= self._expires_at:
            actions += self._end()
        return actions

    # -------------------------------------------------------------------------------------------- packets in

    def _packet(self, event: PacketIn) -> List[Action]:
        self._last_seen = self.clock()
        packet = event.packet
        handler = _PACKET_HANDLERS.get(type(packet))
        if handler is None:  # CONNECT again, AUTH
            what = "enhanced authentication is not supported" if isinstance(packet, Auth) else "a second CONNECT"
            return self._drop(ReasonCode.PROTOCOL_ERROR, CLOSE_PROTOCOL_ERROR, what)
        return handler(self, packet)

    def _on_publish(self, publish: Publish) -> List[Action]:
        decision = decide_publish(publish, self.version, self.permissions)
        if decision.action == "close":
            return self._drop(decision.code, CLOSE_PROTOCOL_ERROR, "PUBLISH breaks the protocol")
        packet_id = publish.packet_id
        if publish.qos == 2 and packet_id in self._inbound_qos2:  # a re-send: acknowledge, deliver nothing
            pending = any(e.packet_id == packet_id for e in self._events.values())
            return [] if pending else [Send(self.connection, Pubrec(packet_id))]
        message = Message.from_publish(publish, sender=self.client_id, now=self.clock())
        if decision.action == "event":
            assert decision.name is not None
            content_type = event_content_type(publish.properties.content_type, self.version)
            if content_type is not None:
                return self._user_event(decision.name, publish, message, content_type)
            decision = decision._replace(action="refuse", code=ReasonCode.PAYLOAD_FORMAT_INVALID)
        if decision.action == "refuse":
            if publish.qos == 0:
                return self._drop(decision.code, CLOSE_POLICY, "PUBLISH refused")
            code = decision.code if self.version == MQTT_5 else 0
            return [Dropped("PUBLISH refused", publish.topic), *self._ack_publish(publish, code)]
        assert decision.name is not None
        return [PublishToGroup(decision.name, message), *self._ack_publish(publish, 0)]

    def _ack_publish(self, publish: Publish, code: int) -> List[Action]:
        if publish.qos == 0 or publish.packet_id is None:
            return []
        if publish.qos == 1:
            return [Send(self.connection, Puback(publish.packet_id, code))]
        if code < 0x80:  # a failing PUBREC ends the flow: the id is not kept
            self._inbound_qos2.add(publish.packet_id)
        return [Send(self.connection, Pubrec(publish.packet_id, code))]

    def _user_event(self, name: str, publish: Publish, message: Message, content_type: str) -> List[Action]:
        self._last_event += 1
        props = publish.properties
        self._events[self._last_event] = _PendingEvent(name, publish.qos, publish.packet_id, props.correlation_data)
        if publish.qos == 2 and publish.packet_id is not None:
            self._inbound_qos2.add(publish.packet_id)
        headers, unfit = event_headers(props.user_properties if self.version == MQTT_5 else ())
        actions: List[Action] = [UserEvent(self._last_event, name, message, content_type, headers)]
        if unfit:
            actions.append(Dropped(f"{unfit} user properties unfit for HTTP headers", publish.topic))
        return actions

    def _event_reply(self, event: EventReply) -> List[Action]:
        pending = self._events.pop(event.request_id, None)
        if pending is None:
            return []
        message = Message(
            event_reply_topic(pending.name, 200 <= event.status < 300),
            event.payload,
            pending.qos,
            content_type=event.content_type,
            correlation_data=pending.correlation_data,
            user_properties=tuple(reply_user_properties(event.headers, event.status)),
        )
        actions = self._queue_or_send(message, pending.qos, None)
        if self.state is S.ONLINE and pending.packet_id is not None:
            ack: Packet = Puback(pending.packet_id) if pending.qos == 1 else Pubrec(pending.packet_id)
            actions.append(Send(self.connection, ack))
        return actions

    def _on_puback(self, ack: Puback) -> List[Action]:
        flight = self._inflight.get(ack.packet_id)
        if flight is None or flight.qos != 1:
            return []
        del self._inflight[ack.packet_id]
        return self._pump()

    def _on_pubrec(self, ack: Pubrec) -> List[Action]:
        flight = self._inflight.get(ack.packet_id)
        if flight is None or flight.qos != 2 or flight.released:
            code = ReasonCode.PACKET_IDENTIFIER_NOT_FOUND if self.version == MQTT_5 else 0
            return [Send(self.connection, Pubrel(ack.packet_id, code))]
        if ack.code >= 0x80:
            del self._inflight[ack.packet_id]
            return self._pump()
        self._inflight[ack.packet_id] = flight._replace(released=True)
        return [Send(self.connection, Pubrel(ack.packet_id))]

    def _on_pubrel(self, rel: Pubrel) -> List[Action]:
        if rel.packet_id in self._inbound_qos2:
            self._inbound_qos2.discard(rel.packet_id)
            return [Send(self.connection, Pubcomp(rel.packet_id))]
        code = ReasonCode.PACKET_IDENTIFIER_NOT_FOUND if self.version == MQTT_5 else 0
        return [Send(self.connection, Pubcomp(rel.packet_id, code))]

    def _on_pubcomp(self, ack: Pubcomp) -> List[Action]:
        flight = self._inflight.get(ack.packet_id)
        if flight is None or not flight.released:
            return []
        del self._inflight[ack.packet_id]
        return self._pump()

    def _on_subscribe(self, subscribe: Subscribe) -> List[Action]:
        ids = subscribe.properties.subscription_identifiers
        actions: List[Action] = []
        codes = []
        for sub in subscribe.subscriptions:
            decision = decide_subscribe(sub, self.version, self.permissions)
            codes.append(decision.code)
            if decision.granted:
                if decision.group is not None and decision.group not in self.subscriptions:
                    actions.append(Join(decision.group))
                self.subscriptions[sub.topic_filter] = Subscribed(sub.qos, sub.no_local, ids[0] if ids else None)
        return [Send(self.connection, Suback(subscribe.packet_id, codes)), *actions]

    def _on_unsubscribe(self, unsubscribe: Unsubscribe) -> List[Action]:
        actions: List[Action] = []
        codes = []
        for topic in unsubscribe.topic_filters:
            decision = decide_unsubscribe(topic, self.permissions, topic in self.subscriptions)
            codes.append(decision.code)
            if decision.remove:
                del self.subscriptions[topic]
                if not topic.startswith("$"):
                    actions.append(Leave(topic))
        codes = codes if self.version == MQTT_5 else []
        return [Send(self.connection, Unsuback(unsubscribe.packet_id, codes)), *actions]

    def _on_pingreq(self, ping: Pingreq) -> List[Action]:
        return [Send(self.connection, Pingresp())]

    def _on_disconnect(self, disconnect: Disconnect) -> List[Action]:
        props = disconnect.properties
        if props.session_expiry_interval is not None:
            if self._asked_expiry == 0 and props.session_expiry_interval > 0:
                return self._drop(ReasonCode.PROTOCOL_ERROR, CLOSE_PROTOCOL_ERROR, "session expiry set after 0")
            self.session_expiry = min(float(props.session_expiry_interval), self.keep_window)
        self._last = Disconnection(True, props.reason_string, disconnect.code, tuple(props.user_properties))
        actions: List[Action] = [CloseTransport(self.connection, CLOSE_NORMAL, "the client disconnected")]
        return actions + self._detach(will=disconnect.code != 0)

    # -------------------------------------------------------------------------------------------- messages out

    def _deliver(self, event: Deliver) -> List[Action]:
        message = event.message
        sub = self.subscriptions.get(message.topic)
        if sub is None:  # server messages need no SUBSCRIBE; a group needs its subscription
            return self._queue_or_send(message, message.qos, None) if message.topic == SERVER_MESSAGES else []
        if sub.no_local and message.sender == self.client_id:
            return []
        return self._queue_or_send(message, min(message.qos, sub.qos), sub.subscription_id)

    def _queue_or_send(self, message: Message, qos: int, subscription_id: Optional[int]) -> List[Action]:
        now = self.clock()
        if message.expired(now):
            self.expired += 1
            return []
        if qos == 0:
            return self._send_publish(message, 0, None, subscription_id) if self.state is S.ONLINE else []
        size = len(message.payload)
        if len(self._queue) >= self.max_queued_messages or self._queued_bytes + size > self.max_queued_bytes:
            self.dropped += 1
            return [Dropped("the session's queue is full", message.topic)]
        self._queue.append(_Queued(message, qos, subscription_id))
        self._queued_bytes += size
        return self._pump()

    def _pump(self) -> List[Action]:
        actions: List[Action] = []
        if self.state is not S.ONLINE:
            return actions
        now = self.clock()
        while self._queue and len(self._inflight) < min(self._receive_maximum, _MAX_ID):
            item = self._queue.popleft()
            self._queued_bytes -= len(item.message.payload)
            if item.message.expired(now):
                self.expired += 1
                continue
            packet_id = self._next_id()
            sent = self._send_publish(item.message, item.qos, packet_id, item.subscription_id)
            if sent and isinstance(sent[0], Send):
                self._inflight[packet_id] = _Flight(item.message, item.qos, item.subscription_id, False)
            actions += sent
        return actions

    def _send_publish(
        self, message: Message, qos: int, packet_id: Optional[int], subscription_id: Optional[int]
    ) -> List[Action]:
        publish = message.to_publish(qos=qos, packet_id=packet_id, now=self.clock(), subscription_id=subscription_id)
        if self._client_max_packet is None:
            return [Send(self.connection, publish)]
        data = encode(publish, self.version)
        if len(data) > self._client_max_packet:
            return [Dropped("larger than the client's Maximum Packet Size", message.topic)]
        return [Send(self.connection, publish, data)]

    def _next_id(self) -> int:
        while True:  # _pump keeps fewer than 65,535 in flight, so a free id exists
            self._last_id = self._last_id % _MAX_ID + 1
            if self._last_id not in self._inflight:
                return self._last_id

    def _purge_expired(self, now: float) -> None:
        kept = [item for item in self._queue if not item.message.expired(now)]
        if len(kept) != len(self._queue):
            self.expired += len(self._queue) - len(kept)
            self._queue = deque(kept)
            self._queued_bytes = sum(len(item.message.payload) for item in kept)

    # -------------------------------------------------------------------------------------------- REST

    def _rest_join(self, event: RestJoin) -> List[Action]:
        self.subscriptions.setdefault(event.group, Subscribed())
        return []

    def _rest_leave(self, event: RestLeave) -> List[Action]:
        self.subscriptions.pop(event.group, None)
        return []


def plan_attach(existing: Optional[MqttSession], connect: Connect) -> str:
    """What an accepted CONNECT does to the session held for its client id (§4).

    ``"resume"``: attach to ``existing`` (Session Present 1); ``"replace"``: ``existing.handle(End("takeover"))``,
    then attach to a new session; ``"new"``: attach to a new session.
    """
    if existing is None or existing.state in (S.NEW, S.ENDED):
        return "new"
    return "replace" if connect.clean_start else "resume"


_PACKET_HANDLERS: Dict[type, Callable[[MqttSession, Any], List[Action]]] = {
    Publish: MqttSession._on_publish,
    Puback: MqttSession._on_puback,
    Pubrec: MqttSession._on_pubrec,
    Pubrel: MqttSession._on_pubrel,
    Pubcomp: MqttSession._on_pubcomp,
    Subscribe: MqttSession._on_subscribe,
    Unsubscribe: MqttSession._on_unsubscribe,
    Pingreq: MqttSession._on_pingreq,
    Disconnect: MqttSession._on_disconnect,
}
"""The ONLINE packet flows, by packet type (CONNECT and AUTH close the connection with a protocol error)."""
