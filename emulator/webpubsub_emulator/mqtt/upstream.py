"""MQTT facts of the upstream events (mqtt.md §9): HTTP status ↔ CONNACK codes for a refused ``connect``, the
``mqtt`` part of the ``connect`` and ``disconnected`` bodies, and user-event properties ↔ HTTP headers.
"""

from __future__ import annotations

import base64
import re
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Tuple

from .codes import MQTT_5, MQTT_311, ConnackReturnCode, PacketType, ReasonCode, allowed_reason_codes
from .packets import Connect

__all__ = [
    "HEADER_PREFIX",
    "STATUS_CODES",
    "ConnectAnswer",
    "Disconnection",
    "answer_user_properties",
    "connect_body",
    "connect_refusal",
    "disconnected_body",
    "event_content_type",
    "event_headers",
    "reply_user_properties",
    "status_for_code",
]

HEADER_PREFIX = "mqtt-"
"""User property ``k`` travels as HTTP header ``mqtt-k`` (both ways)."""

R = ReasonCode
C = ConnackReturnCode
_BAD_LOGIN = (C.BAD_USER_NAME_OR_PASSWORD, R.BAD_USER_NAME_OR_PASSWORD)
_NOT_AUTHORIZED = (C.NOT_AUTHORIZED, R.NOT_AUTHORIZED)
_UNAVAILABLE = (C.SERVER_UNAVAILABLE, R.UNSPECIFIED_ERROR)

# HTTP status -> (MQTT codes the handler SDKs read as this status (3.1.1, 5.0),
#                 the CONNACK for this status when the answer has no usable mqtt code (3.1.1, 5.0)).
STATUS_CODES: Dict[int, Tuple[Tuple[Tuple[int, ...], Tuple[int, ...]], Tuple[int, int]]] = {
    400: (((1, 2), (0x81, 0x83, 0x84, 0x85, 0x8C, 0x90, 0x95, 0x99, 0x9A, 0x9B)), _BAD_LOGIN),
    401: (((4, 5), (0x86, 0x87)), _NOT_AUTHORIZED),
    403: (((), (0x8A,)), _NOT_AUTHORIZED),
    429: (((), (0x97, 0x9F)), _UNAVAILABLE),
    500: (((), (0x80, 0x88, 0x89, 0x9C, 0x9D)), _UNAVAILABLE),
    503: (((3,), ()), _UNAVAILABLE),
}
"""§9.4 in one table: HTTP status ↔ MQTT codes, and the fallback CONNACK per status."""

_FALLBACK = _UNAVAILABLE  # other status, timeout, unreachable, invalid answer


def status_for_code(code: int, version: int) -> int:
    """The HTTP status the handler SDKs answer for CONNACK ``code`` (500 when none lists it)."""
    for status, ((codes_311, codes_5), _) in STATUS_CODES.items():
        if code in (codes_5 if version == MQTT_5 else codes_311):
            return status
    return 500


class ConnectAnswer(NamedTuple):
    """The CONNACK a refused ``connect`` gives: code, and for 5.0 the reason and user properties."""

    code: int
    reason: Optional[str]
    user_properties: List[Tuple[str, str]]


def connect_refusal(status: Optional[int], body: Any, version: int) -> ConnectAnswer:
    """Map a non-2xx ``connect`` answer (``status`` None: timeout or unreachable) to the CONNACK.

    ``{"mqtt": {"code", "reason", "userProperties"}}`` wins when its code is a failure code of ``version``;
    an invalid code gives 3 / 0x80; no usable ``mqtt`` body falls back to the status's row.
    """
    fallback = STATUS_CODES[status][1] if status in STATUS_CODES else _FALLBACK
    mqtt = body.get("mqtt") if isinstance(body, dict) else None
    if not isinstance(mqtt, dict) or "code" not in mqtt:
        return ConnectAnswer(fallback[version == MQTT_5], None, [])
    code = mqtt["code"]
    valid = allowed_reason_codes(PacketType.CONNACK, version) - {0}
    if isinstance(code, bool) or not isinstance(code, int) or code not in valid:
        code = _FALLBACK[version == MQTT_5]
    reason = mqtt.get("reason") if isinstance(mqtt.get("reason"), str) else None
    return ConnectAnswer(code, reason, _pairs(mqtt.get("userProperties")))


