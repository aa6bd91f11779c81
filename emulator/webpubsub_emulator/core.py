"""The emulator's state and routing, free of any IO.

Hubs (keyed by lowercased name) hold connections, groups and users. Each connection owns an outbound queue of plain
data that a transport adapter drains with :meth:`Core.next_frame`; the core decides message expiry (TTL) with an
injected clock, tracks reliable sessions (sequence ids, cumulative acks, a bounded unacked buffer, a recovery window
and reconnection tokens) and never blocks: a slow connection only grows its own queue.
"""

from __future__ import annotations

import enum
import logging
import secrets
import sys
import time
from collections import deque
from dataclasses import dataclass, field, fields
from typing import Callable, Collection, Iterable, Iterator, NamedTuple, Optional, TypeVar, Union

from .odata import CompiledFilter
from .protocol import (
    Payload,
    ack_message,
    connected_message,
    disconnected_message,
    dumps,
)
from .roles import JOIN_LEAVE_GROUP, SEND_TO_GROUP, PermissionState

_C = TypeVar("_C", bound=type)
_SLOTS: dict[str, bool] = {"slots": True} if sys.version_info >= (3, 10) else {}


def _slots_on_39(cls: _C) -> _C:
    """What ``dataclass(slots=True)`` does on 3.10+, for Python 3.9: the dataclass rebuilt with ``__slots__``."""
    if _SLOTS:
        return cls
    names = tuple(f.name for f in fields(cls))
    namespace = {key: value for key, value in cls.__dict__.items() if key not in (*names, "__dict__", "__weakref__")}
    namespace["__slots__"] = names
    slotted = type(cls)(cls.__name__, cls.__bases__, namespace)
    slotted.__qualname__ = cls.__qualname__
    return slotted


__all__ = [
    "BUFFER_MAX_BYTES",
    "BUFFER_MAX_MESSAGES",
    "RECOVERY_WINDOW_SECONDS",
    "CloseFrame",
    "Connection",
    "ConnectionKind",
    "ConnectionState",
    "Core",
    "Hub",
    "Outbound",
    "Sequenced",
]

log = logging.getLogger(__name__)

BUFFER_MAX_MESSAGES = 1000
BUFFER_MAX_BYTES = 16 * 1024 * 1024
RECOVERY_WINDOW_SECONDS = 30.0
#: Safety limit for the pending queue of non-reliable clients that stop reading.
PENDING_MAX_MESSAGES = 10_000
PENDING_MAX_BYTES = 64 * 1024 * 1024

CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008


class ConnectionKind(enum.Enum):
    """How a connection speaks: raw frames, the JSON subprotocol or the reliable JSON subprotocol."""

    RAW = "raw"
    JSON = "json"
    RELIABLE = "reliable"


class ConnectionState(enum.Enum):
    """Life cycle of a connection."""

    OPEN = "open"  # a transport is attached
    HELD = "held"  # reliable connection without transport, waiting for recovery
    CLOSING = "closing"  # the service decided to close it; final frames are queued
    GONE = "gone"


@dataclass(frozen=True)
class CloseFrame:
    """Instructs the transport to close with ``code`` and ``reason`` once everything before it was sent."""

    code: int
    reason: str = ""


class Sequenced(NamedTuple):
    """A reliable client's message: ``text`` (shared by every recipient) still needs ``"sequenceId":seq`` spliced in.

    :func:`with_sequence_id` builds the final frame; an adapter may splice the encoded bytes instead.
    """

    sequence_id: int
    text: str


def with_sequence_id(sequence_id: int, text: str) -> str:
    """``text`` (a JSON object) with ``sequenceId`` as its first member."""
    return '{"sequenceId":' + str(sequence_id) + "," + text[1:]


