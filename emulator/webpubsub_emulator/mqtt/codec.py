"""Encoding and decoding MQTT 3.1.1 and 5.0 control packets (fixed header, variable header, payload).

:func:`encode` turns a packet of :mod:`.packets` into the bytes of one packet for a protocol level; :func:`decode`
turns one packet's first byte and body back (the reassembly buffer in :mod:`.framing` finds the boundaries). Every
decoding problem raises :class:`~.errors.MqttError`; 3.1.1 encodings omit what 3.1.1 lacks (properties, codes 0).

``from_client`` says which side sent the packet: a packet type only the other side may send is malformed.
"""

from __future__ import annotations

from typing import Callable, Dict, FrozenSet, List, Optional, Tuple, Type

from .codes import MQTT_5, MQTT_311, VERSIONS, PacketType, ReasonCode, allowed_reason_codes
from .errors import MqttError
from .packets import (
    Auth,
    Connack,
    Connect,
    Disconnect,
    Packet,
    Pingreq,
    Pingresp,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    Subscription,
    Unsuback,
    Unsubscribe,
    Will,
    _Ack,
    _CodesAck,
    _ReasonOnly,
)
from .properties import WILL, Properties, read_properties, write_properties
from .wire import Reader, read_vbi_prefix, write_binary, write_u16, write_utf8, write_vbi

__all__ = ["decode", "decode_packet", "encode"]

T = PacketType

_FROM_CLIENT: FrozenSet[PacketType] = frozenset(
    {T.CONNECT, T.PUBLISH, T.PUBACK, T.PUBREC, T.PUBREL, T.PUBCOMP, T.SUBSCRIBE, T.UNSUBSCRIBE, T.PINGREQ}
    | {T.DISCONNECT, T.AUTH}
)
_FROM_SERVER: FrozenSet[PacketType] = frozenset(
    {T.CONNACK, T.PUBLISH, T.PUBACK, T.PUBREC, T.PUBREL, T.PUBCOMP, T.SUBACK, T.UNSUBACK, T.PINGRESP}
    | {T.DISCONNECT, T.AUTH}
)
_ONLY_5: FrozenSet[Tuple[PacketType, bool]] = frozenset({(T.AUTH, True), (T.AUTH, False), (T.DISCONNECT, False)})
# Fixed-header flags every type but PUBLISH must carry.
_FLAGS: Dict[PacketType, int] = {t: (0b0010 if t in (T.PUBREL, T.SUBSCRIBE, T.UNSUBSCRIBE) else 0) for t in T}


def encode(packet: Packet, version: int) -> bytes:
    """The bytes of ``packet`` at protocol level ``version`` (4 or 5), with a minimal Remaining Length."""
    if version not in VERSIONS:
        raise ValueError(f"unsupported protocol level {version}")
    encoder = _ENCODERS[type(packet)]
    flags, body = encoder(packet, version)
    return bytes(((packet.TYPE << 4) | flags,)) + write_vbi(len(body)) + body


def decode(first_byte: int, body: bytes, version: Optional[int], *, from_client: bool = True) -> Packet:
    """Decode one packet from its first byte and body.

    ``version`` is the connection's protocol level; None before CONNECT, when only a CONNECT is accepted (it gives
    its own level).
    """
    try:
        kind = PacketType(first_byte >> 4)
    except ValueError:
        raise MqttError.malformed("reserved packet type 0", version=version) from None
    if version is None and kind != T.CONNECT:
        raise MqttError.protocol_error("the first packet must be CONNECT")
    if kind not in (_FROM_CLIENT if from_client else _FROM_SERVER) or (
        version == MQTT_311 and (kind, from_client) in _ONLY_5
    ):
        side = "a client" if from_client else "the server"
        raise MqttError.malformed(f"{kind.name} cannot come from {side}", version=version)
    flags = first_byte & 0x0F
    if kind != T.PUBLISH and flags != _FLAGS[kind]:
        raise MqttError.malformed(f"{kind.name} has invalid fixed-header flags", version=version)
    reader = Reader(body, version=version)
    return _DECODERS[kind](reader, flags, version or MQTT_311, from_client)


def decode_packet(data: bytes, version: Optional[int], *, from_client: bool = True) -> Packet:
    """Decode exactly one whole packet (fixed header included); trailing or missing bytes are malformed."""
    header = read_vbi_prefix(data, 1) if data else None
    if header is None or 1 + header[1] + header[0] != len(data):
        raise MqttError.malformed("the bytes are not exactly one packet", version=version)
    return decode(data[0], data[1 + header[1] :], version, from_client=from_client)


# --------------------------------------------------------------------------------------------- helpers


def _props(reader: Reader, version: int, carrier: int) -> Properties:
    return read_properties(reader, carrier) if version == MQTT_5 else Properties()