def _pairs(value: Any) -> List[Tuple[str, str]]:
    if not isinstance(value, list):
        return []
    return [
        (item["name"], item["value"])
        for item in value
        if isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("value"), str)
    ]


def answer_user_properties(body: Any) -> List[Tuple[str, str]]:
    """The ``mqtt.userProperties`` of an accepting ``connect`` answer (for the 5.0 CONNACK); malformed entries are
    skipped."""
    mqtt = body.get("mqtt") if isinstance(body, dict) else None
    return _pairs(mqtt.get("userProperties")) if isinstance(mqtt, dict) else []


def _user_properties(pairs: Iterable[Tuple[str, str]]) -> Optional[List[Dict[str, str]]]:
    items = [{"name": name, "value": value} for name, value in pairs]
    return items or None


def connect_body(connect: Connect) -> Dict[str, Any]:
    """The ``mqtt`` member of the ``connect`` event body (the password base64, user properties null on 3.1.1)."""
    level = connect.protocol_level
    return {
        "protocolVersion": level,
        "username": connect.username,
        "password": None if connect.password is None else base64.b64encode(connect.password).decode("ascii"),
        "userProperties": None if level == MQTT_311 else _user_properties(connect.properties.user_properties),
        "cleanStart": connect.clean_start,
    }


class Disconnection(NamedTuple):
    """How a session's last connection ended (what ``disconnected`` reports).

    ``code`` is the DISCONNECT that ended it (the client's, or the server's 5.0 one), None when there was none.
    """

    by_client: bool
    reason: Optional[str]
    code: Optional[int] = None
    user_properties: Tuple[Tuple[str, str], ...] = ()


def disconnected_body(last: Disconnection) -> Dict[str, Any]:
    """The ``disconnected`` event body (§9.3) for the session's last disconnection."""
    packet = None
    if last.code is not None:
        packet = {"code": last.code, "userProperties": _user_properties(last.user_properties)}
    return {"reason": last.reason, "mqtt": {"initiatedByClient": last.by_client, "disconnectPacket": packet}}


_MEDIA_TYPE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*;.*)?\Z", re.DOTALL)
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*\Z")


def event_content_type(content_type: Optional[str], version: int) -> Optional[str]:
    """The ``Content-Type`` of a user event request: the 5.0 Content Type when it is a valid MIME type,
    ``application/octet-stream`` when absent (and on 3.1.1); None when invalid (5.0 code 0x99, no upstream call)."""
    if version == MQTT_311 or content_type is None:
        return "application/octet-stream"
    return content_type if _MEDIA_TYPE.match(content_type) and _FIELD_VALUE.match(content_type) else None


def event_headers(user_properties: Iterable[Tuple[str, str]]) -> Tuple[List[Tuple[str, str]], int]:
    """User properties as ``mqtt-<name>`` headers (repeated names stay repeated) and how many were unfit and
    dropped (names that are not header tokens, values with control characters)."""
    headers = []
    dropped = 0
    for name, value in user_properties:
        if _TOKEN.match(name) and _FIELD_VALUE.match(value):
            headers.append((HEADER_PREFIX + name, value))
        else:
            dropped += 1
    return headers, dropped


def reply_user_properties(headers: Iterable[Tuple[str, str]], status: int) -> List[Tuple[str, str]]:
    """The reply PUBLISH's user properties: every ``mqtt-`` header (prefix case-insensitive) without the prefix,
    then ``azure-status-code``."""
    props = [(name[len(HEADER_PREFIX) :], value) for name, value in headers if name.lower().startswith(HEADER_PREFIX)]
    props.append(("azure-status-code", str(status)))
    return props