#: What :meth:`Core.next_frame` hands to a transport: a text frame, a binary frame or a close instruction.
Outbound = Union[str, bytes, CloseFrame]
#: What :meth:`Core.take_frame` hands to a transport: the same, with reliable messages not yet spliced.
RawOutbound = Union[str, bytes, CloseFrame, Sequenced]

_NO_GROUPS: frozenset[str] = frozenset()


class _Delivery:
    """One message fanned out to several connections; the JSON text is built once and shared."""

    __slots__ = ("_text", "message", "raw", "size")

    def __init__(self, message: dict[str, object], raw: Union[str, bytes], size: int) -> None:
        self.message = message
        self.raw = raw
        self.size = size
        self._text: Optional[str] = None

    def json_text(self) -> str:
        if self._text is None:
            self._text = dumps(self.message)
        return self._text


@_slots_on_39
@dataclass(**_SLOTS)
class _Entry:
    control: Optional[str] = None
    delivery: Optional[_Delivery] = None
    close: Optional[CloseFrame] = None
    expires_at: Optional[float] = None


@_slots_on_39
@dataclass(eq=False, **_SLOTS)
class Connection:
    """A client connection. ``connection_id``, ``user_id`` and ``groups`` are what filters see.

    There may be many thousands of idle ones, so everything a connection may never need (its outbound queue, the
    reliable buffers, the processed ack ids, a group set) is created on first use.
    """

    connection_id: str
    hub: str
    user_id: Optional[str]
    kind: ConnectionKind
    subprotocol: Optional[str]
    permissions: PermissionState
    #: a shared empty frozenset until the connection joins a group, then its own set
    groups: Union[set[str], frozenset[str]] = _NO_GROUPS
    state: ConnectionState = ConnectionState.OPEN
    reconnection_token: Optional[str] = None
    raw_mode: str = "sendEvent"
    raw_group: Optional[str] = None
    raw_no_echo: bool = False
    connection_state: Optional[str] = None
    held_until: Optional[float] = None
    #: called by the core whenever a frame was queued (the adapter wakes its writer)
    wakeup: Optional[Callable[[], None]] = field(default=None, repr=False)
    #: created on the first queued frame (see :attr:`queue`)
    _queue: Optional[deque[_Entry]] = field(default=None, repr=False)
    #: reliable clients only: (sequence id, shared message text, size) until acked
    unacked: Optional[deque[tuple[int, str, int]]] = field(default=None, repr=False)
    #: reliable clients only: frames to send again after a recovery
    resend: Optional[deque[str]] = field(default=None, repr=False)
    next_sequence_id: int = 1
    buffered_messages: int = 0
    buffered_bytes: int = 0
    processed_ack_ids: Optional[set[int]] = field(default=None, repr=False)
    close_reason: Optional[str] = None
    protocol: str = "raw"
    #: how many messages were taken for writing (each once: re-sends after a recovery do not count)
    delivered: int = 0

    @property
    def queue(self) -> deque[_Entry]:
        """The frames waiting to be written, oldest first."""
        if self._queue is None:
            self._queue = deque()
        return self._queue

    @queue.setter
    def queue(self, value: deque[_Entry]) -> None:
        self._queue = value

    @property
    def is_json(self) -> bool:
        """True for the JSON subprotocols (they receive system messages and acks)."""
        return self.kind is not ConnectionKind.RAW

    @property
    def alive(self) -> bool:
        """True while the connection counts as existing (open, or held for recovery)."""
        return self.state in (ConnectionState.OPEN, ConnectionState.HELD)


@dataclass
class Hub:
    """The state of one hub. ``groups`` and ``users`` map names to connection ids in join order."""

    name: str
    connections: dict[str, Connection] = field(default_factory=dict)
    groups: dict[str, dict[str, int]] = field(default_factory=dict)
    users: dict[str, dict[str, None]] = field(default_factory=dict)
    join_counter: int = 0


