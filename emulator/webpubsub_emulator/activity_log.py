"""The emulator's activity log: a :mod:`.trace` observer that writes what happens as log lines.

Logger ``webpubsub_emulator.activity``. At INFO: one line per REST call (method, path without the query, status,
milliseconds, the fault injected if any), per refused WebSocket handshake (status, code, reason) and per injected
fault. At DEBUG also every frame in and out (type, size, hub and connection id), every event-handler call (event,
URL without its query, status, milliseconds), every session opening or changing state and every group join or
leave. Nothing in a trace event is secret (no key, no token, no query string), and text that came from a client is
escaped so it cannot forge a line.

The emulator attaches it when it starts, if the logger is enabled for INFO then (``--log-level INFO``); with logging
at WARNING (the CLI's default) nothing subscribes and the trace hook stays free.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional

from .trace import SUMMARY_KINDS, Trace, TraceEvent

__all__ = ["LOGGER_NAME", "ActivityLog", "describe"]

LOGGER_NAME = "webpubsub_emulator.activity"
log = logging.getLogger(LOGGER_NAME)


def _safe(value: Any) -> str:
    """``value`` as text with control characters escaped (one event, one line)."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _ms(value: Any) -> str:
    return f"{value:.1f} ms" if isinstance(value, (int, float)) else "? ms"


def _where(event: TraceEvent) -> str:
    if event.connection_id is None:
        return f"hub {_safe(event.hub)}" if event.hub else ""
    return f"{_safe(event.hub)}/{_safe(event.connection_id)}"


def _rest(event: TraceEvent) -> str:
    d = event.detail
    fault = d.get("fault")
    extra = f", fault {_safe(fault)}" if fault else ""
    return f"REST {_safe(d.get('method'))} {_safe(d.get('path'))} -> {d.get('status')} ({_ms(d.get('ms'))}{extra})"


def _refused(event: TraceEvent) -> str:
    d = event.detail
    path = f" {_safe(d['path'])}" if d.get("path") else ""
    return f"handshake refused{path}: {d.get('status')} {_safe(d.get('code'))}: {_safe(d.get('reason'))}"


def _fault(event: TraceEvent) -> str:
    d = event.detail
    return f"fault {_safe(d.get('fault'))}: {_where(event)} {_safe(d.get('effect', ''))}".rstrip()


def _frame(event: TraceEvent) -> str:
    d = event.detail
    direction = "in " if event.kind == "frame-in" else "out"
    if d.get("type") == "close":
        return f"frame {direction} {_where(event)} close {d.get('code')}"
    return f"frame {direction} {_where(event)} {_safe(d.get('type'))} {d.get('size')} B"


def _upstream(event: TraceEvent) -> str:
    d = event.detail
    status = d.get("status") if d.get("status") is not None else "unreachable"
    where = f"{_safe(d.get('event'))} {_where(event)} {_safe(d.get('url'))}"
    return f"event handler {where} -> {status} ({_ms(d.get('ms'))})"


def _session(event: TraceEvent) -> str:
    d = event.detail
    if d.get("event") == "open":
        return f"session {_where(event)} opened (user {_safe(d.get('user'))}, {_safe(d.get('protocol'))})"
    reason = f": {_safe(d['reason'])}" if d.get("reason") else ""
    return f"session {_where(event)} {_safe(d.get('old'))} -> {_safe(d.get('new'))} ({_safe(d.get('event'))}){reason}"


def _group(event: TraceEvent) -> str:
    d = event.detail
    return f"group {_where(event)} {_safe(d.get('event'))} {_safe(d.get('group'))}"


_DESCRIBE: dict[str, Callable[[TraceEvent], str]] = {
    "rest": _rest,
    "refused": _refused,
    "fault": _fault,
    "frame-in": _frame,
    "frame-out": _frame,
    "upstream": _upstream,
    "session": _session,
    "group": _group,
}


def describe(event: TraceEvent) -> str:
    """One log line for one trace event."""
    render = _DESCRIBE.get(event.kind)
    return render(event) if render is not None else f"{_safe(event.kind)} {_where(event)} {dict(event.detail)!r}"


class ActivityLog:
    """The observer; :meth:`attach` subscribes one to a trace when the logger would write anything."""

    def __init__(self, logger: logging.Logger = log) -> None:
        self.logger = logger
        self.debug = logger.isEnabledFor(logging.DEBUG)
        self._unsubscribe: Optional[Callable[[], None]] = None

    @classmethod
    def attach(cls, trace: Trace, logger: logging.Logger = log) -> Optional[ActivityLog]:
        """Subscribe an activity log to ``trace`` if ``logger`` is enabled for INFO (None: it is not)."""
        if not logger.isEnabledFor(logging.INFO):
            return None
        activity = cls(logger)
        activity._unsubscribe = trace.subscribe(activity, summary_only=not activity.debug)
        return activity

    def detach(self) -> None:
        """Stop logging."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def __call__(self, event: TraceEvent) -> None:
        if event.kind in SUMMARY_KINDS:
            self.logger.info("%s", describe(event))
        elif self.debug:
            self.logger.debug("%s", describe(event))