def _wprops(props: Properties, version: int, carrier: int) -> bytes:
    return write_properties(props, carrier) if version == MQTT_5 else b""


def _packet_id(reader: Reader) -> int:
    value = reader.u16("the packet identifier")
    if value == 0:
        raise MqttError.malformed("packet identifier 0", version=reader.version)
    return value


def _reason(reader: Reader, kind: PacketType, version: int) -> int:
    code = reader.u8("the reason code")
    if code not in allowed_reason_codes(kind, version):
        raise MqttError.malformed(f"reason code 0x{code:02X} is not valid in {kind.name}", version=version)
    return code


def _reason_and_properties(r: Reader, kind: PacketType, version: int) -> Tuple[int, Properties]:
    """The rest of a 5.0 ack or DISCONNECT/AUTH: a reason code and properties, each omittable from the end."""
    code, properties = 0, Properties()
    if version == MQTT_5 and r.remaining:
        code = _reason(r, kind, version)
        if r.remaining:
            properties = read_properties(r, kind)
    r.expect_end(kind.name)
    return code, properties


def _check_qos(qos: int, what: str, version: Optional[int]) -> int:
    if qos == 3:
        raise MqttError.malformed(f"{what} QoS 3", version=version)
    return qos


def _write_code(code: int, version: int, kind: PacketType) -> int:
    if version == MQTT_311 and code:
        raise ValueError(f"MQTT 3.1.1 {kind.name} carries no reason code")
    return code


# --------------------------------------------------------------------------------------------- CONNECT


def _decode_connect(r: Reader, flags: int, version: int, from_client: bool) -> Connect:
    r.version = None
    name = r.utf8("the protocol name")
    level = r.u8("the protocol level")
    if (name == "MQTT" and level not in VERSIONS) or (name == "MQIsdp" and level == 3):
        raise MqttError(ReasonCode.UNSUPPORTED_PROTOCOL_VERSION, f"unsupported protocol level {level}")
    if name != "MQTT":
        raise MqttError.malformed("the protocol name is not MQTT")
    r.version = level
    bits = r.u8("the connect flags")
    will_flag, will_qos, will_retain = bool(bits & 0x04), (bits >> 3) & 0x03, bool(bits & 0x20)
    has_password, has_username = bool(bits & 0x40), bool(bits & 0x80)
    if bits & 0x01:
        raise MqttError.malformed("the reserved connect flag is set", version=level)
    _check_qos(will_qos, "will", level)
    if not will_flag and (will_qos or will_retain):
        raise MqttError.malformed("will QoS or retain without the will flag", version=level)
    if level == MQTT_311 and has_password and not has_username:
        raise MqttError.malformed("password without user name", version=level)
    keep_alive = r.u16("the keep alive")
    properties = _props(r, level, T.CONNECT)
    client_id = r.utf8("the client identifier")
    will = None
    if will_flag:
        will_props = _props(r, level, WILL)
        will = Will(r.utf8("the will topic"), r.binary("the will payload"), will_qos, will_retain, will_props)
    username = r.utf8("the user name") if has_username else None
    password = r.binary("the password") if has_password else None
    r.expect_end("CONNECT")
    return Connect(client_id, level, bool(bits & 0x02), keep_alive, will, username, password, properties, name)


def _encode_connect(p: Connect, version: int) -> Tuple[int, bytes]:
    level = p.protocol_level
    bits = (0x02 if p.clean_start else 0) | (0x80 if p.username is not None else 0)
    bits |= 0x40 if p.password is not None else 0
    out = bytearray(write_utf8(p.protocol_name) + bytes((level,)))
    tail = bytearray(write_utf8(p.client_id))
    if p.will is not None:
        bits |= 0x04 | (_check_qos(p.will.qos, "will", level) << 3) | (0x20 if p.will.retain else 0)
        tail += _wprops(p.will.properties, level, WILL) + write_utf8(p.will.topic) + write_binary(p.will.payload)
    if p.username is not None:
        tail += write_utf8(p.username)
    if p.password is not None:
        tail += write_binary(p.password)
    out += bytes((bits,)) + write_u16(p.keep_alive) + _wprops(p.properties, level, T.CONNECT) + tail
    return 0, bytes(out)


# --------------------------------------------------------------------------------------------- CONNACK


def _decode_connack(r: Reader, flags: int, version: int, from_client: bool) -> Connack:
    ack_flags = r.u8("the acknowledge flags")
    if ack_flags & 0xFE:
        raise MqttError.malformed("reserved CONNACK flags are set", version=version)
    code = _reason(r, T.CONNACK, version)
    if code and ack_flags:
        raise MqttError.protocol_error("a refusing CONNACK has Session Present 1", version=version)
    properties = _props(r, version, T.CONNACK)
    r.expect_end("CONNACK")
    return Connack(code, bool(ack_flags), properties)


