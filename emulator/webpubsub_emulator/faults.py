"""Fault injection: make the emulator misbehave on purpose, so that retries and recovery can be tested.

A :class:`FaultPlan` says what goes wrong (a share of REST calls answered 503 or 429, delayed REST answers, WebSocket
transports cut without a close frame). A :class:`FaultInjector` holds the plan in force, the random source (seeded,
so a run can be repeated) and a bounded log of the REST requests the emulator saw. The plan can be swapped while the
emulator runs. Nothing here performs IO: the REST adapter asks :meth:`FaultInjector.rest_fault` what to do with a
request (wait, fail) and records what it answered; the WebSocket frame writer asks :meth:`FaultInjector.should_drop`
after every new message it wrote. ``/api/health`` is never faulted: start-up probes must not fail.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass, replace
from typing import NamedTuple, Optional, Union

from . import limits
from .errors import EmulatorError, ServiceUnavailable, TooManyRequests

__all__ = ["FaultInjector", "FaultPlan", "RestFault", "RestRecord", "is_faultable", "parse_faults"]

#: How many REST requests :attr:`FaultInjector.rest_log` keeps (the newest ones): ``limits.REST_LOG_SIZE``.
REST_LOG_SIZE = limits.REST_LOG_SIZE
_FAULT_STATUSES = (429, 503)


def _rate(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1")
    return float(value)


@dataclass(frozen=True)
class FaultPlan:
    """What goes wrong. The default plan injects nothing.

    - ``rest_failure_rate``: the share (0-1) of REST calls answered with ``rest_failure_status`` (503 or 429) instead
      of being served; such a call has no effect. A 429 carries ``Retry-After: <rest_retry_after>`` (whole seconds).
    - ``rest_delay``: seconds to wait before answering each REST call, or a ``(low, high)`` range drawn uniformly.
    - ``ws_drop_every``: cut a WebSocket connection's transport after every N-th message written to it (counting each
      message once: a reliable client's re-sent messages do not count), so N=2500 cuts a client at messages 2500,
      5000, ...
    - ``ws_drop_rate``: the chance (0-1) to cut the transport after each message written.
    - ``seed``: seeds the random draws (None: a fresh random seed), so a run can be repeated.

    A cut aborts the TCP connection without a WebSocket close frame: reliable clients go into recovery, the others
    are disconnected.
    """

    rest_failure_rate: float = 0.0
    rest_failure_status: int = 503
    rest_retry_after: int = 1
    rest_delay: Union[float, tuple[float, float]] = 0.0
    ws_drop_every: int = 0
    ws_drop_rate: float = 0.0
    seed: Optional[int] = None

    def __post_init__(self) -> None:
        _rate("rest_failure_rate", self.rest_failure_rate)
        _rate("ws_drop_rate", self.ws_drop_rate)
        if self.rest_failure_status not in _FAULT_STATUSES:
            raise ValueError("rest_failure_status must be 503 or 429")
        if not 0 <= self.rest_retry_after <= 3600:
            raise ValueError("rest_retry_after must be between 0 and 3600 seconds")
        low, high = self.delay_range
        if not 0.0 <= low <= high <= limits.MAX_FAULT_DELAY_SECONDS:
            raise ValueError(
                f"rest_delay must be between 0 and {limits.MAX_FAULT_DELAY_SECONDS:g} seconds (low <= high)"
            )
        if self.ws_drop_every < 0:
            raise ValueError("ws_drop_every must not be negative")

    @property
    def delay_range(self) -> tuple[float, float]:
        """``rest_delay`` as a ``(low, high)`` pair."""
        if isinstance(self.rest_delay, tuple):
            low, high = self.rest_delay
            return float(low), float(high)
        return float(self.rest_delay), float(self.rest_delay)

    @property
    def active(self) -> bool:
        """True when the plan injects anything."""
        return bool(self.rest_failure_rate or self.delay_range[1] or self.ws_drop_every or self.ws_drop_rate)

    @classmethod
    def parse(cls, text: str) -> FaultPlan:
        """Parse the ``--faults`` syntax; the same as ``parse_faults``."""
        return parse_faults(text)


def _float(key: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{key}: {text!r} is not a number") from None


def _int(key: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{key}: {text!r} is not a whole number") from None


def parse_faults(text: str) -> FaultPlan:
    """Parse a comma-separated fault list, e.g. ``"rest-fail=0.3:503,rest-delay=0.05,ws-drop-every=2500"``.

    Keys: ``rest-fail=RATE[:STATUS]`` (STATUS 503, the default, or 429), ``retry-after=SECONDS`` (for 429),
    ``rest-delay=SECONDS`` or ``rest-delay=LOW:HIGH``, ``ws-drop-every=N``, ``ws-drop-rate=RATE``, ``seed=N``.
    Raises ValueError with a message fit for the command line.
    """
    plan = FaultPlan()
    seen: set[str] = set()
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep or not value:
            raise ValueError(f"{item!r}: expected KEY=VALUE")
        if key in seen:
            raise ValueError(f"{key} is given twice")
        seen.add(key)
        if key == "rest-fail":
            rate, _, status = value.partition(":")
            plan = replace(
                plan,
                rest_failure_rate=_rate(key, _float(key, rate)),
                rest_failure_status=_int(key, status) if status else 503,
            )
        elif key == "retry-after":
            plan = replace(plan, rest_retry_after=_int(key, value))
        elif key == "rest-delay":
            low, _, high = value.partition(":")
            delay: Union[float, tuple[float, float]] = (
                (_float(key, low), _float(key, high)) if high else _float(key, low)
            )
            plan = replace(plan, rest_delay=delay)
        elif key == "ws-drop-every":
            plan = replace(plan, ws_drop_every=_int(key, value))
        elif key == "ws-drop-rate":
            plan = replace(plan, ws_drop_rate=_rate(key, _float(key, value)))
        elif key == "seed":
            plan = replace(plan, seed=_int(key, value))
        else:
            raise ValueError(
                f"unknown fault {key!r} (known: rest-fail, retry-after, rest-delay, ws-drop-every, ws-drop-rate, seed)"
            )
    return plan


class RestRecord(NamedTuple):
    """One REST request as the emulator saw it.

    ``path`` and ``query`` are as sent (percent-encoded), ``status`` is what the emulator answered, ``fault`` names an
    injected fault (e.g. ``"rest-fail:503"``), ``delay`` the injected delay and ``at`` the monotonic time of the answer.
    """

    method: str
    path: str
    query: str
    authorization: Optional[str]
    status: int
    fault: Optional[str] = None
    delay: float = 0.0
    at: float = 0.0


class RestFault(NamedTuple):
    """The fault plan's decision for one REST request: log it (``logged``), fail it (``error``), delay it."""

    logged: bool
    error: Optional[EmulatorError]
    delay: float


