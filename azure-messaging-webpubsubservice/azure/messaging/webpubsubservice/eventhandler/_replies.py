# --------------------------------------------------------------------------
# Copyright (c) the azure-messaging-webpubsubservice reimplementation authors.
# Licensed under the MIT License; see the LICENSE file at the root of the repository.
# --------------------------------------------------------------------------
"""What the callbacks answer, and how each answer is written as an HTTP reply.

- ``connect``: None → 204 (200 with no body for Socket.IO), a :class:`ConnectResponse` → 200 JSON with the fields set.
- user events: None → 204; ``str`` → text, ``bytes``-like → binary, anything else → JSON; a
  :class:`UserEventResponse` says the type explicitly and can add message metadata or MQTT user properties.
- rejections (:class:`~._errors.EventRejectedError`) → their status and a short text body; on an MQTT ``connect`` a
  JSON body with the CONNACK code. Any other failure → 500 with a generic body.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple

from ._errors import EventRejectedError
from ._events import ConnectionContext, ConnectRequest
from ._http import HandlerResponse
from ._mqtt import mqtt_failure_code, user_properties_json
from ._state import STATE_HEADER

__all__ = ["ConnectResponse", "UserEventResponse"]

TEXT = "text/plain; charset=utf-8"
JSON = "application/json; charset=utf-8"
BINARY = "application/octet-stream"
_DATA_TYPES = {"text": TEXT, "json": JSON, "binary": BINARY}
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_MAX_METADATA_KEY, _MAX_METADATA_VALUE, _MAX_METADATA_TOTAL = 256, 1024, 8192
_INTERNAL_ERROR = "Internal server error."


def _strings(value: Optional[Iterable[str]], name: str) -> Optional[List[str]]:
    if value is None:
        return None
    if isinstance(value, str):
        raise TypeError(f"{name} must be a list of str, not a str")
    items = list(value)
    if not all(isinstance(item, str) and item for item in items):
        raise ValueError(f"every entry of {name} must be a non-empty str")
    return items


def _pairs(value: Optional[Iterable[Tuple[str, str]]]) -> List[Tuple[str, str]]:
    if value is None:
        return []
    pairs = []
    for item in value.items() if isinstance(value, Mapping) else value:
        name, val = item
        pairs.append((str(name), str(val)))
    return pairs


class ConnectResponse:
    """Accept a ``connect`` and decide who the connection is. Fields left None are not sent (the token's apply).

    :keyword str user_id: The user id (replaces the token's); must not be empty.
    :keyword groups: Groups to join (a non-empty list replaces the token's groups; an empty one changes nothing).
    :keyword roles: Roles (replace the token's; an explicit empty list means no roles).
    :keyword str subprotocol: The subprotocol to use: one the client offered (``request.subprotocols``).
    :keyword mqtt_user_properties: MQTT 5 only: user properties for the CONNACK, ``(name, value)`` pairs or a mapping.
    :raises ValueError: If ``user_id`` or ``subprotocol`` is empty, or a group or role is not a non-empty str.
    """

    __slots__ = ("groups", "mqtt_user_properties", "roles", "subprotocol", "user_id")

    def __init__(
        self,
        *,
        user_id: Optional[str] = None,
        groups: Optional[Iterable[str]] = None,
        roles: Optional[Iterable[str]] = None,
        subprotocol: Optional[str] = None,
        mqtt_user_properties: Optional[Iterable[Tuple[str, str]]] = None,
    ) -> None:
        if user_id is not None and (not isinstance(user_id, str) or not user_id):
            raise ValueError("user_id must be a non-empty str (or None to keep the token's)")
        if subprotocol is not None and (not isinstance(subprotocol, str) or not subprotocol):
            raise ValueError("subprotocol must be a non-empty str (or None to pick none)")
        self.user_id = user_id
        self.groups = _strings(groups, "groups")
        self.roles = _strings(roles, "roles")
        self.subprotocol = subprotocol
        self.mqtt_user_properties = _pairs(mqtt_user_properties)

    def to_json(self) -> dict[str, Any]:
        """The reply body as a JSON object (unset fields omitted, an empty ``groups`` list omitted)."""
        body: dict[str, Any] = {}
        if self.user_id is not None:
            body["userId"] = self.user_id
        if self.groups:
            body["groups"] = self.groups
        if self.roles is not None:
            body["roles"] = self.roles
        if self.subprotocol is not None:
            body["subprotocol"] = self.subprotocol
        if self.mqtt_user_properties:
            body["mqtt"] = {"userProperties": user_properties_json(self.mqtt_user_properties)}
        return body

    def __repr__(self) -> str:
        return (
            f"ConnectResponse(user_id={self.user_id!r}, groups={self.groups!r}, roles={self.roles!r}, "
            f"subprotocol={self.subprotocol!r})"
        )


class UserEventResponse:
    """The reply to a user event with an explicit data type (returning a plain value infers it).

    :param data: The payload: ``str`` for text, bytes-like for binary, any JSON value for json.
    :keyword str data_type: ``text``, ``json`` or ``binary``; None infers it from ``data`` (``str`` → text,
        bytes-like → binary, else json).
    :keyword metadata: Message metadata sent as ``X-WebPubSub-Metadata-<key>`` headers (keys are HTTP tokens of up to
        256 characters, values ASCII up to 1024, 8 KiB in all). The emulator delivers them; the real service's support
        is not documented.
    :keyword mqtt_user_properties: MQTT only: user properties of the reply PUBLISH (sent as ``mqtt-<name>`` headers).
    :raises ValueError: For an unknown data type, a payload that does not fit it, or invalid metadata.
    """

    __slots__ = ("body", "content_type", "data", "data_type", "metadata", "mqtt_user_properties")

    def __init__(
        self,
        data: Any,
        *,
        data_type: Optional[str] = None,
        metadata: Optional[Mapping[str, str]] = None,
        mqtt_user_properties: Optional[Iterable[Tuple[str, str]]] = None,
    ) -> None:
        chosen = data_type or _infer_data_type(data)
        if chosen not in _DATA_TYPES:
            raise ValueError("data_type must be 'text', 'json' or 'binary'")
        self.data = data
        self.data_type = chosen
        self.content_type = _DATA_TYPES[chosen]
        self.body = _encode(data, chosen)
        self.metadata = _check_metadata(metadata or {})
        self.mqtt_user_properties = _pairs(mqtt_user_properties)

    def __repr__(self) -> str:
        return f"UserEventResponse({self.data_type}, {len(self.body)} bytes)"


def _infer_data_type(data: Any) -> str:
    if isinstance(data, str):
        return "text"
    if isinstance(data, (bytes, bytearray, memoryview)):
        return "binary"
    return "json"


def _encode(data: Any, data_type: str) -> bytes:
    if data_type == "json":
        try:
            return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise ValueError(f"the reply is not JSON-serialisable: {exc}") from None
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        if data_type == "text":
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                raise ValueError("a text reply must be valid UTF-8") from None
        return raw
    raise ValueError(f"a {data_type} reply must be str or bytes, not {type(data).__name__}")


def _check_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    total = 0
    checked = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not _TOKEN.fullmatch(key) or len(key) > _MAX_METADATA_KEY:
            raise ValueError("metadata keys must be HTTP token characters, at most 256")
        if not isinstance(value, str) or not value.isascii() or len(value) > _MAX_METADATA_VALUE:
            raise ValueError("metadata values must be ASCII strings of at most 1024 characters")
        total += len(key) + len(value)
        checked[key] = value
    if total > _MAX_METADATA_TOTAL:
        raise ValueError("metadata must not exceed 8 KiB in all")
    return checked


def _with_state(headers: List[Tuple[str, str]], context: ConnectionContext) -> List[Tuple[str, str]]:
    value = context.state.header_value()
    if value is not None:
        headers.append((STATE_HEADER, value))
    return headers


def connect_reply(result: Any, request: ConnectRequest) -> HandlerResponse:
    """The reply to ``connect`` for what the callback returned.

    :raises TypeError: If the callback returned something other than None or a :class:`ConnectResponse`.
    :raises ValueError: If the chosen subprotocol was not offered by the client.
    """
    context = request.context
    if result is None:
        return HandlerResponse(200 if context.is_socketio else 204, _with_state([], context))
    if not isinstance(result, ConnectResponse):
        raise TypeError(f"a connect callback must return a ConnectResponse or None, not {type(result).__name__}")
    if result.subprotocol is not None and result.subprotocol not in request.subprotocols:
        raise ValueError(f"the connect reply picked subprotocol {result.subprotocol!r}, which the client did not offer")
    body = json.dumps(result.to_json(), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return HandlerResponse(200, _with_state([("Content-Type", JSON)], context), body)


def user_event_reply(result: Any, context: ConnectionContext) -> HandlerResponse:
    """The reply to a user event for what the callback returned (None → 204)."""
    if result is None:
        return HandlerResponse(204, _with_state([], context))
    reply = result if isinstance(result, UserEventResponse) else UserEventResponse(result)
    headers = [("Content-Type", reply.content_type)]
    headers.extend((f"X-WebPubSub-Metadata-{key}", value) for key, value in reply.metadata.items())
    headers.extend((f"mqtt-{name}", value) for name, value in reply.mqtt_user_properties)
    return HandlerResponse(200, _with_state(headers, context), reply.body)


def rejection_reply(
    status: int,
    message: str,
    mqtt_code: Optional[int] = None,
    *,
    request: Any = None,
    mqtt_user_properties: Sequence[Tuple[str, str]] = (),
) -> HandlerResponse:
    """A refusal: a short text body, or for an MQTT ``connect`` the JSON that carries the CONNACK code."""
    if isinstance(request, ConnectRequest) and request.context.is_mqtt:
        version = request.mqtt.protocol_version if request.mqtt is not None else None
        mqtt: dict[str, Any] = {
            "code": mqtt_code if mqtt_code is not None else mqtt_failure_code(status, version),
            "reason": message,
        }
        if mqtt_user_properties:
            mqtt["userProperties"] = user_properties_json(list(mqtt_user_properties))
        return HandlerResponse(status, [("Content-Type", JSON)], json.dumps({"mqtt": mqtt}).encode("utf-8"))
    return HandlerResponse(status, [("Content-Type", TEXT)], message.encode("utf-8"))


def error_reply(exc: BaseException, request: Any = None) -> HandlerResponse:
    """The reply for an exception from a callback: its own status for a rejection, a generic 500 otherwise."""
    if isinstance(exc, EventRejectedError):
        message = exc.message or _REASONS.get(exc.status, "Rejected.")
        return rejection_reply(
            exc.status, message, exc.mqtt_code, request=request, mqtt_user_properties=exc.mqtt_user_properties
        )
    return rejection_reply(500, _INTERNAL_ERROR, request=request)


_REASONS = {400: "Bad request.", 401: "Unauthorized.", 403: "Forbidden.", 500: _INTERNAL_ERROR}
