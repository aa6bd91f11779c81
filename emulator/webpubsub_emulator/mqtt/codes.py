"""MQTT numbers in one place: packet types, protocol levels, 5.0 reason codes, 3.1.1 return codes, and which
reason codes each packet type may carry (MQTT 5.0 §2.4 and each packet's section; MQTT 3.1.1 §3.2.2.3, §3.9.3)."""

from __future__ import annotations

import enum
from typing import Dict, FrozenSet

__all__ = [
    "MQTT_5",
    "MQTT_311",
    "VERSIONS",
    "ConnackReturnCode",
    "PacketType",
    "ReasonCode",
    "allowed_reason_codes",
]

MQTT_311 = 4
"""Protocol level of MQTT 3.1.1."""
MQTT_5 = 5
"""Protocol level of MQTT 5.0."""
VERSIONS = (MQTT_311, MQTT_5)
"""The protocol levels this layer speaks."""


class PacketType(enum.IntEnum):
    """The control packet types (high nibble of the first byte); 0 is reserved, AUTH exists in 5.0 only."""

    CONNECT = 1
    CONNACK = 2
    PUBLISH = 3
    PUBACK = 4
    PUBREC = 5
    PUBREL = 6
    PUBCOMP = 7
    SUBSCRIBE = 8
    SUBACK = 9
    UNSUBSCRIBE = 10
    UNSUBACK = 11
    PINGREQ = 12
    PINGRESP = 13
    DISCONNECT = 14
    AUTH = 15


class ConnackReturnCode(enum.IntEnum):
    """MQTT 3.1.1 CONNACK return codes."""

    ACCEPTED = 0
    UNACCEPTABLE_PROTOCOL_VERSION = 1
    IDENTIFIER_REJECTED = 2
    SERVER_UNAVAILABLE = 3
    BAD_USER_NAME_OR_PASSWORD = 4
    NOT_AUTHORIZED = 5


class ReasonCode(enum.IntEnum):
    """MQTT 5.0 reason codes (§2.4). 0x00 is Success, Normal disconnection and Granted QoS 0 alike."""

    SUCCESS = 0x00
    GRANTED_QOS_1 = 0x01
    GRANTED_QOS_2 = 0x02
    DISCONNECT_WITH_WILL = 0x04
    NO_MATCHING_SUBSCRIBERS = 0x10
    NO_SUBSCRIPTION_EXISTED = 0x11
    CONTINUE_AUTHENTICATION = 0x18
    RE_AUTHENTICATE = 0x19
    UNSPECIFIED_ERROR = 0x80
    MALFORMED_PACKET = 0x81
    PROTOCOL_ERROR = 0x82
    IMPLEMENTATION_SPECIFIC_ERROR = 0x83
    UNSUPPORTED_PROTOCOL_VERSION = 0x84
    CLIENT_IDENTIFIER_NOT_VALID = 0x85
    BAD_USER_NAME_OR_PASSWORD = 0x86
    NOT_AUTHORIZED = 0x87
    SERVER_UNAVAILABLE = 0x88
    SERVER_BUSY = 0x89
    BANNED = 0x8A
    SERVER_SHUTTING_DOWN = 0x8B
    BAD_AUTHENTICATION_METHOD = 0x8C
    KEEP_ALIVE_TIMEOUT = 0x8D
    SESSION_TAKEN_OVER = 0x8E
    TOPIC_FILTER_INVALID = 0x8F
    TOPIC_NAME_INVALID = 0x90
    PACKET_IDENTIFIER_IN_USE = 0x91
    PACKET_IDENTIFIER_NOT_FOUND = 0x92
    RECEIVE_MAXIMUM_EXCEEDED = 0x93
    TOPIC_ALIAS_INVALID = 0x94
    PACKET_TOO_LARGE = 0x95
    MESSAGE_RATE_TOO_HIGH = 0x96
    QUOTA_EXCEEDED = 0x97
    ADMINISTRATIVE_ACTION = 0x98
    PAYLOAD_FORMAT_INVALID = 0x99
    RETAIN_NOT_SUPPORTED = 0x9A
    QOS_NOT_SUPPORTED = 0x9B
    USE_ANOTHER_SERVER = 0x9C
    SERVER_MOVED = 0x9D
    SHARED_SUBSCRIPTIONS_NOT_SUPPORTED = 0x9E
    CONNECTION_RATE_EXCEEDED = 0x9F
    MAXIMUM_CONNECT_TIME = 0xA0
    SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED = 0xA1
    WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED = 0xA2


def _codes(hex_codes: str) -> FrozenSet[int]:
    return frozenset(int(code, 16) for code in hex_codes.split())


_PUB_ACK = _codes("00 10 80 83 87 90 91 97 99")
_PUB_REL = _codes("00 92")

# (packet type, protocol level) -> the reason / return codes that packet may carry.
_ALLOWED: Dict[tuple[PacketType, int], FrozenSet[int]] = {
    (PacketType.CONNACK, MQTT_311): frozenset(int(c) for c in ConnackReturnCode),
    (PacketType.CONNACK, MQTT_5): _codes("00 80 81 82 83 84 85 86 87 88 89 8A 8C 90 95 97 99 9A 9B 9C 9D 9F"),
    (PacketType.PUBACK, MQTT_5): _PUB_ACK,
    (PacketType.PUBREC, MQTT_5): _PUB_ACK,
    (PacketType.PUBREL, MQTT_5): _PUB_REL,
    (PacketType.PUBCOMP, MQTT_5): _PUB_REL,
    (PacketType.SUBACK, MQTT_311): _codes("00 01 02 80"),
    (PacketType.SUBACK, MQTT_5): _codes("00 01 02 80 83 87 8F 91 97 9E A1 A2"),
    (PacketType.UNSUBACK, MQTT_5): _codes("00 11 80 83 87 8F 91"),
    (PacketType.DISCONNECT, MQTT_5): _codes(
        "00 04 80 81 82 83 87 89 8B 8D 8E 8F 90 93 94 95 96 97 98 99 9A 9B 9C 9D 9E 9F A0 A1 A2"
    ),
    (PacketType.AUTH, MQTT_5): _codes("00 18 19"),
}


def allowed_reason_codes(packet_type: PacketType, version: int) -> FrozenSet[int]:
    """The reason codes (5.0) or return codes (3.1.1) ``packet_type`` may carry; empty when it carries none."""
    return _ALLOWED.get((packet_type, version), frozenset())
