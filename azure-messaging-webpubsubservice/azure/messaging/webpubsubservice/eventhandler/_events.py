# --------------------------------------------------------------------------
# Copyright (c) the azure-messaging-webpubsubservice reimplementation authors.
# Licensed under the MIT License; see the LICENSE file at the root of the repository.
# --------------------------------------------------------------------------
"""What an event means: the typed requests handed to user callbacks, parsed from the CloudEvents headers and body.

Every request carries a :class:`ConnectionContext` (``request.context``). Bodies are parsed strictly where the
library needs them (a ``connect`` body that is not a JSON object is a 400) and lazily where the user asks (an invalid
JSON user event fails only when ``.json()`` is called).
"""

from __future__ import annotations

import json
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from ._errors import BadRequestError
from ._handshake import request_origins
from ._http import HandlerRequest, Headers
from ._mqtt import MqttConnectProperties, MqttDisconnectProperties, MqttUserProperty
from ._state import STATE_HEADER, ConnectionState

__all__ = [
    "ClientCertificate",
    "ConnectRequest",
    "ConnectedRequest",
    "ConnectionContext",
    "DisconnectedRequest",
    "GroupJoinedRequest",
    "GroupLeftRequest",
    "InvalidPayloadError",
    "Query",
    "UnknownEventRequest",
    "UserEventRequest",
]

EVENT_TYPE_PREFIX = "azure.webpubsub."
#: Headers a request may carry once only: the signature is checked against the connection id the callback sees.
SINGLE_VALUED = ("ce-connectionId", "ce-hub", "ce-userId", "ce-type")
_REDACTED = "***"
_SECRET_QUERY_KEYS = frozenset({"access_token", "awps_reconnection_token", "code"})


class InvalidPayloadError(BadRequestError, ValueError):
    """The event's payload is not valid for the view asked for (``.text`` or ``.json()``); a 400 if not caught."""


def single(headers: Headers, name: str) -> Optional[str]:
    """The one value of ``name`` (None when absent); :class:`BadRequestError` when it is repeated."""
    values = headers.get_all(name)
    if len(values) > 1:
        raise BadRequestError(f"{name} must appear once")
    return values[0] if values else None


def check_single_valued(headers: Headers) -> None:
    """Refuse repeated identity headers, and a connection id holding a comma (a WSGI server joined two lines)."""
    for name in SINGLE_VALUED:
        single(headers, name)
    connection_id = headers.get("ce-connectionId")
    if connection_id is not None and "," in connection_id:
        raise BadRequestError("ce-connectionId must appear once")