class Core:
    """All emulator state. Every method is synchronous and performs no IO."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        buffer_max_messages: int = BUFFER_MAX_MESSAGES,
        buffer_max_bytes: int = BUFFER_MAX_BYTES,
        recovery_window: float = RECOVERY_WINDOW_SECONDS,
        pending_max_messages: int = PENDING_MAX_MESSAGES,
        pending_max_bytes: int = PENDING_MAX_BYTES,
    ) -> None:
        self.clock = clock
        self.buffer_max_messages = buffer_max_messages
        self.buffer_max_bytes = buffer_max_bytes
        self.recovery_window = recovery_window
        self.pending_max_messages = pending_max_messages
        self.pending_max_bytes = pending_max_bytes
        self.hubs: dict[str, Hub] = {}
        #: called (synchronously) when a connection ends for good; ``close_reason`` tells why
        self.on_ended: Optional[Callable[[Connection], None]] = None

    # ------------------------------------------------------------------ hubs and lookups
    def hub(self, name: str) -> Hub:
        """Return the hub, creating it on first use (names are case-insensitive)."""
        key = name.lower()
        hub = self.hubs.get(key)
        if hub is None:
            hub = self.hubs[key] = Hub(key)
        return hub

    def find_hub(self, name: str) -> Optional[Hub]:
        """Return the hub when it has ever been used, without creating it."""
        return self.hubs.get(name.lower())

    def connection(self, hub: str, connection_id: str) -> Optional[Connection]:
        """Return a live (open or held) connection."""
        h = self.find_hub(hub)
        conn = h.connections.get(connection_id) if h else None
        return conn if conn is not None and conn.alive else None

    def connection_exists(self, hub: str, connection_id: str) -> bool:
        """True when the connection is open or held for recovery."""
        return self.connection(hub, connection_id) is not None

    def group_exists(self, hub: str, group: str) -> bool:
        """True while at least one connection is in the group."""
        h = self.find_hub(hub)
        return bool(h and h.groups.get(group))

    def user_exists(self, hub: str, user_id: str) -> bool:
        """True while at least one connection carries the user id."""
        h = self.find_hub(hub)
        return bool(h and h.users.get(user_id))

    def user_connections(self, hub: str, user_id: str) -> list[Connection]:
        """The live connections of a user."""
        h = self.find_hub(hub)
        if not h:
            return []
        return [h.connections[c] for c in h.users.get(user_id, {})]

    def group_members(self, hub: str, group: str) -> list[tuple[int, Connection]]:
        """The members of a group with their join sequence numbers, in join order."""
        h = self.find_hub(hub)
        if not h:
            return []
        return [(seq, h.connections[c]) for c, seq in h.groups.get(group, {}).items()]

    # ------------------------------------------------------------------ connection life cycle
    def add_connection(
        self,
        hub: str,
        *,
        user_id: Optional[str],
        kind: ConnectionKind,
        permissions: PermissionState,
        subprotocol: Optional[str] = None,
        groups: Iterable[str] = (),
        connection_id: Optional[str] = None,
    ) -> Connection:
        """Register a new open connection, put it in its initial groups and queue ``connected`` for JSON clients."""
        h = self.hub(hub)
        cid = connection_id if connection_id and connection_id not in h.connections else self.new_connection_id(hub)
        conn = Connection(
            connection_id=cid,
            hub=h.name,
            user_id=user_id,
            kind=kind,
            subprotocol=subprotocol,
            permissions=permissions,
            protocol=subprotocol or "raw",
        )
        if kind is ConnectionKind.RELIABLE:
            conn.reconnection_token = secrets.token_urlsafe(32)
            conn.unacked = deque()
        h.connections[cid] = conn
        if user_id is not None:
            h.users.setdefault(user_id, {})[cid] = None
        for group in groups:
            self.join_group(conn, group)
        if conn.is_json:
            self._push(conn, _Entry(control=connected_message(cid, user_id, conn.reconnection_token)))
        return conn

    def new_connection_id(self, hub: str) -> str:
        """A fresh connection id, unused in the hub."""
        h = self.hub(hub)
        cid = secrets.token_urlsafe(16)
        while cid in h.connections:
            cid = secrets.token_urlsafe(16)
        return cid

    def _detach(self, conn: Connection) -> None:
        if conn.close_reason is None:
            conn.close_reason = "The connection ended."
        h = self.hub(conn.hub)
        h.connections.pop(conn.connection_id, None)
        if conn.user_id is not None:
            members = h.users.get(conn.user_id)
            if members is not None:
                members.pop(conn.connection_id, None)
                if not members:
                    del h.users[conn.user_id]
        for group in list(conn.groups):
            self._leave(h, conn, group)
        if self.on_ended is not None:
            try:
                self.on_ended(conn)
            except Exception:
                log.exception("on_ended callback failed for %s", conn.connection_id)

    def close(
        self,
        conn: Connection,
        *,
        code: int = CLOSE_NORMAL,
        reason: str = "",
        close_reason: str = "",
        discard_pending: bool = False,
    ) -> None:
        """Close a connection for good: it leaves the hub now; JSON clients get ``disconnected`` then the close.

        ``reason`` goes into the ``disconnected`` message, ``close_reason`` into the WebSocket close frame. A held
        reliable connection simply ends (it cannot be recovered any more).
        """
        if conn.state in (ConnectionState.CLOSING, ConnectionState.GONE):
            return
        held = conn.state is ConnectionState.HELD
        conn.close_reason = reason
        self._detach(conn)
        self._drop_buffers(conn)
        if held:
            conn.state = ConnectionState.GONE
            conn._queue = None
            return
        if discard_pending:
            conn._queue = None
        conn.state = ConnectionState.CLOSING
        if conn.is_json:
            conn.queue.append(_Entry(control=disconnected_message(reason)))
        conn.queue.append(_Entry(close=CloseFrame(code, close_reason)))
        self._notify(conn)

    def transport_lost(self, conn: Connection, *, deliberate: bool = False) -> bool:
        """The transport went away without a service-side close.

        A reliable connection whose transport dropped (``deliberate`` False: no close frame from the client) is held
        for recovery (returns True); any other connection is removed.
        """
        if conn.state is ConnectionState.OPEN and conn.kind is ConnectionKind.RELIABLE and not deliberate:
            conn.state = ConnectionState.HELD
            conn.held_until = self.clock() + self.recovery_window
            conn.wakeup = None
            conn.resend = None
            return True
        if conn.state in (ConnectionState.OPEN, ConnectionState.HELD):
            self._detach(conn)
        conn.state = ConnectionState.GONE
        conn.wakeup = None
        conn._queue = None
        self._drop_buffers(conn)
        return False

    def finished(self, conn: Connection) -> None:
        """The transport of a closing connection is done."""
        if conn.state is ConnectionState.CLOSING:
            conn.state = ConnectionState.GONE
            conn._queue = None
            conn.wakeup = None

    def recover(self, hub: str, connection_id: str, token: str) -> Optional[Connection]:
        """Reattach a reliable connection by its reconnection pair; None when recovery is not possible.

        Every buffered message that is not acked yet is sent again, before anything newer.
        """
        conn = self.connection(hub, connection_id)
        if conn is None or conn.kind is not ConnectionKind.RELIABLE or conn.reconnection_token is None:
            return None
        if not secrets.compare_digest(conn.reconnection_token.encode(), token.encode()):
            return None
        conn.state = ConnectionState.OPEN
        conn.held_until = None
        conn.resend = deque(with_sequence_id(seq, text) for seq, text, _size in conn.unacked or ())
        return conn

    def expire(self) -> list[Connection]:
        """End held connections whose recovery window passed and drop TTL-expired queued messages.

        Returns the connections that ended.
        """
        now = self.clock()
        ended: list[Connection] = []
        for h in list(self.hubs.values()):
            for conn in list(h.connections.values()):
                if conn.state is ConnectionState.HELD and conn.held_until is not None and conn.held_until <= now:
                    conn.close_reason = "The connection recovery timeout expired."
                    self._detach(conn)
                    conn.state = ConnectionState.GONE
                    conn._queue = None
                    self._drop_buffers(conn)
                    ended.append(conn)
                elif conn._queue:
                    self._purge_expired(conn, now)
        return ended

    # ------------------------------------------------------------------ groups
    def join_group(self, conn: Connection, group: str) -> None:
        """Add a connection to a group (a no-op when it is already a member)."""
        if group in conn.groups or not conn.alive:
            return
        h = self.hub(conn.hub)
        h.join_counter += 1
        h.groups.setdefault(group, {})[conn.connection_id] = h.join_counter
        if isinstance(conn.groups, frozenset):
            conn.groups = set()
        conn.groups.add(group)

    def leave_group(self, conn: Connection, group: str) -> None:
        """Remove a connection from a group (a no-op when it is not a member)."""
        if group in conn.groups:
            self._leave(self.hub(conn.hub), conn, group)

    def _leave(self, h: Hub, conn: Connection, group: str) -> None:
        if isinstance(conn.groups, set):
            conn.groups.discard(group)
        members = h.groups.get(group)
        if members is not None:
            members.pop(conn.connection_id, None)
            if not members:
                del h.groups[group]

    def leave_all_groups(self, conn: Connection) -> None:
        """Remove a connection from every group."""
        for group in list(conn.groups):
            self.leave_group(conn, group)

    def live_connections(self, hub: str) -> list[Connection]:
        """Every open or held connection of the hub."""
        h = self.find_hub(hub)
        return [c for c in h.connections.values() if c.alive] if h else []

    # ------------------------------------------------------------------ routing
    def select(
        self,
        candidates: Iterable[Connection],
        *,
        excluded: Collection[str] = (),
        filter: Optional[CompiledFilter] = None,
    ) -> list[Connection]:
        """Narrow candidates by a filter and remove excluded connection ids."""
        out = []
        for conn in candidates:
            if not conn.alive or conn.connection_id in excluded:
                continue
            if filter is not None and not filter.matches(conn):
                continue
            out.append(conn)
        return out

    def targets_all(self, hub: str) -> list[Connection]:
        """Every connection of the hub."""
        return self.live_connections(hub)

    def targets_group(self, hub: str, group: str) -> list[Connection]:
        """The current members of a group."""
        return [conn for _seq, conn in self.group_members(hub, group)]

    def deliver(
        self,
        targets: Iterable[Connection],
        payload: Payload,
        *,
        group: Optional[str] = None,
        from_user_id: Optional[str] = None,
        ttl_seconds: Optional[int] = None,
        metadata: Optional[dict[str, str]] = None,
    ) -> int:
        """Queue a message for each target. ``group`` set means a group message (``from:"group"``).

        Returns the number of connections the message was queued for.
        """
        message: dict[str, object]
        if group is not None:
            message = {"type": "message", "from": "group", "group": group, "fromUserId": from_user_id}
        else:
            message = {"type": "message", "from": "server"}
        message["dataType"] = payload.data_type
        message["data"] = payload.value
        if metadata:
            message["metadata"] = dict(metadata)
        delivery = _Delivery(message, payload.raw, payload.size)
        expires_at = self.clock() + ttl_seconds if ttl_seconds else None
        count = 0
        for conn in targets:
            if conn.alive and self._push(conn, _Entry(delivery=delivery, expires_at=expires_at)):
                count += 1
        return count

    def send_control(self, conn: Connection, text: str) -> None:
        """Queue a JSON control frame (ack, pong, system message) for a JSON client."""
        if conn.state is ConnectionState.OPEN:
            self._push(conn, _Entry(control=text))

    def ack(self, conn: Connection, ack_id: Optional[int], error: Optional[tuple[str, str]] = None) -> None:
        """Queue an ack when the request carried an ackId; a success records the ackId as processed."""
        text = self.settle(conn, ack_id, error)
        if text is not None:
            self.send_control(conn, text)

    def settle(self, conn: Connection, ack_id: Optional[int], error: Optional[tuple[str, str]] = None) -> Optional[str]:
        """Record a request's outcome (a success marks the ackId processed) and return its ack frame, not queued.

        None when the request carried no ackId. The adapter queues the frame with :meth:`send_control` (later, when
        it delays acks).
        """
        if ack_id is None:
            return None
        if error is None:
            if conn.processed_ack_ids is None:
                conn.processed_ack_ids = set()
            conn.processed_ack_ids.add(ack_id)
        return ack_message(ack_id, error)

    def duplicate_ack(self, conn: Connection, ack_id: Optional[int]) -> Optional[str]:
        """The ``Duplicate`` ack frame (not queued) when the ackId was already processed successfully, else None."""
        if ack_id is None or conn.processed_ack_ids is None or ack_id not in conn.processed_ack_ids:
            return None
        return ack_message(ack_id, ("Duplicate", f"Message with ack-id: {ack_id} has been processed"))

    def is_duplicate(self, conn: Connection, ack_id: Optional[int]) -> bool:
        """True when the ackId was already processed successfully on this connection (and acks ``Duplicate``)."""
        text = self.duplicate_ack(conn, ack_id)
        if text is not None:
            self.send_control(conn, text)
        return text is not None

    # ------------------------------------------------------------------ client requests
    def client_join(self, conn: Connection, group: str) -> Optional[tuple[str, str]]:
        """A client's joinGroup; returns an ack error or None."""
        if not conn.permissions.allows(JOIN_LEAVE_GROUP, group):
            return ("Forbidden", f"The connection has no permission to join group '{group}'.")
        self.join_group(conn, group)
        return None

    def client_leave(self, conn: Connection, group: str) -> Optional[tuple[str, str]]:
        """A client's leaveGroup; returns an ack error or None."""
        if not conn.permissions.allows(JOIN_LEAVE_GROUP, group):
            return ("Forbidden", f"The connection has no permission to leave group '{group}'.")
        self.leave_group(conn, group)
        return None

    def client_send_to_group(
        self,
        conn: Connection,
        group: str,
        payload: Payload,
        *,
        no_echo: bool = False,
        ttl_seconds: Optional[int] = None,
        metadata: Optional[dict[str, str]] = None,
    ) -> Optional[tuple[str, str]]:
        """A client's sendToGroup (membership not needed, only the permission); returns an ack error or None."""
        if not conn.permissions.allows(SEND_TO_GROUP, group):
            return ("Forbidden", f"The connection has no permission to send to group '{group}'.")
        targets = self.targets_group(conn.hub, group)
        if no_echo:
            targets = [t for t in targets if t is not conn]
        self.deliver(
            targets, payload, group=group, from_user_id=conn.user_id, ttl_seconds=ttl_seconds, metadata=metadata
        )
        return None

    def sequence_ack(self, conn: Connection, sequence_id: int) -> None:
        """A cumulative ack: every buffered message up to ``sequence_id`` is released."""
        unacked = conn.unacked
        while unacked and unacked[0][0] <= sequence_id:
            _seq, _text, size = unacked.popleft()
            conn.buffered_messages -= 1
            conn.buffered_bytes -= size

    # ------------------------------------------------------------------ outbound queue
    def _notify(self, conn: Connection) -> None:
        if conn.wakeup is not None:
            try:
                conn.wakeup()
            except Exception:  # a broken adapter callback must not break routing
                log.exception("wakeup callback failed for %s", conn.connection_id)

    def _push(self, conn: Connection, entry: _Entry) -> bool:
        if conn.state not in (ConnectionState.OPEN, ConnectionState.HELD):
            return False
        if entry.delivery is not None:
            size = entry.delivery.size
            reliable = conn.kind is ConnectionKind.RELIABLE
            max_msgs = self.buffer_max_messages if reliable else self.pending_max_messages
            max_bytes = self.buffer_max_bytes if reliable else self.pending_max_bytes
            if conn.buffered_messages + 1 > max_msgs or conn.buffered_bytes + size > max_bytes:
                self._overflow(conn)
                return False
            conn.buffered_messages += 1
            conn.buffered_bytes += size
        conn.queue.append(entry)
        self._notify(conn)
        return True

    def _overflow(self, conn: Connection) -> None:
        log.warning("connection %s closed: its outbound buffer is full", conn.connection_id)
        self.close(
            conn,
            code=CLOSE_POLICY,
            reason="The connection was closed because its message buffer is full.",
            close_reason="Message buffer full",
        )

    def _drop_buffers(self, conn: Connection) -> None:
        if conn.unacked:
            conn.unacked.clear()
        conn.resend = None
        conn.buffered_messages = 0
        conn.buffered_bytes = 0

    def _release(self, conn: Connection, entry: _Entry) -> None:
        if entry.delivery is not None:
            conn.buffered_messages -= 1
            conn.buffered_bytes -= entry.delivery.size

    def _purge_expired(self, conn: Connection, now: float) -> None:
        queue = conn._queue
        if not queue or all(entry.expires_at is None or entry.expires_at > now for entry in queue):
            return
        kept: deque[_Entry] = deque()
        for entry in queue:
            if entry.expires_at is not None and entry.expires_at <= now:
                self._release(conn, entry)
            else:
                kept.append(entry)
        conn._queue = kept

    def next_frame(self, conn: Connection) -> Optional[Outbound]:
        """Take the next frame to write for a connection, or None when nothing is pending.

        Messages whose TTL passed are dropped here; a reliable client's message gets its sequence id and stays
        buffered until acked.
        """
        frame = self.take_frame(conn)
        if isinstance(frame, Sequenced):
            return with_sequence_id(frame.sequence_id, frame.text)
        return frame

    def take_frame(self, conn: Connection) -> Optional[RawOutbound]:
        """Like :meth:`next_frame`, but a reliable client's message comes as :class:`Sequenced`.

        Its ``text`` is the same object for every recipient of a message (so is a raw client's frame), which lets an
        adapter encode a fanned-out message once.
        """
        if conn.state is ConnectionState.OPEN and conn.resend:
            return conn.resend.popleft()
        queue = conn._queue
        if not queue or conn.state not in (ConnectionState.OPEN, ConnectionState.CLOSING):
            return None
        now: Optional[float] = None
        while queue:
            entry = queue.popleft()
            if entry.close is not None:
                return entry.close
            if entry.control is not None:
                return entry.control
            delivery = entry.delivery
            assert delivery is not None
            if entry.expires_at is not None:
                if now is None:
                    now = self.clock()
                if entry.expires_at <= now:
                    self._release(conn, entry)
                    continue
            conn.delivered += 1
            kind = conn.kind
            if kind is ConnectionKind.RAW:
                self._release(conn, entry)
                return delivery.raw
            text = delivery.json_text()
            if kind is ConnectionKind.RELIABLE:
                seq = conn.next_sequence_id
                conn.next_sequence_id = seq + 1
                assert conn.unacked is not None
                conn.unacked.append((seq, text, delivery.size))  # released by sequence_ack
                return Sequenced(seq, text)
            self._release(conn, entry)
            return text
        return None

    def pending(self, conn: Connection) -> Iterator[Outbound]:
        """Drain every frame that is ready now (mainly for tests)."""
        while True:
            frame = self.next_frame(conn)
            if frame is None:
                return
            yield frame
