"""MQTT 5.0 properties (§2.2.2): the 27 properties by identifier, type and the packets that may carry them, the
:class:`Properties` value object, and reading and writing a property block.

Rules enforced when reading: an unknown identifier or a property the packet may not carry is malformed (0x81); a
property given twice is a protocol error (0x82), except User Property everywhere and Subscription Identifier on a
PUBLISH; out-of-range values (a flag other than 0/1, a zero Receive Maximum, Maximum Packet Size, Topic Alias or
Subscription Identifier) are protocol errors.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, FrozenSet, List, NamedTuple, Optional, Tuple

from .codes import PacketType
from .errors import MqttError
from .wire import (
    MAX_VBI,
    Reader,
    write_binary,
    write_pair,
    write_u16,
    write_u32,
    write_utf8,
    write_vbi,
)

__all__ = ["PROPERTIES", "WILL", "Properties", "PropertySpec", "PropertyType", "read_properties", "write_properties"]

WILL = 0
"""The carrier key of the will properties inside CONNECT (0 is no packet type)."""

P = PacketType
_PUB = frozenset({P.PUBLISH, WILL})
_CONNECT_CONNACK = frozenset({P.CONNECT, P.CONNACK})
_ACKS_WITH_REASON = frozenset(
    {P.CONNACK, P.PUBACK, P.PUBREC, P.PUBREL, P.PUBCOMP, P.SUBACK, P.UNSUBACK, P.DISCONNECT, P.AUTH}
)
_EVERY = frozenset(
    {P.CONNECT, P.CONNACK, P.PUBLISH, WILL, P.PUBACK, P.PUBREC, P.PUBREL, P.PUBCOMP}
    | {P.SUBSCRIBE, P.SUBACK, P.UNSUBSCRIBE, P.UNSUBACK, P.DISCONNECT, P.AUTH}
)


class PropertyType(NamedTuple):
    """A property's data type: its name in the standard's terms, its reader and its writer."""

    name: str
    read: Callable[[Reader], Any]
    write: Callable[[Any], bytes]


_BYTE = PropertyType("byte", Reader.u8, lambda v: bytes((v,)))
_TWO = PropertyType("two-byte integer", Reader.u16, write_u16)
_FOUR = PropertyType("four-byte integer", Reader.u32, write_u32)
_VBI = PropertyType("variable byte integer", Reader.vbi, write_vbi)
_UTF8 = PropertyType("UTF-8 string", Reader.utf8, write_utf8)
_BINARY = PropertyType("binary data", Reader.binary, write_binary)
_PAIR = PropertyType("UTF-8 string pair", Reader.pair, write_pair)


def _flag(value: int) -> bool:
    return value in (0, 1)


def _positive(value: int) -> bool:
    return value > 0


def _subscription_id(value: int) -> bool:
    return 1 <= value <= MAX_VBI


class PropertySpec(NamedTuple):
    """One row of the property table."""

    identifier: int
    name: str  #: the :class:`Properties` attribute
    kind: PropertyType
    carriers: FrozenSet[int]  #: packet types (and :data:`WILL`) that may carry it
    check: Optional[Callable[[int], bool]] = None  #: a value test; False is a protocol error


PROPERTIES: Tuple[PropertySpec, ...] = (
    PropertySpec(0x01, "payload_format_indicator", _BYTE, _PUB, _flag),
    PropertySpec(0x02, "message_expiry_interval", _FOUR, _PUB),
    PropertySpec(0x03, "content_type", _UTF8, _PUB),
    PropertySpec(0x08, "response_topic", _UTF8, _PUB),
    PropertySpec(0x09, "correlation_data", _BINARY, _PUB),
    PropertySpec(0x0B, "subscription_identifiers", _VBI, frozenset({P.PUBLISH, P.SUBSCRIBE}), _subscription_id),
    PropertySpec(0x11, "session_expiry_interval", _FOUR, frozenset({P.CONNECT, P.CONNACK, P.DISCONNECT})),
    PropertySpec(0x12, "assigned_client_identifier", _UTF8, frozenset({P.CONNACK})),
    PropertySpec(0x13, "server_keep_alive", _TWO, frozenset({P.CONNACK})),
    PropertySpec(0x15, "authentication_method", _UTF8, frozenset({P.CONNECT, P.CONNACK, P.AUTH})),
    PropertySpec(0x16, "authentication_data", _BINARY, frozenset({P.CONNECT, P.CONNACK, P.AUTH})),
    PropertySpec(0x17, "request_problem_information", _BYTE, frozenset({P.CONNECT}), _flag),
    PropertySpec(0x18, "will_delay_interval", _FOUR, frozenset({WILL})),
    PropertySpec(0x19, "request_response_information", _BYTE, frozenset({P.CONNECT}), _flag),
    PropertySpec(0x1A, "response_information", _UTF8, frozenset({P.CONNACK})),
    PropertySpec(0x1C, "server_reference", _UTF8, frozenset({P.CONNACK, P.DISCONNECT})),
    PropertySpec(0x1F, "reason_string", _UTF8, _ACKS_WITH_REASON),
    PropertySpec(0x21, "receive_maximum", _TWO, _CONNECT_CONNACK, _positive),
    PropertySpec(0x22, "topic_alias_maximum", _TWO, _CONNECT_CONNACK),
    PropertySpec(0x23, "topic_alias", _TWO, frozenset({P.PUBLISH}), _positive),
    PropertySpec(0x24, "maximum_qos", _BYTE, frozenset({P.CONNACK}), _flag),
    PropertySpec(0x25, "retain_available", _BYTE, frozenset({P.CONNACK}), _flag),
    PropertySpec(0x26, "user_properties", _PAIR, _EVERY),
    PropertySpec(0x27, "maximum_packet_size", _FOUR, _CONNECT_CONNACK, _positive),
    PropertySpec(0x28, "wildcard_subscription_available", _BYTE, frozenset({P.CONNACK}), _flag),
    PropertySpec(0x29, "subscription_identifier_available", _BYTE, frozenset({P.CONNACK}), _flag),
    PropertySpec(0x2A, "shared_subscription_available", _BYTE, frozenset({P.CONNACK}), _flag),
)
"""The 27 MQTT 5.0 properties, in identifier order."""

_BY_ID: Dict[int, PropertySpec] = {spec.identifier: spec for spec in PROPERTIES}
_LISTS = frozenset({"user_properties", "subscription_identifiers"})


@dataclass
class Properties:
    """The properties of one packet (or of a will); None / empty = absent. Field names follow the standard."""

    payload_format_indicator: Optional[int] = None
    message_expiry_interval: Optional[int] = None
    content_type: Optional[str] = None
    response_topic: Optional[str] = None
    correlation_data: Optional[bytes] = None
    subscription_identifiers: List[int] = field(default_factory=list)
    session_expiry_interval: Optional[int] = None
    assigned_client_identifier: Optional[str] = None
    server_keep_alive: Optional[int] = None
    authentication_method: Optional[str] = None
    authentication_data: Optional[bytes] = None
    request_problem_information: Optional[int] = None
    will_delay_interval: Optional[int] = None
    request_response_information: Optional[int] = None
    response_information: Optional[str] = None
    server_reference: Optional[str] = None
    reason_string: Optional[str] = None
    receive_maximum: Optional[int] = None
    topic_alias_maximum: Optional[int] = None
    topic_alias: Optional[int] = None
    maximum_qos: Optional[int] = None
    retain_available: Optional[int] = None
    user_properties: List[Tuple[str, str]] = field(default_factory=list)
    maximum_packet_size: Optional[int] = None
    wildcard_subscription_available: Optional[int] = None
    subscription_identifier_available: Optional[int] = None
    shared_subscription_available: Optional[int] = None

    def is_empty(self) -> bool:
        """True when no property is set."""
        return self == _EMPTY

    def copy(self, **changes: Any) -> Properties:
        """A copy (lists copied too) with ``changes`` applied."""
        base = dataclasses.replace(
            self,
            user_properties=list(self.user_properties),
            subscription_identifiers=list(self.subscription_identifiers),
        )
        return dataclasses.replace(base, **changes)


_EMPTY = Properties()


def read_properties(reader: Reader, carrier: int) -> Properties:
    """Read a property block (its VBI length, then the properties) for ``carrier`` (a packet type or WILL)."""
    block = reader.sub(reader.vbi("the property length"), "the properties")
    props = Properties()
    seen: set[int] = set()
    while block.remaining:
        identifier = block.vbi("a property identifier")
        spec = _BY_ID.get(identifier)
        if spec is None:
            raise MqttError.malformed(f"unknown property 0x{identifier:02X}", version=block.version)
        if carrier not in spec.carriers:
            raise MqttError.malformed(f"property {spec.name} is not allowed here", version=block.version)
        repeatable = spec.name == "user_properties" or (
            spec.name == "subscription_identifiers" and carrier == P.PUBLISH
        )
        if identifier in seen and not repeatable:
            raise MqttError.protocol_error(f"property {spec.name} appears twice", version=block.version)
        seen.add(identifier)
        value = spec.kind.read(block)
        if spec.check is not None and not spec.check(value):
            raise MqttError.protocol_error(f"property {spec.name} has an invalid value", version=block.version)
        if spec.name in _LISTS:
            getattr(props, spec.name).append(value)
        else:
            setattr(props, spec.name, value)
    return props


def write_properties(props: Optional[Properties], carrier: int) -> bytes:
    """A property block (VBI length + properties) for ``carrier``; ``ValueError`` for a misplaced property."""
    if props is None or props.is_empty():
        return b"\x00"
    out = bytearray()
    for spec in PROPERTIES:
        value = getattr(props, spec.name)
        values = value if spec.name in _LISTS else ([] if value is None else [value])
        if values and carrier not in spec.carriers:
            raise ValueError(f"property {spec.name} cannot be sent in this packet")
        for item in values:
            out += write_vbi(spec.identifier)
            out += spec.kind.write(item)
    return write_vbi(len(out)) + bytes(out)
