"""A cheap observation hook: what the emulator does, as :class:`TraceEvent` values, for whoever subscribes.

The adapters and the core emit at the few points where something happens: a REST call answered (``rest``), a client
frame read (``frame-in``) or written (``frame-out``), an event-handler call answered (``upstream``), a handshake
refused (``refused``), a session opened or its state changed (``session``), a connection joined or left a group
(``group``), a fault injected (``fault``). With no subscriber an emit point costs one attribute test
(``if trace.observers:``) and builds nothing. Observers run synchronously on the emulator's event loop: they must be
quick and must not block; an observer that raises is logged and kept. The activity log (:mod:`.activity_log`) is one
such observer; the live trace page's feed (:mod:`.trace_feed`) another, subscribed only while someone watches.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Callable, Mapping, NamedTuple, Optional

from . import limits

__all__ = ["KINDS", "SUMMARY_KINDS", "Trace", "TraceEvent", "preview"]

log = logging.getLogger(__name__)

#: Every kind of event emitted.
KINDS = frozenset({"rest", "frame-in", "frame-out", "upstream", "refused", "session", "group", "fault"})
#: The kinds a summary observer gets (the activity log at INFO): one per REST call, refused handshake, injected fault.
SUMMARY_KINDS = frozenset({"rest", "refused", "fault"})
#: Secrets a frame may carry, as a JSON member: a reliable client's reconnection token (its ``connected`` message).
#: (The closing quote is optional: the preview may end inside the value.)
_SECRET_MEMBER = re.compile(r'("reconnectionToken"\s*:\s*")[^"]*("?)')


class TraceEvent(NamedTuple):
    """One observed thing. ``detail`` depends on ``kind`` (never a key or a token):

    - ``rest``: method, path (without the query), status, ms, fault (the fault injected, e.g. ``rest-fail:503``, or
      None)
    - ``frame-in`` / ``frame-out``: type (``text``, ``binary`` or ``close``), size; a text frame: text (its
      first 1,024 characters, secrets masked); a close: code, reason
    - ``upstream``: event, url (without its query: it may hold a handler's ``?code=``), status (None when the handler
      could not be reached), ms
    - ``refused``: status, code, reason, path (a refused WebSocket handshake; the path without the query)
    - ``session``: event, old, new (state names), reason, user; a new session: event ``open``, old None, new
      ``open``, user, protocol
    - ``group``: event (``join`` or ``leave``), group
    - ``fault``: fault (``ws-drop``), effect (what it did)
    """

    kind: str
    hub: Optional[str]
    connection_id: Optional[str]
    detail: Mapping[str, Any]


Observer = Callable[[TraceEvent], None]


class Trace:
    """The observers of one emulator. ``observers`` (those of every kind) is empty (falsy) when nobody listens to
    frames, upstream calls, sessions and groups; :attr:`listening` is false when nobody listens at all."""

    __slots__ = ("observers", "summary")

    def __init__(self) -> None:
        self.observers: tuple[Observer, ...] = ()
        #: the observers of the summary kinds only (``rest``, ``refused``, ``fault``)
        self.summary: tuple[Observer, ...] = ()

    @property
    def listening(self) -> bool:
        """Whether anybody listens to the summary kinds (what their emit points test first)."""
        return bool(self.observers or self.summary)

    def subscribe(self, observer: Observer, *, summary_only: bool = False) -> Callable[[], None]:
        """Call ``observer`` with every event from now on (``summary_only``: only the summary kinds, ``rest``,
        ``refused`` and ``fault``, so that the per-frame emit points stay idle); returns a function that unsubscribes
        it."""
        if summary_only:
            self.summary = (*self.summary, observer)
        else:
            self.observers = (*self.observers, observer)

        def unsubscribe() -> None:
            self.observers = tuple(o for o in self.observers if o is not observer)
            self.summary = tuple(o for o in self.summary if o is not observer)

        return unsubscribe

    def emit(self, kind: str, hub: Optional[str], connection_id: Optional[str], **detail: Any) -> None:
        """Hand one event to its observers (callers test :attr:`observers`, or :attr:`listening` for the summary
        kinds, first, to build nothing when nobody listens)."""
        event = TraceEvent(kind, hub, connection_id, detail)
        observers = (*self.observers, *self.summary) if kind in SUMMARY_KINDS and self.summary else self.observers
        for observer in observers:
            try:
                observer(event)
            except Exception:
                log.exception("a trace observer failed on a %s event", kind)


def preview(text: str) -> str:
    """What a trace shows of a text frame: its first :data:`~.limits.TRACE_PREVIEW_CHARS` characters, secrets masked."""
    cut = text[: limits.TRACE_PREVIEW_CHARS]
    if "reconnectionToken" in cut:
        cut = _SECRET_MEMBER.sub(r"\1***\2", cut)
    return cut