def _encode_connack(p: Connack, version: int) -> Tuple[int, bytes]:
    return 0, bytes((1 if p.session_present else 0, p.code)) + _wprops(p.properties, version, T.CONNACK)


# --------------------------------------------------------------------------------------------- PUBLISH


def _decode_publish(r: Reader, flags: int, version: int, from_client: bool) -> Publish:
    dup, qos, retain = bool(flags & 0x08), _check_qos((flags >> 1) & 0x03, "PUBLISH", version), bool(flags & 0x01)
    if dup and qos == 0:
        raise MqttError.malformed("DUP set on a QoS 0 PUBLISH", version=version)
    topic = r.utf8("the topic name")
    packet_id = _packet_id(r) if qos else None
    properties = _props(r, version, T.PUBLISH)
    if from_client and properties.subscription_identifiers:
        raise MqttError.protocol_error("a client PUBLISH carries a Subscription Identifier", version=version)
    if not topic and properties.topic_alias is None:
        raise MqttError.protocol_error("empty topic name without a Topic Alias", version=version)
    return Publish(topic, r.rest(), qos, retain, dup, packet_id, properties)


def _encode_publish(p: Publish, version: int) -> Tuple[int, bytes]:
    flags = (0x08 if p.dup else 0) | (_check_qos(p.qos, "PUBLISH", version) << 1) | (0x01 if p.retain else 0)
    if (p.packet_id is None) != (p.qos == 0):
        raise ValueError("a PUBLISH has a packet identifier exactly when its QoS is above 0")
    head = write_utf8(p.topic) + (write_u16(p.packet_id) if p.packet_id is not None else b"")
    return flags, head + _wprops(p.properties, version, T.PUBLISH) + bytes(p.payload)


# --------------------------------------------------------------------------------------------- PUBACK … PUBCOMP


def _ack_decoder(cls: Type[_Ack]) -> Callable[[Reader, int, int, bool], Packet]:
    def decode_ack(r: Reader, flags: int, version: int, from_client: bool) -> Packet:
        packet_id = _packet_id(r)
        return cls(packet_id, *_reason_and_properties(r, cls.TYPE, version))  # type: ignore[return-value]

    return decode_ack


def _encode_ack(p: _Ack, version: int) -> Tuple[int, bytes]:
    kind = p.TYPE
    body = write_u16(p.packet_id)
    _write_code(p.code, version, kind)
    if version == MQTT_5 and not p.properties.is_empty():
        body += bytes((p.code,)) + write_properties(p.properties, kind)
    elif version == MQTT_5 and p.code:
        body += bytes((p.code,))
    return _FLAGS[kind], body


# --------------------------------------------------------------------------------------------- SUBSCRIBE …


def _decode_subscribe(r: Reader, flags: int, version: int, from_client: bool) -> Subscribe:
    packet_id = _packet_id(r)
    properties = _props(r, version, T.SUBSCRIBE)
    subscriptions: List[Subscription] = []
    while r.remaining:
        topic_filter = r.utf8("a topic filter")
        options = r.u8("the subscription options")
        if not topic_filter:
            raise MqttError.malformed("empty topic filter", version=version)
        if options & (0xFC if version == MQTT_311 else 0xC0):
            raise MqttError.malformed("reserved subscription option bits are set", version=version)
        qos, retain_handling = _check_qos(options & 0x03, "requested", version), (options >> 4) & 0x03
        if retain_handling == 3:
            raise MqttError.protocol_error("Retain Handling 3", version=version)
        subscriptions.append(
            Subscription(topic_filter, qos, bool(options & 0x04), bool(options & 0x08), retain_handling)
        )
    if not subscriptions:
        raise MqttError.protocol_error("SUBSCRIBE without a topic filter", version=version)
    return Subscribe(packet_id, subscriptions, properties)


def _encode_subscribe(p: Subscribe, version: int) -> Tuple[int, bytes]:
    body = bytearray(write_u16(p.packet_id) + _wprops(p.properties, version, T.SUBSCRIBE))
    for s in p.subscriptions:
        options = s.qos
        if version == MQTT_5:
            options |= (0x04 if s.no_local else 0) | (0x08 if s.retain_as_published else 0) | (s.retain_handling << 4)
        body += write_utf8(s.topic_filter) + bytes((options,))
    return _FLAGS[T.SUBSCRIBE], bytes(body)


