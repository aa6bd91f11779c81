"""Pure helpers for the JSON client subprotocols: payloads, parsing client frames, building service messages."""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from typing import Any, Optional, Union

from . import limits
from .errors import BadRequest
from .validation import ValidationError, validate_event_name
from .wellformed import NotEncodable, check_json_depth, check_json_strings, check_metadata, utf8_size

__all__ = [
    "JSON_PROTOCOL",
    "MAX_ACK_ID",
    "RELIABLE_PROTOCOL",
    "SUPPORTED_PROTOCOLS",
    "ClientRequest",
    "MalformedMessage",
    "Payload",
    "ack_message",
    "connected_message",
    "disconnected_message",
    "dumps",
    "parse_client_message",
]

JSON_PROTOCOL = "json.webpubsub.azure.v1"
RELIABLE_PROTOCOL = "json.reliable.webpubsub.azure.v1"
SUPPORTED_PROTOCOLS = (JSON_PROTOCOL, RELIABLE_PROTOCOL)
MAX_ACK_ID = 2**64 - 1


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError("number out of range")
    return value


def loads(text: Union[str, bytes]) -> Any:
    """Parse strict JSON: no NaN or Infinity, and no number too large for a double (``1e999``).

    JSON nested too deep for the parser at all is a ``ValueError`` too (not a ``RecursionError``).
    """
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def dumps(value: Any) -> str:
    """Serialise compactly, keeping non-ASCII characters as they are."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Payload:
    """A message body with what each kind of client receives.

    ``raw`` is the frame for raw clients (``str`` = text frame, ``bytes`` = binary frame); ``value`` is the ``data``
    field for JSON clients (a string for text, the parsed value for json, base64 for binary).

    The constructors are where a message enters: they refuse (:class:`~.wellformed.NotEncodable`, a
    :class:`~.errors.BadRequest`) what some recipient could not be sent, text that is not valid Unicode or JSON nested
    deeper than :data:`~.limits.MAX_JSON_DEPTH`, so that delivering a payload never fails.
    """

    data_type: str
    raw: Union[str, bytes]
    value: Any
    size: int

    @classmethod
    def text(cls, text: str) -> Payload:
        """A ``text`` payload."""
        return cls("text", text, text, utf8_size(text, "The message text"))

    @classmethod
    def json_text(cls, text: str) -> Payload:
        """A ``json`` payload from JSON text; raises ``ValueError`` when the text is not JSON (or not deliverable)."""
        size = utf8_size(text, "The JSON message")
        check_json_depth(text, "The JSON message")  # before parsing: deep JSON is refused, never half-parsed
        value = loads(text)
        check_json_strings(value, text, "The JSON message")
        return cls("json", text, value, size)

    @classmethod
    def json_value(cls, value: Any) -> Payload:
        """A ``json`` payload from an already parsed value (a client frame's ``data``)."""
        try:
            text = dumps(value)
        except (ValueError, RecursionError):
            raise NotEncodable("The JSON message cannot be encoded.") from None
        size = utf8_size(text, "The JSON message")
        check_json_depth(text, "The JSON message")
        return cls("json", text, value, size)

    @classmethod
    def binary(cls, data: bytes) -> Payload:
        """A ``binary`` payload."""
        return cls("binary", bytes(data), base64.b64encode(data).decode("ascii"), len(data))


class MalformedMessage(BadRequest, ValueError):
    """A client frame the service refuses: not JSON, not an object, no type, or a field of the wrong JSON type."""


@dataclass
class ClientRequest:
    """One parsed client frame. ``bad_request`` holds a reason when the values are invalid (acked as BadRequest)."""

    type: str
    ack_id: Optional[int] = None
    group: Optional[str] = None
    event: Optional[str] = None
    payload: Optional[Payload] = None
    no_echo: bool = False
    ttl_seconds: Optional[int] = None
    metadata: Optional[dict[str, str]] = None
    sequence_id: Optional[int] = None
    bad_request: Optional[str] = None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _payload(obj: dict[str, Any], req: ClientRequest) -> None:
    data_type = obj.get("dataType", "json")
    if not isinstance(data_type, str):
        raise MalformedMessage("'dataType' must be a string")
    data = obj.get("data")
    if data_type == "json":
        if data is None:
            req.bad_request = "The 'data' of a json message must not be null."
            return
        try:
            req.payload = Payload.json_value(data)
        except NotEncodable as exc:
            req.bad_request = exc.message
    elif data_type == "text":
        if not isinstance(data, str):
            raise MalformedMessage("'data' must be a string when 'dataType' is text")
        try:
            req.payload = Payload.text(data)
        except NotEncodable as exc:
            req.bad_request = exc.message
    elif data_type == "binary":
        if not isinstance(data, str):
            raise MalformedMessage("'data' must be a base64 string when 'dataType' is binary")
        try:
            req.payload = Payload.binary(base64.b64decode(data, validate=True))
        except (binascii.Error, ValueError):
            req.bad_request = "The 'data' of a binary message is not valid base64."
    else:
        req.bad_request = f"Unsupported dataType '{data_type[:40]}'."


def _metadata(obj: dict[str, Any], req: ClientRequest) -> None:
    if "metadata" not in obj or obj["metadata"] is None:
        return
    meta = obj["metadata"]
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        req.bad_request = req.bad_request or "'metadata' must be an object of string values."
        return
    try:
        req.metadata = check_metadata(meta)
    except NotEncodable as exc:
        req.bad_request = req.bad_request or exc.message


def _group(obj: dict[str, Any], req: ClientRequest) -> None:
    group = obj.get("group")
    if not isinstance(group, str):
        raise MalformedMessage(f"'{req.type}' requires a string 'group'")
    req.group = group


def parse_client_message(frame: Union[str, bytes]) -> ClientRequest:
    """Parse a client frame of the JSON subprotocols; raise :class:`MalformedMessage` when the service must refuse it.

    Unknown message types are returned with their ``type`` so that the caller can log and ignore them.
    """
    if isinstance(frame, str):  # a frame (its envelope and data) too deep to be worth parsing
        try:
            check_json_depth(frame, "The frame", limits.MAX_PARSE_DEPTH)
        except NotEncodable as exc:
            raise MalformedMessage(exc.message.rstrip(".")) from None
    try:
        obj = loads(frame)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise MalformedMessage("The frame is not valid JSON") from None
    if not isinstance(obj, dict):
        raise MalformedMessage("The frame must be a JSON object")
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise MalformedMessage("The frame has no string 'type'")
    req = ClientRequest(type=kind)
    if kind in ("joinGroup", "leaveGroup", "sendToGroup", "event") and obj.get("ackId") is not None:
        ack_id = obj["ackId"]
        if not _is_int(ack_id) or not 0 <= ack_id <= MAX_ACK_ID:
            raise MalformedMessage("'ackId' must be an unsigned 64-bit integer")
        req.ack_id = ack_id
    if kind in ("joinGroup", "leaveGroup"):
        _group(obj, req)
    elif kind == "sendToGroup":
        _group(obj, req)
        no_echo = obj.get("noEcho", False)
        if no_echo is None:
            no_echo = False
        if not isinstance(no_echo, bool):
            raise MalformedMessage("'noEcho' must be a boolean")
        req.no_echo = no_echo
        ttl = obj.get("ttlSeconds")
        if ttl is not None:
            if not _is_int(ttl) or not 0 <= ttl <= limits.MAX_TTL_SECONDS:
                req.bad_request = f"'ttlSeconds' must be an integer between 0 and {limits.MAX_TTL_SECONDS}."
            else:
                req.ttl_seconds = ttl
        _metadata(obj, req)
        _payload(obj, req)
    elif kind == "event":
        event = obj.get("event")
        if not isinstance(event, str):
            raise MalformedMessage("'event' requires a string 'event'")
        req.event = event
        try:
            validate_event_name(event)
        except ValidationError as exc:
            req.bad_request = exc.message
        _metadata(obj, req)
        _payload(obj, req)
    elif kind == "sequenceAck":
        seq = obj.get("sequenceId")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise MalformedMessage("'sequenceAck' requires a non-negative integer 'sequenceId'")
        req.sequence_id = seq
    return req


def connected_message(connection_id: str, user_id: Optional[str], reconnection_token: Optional[str]) -> str:
    """The ``connected`` system message (``userId`` is always present; the token only on reliable clients)."""
    msg: dict[str, Any] = {"type": "system", "event": "connected", "userId": user_id, "connectionId": connection_id}
    if reconnection_token is not None:
        msg["reconnectionToken"] = reconnection_token
    return dumps(msg)


def disconnected_message(reason: str) -> str:
    """The ``disconnected`` system message."""
    return dumps({"type": "system", "event": "disconnected", "message": reason})


def ack_message(ack_id: int, error: Optional[tuple[str, str]] = None) -> str:
    """An ack; ``error`` is ``(name, message)`` for a failure."""
    if error is None:
        return dumps({"type": "ack", "ackId": ack_id, "success": True})
    return dumps({"type": "ack", "ackId": ack_id, "success": False, "error": {"name": error[0], "message": error[1]}})
