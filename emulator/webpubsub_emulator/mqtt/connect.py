"""CONNECT validation and the CONNACK that answers it (mqtt.md §3), by protocol version.

:func:`check_connect` applies the rules in the sheet's order to a decoded CONNECT; :func:`refuse` builds the answer
to a refusal found elsewhere (a decode error, the token, the upstream handler, an internal error);
:func:`accept` builds the accepting CONNACK with the properties the emulator announces. One table,
:data:`REFUSALS`, holds every refusal's answer per version.
"""

from __future__ import annotations

import re
import secrets
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

from .codes import MQTT_5, MQTT_311, ConnackReturnCode, ReasonCode
from .errors import MqttError
from .framing import MAX_PACKET_SIZE
from .packets import Connack, Connect
from .properties import Properties
from .topics import will_topic_valid

__all__ = [
    "CLIENT_ID_RE",
    "CONNECT_TIMEOUT",
    "KEEP_WINDOW",
    "MAX_KEEP_ALIVE",
    "MAX_WILL_PAYLOAD",
    "REFUSALS",
    "Refusal",
    "accept",
    "assign_client_id",
    "check_connect",
    "granted_session_expiry",
    "refusal_for_error",
    "refuse",
]

CLIENT_ID_RE = re.compile(r"[0-9a-zA-Z]{1,128}\Z")
"""Client ids (= connection ids): 1-128 ASCII letters and digits."""
MAX_KEEP_ALIVE = 180
"""The longest keep-alive (seconds) a 3.1.1 client may ask for; 0 is refused too."""
MAX_WILL_PAYLOAD = 2000
"""The largest will payload in bytes."""
KEEP_WINDOW = 30.0
"""The default keep window: the longest an interrupted session is held (seconds)."""
CONNECT_TIMEOUT = 10.0
"""Seconds a new connection has to send its CONNECT."""

CLOSE = None
"""In :data:`REFUSALS`: close the connection without a CONNACK."""
ACCEPT = -1
"""In :data:`REFUSALS`: not a refusal in this version."""

Answer = Optional[int]

# refusal -> (3.1.1 answer, 5.0 answer): a CONNACK code, CLOSE (no CONNACK) or ACCEPT. "malformed" in 5.0 takes
# the error's own code (0x81 or 0x82); "unsupported_version" always answers in 3.1.1 form.
REFUSALS: Dict[str, Tuple[Answer, Answer]] = {
    "not_mqtt": (CLOSE, CLOSE),
    "unsupported_version": (ConnackReturnCode.UNACCEPTABLE_PROTOCOL_VERSION, None),
    "malformed": (CLOSE, ReasonCode.MALFORMED_PACKET),
    "authentication_method": (CLOSE, ReasonCode.BAD_AUTHENTICATION_METHOD),
    "client_id": (ConnackReturnCode.IDENTIFIER_REJECTED, ReasonCode.CLIENT_IDENTIFIER_NOT_VALID),
    "keep_alive": (CLOSE, ACCEPT),
    "will_topic": (CLOSE, ReasonCode.TOPIC_NAME_INVALID),
    "will_payload": (CLOSE, ReasonCode.PACKET_TOO_LARGE),
    "will_retain": (ACCEPT, ReasonCode.RETAIN_NOT_SUPPORTED),
    "token": (ConnackReturnCode.NOT_AUTHORIZED, ReasonCode.NOT_AUTHORIZED),
    "internal": (ConnackReturnCode.SERVER_UNAVAILABLE, ReasonCode.UNSPECIFIED_ERROR),
}
"""Every CONNECT refusal and its answer per version (mqtt.md §3)."""


class Refusal(NamedTuple):
    """A refused CONNECT: send ``connack`` (encoded at ``version``) when there is one, then close."""

    connack: Optional[Connack]
    version: int
    reason: str


def refuse(
    kind: str,
    version: int,
    reason: str,
    *,
    code: Optional[int] = None,
    user_properties: Optional[List[Tuple[str, str]]] = None,
) -> Optional[Refusal]:
    """The answer to refusal ``kind`` (a :data:`REFUSALS` key), or None when ``kind`` does not refuse in ``version``.

    ``code`` overrides the table (the upstream handler's own code, already checked); 5.0 CONNACKs carry ``reason``
    as Reason String and ``user_properties``.
    """
    if kind == "unsupported_version":
        version = MQTT_311
    answer = code if code is not None else REFUSALS[kind][version == MQTT_5]
    if answer == ACCEPT:
        return None
    return _refusal(answer, version, reason, user_properties)