_NO_FAULT = RestFault(False, None, 0.0)


def is_faultable(path: str) -> bool:
    """True for the REST requests a plan acts on and the log records: ``/api/...`` except the health probe."""
    return path.startswith("/api/") and path.rstrip("/") != "/api/health"


class FaultInjector:
    """The plan in force, its random source and the REST request log. Safe to reconfigure from another thread."""

    def __init__(self, plan: Optional[FaultPlan] = None) -> None:
        self._lock = threading.Lock()
        self._plan = FaultPlan()
        self._random = random.Random()  # noqa: S311 - fault draws, not security
        self._log: deque[RestRecord] = deque(maxlen=limits.REST_LOG_SIZE)
        #: how many transports were cut (by ``ws_drop_every`` / ``ws_drop_rate``)
        self.drops = 0
        self.set_plan(plan or FaultPlan())

    @property
    def plan(self) -> FaultPlan:
        """The plan in force."""
        return self._plan

    def set_plan(self, plan: FaultPlan) -> None:
        """Put ``plan`` in force (the random source restarts from its seed)."""
        if not isinstance(plan, FaultPlan):
            raise TypeError("expected a FaultPlan")
        with self._lock:
            self._random = random.Random(plan.seed)  # noqa: S311
            self._plan = plan

    @property
    def rest_log(self) -> list[RestRecord]:
        """The newest REST requests (up to 1000), oldest first; health probes are not logged."""
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        """Forget the logged REST requests."""
        with self._lock:
            self._log.clear()

    def _draw(self) -> float:
        with self._lock:
            return self._random.random()

    def rest_fault(self, path: str) -> RestFault:
        """What to do with a REST request to ``path`` (a draw from the plan in force; nothing for the health probe)."""
        if not is_faultable(path):
            return _NO_FAULT
        with self._lock:
            plan = self._plan
            low, high = plan.delay_range
            delay = low if low == high else self._random.uniform(low, high)
            fail = plan.rest_failure_rate > 0 and self._random.random() < plan.rest_failure_rate
        error: Optional[EmulatorError] = None
        if fail and plan.rest_failure_status == 429:
            error = TooManyRequests("Injected fault: too many requests.", retry_after=plan.rest_retry_after)
        elif fail:
            error = ServiceUnavailable("Injected fault: the service is unavailable.")
        return RestFault(True, error, delay)

    def record(self, record: RestRecord) -> None:
        """Log one answered REST request (the oldest is forgotten past :data:`REST_LOG_SIZE`)."""
        with self._lock:
            self._log.append(record)

    def should_drop(self, delivered: int) -> bool:
        """Asked after the ``delivered``-th message was written to a connection: cut its transport now?"""
        plan = self._plan
        drop = bool(plan.ws_drop_every and delivered % plan.ws_drop_every == 0)
        if not drop and plan.ws_drop_rate > 0:
            drop = self._draw() < plan.ws_drop_rate
        if drop:
            with self._lock:
                self.drops += 1
        return drop