class ConnectionContext:
    """The connection an event is about, from the ``ce-*`` headers. Present on every request as ``.context``.

    :ivar hub: The hub (``ce-hub``).
    :ivar connection_id: The connection id (``ce-connectionId``); for MQTT the client id.
    :ivar user_id: The user id, or None for an anonymous connection.
    :ivar event_name: The event name (``connect``, ``message``, ``disconnected``, a custom event name, ...).
    :ivar event_type: The CloudEvents type, e.g. ``azure.webpubsub.user.message``.
    :ivar subprotocol: The connection's subprotocol, or None.
    :ivar origins: The service host names from ``WebHook-Request-Origin`` (several with replicas or custom domains).
    :ivar event_id: ``ce-id``. :ivar time: ``ce-time`` as sent (RFC 3339 from the service). :ivar source: ``ce-source``.
    :ivar physical_connection_id: MQTT only: the network connection under the MQTT session.
    :ivar session_id: MQTT only: the MQTT session (absent on ``connect``).
    :ivar namespace: Socket.IO only: the namespace. :ivar socket_id: Socket.IO only: the socket id.
    :ivar state: The connection state (:class:`ConnectionState`), writable in ``connect`` and user events.
    :ivar headers: Every request header, for anything not modelled here (cookies, ``Authorization``, ...).
    """

    __slots__ = (
        "connection_id",
        "event_id",
        "event_name",
        "event_type",
        "headers",
        "hub",
        "namespace",
        "origins",
        "physical_connection_id",
        "session_id",
        "socket_id",
        "source",
        "state",
        "subprotocol",
        "time",
        "user_id",
    )

    def __init__(self, headers: Headers, *, writable_state: bool) -> None:
        self.headers = headers
        self.hub = single(headers, "ce-hub") or ""
        self.connection_id = single(headers, "ce-connectionId") or ""
        self.user_id = single(headers, "ce-userId") or None
        self.event_type = single(headers, "ce-type") or ""
        self.event_name = headers.get("ce-eventName") or self.event_type.rpartition(".")[2]
        self.subprotocol = headers.get("ce-subprotocol") or None
        self.origins: Tuple[str, ...] = tuple(request_origins(headers.get("WebHook-Request-Origin")))
        self.event_id = headers.get("ce-id")
        self.time = headers.get("ce-time")
        self.source = headers.get("ce-source")
        self.physical_connection_id = headers.get("ce-physicalConnectionId") or None
        self.session_id = headers.get("ce-sessionId") or None
        self.namespace = headers.get("ce-namespace") or None
        self.socket_id = headers.get("ce-socketId") or None
        self.state = ConnectionState(headers.get(STATE_HEADER), writable=writable_state)

    @property
    def origin(self) -> Optional[str]:
        """The first origin host, or None."""
        return self.origins[0] if self.origins else None

    @property
    def is_mqtt(self) -> bool:
        """True for an MQTT connection (the request carries ``ce-physicalConnectionId``)."""
        return self.physical_connection_id is not None

    @property
    def is_socketio(self) -> bool:
        """True for a Socket.IO connection (the request carries ``ce-namespace`` or ``ce-socketId``)."""
        return self.namespace is not None or self.socket_id is not None

    def __repr__(self) -> str:
        return (
            f"ConnectionContext(hub={self.hub!r}, connection_id={self.connection_id!r}, user_id={self.user_id!r}, "
            f"event_name={self.event_name!r}, subprotocol={self.subprotocol!r})"
        )


class Query(Mapping[str, List[str]]):
    """The client's query parameters (each a list of strings). ``repr`` hides ``access_token`` and other secrets."""

    def __init__(self, values: Mapping[str, List[str]]) -> None:
        self._values = dict(values)

    def __getitem__(self, key: str) -> List[str]:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def first(self, key: str, default: Optional[str] = None) -> Optional[str]:
        """The first value of ``key``, or ``default``."""
        values = self._values.get(key)
        return values[0] if values else default

    def __repr__(self) -> str:
        shown = {k: (_REDACTED if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in self._values.items()}
        return f"Query({shown!r})"


class ClientCertificate:
    """A client certificate the service received (when client certificates are enabled)."""

    __slots__ = ("content", "thumbprint")

    def __init__(self, thumbprint: str, content: str) -> None:
        self.thumbprint = thumbprint
        self.content = content

    def __repr__(self) -> str:
        return f"ClientCertificate(thumbprint={self.thumbprint!r})"


def _string_lists(body: Mapping[str, Any], name: str) -> Dict[str, List[str]]:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequestError(f"connect '{name}' must be an object")
    found: Dict[str, List[str]] = {}
    for key, items in value.items():
        if isinstance(items, str):  # lenient: a bare string instead of a one-item list
            items = [items]
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise BadRequestError(f"connect '{name}' values must be lists of strings")
        found[key] = list(items)
    return found


class _Request:
    __slots__ = ("context",)

    def __init__(self, context: ConnectionContext) -> None:
        self.context = context

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.context!r})"


