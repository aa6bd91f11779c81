"""What the live trace page shows, free of IO: the feed of entries its watchers read, and the snapshot they start from.

:class:`TraceFeed` subscribes to the emulator's :class:`~.trace.Trace` only while at least one :class:`Watcher` is
attached, so nobody watching costs nothing, and turns every event into an entry: a sequence number, the time, the
hub, the connection with its user and groups at that moment, and the event's detail. A REST call is attributed from
its path (``/api/hubs/<hub>/users/<user>/:send`` names a hub and a user).

**Bounds.** Entries go into one ring shared by every watcher (:data:`~.limits.TRACE_FEED_ENTRIES` of them): what a
feed holds does not grow with the number of watchers, with time or with traffic. A watcher is only a cursor into the
ring. One that falls further behind than the ring holds (a slow page, a stalled socket) loses the entries it missed;
:meth:`TraceFeed.take` counts them in :attr:`Watcher.lost`, and the writer never waits for it. An entry is encoded
to JSON once, when the first watcher takes it; entries nobody takes are never encoded. When the last watcher leaves,
the feed unsubscribes and forgets its entries.

The adapter (:mod:`.trace_page`) supplies each watcher's ``wake`` callback, called (once until the next
:meth:`TraceFeed.take`) when there is something new for it.
"""

from __future__ import annotations

import time
from typing import Any, Callable, NamedTuple, Optional

from . import limits
from . import rest_rules as rules
from .core import Core
from .errors import EmulatorError
from .protocol import dumps
from .session import Session
from .trace import Trace, TraceEvent

__all__ = ["Batch", "TraceFeed", "Watcher", "connection_view", "rest_target"]

#: Path parameters of a REST route, by the entry field they fill.
_REST_PARAMS = (("userId", "user"), ("group", "group"), ("connectionId", "connection"))


class Watcher:
    """One page reading the feed: where it is (:attr:`cursor`, the next sequence number) and what it lost."""

    __slots__ = ("cursor", "lost", "pending", "wake")

    def __init__(self, cursor: int, wake: Callable[[], None]) -> None:
        #: the sequence number of the next entry it gets
        self.cursor = cursor
        #: entries it never got (it was too far behind), in total
        self.lost = 0
        #: ``wake`` was called and :meth:`TraceFeed.take` has not run since
        self.pending = False
        self.wake = wake


class Batch(NamedTuple):
    """What :meth:`TraceFeed.take` hands a watcher."""

    #: the entries, encoded, oldest first
    entries: list[str]
    #: entries lost since the previous batch
    lost: int
    #: the sequence number of the last entry in it (-1: none)
    last_seq: int


class RestTarget(NamedTuple):
    """What a REST path names: the hub, the operation and the user, group or connection it targets."""

    hub: Optional[str]
    operation: Optional[str]
    user: Optional[str]
    group: Optional[str]
    connection: Optional[str]


def rest_target(method: str, path: str) -> RestTarget:
    """Attribute a REST call (its decoded path, without the query) to a hub and target; unknown parts are None."""
    segments = path.split("/")
    if len(segments) < 4 or segments[1:3] != ["api", "hubs"]:
        return RestTarget(None, None, None, None, None)
    hub = segments[3].lower()
    try:
        operation, params = rules.match_route(method, segments[3:])
    except EmulatorError:
        return RestTarget(hub, None, None, None, None)
    found = {field: params.get(name) for name, field in _REST_PARAMS}
    return RestTarget(hub, operation, found["user"], found["group"], found["connection"])


def _hub_of_path(path: Any) -> Optional[str]:
    """The hub a client path names (``/client/hubs/<hub>``, ``/clients/<kind>/hubs/<hub>``), or None."""
    if not isinstance(path, str):
        return None
    segments = path.split("/")
    if "hubs" in segments:
        at = segments.index("hubs") + 1
        if at < len(segments) and segments[at]:
            return segments[at].lower()
    return None


def connection_view(session: Session) -> dict[str, Any]:
    """What the page shows of a live connection."""
    return {
        "hub": session.hub,
        "connection": session.connection_id,
        "user": session.user_id,
        "protocol": session.protocol,
        "groups": sorted(session.groups),
        "since": round(session.opened_at, 3),
        "state": session.state.value,
    }


#: one recorded event: (time, event, user, groups)
_Recorded = tuple[float, TraceEvent, Optional[str], tuple[str, ...]]