def _codes_decoder(cls: Type[_CodesAck]) -> Callable[[Reader, int, int, bool], Packet]:
    def decode_codes(r: Reader, flags: int, version: int, from_client: bool) -> Packet:
        packet_id = _packet_id(r)
        properties = _props(r, version, cls.TYPE)
        codes: List[int] = []
        if cls is Suback or version == MQTT_5:
            while r.remaining:
                codes.append(_reason(r, cls.TYPE, version))
            if not codes:
                raise MqttError.malformed(f"{cls.TYPE.name} without a reason code", version=version)
        r.expect_end(cls.TYPE.name)
        return cls(packet_id, codes, properties)  # type: ignore[return-value]

    return decode_codes


def _encode_codes(p: _CodesAck, version: int) -> Tuple[int, bytes]:
    codes = p.codes if isinstance(p, Suback) or version == MQTT_5 else []
    return 0, write_u16(p.packet_id) + _wprops(p.properties, version, p.TYPE) + bytes(codes)


def _decode_unsubscribe(r: Reader, flags: int, version: int, from_client: bool) -> Unsubscribe:
    packet_id = _packet_id(r)
    properties = _props(r, version, T.UNSUBSCRIBE)
    filters: List[str] = []
    while r.remaining:
        topic_filter = r.utf8("a topic filter")
        if not topic_filter:
            raise MqttError.malformed("empty topic filter", version=version)
        filters.append(topic_filter)
    if not filters:
        raise MqttError.protocol_error("UNSUBSCRIBE without a topic filter", version=version)
    return Unsubscribe(packet_id, filters, properties)


def _encode_unsubscribe(p: Unsubscribe, version: int) -> Tuple[int, bytes]:
    body = write_u16(p.packet_id) + _wprops(p.properties, version, T.UNSUBSCRIBE)
    return _FLAGS[T.UNSUBSCRIBE], body + b"".join(write_utf8(f) for f in p.topic_filters)


# --------------------------------------------------------------------------------------------- PING, DISCONNECT, AUTH


def _empty_decoder(cls: Type[Pingreq] | Type[Pingresp]) -> Callable[[Reader, int, int, bool], Packet]:
    def decode_empty(r: Reader, flags: int, version: int, from_client: bool) -> Packet:
        r.expect_end(cls.TYPE.name)
        return cls()

    return decode_empty


def _encode_empty(p: Pingreq | Pingresp, version: int) -> Tuple[int, bytes]:
    return 0, b""


def _reason_decoder(cls: Type[_ReasonOnly]) -> Callable[[Reader, int, int, bool], Packet]:
    def decode_reason(r: Reader, flags: int, version: int, from_client: bool) -> Packet:
        return cls(*_reason_and_properties(r, cls.TYPE, version))  # type: ignore[return-value]

    return decode_reason


def _encode_reason(p: _ReasonOnly, version: int) -> Tuple[int, bytes]:
    _write_code(p.code, version, p.TYPE)
    if version == MQTT_311:
        return 0, b""
    if p.properties.is_empty() and not p.code:
        return 0, b""
    if p.properties.is_empty() and isinstance(p, Disconnect):  # only DISCONNECT may omit the property length
        return 0, bytes((p.code,))
    return 0, bytes((p.code,)) + write_properties(p.properties, p.TYPE)


_DECODERS: Dict[PacketType, Callable[[Reader, int, int, bool], Packet]] = {
    T.CONNECT: _decode_connect,
    T.CONNACK: _decode_connack,
    T.PUBLISH: _decode_publish,
    T.PUBACK: _ack_decoder(Puback),
    T.PUBREC: _ack_decoder(Pubrec),
    T.PUBREL: _ack_decoder(Pubrel),
    T.PUBCOMP: _ack_decoder(Pubcomp),
    T.SUBSCRIBE: _decode_subscribe,
    T.SUBACK: _codes_decoder(Suback),
    T.UNSUBSCRIBE: _decode_unsubscribe,
    T.UNSUBACK: _codes_decoder(Unsuback),
    T.PINGREQ: _empty_decoder(Pingreq),
    T.PINGRESP: _empty_decoder(Pingresp),
    T.DISCONNECT: _reason_decoder(Disconnect),
    T.AUTH: _reason_decoder(Auth),
}

_ENCODERS: Dict[type, Callable[..., Tuple[int, bytes]]] = {
    Connect: _encode_connect,
    Connack: _encode_connack,
    Publish: _encode_publish,
    Puback: _encode_ack,
    Pubrec: _encode_ack,
    Pubrel: _encode_ack,
    Pubcomp: _encode_ack,
    Subscribe: _encode_subscribe,
    Suback: _encode_codes,
    Unsubscribe: _encode_unsubscribe,
    Unsuback: _encode_codes,
    Pingreq: _encode_empty,
    Pingresp: _encode_empty,
    Disconnect: _encode_reason,
    Auth: _encode_reason,
}