class ConnectRequest(_Request):
    """``connect``: a client wants to connect. Return a :class:`ConnectResponse` to change who it is, or None to
    accept it as its token says; raise :class:`UnauthorizedError` (or another rejection) to refuse it.

    :ivar claims: The token's claims, each a list of strings (also .NET claim-type URIs such as ``nameid``).
    :ivar query: The connection URL's query parameters, each a list; it may hold the client's ``access_token``
        (hidden by ``repr``).
    :ivar headers: The client's handshake headers, each a list of strings.
    :ivar subprotocols: The subprotocols the client offered (a reply may pick one of them).
    :ivar client_certificates: The client certificates, if any.
    :ivar mqtt: For MQTT clients, the CONNECT packet's properties; otherwise None.
    """

    __slots__ = ("claims", "client_certificates", "headers", "mqtt", "query", "subprotocols")

    def __init__(self, context: ConnectionContext, body: bytes) -> None:
        super().__init__(context)
        try:
            doc = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (UnicodeDecodeError, ValueError):
            raise BadRequestError("the connect body is not valid JSON") from None
        if not isinstance(doc, dict):
            raise BadRequestError("the connect body must be a JSON object")
        self.claims = _string_lists(doc, "claims")
        self.query = Query(_string_lists(doc, "query"))
        self.headers = _string_lists(doc, "headers")
        subprotocols = doc.get("subprotocols") or []
        if not isinstance(subprotocols, list) or not all(isinstance(p, str) for p in subprotocols):
            raise BadRequestError("connect 'subprotocols' must be a list of strings")
        self.subprotocols: List[str] = subprotocols
        certificates = doc.get("clientCertificates") or []
        if not isinstance(certificates, list):
            raise BadRequestError("connect 'clientCertificates' must be a list")
        self.client_certificates = [
            ClientCertificate(str(c.get("thumbprint", "")), str(c.get("content", "")))
            for c in certificates
            if isinstance(c, dict)
        ]
        self.mqtt = MqttConnectProperties.from_json(doc["mqtt"]) if doc.get("mqtt") is not None else None

    def claim(self, name: str) -> Optional[str]:
        """The first value of claim ``name``, or None."""
        values = self.claims.get(name)
        return values[0] if values else None

    def __repr__(self) -> str:
        return (
            f"ConnectRequest({self.context!r}, claims={sorted(self.claims)!r}, query={self.query!r}, "
            f"subprotocols={self.subprotocols!r})"
        )


def _media_type(content_type: str) -> Tuple[str, Optional[str]]:
    media, _, params = content_type.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    return media.strip().lower(), charset


_DATA_TYPES = {
    "text/plain": "text",
    "application/json": "json",
    "text/json": "json",
    "application/octet-stream": "binary",
    "application/x-protobuf": "protobuf",
}


class UserEventRequest(_Request):
    """A user event: a message a client sent to the server (``message`` for raw clients, or a named event).

    The payload is kept as bytes with its media type; :attr:`text` and :meth:`json` are views on it. Return the
    reply (``str`` → text, ``bytes`` → binary, anything else JSON, or a :class:`UserEventResponse`), or None.

    :ivar data: The payload bytes.
    :ivar content_type: The ``Content-Type`` as sent. :ivar media_type: It lower-cased, without parameters.
    :ivar data_type: ``text``, ``json``, ``binary``, ``protobuf``, or ``binary`` for any other media type.
    :ivar metadata: Message metadata (``X-WebPubSub-Metadata-<key>`` headers; keys lower-cased).
    :ivar mqtt_user_properties: MQTT only: the PUBLISH user properties (``mqtt-<name>`` headers).
    """

    __slots__ = ("_charset", "content_type", "data", "data_type", "media_type", "metadata", "mqtt_user_properties")

    def __init__(self, context: ConnectionContext, body: bytes) -> None:
        super().__init__(context)
        headers = context.headers
        self.data = body
        self.content_type = headers.get("Content-Type") or "application/octet-stream"
        self.media_type, self._charset = _media_type(self.content_type)
        self.data_type = _DATA_TYPES.get(self.media_type, "binary")
        prefix = "x-webpubsub-metadata-"
        self.metadata = {k.lower()[len(prefix) :]: v for k, v in headers.items() if k.lower().startswith(prefix)}
        self.mqtt_user_properties: List[MqttUserProperty] = []
        if context.is_mqtt:
            self.mqtt_user_properties = [
                MqttUserProperty(k[len("mqtt-") :], v) for k, v in headers.items() if k.lower().startswith("mqtt-")
            ]

    @property
    def text(self) -> str:
        """The payload decoded as text (the ``charset`` parameter, UTF-8 by default).

        :raises InvalidPayloadError: If the bytes are not valid in that charset.
        """
        try:
            return self.data.decode(self._charset or "utf-8")
        except (UnicodeDecodeError, LookupError):
            raise InvalidPayloadError("the event payload is not valid text") from None

    def json(self) -> Any:
        """The payload parsed as JSON (any JSON value, also a bare string or number).

        :raises InvalidPayloadError: (a :class:`ValueError`) If the payload is not valid JSON.
        """
        try:
            return json.loads(self.text)
        except ValueError:
            raise InvalidPayloadError("the event payload is not valid JSON") from None

    def __repr__(self) -> str:
        return f"UserEventRequest({self.context!r}, {self.media_type}, {len(self.data)} bytes)"


