"""Upstream event handlers: CloudEvents over HTTP (binary content mode) to the application's server.

A hub can have event handlers (``url_template`` with ``{event}``/``{hub}``, a user-event pattern and a set of system
events); the first matching handler gets the event. Before the first event to a URL the handler is validated with an
``OPTIONS`` request (abuse protection), and a success is cached for a minute.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Mapping, Optional, Sequence
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

__all__ = [
    "SYSTEM_EVENTS",
    "EventHandler",
    "EventTarget",
    "Upstream",
    "UpstreamError",
    "UpstreamResponse",
    "parse_handler_spec",
]

log = logging.getLogger(__name__)

SYSTEM_EVENTS = frozenset({"connect", "connected", "disconnected"})
_VALIDATION_TTL = 60.0
_VALIDATION_TIMEOUT = 10.0
_EVENT_TIMEOUT = 30.0


@dataclass(frozen=True)
class EventHandler:
    """One upstream handler of a hub.

    ``user_event_pattern`` is ``*``, a comma-separated list or a single name (case-insensitive); ``system_events`` is a
    subset of ``connect``, ``connected``, ``disconnected``.
    """

    url_template: str
    user_event_pattern: str = "*"
    system_events: frozenset[str] = SYSTEM_EVENTS

    def __post_init__(self) -> None:
        parts = urlsplit(self.url_template)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("an event handler URL must be an absolute http(s) URL")
        if "{" in parts.netloc:
            raise ValueError("placeholders are allowed in the path of an event handler URL, not in its host")
        unknown = set(self.system_events) - SYSTEM_EVENTS
        if unknown:
            raise ValueError(f"unknown system event {sorted(unknown)[0]!r}")

    def handles_user_event(self, event: str) -> bool:
        """True when the user event name matches the pattern."""
        pattern = self.user_event_pattern.strip()
        if not pattern:
            return False
        if pattern == "*":
            return True
        return event.lower() in {p.strip().lower() for p in pattern.split(",") if p.strip()}

    def url(self, event: str, hub: str) -> str:
        """The URL for an event (``{event}`` and ``{hub}`` substituted)."""
        return self.url_template.replace("{event}", event).replace("{hub}", hub)


def parse_handler_spec(spec: str) -> tuple[str, EventHandler]:
    """Parse ``HUB=URL`` (every user event and every system event go to URL)."""
    hub, sep, url = spec.partition("=")
    if not sep or not hub.strip() or not url.strip():
        raise ValueError("an event handler is given as HUB=URL, e.g. chat=http://localhost:3000/eventhandler/{event}")
    return hub.strip(), EventHandler(url.strip())


class UpstreamError(Exception):
    """The handler could not be reached, timed out, or failed validation."""


@dataclass
class UpstreamResponse:
    """What the handler answered."""

    status: int
    body: bytes
    content_type: Optional[str]
    headers: CIMultiDictProxy[str]

    @property
    def ok(self) -> bool:
        """True for 2xx."""
        return 200 <= self.status < 300


@dataclass
class EventTarget:
    """The connection an event is about."""

    hub: str
    connection_id: str
    user_id: Optional[str]
    subprotocol: Optional[str] = None
    connection_state: Optional[str] = None
    cookies: dict[str, str] = field(default_factory=dict)
    event_ids: itertools.count[int] = field(default_factory=itertools.count)


def _now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Upstream:
    """Sends CloudEvents to the configured handlers. ``handlers`` maps hub names (any case) to ordered handlers."""

    def __init__(
        self,
        access_key: str,
        endpoint: str,
        handlers: Mapping[str, Sequence[EventHandler]],
        *,
        timeout: float = _EVENT_TIMEOUT,
    ) -> None:
        self.access_key = access_key
        self.endpoint = endpoint
        self.handlers = {hub.lower(): list(items) for hub, items in handlers.items()}
        self.timeout = timeout
        self._session: Optional[aiohttp.ClientSession] = None
        self._validated: dict[str, float] = {}
        self._validation_locks: dict[str, asyncio.Lock] = {}

    @property
    def configured(self) -> bool:
        """True when at least one hub has a handler."""
        return any(self.handlers.values())

    def find(
        self, hub: str, *, system_event: Optional[str] = None, user_event: Optional[str] = None
    ) -> Optional[EventHandler]:
        """The first handler of the hub that takes this event, or None."""
        for handler in self.handlers.get(hub.lower(), []):
            if system_event is not None and system_event in handler.system_events:
                return handler
            if user_event is not None and handler.handles_user_event(user_event):
                return handler
        return None

    async def close(self) -> None:
        """Release the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            # cookies are kept per connection (EventTarget.cookies), never in a shared jar
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout), cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    @property
    def origin(self) -> str:
        """The host the service calls itself in ``WebHook-Request-Origin``."""
        return urlsplit(self.endpoint).hostname or "localhost"

    def signature(self, connection_id: str) -> str:
        """``ce-signature``: HMAC-SHA256 of the connection id keyed with the access key."""
        digest = hmac.new(self.access_key.encode("utf-8"), connection_id.encode("utf-8"), hashlib.sha256).hexdigest()
        return f"sha256={digest}"

    async def _validate(self, url: str) -> None:
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}{parts.path}"
        lock = self._validation_locks.setdefault(key, asyncio.Lock())
        async with lock:
            if self._validated.get(key, 0.0) > time.monotonic():
                return
            headers = {"WebHook-Request-Origin": self.origin, "ce-awpsversion": "1.0"}
            timeout = aiohttp.ClientTimeout(total=_VALIDATION_TIMEOUT)
            try:
                async with self._client().options(url, headers=headers, timeout=timeout) as resp:
                    status, allowed = resp.status, resp.headers.get("WebHook-Allowed-Origin")
                if status == 404:
                    async with self._client().get(url, headers=headers, timeout=timeout) as resp:
                        status, allowed = resp.status, resp.headers.get("WebHook-Allowed-Origin")
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                raise UpstreamError(f"event handler validation failed: {type(exc).__name__}") from None
            origins = {o.strip().lower() for o in (allowed or "").split(",")}
            if not 200 <= status < 300 or not ({"*", self.origin.lower()} & origins):
                raise UpstreamError(f"event handler validation failed (HTTP {status}, allowed origin {allowed!r})")
            self._validated[key] = time.monotonic() + _VALIDATION_TTL

    async def send(
        self,
        handler: EventHandler,
        target: EventTarget,
        *,
        event_name: str,
        ce_type: str,
        body: bytes,
        content_type: str,
        extra_headers: Optional[Mapping[str, str]] = None,
    ) -> UpstreamResponse:
        """POST one event; raises :class:`UpstreamError` when the handler is unreachable or not validated."""
        url = handler.url(event_name, target.hub)
        await self._validate(handler.url("validate", target.hub))
        headers: CIMultiDict[str] = CIMultiDict()
        headers["WebHook-Request-Origin"] = self.origin
        headers["Content-Type"] = content_type
        headers["ce-specversion"] = "1.0"
        headers["ce-awpsversion"] = "1.0"
        headers["ce-type"] = ce_type
        headers["ce-source"] = f"/hubs/{target.hub}/client/{target.connection_id}"
        headers["ce-id"] = str(next(target.event_ids))
        headers["ce-time"] = _now_rfc3339()
        headers["ce-signature"] = self.signature(target.connection_id)
        if target.user_id is not None:
            headers["ce-userId"] = target.user_id
        headers["ce-connectionId"] = target.connection_id
        headers["ce-hub"] = target.hub
        headers["ce-eventName"] = event_name
        if target.subprotocol:
            headers["ce-subprotocol"] = target.subprotocol
        if target.connection_state is not None:
            headers["ce-connectionState"] = target.connection_state
        if target.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in target.cookies.items())
        for key, value in (extra_headers or {}).items():
            headers[key] = value
        try:
            async with self._client().post(url, data=body, headers=headers) as resp:
                payload = await resp.read()
                for morsel in resp.cookies.values():
                    target.cookies[morsel.key] = morsel.value
                return UpstreamResponse(resp.status, payload, resp.headers.get("Content-Type"), resp.headers)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise UpstreamError(f"event handler unreachable: {type(exc).__name__}") from None