def _refusal(answer: Answer, version: int, reason: str, user_properties: Optional[List[Tuple[str, str]]]) -> Refusal:
    if answer is CLOSE:
        return Refusal(None, version, reason)
    props = Properties()
    if version == MQTT_5:
        props = Properties(reason_string=reason, user_properties=list(user_properties or ()))
    return Refusal(Connack(answer, False, props), version, reason)


def refusal_for_error(error: MqttError) -> Refusal:
    """The answer to a CONNECT that could not be decoded (``error`` from the codec)."""
    if error.reason_code == ReasonCode.UNSUPPORTED_PROTOCOL_VERSION:
        return _refusal(REFUSALS["unsupported_version"][0], MQTT_311, error.message, None)
    if error.version is None:
        return _refusal(REFUSALS["not_mqtt"][0], MQTT_311, error.message, None)
    answer = error.reason_code if error.version == MQTT_5 else REFUSALS["malformed"][0]
    return _refusal(answer, error.version, error.message, None)


def _may_assign(connect: Connect) -> bool:
    return connect.protocol_level == MQTT_5 and not connect.client_id


# The checks in the sheet's order: (refusal kind, test that is True when the CONNECT breaks the rule).
_RULES: Tuple[Tuple[str, Callable[[Connect], bool]], ...] = (
    ("authentication_method", lambda c: c.properties.authentication_method is not None),
    (
        "client_id",
        lambda c: not CLIENT_ID_RE.match(c.client_id) and (c.protocol_level == MQTT_311 or c.client_id != ""),
    ),
    ("keep_alive", lambda c: not 0 < c.keep_alive <= MAX_KEEP_ALIVE),
    ("will_topic", lambda c: c.will is not None and not will_topic_valid(c.will.topic)),
    ("will_payload", lambda c: c.will is not None and len(c.will.payload) > MAX_WILL_PAYLOAD),
    ("will_retain", lambda c: c.will is not None and c.will.retain),
)
_REASONS = {
    "authentication_method": "enhanced authentication is not supported",
    "client_id": "the client identifier must be 1-128 letters and digits",
    "keep_alive": f"the keep-alive must be 1-{MAX_KEEP_ALIVE} seconds",
    "will_topic": "the will topic is not a valid group name",
    "will_payload": f"the will payload exceeds {MAX_WILL_PAYLOAD} bytes",
    "will_retain": "retained messages are not supported",
}


def check_connect(connect: Connect) -> Optional[Refusal]:
    """The first rule a decoded CONNECT breaks, as its answer; None when it passes (token and upstream follow)."""
    for kind, broken in _RULES:
        if broken(connect):
            refusal = refuse(kind, connect.protocol_level, _REASONS[kind])
            if refusal is not None:
                return refusal
    return None


def granted_session_expiry(connect: Connect, keep_window: float = KEEP_WINDOW) -> float:
    """How long (seconds) the session outlives its connection: 3.1.1 Clean Session 0 → the window; 5.0 →
    min(Session Expiry Interval, window) (absent = 0); 3.1.1 Clean Session 1 → 0."""
    if connect.protocol_level == MQTT_311:
        return 0.0 if connect.clean_start else keep_window
    return min(float(connect.properties.session_expiry_interval or 0), keep_window)


def assign_client_id() -> str:
    """A fresh client id for a 5.0 CONNECT that left it empty (32 hex characters)."""
    return secrets.token_hex(16)


def accept(
    connect: Connect,
    client_id: str,
    *,
    session_present: bool,
    keep_window: float = KEEP_WINDOW,
    user_properties: Optional[List[Tuple[str, str]]] = None,
) -> Connack:
    """The accepting CONNACK for ``connect``, whose session has ``client_id`` (assigned when it was empty).

    5.0 CONNACKs announce Retain Available 0, Maximum Packet Size 1 MiB, the Assigned Client Identifier, the
    Session Expiry Interval when it was capped, and the upstream's user properties.
    """
    if connect.protocol_level == MQTT_311:
        return Connack(0, session_present)
    props = Properties(retain_available=0, maximum_packet_size=MAX_PACKET_SIZE)
    if not connect.client_id:
        props.assigned_client_identifier = client_id
    if (connect.properties.session_expiry_interval or 0) > granted_session_expiry(connect, keep_window):
        props.session_expiry_interval = int(granted_session_expiry(connect, keep_window))
    props.user_properties = list(user_properties or ())
    return Connack(0, session_present, props)
