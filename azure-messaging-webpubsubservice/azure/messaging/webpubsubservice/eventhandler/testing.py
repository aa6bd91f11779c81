# --------------------------------------------------------------------------
# Copyright (c) the azure-messaging-webpubsubservice reimplementation authors.
# Licensed under the MIT License; see the LICENSE file at the root of the repository.
# --------------------------------------------------------------------------
"""Test helpers: signatures and complete, signed requests for every event type, as the service would send them.

Unit-test a handler without any server::

    from azure.messaging.webpubsubservice.eventhandler import testing

    response = handler.handle(testing.connect_request(hub="chat", user_id="alice", access_key=KEY))
    assert response.status == 204

The builders return a :class:`~azure.messaging.webpubsubservice.eventhandler.HandlerRequest`; to send one over
HTTP use its ``method``, ``path``, ``headers.items()`` and ``body``.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from ._http import HandlerRequest
from ._signature import compute_signature
from ._state import encode_state

__all__ = [
    "DEFAULT_ORIGIN",
    "compute_signature",
    "connect_request",
    "connected_request",
    "disconnected_request",
    "group_joined_request",
    "group_left_request",
    "handshake_request",
    "user_event_request",
]

#: The ``WebHook-Request-Origin`` the builders send unless told otherwise.
DEFAULT_ORIGIN = "example.webpubsub.azure.com"

Keys = Union[str, Sequence[str], None]


def handshake_request(
    origin: Optional[str] = DEFAULT_ORIGIN, *, method: str = "OPTIONS", path: str = "/eventhandler/validate"
) -> HandlerRequest:
    """The abuse-protection request (``OPTIONS``; the emulator falls back to ``GET``). ``origin=None`` omits it."""
    headers = [("ce-awpsversion", "1.0")]
    if origin is not None:
        headers.insert(0, ("WebHook-Request-Origin", origin))
    return HandlerRequest(method, path, headers)


def _event(
    ce_type: str,
    event_name: str,
    body: bytes,
    content_type: str,
    *,
    hub: str,
    connection_id: Optional[str],
    user_id: Optional[str],
    access_key: Keys,
    path: Optional[str],
    origin: str,
    subprotocol: Optional[str],
    state: Optional[Mapping[str, Any]],
    physical_connection_id: Optional[str],
    session_id: Optional[str],
    namespace: Optional[str],
    socket_id: Optional[str],
    extra_headers: Optional[Iterable[Tuple[str, str]]],
) -> HandlerRequest:
    connection_id = connection_id or uuid.uuid4().hex
    source = f"/hubs/{hub}/client/{connection_id}"
    if physical_connection_id:
        source += f"/{physical_connection_id}"
    headers: List[Tuple[str, str]] = [
        ("WebHook-Request-Origin", origin),
        ("Content-Type", content_type),
        ("ce-specversion", "1.0"),
        ("ce-awpsversion", "1.0"),
        ("ce-type", ce_type),
        ("ce-source", source),
        ("ce-id", uuid.uuid4().hex),
        ("ce-time", datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")),
    ]
    if access_key is not None:
        headers.append(("ce-signature", compute_signature(connection_id, access_key)))
    optional = {
        "ce-userId": user_id,
        "ce-connectionId": connection_id,
        "ce-hub": hub,
        "ce-eventName": event_name,
        "ce-subprotocol": subprotocol,
        "ce-connectionState": encode_state(dict(state)) if state is not None else None,
        "ce-physicalConnectionId": physical_connection_id,
        "ce-sessionId": session_id,
        "ce-namespace": namespace,
        "ce-socketId": socket_id,
    }
    headers.extend((name, value) for name, value in optional.items() if value is not None)
    headers.extend(extra_headers or ())
    return HandlerRequest("POST", path or f"/eventhandler/{event_name}", headers, body)


def _common(kwargs: Dict[str, Any]) -> Dict[str, Any]:
    allowed = {
        "hub": "hub",
        "connection_id": None,
        "user_id": None,
        "access_key": None,
        "path": None,
        "origin": DEFAULT_ORIGIN,
        "subprotocol": None,
        "state": None,
        "physical_connection_id": None,
        "session_id": None,
        "namespace": None,
        "socket_id": None,
        "extra_headers": None,
    }
    unknown = set(kwargs) - set(allowed)
    if unknown:
        raise TypeError(f"unexpected keyword argument {sorted(unknown)[0]!r}")
    return {**allowed, **kwargs}


_COMMON_DOC = """
    Common keywords: ``hub`` (default ``"hub"``), ``connection_id`` (default: a fresh one), ``user_id``,
    ``access_key`` (one key or several to sign with; None sends no signature), ``path`` (default
    ``/eventhandler/<event>``), ``origin``, ``subprotocol``, ``state`` (a dict sent as ``ce-connectionState``), the MQTT
    ``physical_connection_id`` and ``session_id``, the Socket.IO ``namespace`` and ``socket_id``, and
    ``extra_headers`` (more ``(name, value)`` lines).