class TraceFeed:
    """The entries of one emulator's trace for the watchers of its trace page (see the module docstring).

    :param core: whose sessions attribute frames to users and groups, and make up snapshots.
    :param trace: the emulator's trace.
    :param size: how many entries the ring holds (default: :data:`~.limits.TRACE_FEED_ENTRIES`).
    :param clock: wall-clock time in seconds (entry times, snapshot time).
    """

    def __init__(
        self,
        core: Core,
        trace: Trace,
        *,
        size: Optional[int] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        size = limits.TRACE_FEED_ENTRIES if size is None else size
        if size < 1:
            raise ValueError("the feed must hold at least one entry")
        self.core = core
        self.trace = trace
        self.size = size
        self.clock = clock
        self.watchers: list[Watcher] = []
        #: the sequence number the next entry gets (it never goes back, across subscriptions)
        self.next_seq = 0
        #: the first sequence number recorded since the feed last subscribed
        self.start_seq = 0
        self._ring: list[Optional[_Recorded]] = [None] * size
        self._encoded: list[Optional[str]] = [None] * size
        self._unsubscribe: Optional[Callable[[], None]] = None

    # ------------------------------------------------------------------ watchers
    def attach(self, wake: Callable[[], None], *, after: Optional[int] = None) -> Watcher:
        """A new watcher, from the next entry on; ``after``: a returning watcher that last saw that sequence number
        continues after it, when the feed still holds what followed (the entries it cannot have are lost to it)."""
        if self._unsubscribe is None:
            self.start_seq = self.next_seq
            self._unsubscribe = self.trace.subscribe(self.observe)
        cursor = self.next_seq
        if after is not None and self.start_seq <= after + 1 <= self.next_seq:
            cursor = after + 1
        watcher = Watcher(cursor, wake)
        watcher.pending = cursor < self.next_seq  # what it missed is there to take at once
        self.watchers.append(watcher)
        return watcher

    def detach(self, watcher: Watcher) -> None:
        """The watcher left; the last one to leave unsubscribes the feed and clears it."""
        if watcher in self.watchers:
            self.watchers.remove(watcher)
        if not self.watchers and self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
            self._ring = [None] * self.size
            self._encoded = [None] * self.size

    # ------------------------------------------------------------------ recording
    def observe(self, event: TraceEvent) -> None:
        """Record one event (the trace observer): O(1), nothing encoded yet."""
        user: Optional[str] = None
        groups: tuple[str, ...] = ()
        connection_id = event.connection_id
        if connection_id is not None:
            # an event names a session's hub as the session has it (lowercased): no need to normalise it again
            hub = self.core.hubs.get(event.hub) if event.hub is not None else None
            session = hub.sessions.get(connection_id) if hub is not None else None
            if session is not None:  # a hub's sessions are the live ones
                user = session.user_id
                if session.groups:
                    groups = tuple(session.groups)
            else:
                user = event.detail.get("user")
        seq = self.next_seq
        self.next_seq = seq + 1
        slot = seq % self.size
        self._ring[slot] = (self.clock(), event, user, groups)
        self._encoded[slot] = None
        for watcher in self.watchers:
            if not watcher.pending:
                watcher.pending = True
                watcher.wake()

    def take(self, watcher: Watcher, limit: Optional[int] = None) -> Batch:
        """The watcher's next entries (at most ``limit``, default :data:`~.limits.TRACE_BATCH_ENTRIES`), counting
        those it can no longer have as lost."""
        limit = limits.TRACE_BATCH_ENTRIES if limit is None else limit
        watcher.pending = False
        first = max(self.start_seq, self.next_seq - self.size)
        lost = 0
        if watcher.cursor < first:
            lost = first - watcher.cursor
            watcher.lost += lost
            watcher.cursor = first
        end = min(self.next_seq, watcher.cursor + limit)
        entries = [self._entry(seq) for seq in range(watcher.cursor, end)]
        watcher.cursor = end
        if end < self.next_seq:
            watcher.pending = True  # more is waiting: the adapter comes back for it
        return Batch(entries, lost, end - 1 if entries else -1)

    def _entry(self, seq: int) -> str:
        slot = seq % self.size
        encoded = self._encoded[slot]
        if encoded is None:
            recorded = self._ring[slot]
            assert recorded is not None
            encoded = self._encoded[slot] = dumps(self._render(seq, *recorded))
        return encoded

    @staticmethod
    def _render(seq: int, at: float, event: TraceEvent, user: Optional[str], groups: tuple[str, ...]) -> dict[str, Any]:
        kind, hub, connection = event.kind, event.hub, event.connection_id
        detail = dict(event.detail)
        group_list = sorted(groups)
        if kind == "rest":
            target = rest_target(str(detail.get("method", "")), str(detail.get("path", "")))
            hub, connection, user = target.hub, target.connection, target.user
            if target.group is not None:
                group_list = [target.group]
            detail["operation"] = target.operation
        elif hub is None:
            hub = _hub_of_path(detail.get("path"))
        if kind == "group" and isinstance(detail.get("group"), str) and detail["group"] not in group_list:
            group_list.append(detail["group"])  # a leave is about the group it left
        if isinstance(detail.get("ms"), float):
            detail["ms"] = round(detail["ms"], 2)
        return {
            "seq": seq,
            "ts": round(at, 3),
            "kind": kind,
            "hub": hub,
            "connection": connection,
            "user": user,
            "groups": group_list,
            "detail": detail,
        }

    # ------------------------------------------------------------------ snapshot
    def snapshot(self) -> dict[str, Any]:
        """The hubs and their live connections now (at most :data:`~.limits.TRACE_SNAPSHOT_CONNECTIONS`, the rest
        counted), with ``seq``: entries from that sequence number on happened after it."""
        room = limits.TRACE_SNAPSHOT_CONNECTIONS
        hubs: list[dict[str, Any]] = []
        for hub in sorted(self.core.hubs.values(), key=lambda h: h.name):
            live = [s for s in hub.sessions.values() if s.alive]
            shown = live[: max(0, room)]
            room -= len(shown)
            hubs.append(
                {
                    "name": hub.name,
                    "connections": [connection_view(s) for s in shown],
                    "hidden": len(live) - len(shown),
                    "groups": len(hub.groups),
                }
            )
        return {"seq": self.next_seq, "now": round(self.clock(), 3), "hubs": hubs}