class ConnectedRequest(_Request):
    """``connected``: the connection is open (sent after the client got its ``connected`` message)."""

    __slots__ = ()


def _json_object(body: bytes) -> Dict[str, Any]:
    try:
        doc = json.loads(body.decode("utf-8")) if body.strip() else {}
    except (UnicodeDecodeError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


class DisconnectedRequest(_Request):
    """``disconnected``: the connection ended.

    :ivar reason: The reason given (None or empty on a normal close).
    :ivar mqtt: For MQTT sessions, how it ended; otherwise None.
    """

    __slots__ = ("mqtt", "reason")

    def __init__(self, context: ConnectionContext, body: bytes) -> None:
        super().__init__(context)
        doc = _json_object(body)
        reason = doc.get("reason")
        self.reason: Optional[str] = reason if isinstance(reason, str) else None
        self.mqtt = MqttDisconnectProperties.from_json(doc["mqtt"]) if doc.get("mqtt") is not None else None

    def __repr__(self) -> str:
        return f"DisconnectedRequest({self.context!r}, reason={self.reason!r})"


class _GroupRequest(_Request):
    __slots__ = ("group",)

    def __init__(self, context: ConnectionContext, body: bytes) -> None:
        super().__init__(context)
        group = _json_object(body).get("group")
        self.group: Optional[str] = group if isinstance(group, str) else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.context!r}, group={self.group!r})"


class GroupJoinedRequest(_GroupRequest):
    """``gp.joined``: the connection joined :attr:`group` (group presence events)."""

    __slots__ = ()


class GroupLeftRequest(_GroupRequest):
    """``gp.left``: the connection left :attr:`group` (group presence events)."""

    __slots__ = ()


class UnknownEventRequest(_Request):
    """An ``azure.webpubsub.*`` event type this library does not know (for an ``on_unknown_event`` callback).

    :ivar data: The body bytes. :ivar content_type: The ``Content-Type``, or None.
    """

    __slots__ = ("content_type", "data")

    def __init__(self, context: ConnectionContext, body: bytes) -> None:
        super().__init__(context)
        self.data = body
        self.content_type = context.headers.get("Content-Type")


def request_kind(request: HandlerRequest) -> str:
    """``handshake``, ``event`` or ``other`` (not for this library) for a request under the mount path."""
    if request.method == "OPTIONS" or (request.method == "GET" and "WebHook-Request-Origin" in request.headers):
        return "handshake"
    if request.method == "POST":
        types = request.headers.get_all("ce-type")
        if types and all(t.lower().startswith(EVENT_TYPE_PREFIX) for t in types):
            return "event"
    return "other"