"""


def connect_request(
    *,
    claims: Optional[Mapping[str, Sequence[str]]] = None,
    query: Optional[Mapping[str, Sequence[str]]] = None,
    headers: Optional[Mapping[str, Sequence[str]]] = None,
    subprotocols: Sequence[str] = (),
    client_certificates: Sequence[Mapping[str, str]] = (),
    mqtt: Optional[Mapping[str, Any]] = None,
    **common: Any,
) -> HandlerRequest:
    """A ``connect`` event. ``mqtt`` is the raw ``mqtt`` object (``protocolVersion``, ``username``, ...)."""
    options = _common(common)
    body: Dict[str, Any] = {
        "claims": {k: list(v) for k, v in (claims or {}).items()},
        "query": {k: list(v) for k, v in (query or {}).items()},
        "headers": {k: list(v) for k, v in (headers or {}).items()},
        "subprotocols": list(subprotocols),
        "clientCertificates": [dict(c) for c in client_certificates],
    }
    if mqtt is not None:
        body["mqtt"] = dict(mqtt)
    data = json.dumps(body).encode("utf-8")
    return _event("azure.webpubsub.sys.connect", "connect", data, "application/json", **options)


def user_event_request(
    event: str = "message", data: Any = b"", *, data_type: Optional[str] = None, **common: Any
) -> HandlerRequest:
    """A user event ``event`` carrying ``data``.

    ``data_type`` is ``text``, ``json``, ``binary`` or ``protobuf``; by default ``str`` is text, bytes are binary and
    anything else JSON. ``extra_headers`` can carry ``X-WebPubSub-Metadata-<key>`` or MQTT ``mqtt-<name>`` lines.
    """
    options = _common(common)
    chosen = data_type or ("text" if isinstance(data, str) else "binary" if isinstance(data, bytes) else "json")
    content_types = {
        "text": "text/plain; charset=utf-8",
        "json": "application/json",
        "binary": "application/octet-stream",
        "protobuf": "application/x-protobuf",
    }
    if chosen not in content_types:
        raise ValueError("data_type must be text, json, binary or protobuf")
    if isinstance(data, bytes):
        body = data
    elif chosen == "json" and not isinstance(data, str):
        body = json.dumps(data).encode("utf-8")
    else:
        body = str(data).encode("utf-8")
    return _event(f"azure.webpubsub.user.{event}", event, body, content_types[chosen], **options)


def connected_request(**common: Any) -> HandlerRequest:
    """A ``connected`` event."""
    return _event("azure.webpubsub.sys.connected", "connected", b"{}", "application/json", **_common(common))


def disconnected_request(
    reason: Optional[str] = None, *, mqtt: Optional[Mapping[str, Any]] = None, **common: Any
) -> HandlerRequest:
    """A ``disconnected`` event with ``reason`` (and the raw MQTT ``mqtt`` object, if given)."""
    body: Dict[str, Any] = {"reason": reason}
    if mqtt is not None:
        body["mqtt"] = dict(mqtt)
    data = json.dumps(body).encode("utf-8")
    return _event("azure.webpubsub.sys.disconnected", "disconnected", data, "application/json", **_common(common))


def group_joined_request(group: str, **common: Any) -> HandlerRequest:
    """A group presence ``joined`` event."""
    data = json.dumps({"group": group}).encode("utf-8")
    return _event("azure.webpubsub.gp.joined", "joined", data, "application/json", **_common(common))


def group_left_request(group: str, **common: Any) -> HandlerRequest:
    """A group presence ``left`` event."""
    data = json.dumps({"group": group}).encode("utf-8")
    return _event("azure.webpubsub.gp.left", "left", data, "application/json", **_common(common))


for _builder in (
    connect_request,
    user_event_request,
    connected_request,
    disconnected_request,
    group_joined_request,
    group_left_request,
):
    _builder.__doc__ = (_builder.__doc__ or "") + _COMMON_DOC
