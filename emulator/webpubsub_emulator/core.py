"""The emulator's hubs, group membership and routing, free of any IO.

Hubs (keyed by lowercased name) hold sessions, groups and users. The core opens sessions, keeps the indexes (groups in
join order, users), narrows targets (filters, ``excluded``) and fans a message out to its targets: one
:class:`~.outbox.Delivery` queued for every recipient, never blocking (a slow session only grows its own queue, up to
its limits). Every life-cycle change goes through :meth:`Session.transition <.session.Session.transition>`; the core
reacts to the step it returns in one place (:meth:`Core._step`): a session that ended leaves every index and
:attr:`Core.on_ended` is told, once.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Callable, Collection, Iterable, Iterator, NamedTuple, Optional

from . import limits
from .errors import BadRequest, EmulatorError, Forbidden
from .odata import CompiledFilter
from .outbox import CloseFrame, Control, Delivery, Outbox
from .protocol import Payload
from .roles import JOIN_LEAVE_GROUP, SEND_TO_GROUP, PermissionState
from .session import Session, SessionEvent, SessionKind, SessionState, Step
from .trace import Trace

__all__ = ["Core", "Hub", "TooManyGroups"]

log = logging.getLogger(__name__)

CLOSE_POLICY = 1008

_OPEN = SessionState.OPEN
_HELD = SessionState.HELD
#: the JSON form of a frame rendered for one session only (never read: its protocol renders the raw frame)
_NO_MESSAGE: dict[str, object] = {}


class _FanOut(NamedTuple):
    """A parked fan-out: the message, the candidates still to look at, and what narrows them."""

    delivery: Delivery
    targets: Iterator[Session]
    excluded: Collection[str]
    filter: Optional[CompiledFilter]


class TooManyGroups(BadRequest):
    """Joining would put a connection in more groups than ``limits.MAX_GROUPS_PER_CONNECTION``."""


@dataclass
class Hub:
    """The state of one hub. ``groups`` and ``users`` map names to connection ids in join order."""

    name: str
    sessions: dict[str, Session] = field(default_factory=dict)
    groups: dict[str, dict[str, int]] = field(default_factory=dict)
    users: dict[str, dict[str, None]] = field(default_factory=dict)
    join_counter: int = 0


class Core:
    """Hubs, membership and routing. Every method is synchronous and performs no IO.

    :param clock: a monotonic clock in seconds (message TTLs, the recovery window).
    :param trace: where sessions opening, changing state and joining or leaving groups are reported (a new, silent one
        by default).
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        buffer_max_messages: int = limits.BUFFER_MAX_MESSAGES,
        buffer_max_bytes: int = limits.BUFFER_MAX_BYTES,
        recovery_window: float = limits.RECOVERY_WINDOW_SECONDS,
        pending_max_messages: int = limits.PENDING_MAX_MESSAGES,
        pending_max_bytes: int = limits.PENDING_MAX_BYTES,
        trace: Optional[Trace] = None,
    ) -> None:
        self.clock = clock
        self.buffer_max_messages = buffer_max_messages
        self.buffer_max_bytes = buffer_max_bytes
        self.recovery_window = recovery_window
        self.pending_max_messages = pending_max_messages
        self.pending_max_bytes = pending_max_bytes
        self.trace = trace if trace is not None else Trace()
        self.hubs: dict[str, Hub] = {}
        #: called (synchronously) once when a session ends for good; ``close_reason`` tells why
        self.on_ended: Optional[Callable[[Session], None]] = None
        #: the parked fan-outs, oldest first (see :meth:`deliver`)
        self._backlog: deque[_FanOut] = deque()
        #: called (synchronously) when a fan-out is parked and none was: the adapters then call :meth:`drain` soon
        self.on_backlog: Optional[Callable[[], None]] = None

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

    def connection(self, hub: str, connection_id: str) -> Optional[Session]:
        """Return a live (open or held) session."""
        h = self.find_hub(hub)
        session = h.sessions.get(connection_id) if h else None
        return session if session is not None and session.alive else None

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

    def user_connections(self, hub: str, user_id: str) -> list[Session]:
        """The live sessions of a user."""
        h = self.find_hub(hub)
        if not h:
            return []
        return [h.sessions[c] for c in h.users.get(user_id, {})]

    def group_members(self, hub: str, group: str) -> list[tuple[int, Session]]:
        """The members of a group with their join sequence numbers, in join order."""
        h = self.find_hub(hub)
        if not h:
            return []
        return [(seq, h.sessions[c]) for c, seq in h.groups.get(group, {}).items()]

    def targets_group(self, hub: str, group: str) -> list[Session]:
        """The current members of a group (a list: a fan-out carried out in slices needs a snapshot)."""
        h = self.find_hub(hub)
        if not h:
            return []
        sessions = h.sessions
        return [sessions[c] for c in h.groups.get(group, ())]

    def live_connections(self, hub: str) -> list[Session]:
        """Every open or held session of the hub."""
        h = self.find_hub(hub)
        return [s for s in h.sessions.values() if s.alive] if h else []

    # ------------------------------------------------------------------ life cycle
    def new_connection_id(self, hub: str) -> str:
        """A fresh connection id, unused in the hub."""
        h = self.hub(hub)
        cid = secrets.token_urlsafe(16)
        while cid in h.sessions:
            cid = secrets.token_urlsafe(16)
        return cid

    def open_session(
        self,
        hub: str,
        *,
        user_id: Optional[str],
        kind: SessionKind,
        permissions: PermissionState,
        subprotocol: Optional[str] = None,
        groups: Iterable[str] = (),
        connection_id: Optional[str] = None,
        kind_state: Any = None,
    ) -> Session:
        """Register a new open session, put it in its initial groups and queue its protocol's greeting.

        ``kind_state`` is what the client protocol keeps per session when the handshake decided it (a raw mode).
        """
        h = self.hub(hub)
        cid = connection_id if connection_id and connection_id not in h.sessions else self.new_connection_id(hub)
        session = Session(cid, h.name, user_id, kind, permissions, subprotocol)
        session.kind_state = kind_state
        kind.on_open(session)
        h.sessions[cid] = session
        if user_id is not None:
            h.users.setdefault(user_id, {})[cid] = None
        trace = self.trace
        if trace.observers:
            trace.emit(
                "session", h.name, cid, event="open", old=None, new="open", user=user_id, protocol=session.protocol
            )
        for group in groups:
            self.join_group(session, group)
        greeting = kind.greeting(session)
        if greeting is not None:
            self.send_control(session, greeting)
        return session

    def _step(self, session: Session, event: SessionEvent, reason: Optional[str] = None) -> Step:
        """Apply one life-cycle event and react to the step: the one place where a session that ended is cleaned up."""
        step = session.transition(event)
        if not step.allowed:
            return step
        if step.ended:
            if reason is not None:
                session.close_reason = reason
            self._detach(session)
        if step.new is _HELD:
            session.held_until = self.clock() + self.recovery_window
            if session.outbox is not None and session.outbox.held:
                session.outbox.release_held(float("inf"))  # no transport to wait for: they go first after a recovery
        trace = self.trace
        if trace.observers:
            trace.emit(
                "session",
                session.hub,
                session.connection_id,
                event=event.value,
                old=step.old.value,
                new=step.new.value,
                reason=session.close_reason if step.ended else None,
                user=session.user_id,
            )
        return step

    def _detach(self, session: Session) -> None:
        h = self.hub(session.hub)
        h.sessions.pop(session.connection_id, None)
        if session.user_id is not None:
            members = h.users.get(session.user_id)
            if members is not None:
                members.pop(session.connection_id, None)
                if not members:
                    del h.users[session.user_id]
        for group in list(session.groups):
            self._leave(h, session, group)
        if self.on_ended is not None:
            try:
                self.on_ended(session)
            except Exception:
                log.exception("on_ended callback failed for %s", session.connection_id)

    def close(self, session: Session, *, code: Optional[int] = None, reason: str = "", close_reason: str = "") -> None:
        """The service closes a session for good: it leaves the hub now; its protocol's farewell and the close follow.

        ``reason`` goes into the farewell (``disconnected``) and the upstream ``disconnected`` event, ``close_reason``
        into the WebSocket close frame; ``code`` defaults to the protocol's ``deliberate_close_code`` (1000, or 1008
        for reliable clients, which must not try to recover). A held session simply ends (it cannot be recovered any
        more).
        """
        if code is None:
            code = session.kind.deliberate_close_code
        if session.alive:
            session.kind.on_close(session, reason)  # a protocol's own last words (MQTT: DISCONNECT 0x98, the will)
        step = self._step(session, SessionEvent.CLOSE, reason)
        if step.new is SessionState.CLOSING:
            outbox = self._outbox(session)
            farewell = session.kind.farewell(reason)
            if farewell is not None:
                outbox.admit_control(farewell, limits.CONTROL_MAX_FRAMES, limits.CONTROL_MAX_BYTES)
                outbox.queue.append(farewell)
            outbox.queue.append(CloseFrame(code, close_reason))
            self._wake(session)

    def refuse(self, session: Session, error: EmulatorError) -> None:
        """Close a session because of ``error`` (its close code; its message as the reason)."""
        log.info("connection %s refused: %s", session.connection_id, error.message)
        self.close(session, code=error.close_code, reason=error.message, close_reason=error.close_reason)

    def transport_lost(self, session: Session, *, client_closed: bool = False) -> bool:
        """The session's transport is gone (``client_closed``: after the client's close frame). True: held."""
        step = self._step(session, SessionEvent.CLIENT_CLOSE if client_closed else SessionEvent.DROP)
        return step.new is _HELD

    def transport_closed(self, session: Session) -> None:
        """The close handshake of a closing session was written (or its transport given up)."""
        self._step(session, SessionEvent.CLOSED)

    def resume(
        self, hub: str, connection_id: str, credential: str, offered: Optional[Collection[str]] = None
    ) -> Optional[Session]:
        """Reattach a session by its reconnection pair; None when that is not possible. A recovery keeps the session's
        subprotocol: when ``offered`` (the subprotocols the client offers) does not hold it, the session is not
        resumed (it stays held, for a recovery that does).

        The client protocol queues what must be sent again (a reliable client's unacked messages) before anything newer.
        """
        session = self.connection(hub, connection_id)
        if session is None or not session.kind.resumable or not session.kind.resume_allowed(session, credential):
            return None
        if offered is not None and session.subprotocol not in offered:
            log.info("recovery of %s refused: it does not offer %s", session.connection_id, session.subprotocol)
            return None
        return session if self._step(session, SessionEvent.RESUME).allowed else None

    def expire(self) -> list[Session]:
        """End held sessions whose recovery window passed and drop TTL-expired queued messages.

        Returns the sessions that ended.
        """
        now = self.clock()
        ended: list[Session] = []
        for h in list(self.hubs.values()):
            for session in list(h.sessions.values()):
                if session.state is _HELD and session.held_until is not None and session.held_until <= now:
                    self._step(session, SessionEvent.EXPIRE, "The connection recovery timeout expired.")
                    ended.append(session)
                elif session.outbox is not None and session.outbox.queue:
                    session.outbox.purge_expired(now)
        return ended

    # ------------------------------------------------------------------ groups
    @staticmethod
    def check_room(session: Session, groups: Collection[str]) -> None:
        """:class:`TooManyGroups` when joining ``groups`` would put the session in more than
        ``limits.MAX_GROUPS_PER_CONNECTION`` groups."""
        limit = limits.MAX_GROUPS_PER_CONNECTION
        current = session.groups
        if len(current) + len(groups) > limit and len(current) + sum(g not in current for g in groups) > limit:
            raise TooManyGroups(
                f"The connection {session.connection_id} would be in more than {limit} groups (a connection may join "
                f"at most {limit})."
            )

    def join_group(self, session: Session, group: str) -> None:
        """Add a session to a group (a no-op when it is already a member); :class:`TooManyGroups` when it is in
        ``limits.MAX_GROUPS_PER_CONNECTION`` groups already."""
        if group in session.groups or not session.alive:
            return
        if len(session.groups) >= limits.MAX_GROUPS_PER_CONNECTION:
            self.check_room(session, (group,))
        h = self.hub(session.hub)
        h.join_counter += 1
        h.groups.setdefault(group, {})[session.connection_id] = h.join_counter
        if isinstance(session.groups, frozenset):
            session.groups = set()
        session.groups.add(group)
        if self.trace.observers:
            self.trace.emit("group", h.name, session.connection_id, event="join", group=group)
        session.kind.on_join(session, group)

    def leave_group(self, session: Session, group: str) -> None:
        """Remove a session from a group (a no-op when it is not a member)."""
        if group in session.groups:
            self._leave(self.hub(session.hub), session, group)
            if self.trace.observers:
                self.trace.emit("group", session.hub, session.connection_id, event="leave", group=group)
            session.kind.on_leave(session, group)

    def _leave(self, h: Hub, session: Session, group: str) -> None:
        if isinstance(session.groups, set):
            session.groups.discard(group)
        members = h.groups.get(group)
        if members is not None:
            members.pop(session.connection_id, None)
            if not members:
                del h.groups[group]

    def leave_all_groups(self, session: Session) -> None:
        """Remove a session from every group."""
        for group in list(session.groups):
            self.leave_group(session, group)

    # ------------------------------------------------------------------ client requests
    def client_join(self, session: Session, group: str) -> None:
        """A client joins a group; :class:`~.errors.Forbidden` without the permission."""
        if not session.permissions.allows(JOIN_LEAVE_GROUP, group):
            raise Forbidden(f"The connection has no permission to join group '{group}'.")
        self.join_group(session, group)

    def client_leave(self, session: Session, group: str) -> None:
        """A client leaves a group; :class:`~.errors.Forbidden` without the permission."""
        if not session.permissions.allows(JOIN_LEAVE_GROUP, group):
            raise Forbidden(f"The connection has no permission to leave group '{group}'.")
        self.leave_group(session, group)

    def client_send_to_group(
        self,
        session: Session,
        group: str,
        payload: Payload,
        *,
        no_echo: bool = False,
        ttl_seconds: Optional[int] = None,
        metadata: Optional[dict[str, str]] = None,
    ) -> None:
        """A client publishes to a group (membership not needed); :class:`~.errors.Forbidden` without the permission."""
        if not session.permissions.allows(SEND_TO_GROUP, group):
            raise Forbidden(f"The connection has no permission to send to group '{group}'.")
        self.deliver(
            self.targets_group(session.hub, group),
            payload,
            group=group,
            from_user_id=session.user_id,
            ttl_seconds=ttl_seconds,
            metadata=metadata,
            excluded=(session.connection_id,) if no_echo else (),
        )

    # ------------------------------------------------------------------ routing
    def select(
        self,
        candidates: Iterable[Session],
        *,
        excluded: Collection[str] = (),
        filter: Optional[CompiledFilter] = None,
    ) -> list[Session]:
        """Narrow candidates by a filter and remove excluded connection ids."""
        out = []
        for session in candidates:
            if not session.alive or session.connection_id in excluded:
                continue
            if filter is not None and not filter.matches(session):
                continue
            out.append(session)
        return out

    def deliver(
        self,
        targets: Iterable[Session],
        payload: Payload,
        *,
        group: Optional[str] = None,
        from_user_id: Optional[str] = None,
        ttl_seconds: Optional[int] = None,
        metadata: Optional[dict[str, str]] = None,
        excluded: Collection[str] = (),
        filter: Optional[CompiledFilter] = None,
    ) -> int:
        """Queue a message for each target (narrowed by ``filter`` and ``excluded``, as :meth:`select` does).
        ``group`` set means a group message (``from:"group"``).

        A fan-out to more than ``limits.WORK_SLICE`` candidates, or one that comes while another is under way, is
        parked and carried out slice by slice (:meth:`drain`, called by the adapters between other work), so that no
        single call holds the event loop long; every recipient still gets messages in the order they were delivered.
        Returns the number of sessions the message was queued for now (a parked fan-out queues it later).
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
        delivery = Delivery(message, payload.raw, payload.size, self.clock() + ttl_seconds if ttl_seconds else None)
        if not self._backlog and isinstance(targets, (list, tuple)) and len(targets) <= limits.WORK_SLICE:
            return self._fan_out(targets, delivery, excluded, filter)
        self._backlog.append(_FanOut(delivery, iter(targets), excluded, filter))
        if len(self._backlog) == 1 and self.on_backlog is not None:
            self.on_backlog()
        return 0

    @property
    def backlog(self) -> int:
        """How many fan-outs are parked (0: none; see :meth:`deliver`)."""
        return len(self._backlog)

    def drain(self) -> bool:
        """Carry out up to ``limits.WORK_SLICE`` candidates of the parked fan-outs, oldest first; True when some
        remain (call again soon, after other work)."""
        budget = limits.WORK_SLICE
        backlog = self._backlog
        while backlog and budget > 0:
            fan = backlog[0]
            chunk = list(islice(fan.targets, budget))
            self._fan_out(chunk, fan.delivery, fan.excluded, fan.filter)
            if len(chunk) < budget:  # its candidates ran out: done
                backlog.popleft()
            budget -= max(len(chunk), 1)
        return bool(backlog)

    def _fan_out(
        self,
        targets: Iterable[Session],
        delivery: Delivery,
        excluded: Collection[str],
        filter: Optional[CompiledFilter],
    ) -> int:
        size = delivery.size
        count = 0
        for session in targets:
            state = session.state
            if state is not _OPEN and state is not _HELD:
                continue
            if excluded and session.connection_id in excluded:
                continue
            if filter is not None and not filter.matches(session):
                continue
            kind = session.kind
            if kind.takes_deliveries:  # the protocol queues and numbers messages per session itself (MQTT)
                if kind.accept(session, delivery):
                    count += 1
                continue
            outbox = session.outbox
            if outbox is None:
                outbox = self._outbox(session)
            if kind.keeps_until_acked:
                admitted = outbox.admit(size, self.buffer_max_messages, self.buffer_max_bytes)
            else:
                admitted = outbox.admit(size, self.pending_max_messages, self.pending_max_bytes)
            if not admitted:
                self._overflow(session)
                continue
            outbox.queue.append(delivery)
            wakeup = session.wakeup
            if wakeup is not None:
                self._wake(session)
            count += 1
        return count

    def send_frame(self, session: Session, frame: bytes) -> bool:
        """Queue a message frame rendered for this one session (a protocol that numbers its messages per recipient,
        MQTT); it counts toward the pending limits until written. False (nothing queued) when over a limit, or when
        the session is not open."""
        if session.state is not _OPEN:
            return False
        outbox = self._outbox(session)
        size = len(frame)
        if not outbox.admit(size, self.pending_max_messages, self.pending_max_bytes):
            return False
        outbox.queue.append(Delivery(_NO_MESSAGE, frame, size))
        self._wake(session)
        return True

    def send_close(self, session: Session, code: int, reason: str = "") -> None:
        """Queue a close instruction for an open session that lives on (written after everything queued before it;
        the session's state is its protocol's business: an MQTT session may go offline, not end)."""
        if session.state is _OPEN:
            self._outbox(session).queue.append(CloseFrame(code, reason))
            self._wake(session)

    def send_control(self, session: Session, frame: Control) -> None:
        """Queue a control frame (ack, pong, system message) for an open session.

        It counts toward the session's control limits (``limits.CONTROL_MAX_FRAMES`` / ``CONTROL_MAX_BYTES``) until
        it is written: a session that would pass them is closed (``disconnected``, 1008), like a full message buffer.
        """
        if session.state is _OPEN and self._admit_control(session, frame):
            self._outbox(session).queue.append(frame)
            self._wake(session)

    def hold_control(self, session: Session, frame: Control, due: float) -> bool:
        """Queue a control frame to be written at clock time ``due`` (a delayed ack), counted from now on like
        :meth:`send_control`. True when the caller must call :meth:`release_held` at ``due`` (nothing was held yet)."""
        if session.state is not _OPEN or not self._admit_control(session, frame):
            return False
        return self._outbox(session).hold(frame, due)

    def release_held(self, session: Session, now: float) -> Optional[float]:
        """Queue the held control frames due by ``now``; the due time of the next one (None: none is held)."""
        outbox = session.outbox
        if outbox is None or not outbox.held or session.state is not _OPEN:
            return None
        queued = len(outbox.queue)
        next_due = outbox.release_held(now)
        if len(outbox.queue) > queued:
            self._wake(session)
        return next_due

    def _admit_control(self, session: Session, frame: Control) -> bool:
        if self._outbox(session).admit_control(frame, limits.CONTROL_MAX_FRAMES, limits.CONTROL_MAX_BYTES):
            return True
        self._overflow(session, "it does not read what the service sends", "Control frames not read")
        return False

    # ------------------------------------------------------------------ outbound queues
    @staticmethod
    def _outbox(session: Session) -> Outbox:
        outbox = session.outbox
        if outbox is None:
            outbox = session.outbox = Outbox()
        return outbox

    @staticmethod
    def _wake(session: Session) -> None:
        wakeup = session.wakeup
        if wakeup is not None:
            try:
                wakeup()
            except Exception:  # a broken adapter callback must not break routing
                log.exception("wakeup callback failed for %s", session.connection_id)

    def _overflow(
        self, session: Session, why: str = "its message buffer is full", close_reason: str = "Message buffer full"
    ) -> None:
        """Close a session that passed one of its limits (``disconnected`` saying why, then 1008)."""
        log.warning("connection %s closed: %s", session.connection_id, why)
        self.close(
            session, code=CLOSE_POLICY, reason=f"The connection was closed because {why}.", close_reason=close_reason
        )
