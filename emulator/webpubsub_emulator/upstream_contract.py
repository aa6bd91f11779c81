"""The upstream contract, free of IO: which handler gets an event, what a CloudEvents request holds, what answers mean.

The service calls the application's event handlers over HTTP (CloudEvents, binary content mode): ``connect``
(blocking, before the upgrade), ``connected`` and ``disconnected`` (fire-and-forget) and user events (blocking). This
module decides everything about those calls except sending them: the handler table of each hub, the ``ce-*`` headers and
the signature, the ``connect`` body, a user event's body and Content-Type, and how the handler's answer is read (the
``connect`` outcome, the connection state, a reply message). The HTTP client is the upstream adapter
(:mod:`.upstream`); the WebSocket adapter reaches it only through :class:`UpstreamPort`. The upstream adapter moves
bytes through a :class:`HandlerTransport`: HTTP (:mod:`.upstream`) or an in-process ASGI application
(:mod:`.asgi_transport`), chosen per handler.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.cookies import CookieError, SimpleCookie
from typing import Any, Callable, Iterable, Mapping, NamedTuple, Optional, Protocol, Sequence, Union
from urllib.parse import quote, urlsplit

from . import limits
from .errors import HandlerRefused, UpstreamError
from .protocol import Payload, dumps, loads
from .validation import ValidationError, validate_group, validate_user_id
from .wellformed import NotEncodable, has_control, is_text

__all__ = [
    "APP_URL_TEMPLATE",
    "SYSTEM_EVENTS",
    "ConnectOutcome",
    "EventCall",
    "EventHandler",
    "EventTarget",
    "HandlerSpec",
    "HandlerTable",
    "HandlerTransport",
    "UpstreamPort",
    "UpstreamResponse",
    "UserEvent",
    "connect_body",
    "connection_state_of",
    "cookies_of",
    "event_headers",
    "handlers_of",
    "json_reply",
    "metadata_headers",
    "origin_allowed",
    "parse_connect_answer",
    "parse_handler_spec",
    "raw_reply",
    "signature",
    "system_call",
    "user_call",
    "user_event_of",
    "validation_headers",
]

SYSTEM_EVENTS = frozenset({"connect", "connected", "disconnected"})
#: Where an in-process ASGI application given alone receives its events (the event-handler library's default mount).
APP_URL_TEMPLATE = "/eventhandler/{event}"
#: The host an in-process application's URL gets when its template is only a path.
_APP_HOST = "http://localhost"


@dataclass(frozen=True)
class EventHandler:
    """One upstream handler of a hub.

    ``user_event_pattern`` is ``*``, a comma-separated list or a single name (case-insensitive); ``system_events`` is a
    subset of ``connect``, ``connected``, ``disconnected``. With ``app`` (an ASGI 3 application) the events are not
    sent over the network: the emulator calls the application in-process, with ``url_template``'s path (a template
    that is only a path, like ``/eventhandler/{event}``, gets the host ``localhost``).
    """

    url_template: str
    user_event_pattern: str = "*"
    system_events: frozenset[str] = SYSTEM_EVENTS
    app: Optional[Callable[..., Any]] = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.app is not None:
            if not callable(self.app):
                raise ValueError("an event handler's app must be an ASGI application (a callable)")
            if self.url_template.startswith("/"):
                object.__setattr__(self, "url_template", _APP_HOST + self.url_template)
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
        """The URL for an event: ``{event}`` and ``{hub}`` substituted, each percent-encoded as one path segment (a
        ``/``, ``?``, ``#`` or ``%`` in a name can never reach another path, query or host)."""
        return self.url_template.replace("{event}", quote(event, safe="")).replace("{hub}", quote(hub, safe=""))


#: What a hub's entry in ``event_handlers`` may be: a URL template, an ASGI application, one handler or several.
HandlerSpec = Union[str, Callable[..., Any], EventHandler, Sequence[EventHandler]]


def handlers_of(spec: HandlerSpec) -> list[EventHandler]:
    """The handlers of one ``event_handlers`` entry: a URL template (every event goes there), an ASGI application
    (called in-process at :data:`APP_URL_TEMPLATE`), an :class:`EventHandler` or a sequence of them."""
    if isinstance(spec, str):
        return [EventHandler(spec)]
    if isinstance(spec, EventHandler):
        return [spec]
    if callable(spec):
        return [EventHandler(APP_URL_TEMPLATE, app=spec)]
    handlers = list(spec)
    for handler in handlers:
        if not isinstance(handler, EventHandler):
            raise ValueError("event_handlers values are URL templates, ASGI applications or EventHandler lists")
    return handlers


def parse_handler_spec(spec: str) -> tuple[str, EventHandler]:
    """Parse ``HUB=URL`` (every user event and every system event go to URL)."""
    hub, sep, url = spec.partition("=")
    if not sep or not hub.strip() or not url.strip():
        raise ValueError("an event handler is given as HUB=URL, e.g. chat=http://localhost:3000/eventhandler/{event}")
    return hub.strip(), EventHandler(url.strip())


class HandlerTable:
    """The event handlers of every hub (hub names compared case-insensitively), each hub's list in order."""

    def __init__(self, handlers: Mapping[str, Sequence[EventHandler]]) -> None:
        self.by_hub: dict[str, list[EventHandler]] = {}
        for hub, items in handlers.items():
            self.by_hub.setdefault(hub.lower(), []).extend(items)

    @property
    def configured(self) -> bool:
        """True when at least one hub has a handler."""
        return any(self.by_hub.values())

    def has_handlers(self, hub: str) -> bool:
        """True when the hub has at least one handler (its connections are then known upstream)."""
        return bool(self.by_hub.get(hub.lower()))

    def find(
        self, hub: str, *, system_event: Optional[str] = None, user_event: Optional[str] = None
    ) -> Optional[EventHandler]:
        """The first handler of the hub that takes this event, or None."""
        for handler in self.by_hub.get(hub.lower(), ()):
            if system_event is not None and system_event in handler.system_events:
                return handler
            if user_event is not None and handler.handles_user_event(user_event):
                return handler
        return None


class EventTarget:
    """What the upstream knows of one connection: its ids, subprotocol and state, its cookies, its event counter.

    MQTT connections also have ``physical_connection_id`` (one per WebSocket) and ``session_id`` (one per session,
    None on ``connect``): they go out as ``ce-physicalConnectionId`` / ``ce-sessionId`` and end ``ce-source``.
    """

    __slots__ = (
        "connection_id",
        "connection_state",
        "cookies",
        "event_ids",
        "hub",
        "physical_connection_id",
        "session_id",
        "subprotocol",
        "user_id",
    )

    def __init__(
        self,
        hub: str,
        connection_id: str,
        user_id: Optional[str],
        subprotocol: Optional[str] = None,
        *,
        physical_connection_id: Optional[str] = None,
        session_id: Optional[str] = None,
    ) -> None:
        self.hub = hub
        self.connection_id = connection_id
        self.user_id = user_id
        self.subprotocol = subprotocol
        self.physical_connection_id = physical_connection_id
        self.session_id = session_id
        #: the state a handler set with ``ce-connectionState`` (sent back on every later event)
        self.connection_state: Optional[str] = None
        #: the cookies the handlers set, sent back on every later event of this connection
        self.cookies: dict[str, str] = {}
        self.event_ids = itertools.count()


class UpstreamResponse(NamedTuple):
    """What a handler answered. ``headers`` are the answer's header lines, repeated names kept."""

    status: int
    body: bytes
    content_type: Optional[str]
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def ok(self) -> bool:
        """True for 2xx."""
        return 200 <= self.status < 300

    def header_values(self, name: str) -> list[str]:
        """Every value of the header ``name`` (case-insensitive), in order."""
        key = name.lower()
        return [value for header, value in self.headers if header.lower() == key]


class UserEvent(NamedTuple):
    """A blocking user event a client's frame asks for (the request's ackId, when it had one, for the ack)."""

    event: str
    body: bytes
    content_type: str
    metadata: Optional[Mapping[str, str]] = None
    ack_id: Optional[int] = None


class EventCall(NamedTuple):
    """One event request to one handler: the event name (substituted in the URL), ``ce-type``, body and headers."""

    handler: EventHandler
    event_name: str
    ce_type: str
    body: bytes
    content_type: str
    #: a mapping replaces headers of the same name; a sequence of pairs is appended as it is (repeated names kept)
    extra_headers: Optional[Union[Mapping[str, str], Sequence[tuple[str, str]]]] = None


def system_call(handler: EventHandler, event: str, body: bytes) -> EventCall:
    """A system event (``connect``, ``connected``, ``disconnected``): JSON, ``ce-type: azure.webpubsub.sys.<event>``."""
    return EventCall(handler, event, f"azure.webpubsub.sys.{event}", body, "application/json")


def user_call(handler: EventHandler, request: UserEvent) -> EventCall:
    """A user event: ``ce-type: azure.webpubsub.user.<event>``, its metadata as ``x-webpubsub-metadata-*``."""
    return EventCall(
        handler,
        request.event,
        f"azure.webpubsub.user.{request.event}",
        request.body,
        request.content_type,
        metadata_headers(request.metadata),
    )


class UpstreamPort(Protocol):
    """What the WebSocket adapter needs of the upstream adapter (it never imports it)."""

    @property
    def handlers(self) -> HandlerTable:
        """The handler table."""
        ...

    async def send(self, target: EventTarget, call: EventCall) -> UpstreamResponse:
        """POST one blocking event; raises :class:`~.errors.UpstreamError` when the handler cannot be used."""
        ...

    def fire(self, target: EventTarget, event: str, body: bytes) -> None:
        """Send a non-blocking system event (``connected``/``disconnected``); failures are only logged."""
        ...


class HandlerTransport(Protocol):
    """How the upstream adapter reaches one handler: over HTTP, or into an in-process ASGI application."""

    async def request(
        self, method: str, url: str, headers: Sequence[tuple[str, str]], body: bytes, *, timeout: float
    ) -> UpstreamResponse:
        """Send one request and read the whole answer; raises :class:`~.errors.UpstreamError` when that fails (the
        message names the failure, never the URL's query)."""
        ...

    async def close(self) -> None:
        """Release what the transport holds."""
        ...


# ---------------------------------------------------------------------------------------------------- requests
def signature(access_key: str, connection_id: str) -> str:
    """``ce-signature``: HMAC-SHA256 of the connection id keyed with the access key (UTF-8), lowercase hex."""
    digest = hmac.new(access_key.encode("utf-8"), connection_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_headers(
    target: EventTarget,
    *,
    event_name: str,
    ce_type: str,
    content_type: str,
    origin: str,
    access_key: str,
    extra_headers: Optional[Union[Mapping[str, str], Sequence[tuple[str, str]]]] = None,
) -> list[tuple[str, str]]:
    """The headers of one event request (``ce-id`` takes the connection's next event id)."""
    source = f"/hubs/{target.hub}/client/{target.connection_id}"
    if target.physical_connection_id is not None:
        source += f"/{target.physical_connection_id}"
    headers = [
        ("WebHook-Request-Origin", origin),
        ("Content-Type", content_type),
        ("ce-specversion", "1.0"),
        ("ce-awpsversion", "1.0"),
        ("ce-type", ce_type),
        ("ce-source", source),
        ("ce-id", str(next(target.event_ids))),
        ("ce-time", _now_rfc3339()),
        ("ce-signature", signature(access_key, target.connection_id)),
    ]
    if target.user_id is not None:
        headers.append(("ce-userId", target.user_id))
    headers += [("ce-connectionId", target.connection_id), ("ce-hub", target.hub), ("ce-eventName", event_name)]
    if target.physical_connection_id is not None:
        headers.append(("ce-physicalConnectionId", target.physical_connection_id))
    if target.session_id is not None:
        headers.append(("ce-sessionId", target.session_id))
    if target.subprotocol:
        headers.append(("ce-subprotocol", target.subprotocol))
    if target.connection_state is not None:
        headers.append(("ce-connectionState", target.connection_state))
    if target.cookies:
        headers.append(("Cookie", "; ".join(f"{k}={v}" for k, v in target.cookies.items())))
    if isinstance(extra_headers, Mapping):
        for key, value in extra_headers.items():
            headers = [(k, v) for k, v in headers if k.lower() != key.lower()]
            headers.append((key, value))
    elif extra_headers:
        headers.extend(extra_headers)
    return headers


def validation_headers(origin: str) -> dict[str, str]:
    """The headers of the abuse-protection request (no signature, no cookies)."""
    return {"WebHook-Request-Origin": origin, "ce-awpsversion": "1.0"}


def origin_allowed(status: int, allowed: Iterable[str], origin: str, port: Optional[int] = None) -> bool:
    """True when a validation answer lets this service call: 2xx and a ``WebHook-Allowed-Origin`` that is ``*``, our
    host, or our ``host:port`` (as the JS middleware answers: the host of its configured endpoint, port kept).

    ``allowed`` holds every ``WebHook-Allowed-Origin`` header line of the answer (each may list several, separated
    by commas).
    """
    accepted = {"*", origin.lower()}
    if port is not None:
        accepted.add(f"{origin.lower()}:{port}")
    origins = {o.strip().lower() for line in allowed for o in line.split(",")}
    return 200 <= status < 300 and bool(accepted & origins)


def cookies_of(resp: UpstreamResponse) -> dict[str, str]:
    """The cookies an answer sets (``Set-Cookie`` lines; unreadable ones are skipped), name to value."""
    cookies: dict[str, str] = {}
    for line in resp.header_values("Set-Cookie"):
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(line)
        except CookieError:
            continue
        for morsel in jar.values():
            cookies[morsel.key] = morsel.value
    return cookies


def _strings(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [v if isinstance(v, str) else json.dumps(v) for v in items]


def _multi(pairs: Iterable[tuple[str, str]], drop: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        if key.lower() != drop:
            out.setdefault(key, []).append(value)
    return out


def connect_body(
    claims: Mapping[str, Any],
    query: Iterable[tuple[str, str]],
    headers: Iterable[tuple[str, str]],
    offered: Sequence[str],
    extra: Optional[Mapping[str, Any]] = None,
) -> bytes:
    """The ``connect`` event body: every claim, query and header as arrays of strings, minus the credentials;
    ``extra`` adds a protocol's own members (MQTT: ``mqtt``).

    :raises BadRequest: a header that is not valid UTF-8, or claims that are not valid Unicode (the client is refused
        with 400 and the reason; nothing is sent upstream).
    """
    header_map = _multi(headers, "authorization")
    for name, values in header_map.items():
        if not all(is_text(v) for v in values):
            raise NotEncodable(f"The request header '{name}' is not valid UTF-8.")
    claim_map = {k: _strings(v) for k, v in claims.items()}
    if not is_text(dumps(claim_map)):
        raise NotEncodable("The access token's claims hold text that is not valid Unicode.")
    body = {
        "claims": claim_map,
        "query": _multi(query, "access_token"),
        "headers": header_map,
        "subprotocols": list(offered),
        "clientCertificates": [],
    }
    body.update(extra or {})
    return dumps(body).encode("utf-8")


def user_event_of(
    event: str, payload: Payload, metadata: Optional[Mapping[str, str]], ack_id: Optional[int]
) -> UserEvent:
    """A JSON client's ``event`` request: the body and Content-Type follow ``dataType`` (binary: the raw bytes)."""
    if payload.data_type == "binary":
        body = bytes(payload.raw) if isinstance(payload.raw, bytes) else b""
        content_type = "application/octet-stream"
    elif payload.data_type == "json":
        body, content_type = str(payload.raw).encode("utf-8"), "application/json"
    else:
        body, content_type = str(payload.raw).encode("utf-8"), "text/plain; charset=utf-8"
    return UserEvent(event, body, content_type, metadata, ack_id)


def metadata_headers(metadata: Optional[Mapping[str, str]]) -> dict[str, str]:
    """A user event's ``x-webpubsub-metadata-<key>`` headers."""
    return {f"x-webpubsub-metadata-{k.lower()}": v for k, v in (metadata or {}).items()}


# ---------------------------------------------------------------------------------------------------- answers
class ConnectOutcome(NamedTuple):
    """What a ``connect`` answer decided (None: keep what the token said)."""

    user_id: Optional[str]
    subprotocol: Optional[str]
    state: Optional[str] = None
    roles: Optional[list[str]] = None
    groups: Optional[list[str]] = None


def connection_state_of(resp: UpstreamResponse) -> Optional[str]:
    """The ``ce-connectionState`` an answer sets (None: unchanged); several such headers are a handler failure."""
    states = resp.header_values("ce-connectionState")
    if len(states) > 1:
        raise UpstreamError("The event handler set the connection state twice.")
    if states and (not is_text(states[0]) or has_control(states[0])):
        raise UpstreamError("The event handler set a connection state that cannot be sent back as a header.")
    return states[0] if states else None


def parse_connect_answer(
    resp: UpstreamResponse, *, offered: Sequence[str], user_id: Optional[str], chosen: Optional[str]
) -> ConnectOutcome:
    """Read a ``connect`` answer.

    :raises HandlerRefused: a 4xx, forwarded to the client as it is.
    :raises UpstreamError: anything else that is not a usable 2xx (the upgrade is refused with 500).
    """
    if 400 <= resp.status < 500:
        raise HandlerRefused(resp.status, resp.body, resp.content_type)
    if not resp.ok:
        raise UpstreamError("The connect event handler failed.")
    try:
        state = connection_state_of(resp)
    except UpstreamError as exc:
        raise UpstreamError(exc.message.replace("The event handler", "The connect event handler")) from None
    if resp.status == 204 or not resp.body.strip():
        return ConnectOutcome(user_id, chosen, state)
    try:
        doc = loads(resp.body)  # JSON nested too deep to parse is invalid JSON, not a crash
    except (ValueError, UnicodeDecodeError):
        raise UpstreamError("The connect event handler answered invalid JSON.") from None
    if doc is None:
        return ConnectOutcome(user_id, chosen, state)
    if not isinstance(doc, dict):
        raise UpstreamError("The connect event handler answered invalid JSON.")
    roles = groups = None
    try:
        if "userId" in doc and doc["userId"] is not None:
            if not isinstance(doc["userId"], str):
                raise ValueError("userId")
            user_id = doc["userId"]
            if user_id:
                validate_user_id(user_id)
        if doc.get("roles") is not None:
            if not isinstance(doc["roles"], list) or not all(isinstance(r, str) for r in doc["roles"]):
                raise ValueError("roles")
            roles = doc["roles"]
        if doc.get("groups"):
            if not isinstance(doc["groups"], list) or not all(isinstance(g, str) for g in doc["groups"]):
                raise ValueError("groups")
            groups = [validate_group(g) for g in doc["groups"]]
            if len(set(groups)) > limits.MAX_GROUPS_PER_CONNECTION:
                raise ValueError("groups")
        if doc.get("subprotocol") is not None:
            if doc["subprotocol"] not in offered:
                raise ValueError("subprotocol")
            chosen = doc["subprotocol"]
    except (ValueError, ValidationError):
        raise UpstreamError("The connect event handler answered invalid values.") from None
    return ConnectOutcome(user_id, chosen, state, roles, groups)


def _mime(resp: UpstreamResponse) -> str:
    return (resp.content_type or "").partition(";")[0].strip().lower()


def raw_reply(resp: UpstreamResponse) -> Optional[Payload]:
    """A raw client's reply: a 200 body goes back as a text frame (text/plain, application/json) or a binary one."""
    if resp.status != 200 or not resp.body:
        return None
    if _mime(resp) in ("text/plain", "application/json"):
        return Payload.text(resp.body.decode("utf-8", "replace"))
    return Payload.binary(resp.body)


def json_reply(resp: UpstreamResponse) -> Optional[Payload]:
    """A JSON client's reply: a 200 body is a ``from:"server"`` message, its dataType from the Content-Type."""
    if resp.status != 200 or not resp.body:
        return None
    mime = _mime(resp)
    if mime == "text/plain":
        return Payload.text(resp.body.decode("utf-8", "replace"))
    if mime in ("application/json", "text/json"):
        try:
            return Payload.json_text(resp.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return Payload.text(resp.body.decode("utf-8", "replace"))
    return Payload.binary(resp.body)
