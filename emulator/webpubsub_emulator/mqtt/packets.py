"""The MQTT control packets as plain value objects, one class per packet type, shared by 3.1.1 and 5.0.

Fields 3.1.1 lacks (properties, most reason codes) keep their defaults there. ``qos`` is 0, 1 or 2; packet ids are
1-65535. :mod:`.codec` turns these into bytes and back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, List, Optional, Union

from .codes import PacketType
from .properties import Properties

__all__ = [
    "Auth",
    "Connack",
    "Connect",
    "Disconnect",
    "Packet",
    "Pingreq",
    "Pingresp",
    "Puback",
    "Pubcomp",
    "Publish",
    "Pubrec",
    "Pubrel",
    "Suback",
    "Subscribe",
    "Subscription",
    "Unsuback",
    "Unsubscribe",
    "Will",
]


@dataclass
class Will:
    """The will message of a CONNECT."""

    topic: str
    payload: bytes = b""
    qos: int = 0
    retain: bool = False
    properties: Properties = field(default_factory=Properties)


@dataclass
class Connect:
    """CONNECT. ``protocol_level`` is 4 (3.1.1) or 5 (5.0); ``clean_start`` is 3.1.1's Clean Session."""

    TYPE: ClassVar[PacketType] = PacketType.CONNECT
    client_id: str = ""
    protocol_level: int = 4
    clean_start: bool = True
    keep_alive: int = 60
    will: Optional[Will] = None
    username: Optional[str] = None
    password: Optional[bytes] = None
    properties: Properties = field(default_factory=Properties)
    protocol_name: str = "MQTT"


@dataclass
class Connack:
    """CONNACK. ``code`` is the 3.1.1 return code or the 5.0 reason code."""

    TYPE: ClassVar[PacketType] = PacketType.CONNACK
    code: int = 0
    session_present: bool = False
    properties: Properties = field(default_factory=Properties)


@dataclass
class Publish:
    """PUBLISH. ``packet_id`` is None exactly when ``qos`` is 0."""

    TYPE: ClassVar[PacketType] = PacketType.PUBLISH
    topic: str
    payload: bytes = b""
    qos: int = 0
    retain: bool = False
    dup: bool = False
    packet_id: Optional[int] = None
    properties: Properties = field(default_factory=Properties)


@dataclass
class _Ack:
    TYPE: ClassVar[PacketType]
    packet_id: int
    code: int = 0
    properties: Properties = field(default_factory=Properties)


@dataclass
class Puback(_Ack):
    """PUBACK (QoS 1 acknowledgment)."""

    TYPE: ClassVar[PacketType] = PacketType.PUBACK


@dataclass
class Pubrec(_Ack):
    """PUBREC (QoS 2, step 1)."""

    TYPE: ClassVar[PacketType] = PacketType.PUBREC


@dataclass
class Pubrel(_Ack):
    """PUBREL (QoS 2, step 2)."""

    TYPE: ClassVar[PacketType] = PacketType.PUBREL


@dataclass
class Pubcomp(_Ack):
    """PUBCOMP (QoS 2, step 3)."""

    TYPE: ClassVar[PacketType] = PacketType.PUBCOMP


@dataclass
class Subscription:
    """One topic filter of a SUBSCRIBE with its options (3.1.1 has the QoS only)."""

    topic_filter: str
    qos: int = 0
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: int = 0


@dataclass
class Subscribe:
    """SUBSCRIBE."""

    TYPE: ClassVar[PacketType] = PacketType.SUBSCRIBE
    packet_id: int
    subscriptions: List[Subscription]
    properties: Properties = field(default_factory=Properties)


@dataclass
class _CodesAck:
    TYPE: ClassVar[PacketType]
    packet_id: int
    codes: List[int] = field(default_factory=list)
    properties: Properties = field(default_factory=Properties)


@dataclass
class Suback(_CodesAck):
    """SUBACK: one code per filter (granted QoS or a failure code)."""

    TYPE: ClassVar[PacketType] = PacketType.SUBACK


@dataclass
class Unsubscribe:
    """UNSUBSCRIBE."""

    TYPE: ClassVar[PacketType] = PacketType.UNSUBSCRIBE
    packet_id: int
    topic_filters: List[str]
    properties: Properties = field(default_factory=Properties)


@dataclass
class Unsuback(_CodesAck):
    """UNSUBACK: 5.0 has one code per filter, 3.1.1 none (``codes`` stays empty)."""

    TYPE: ClassVar[PacketType] = PacketType.UNSUBACK


@dataclass
class Pingreq:
    """PINGREQ."""

    TYPE: ClassVar[PacketType] = PacketType.PINGREQ


@dataclass
class Pingresp:
    """PINGRESP."""

    TYPE: ClassVar[PacketType] = PacketType.PINGRESP


@dataclass
class _ReasonOnly:
    TYPE: ClassVar[PacketType]
    code: int = 0
    properties: Properties = field(default_factory=Properties)


@dataclass
class Disconnect(_ReasonOnly):
    """DISCONNECT (3.1.1: client only and without fields)."""

    TYPE: ClassVar[PacketType] = PacketType.DISCONNECT


@dataclass
class Auth(_ReasonOnly):
    """AUTH (5.0 enhanced authentication; decoded so that it can be refused)."""

    TYPE: ClassVar[PacketType] = PacketType.AUTH


Packet = Union[
    Connect,
    Connack,
    Publish,
    Puback,
    Pubrec,
    Pubrel,
    Pubcomp,
    Subscribe,
    Suback,
    Unsubscribe,
    Unsuback,
    Pingreq,
    Pingresp,
    Disconnect,
    Auth,
]
"""Any MQTT control packet."""
