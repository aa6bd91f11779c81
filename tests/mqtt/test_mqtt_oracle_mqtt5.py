"""MQTT 5.0 against an independent codec, mqtt5 0.8.0 (Rust): it reads what we write as we meant it, and we read
what it writes back. Collected on CPython >= 3.11 only (see conftest.py)."""

from __future__ import annotations

import dataclasses
from typing import Any

import mqtt5
from hypothesis import given
from hypothesis import strategies as st
from mqtt_support import client_packets, mqtt_settings, server_packets
from webpubsub_emulator.mqtt import (
    MQTT_5,
    Auth,
    Connack,
    Connect,
    Disconnect,
    Packet,
    Pingreq,
    Pingresp,
    Properties,
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
    decode_packet,
    encode,
)
from webpubsub_emulator.mqtt.properties import PROPERTIES

# Per packet, the properties mqtt5 treats as absent when they hold the standard's default (it never writes them).
_DEFAULTS = {
    "CONNECT": {
        "session_expiry_interval": 0,
        "receive_maximum": 65535,
        "topic_alias_maximum": 0,
        "request_problem_information": 1,
        "request_response_information": 0,
    },
    "WILL": {"payload_format_indicator": 0, "will_delay_interval": 0},
    "PUBLISH": {"payload_format_indicator": 0},
    "CONNACK": {
        "receive_maximum": 65535,
        "topic_alias_maximum": 0,
        "retain_available": 1,
        "wildcard_subscription_available": 1,
        "subscription_identifier_available": 1,
        "shared_subscription_available": 1,
    },
}


def _without_defaults(props: Properties, carrier: str) -> Properties:
    defaults = _DEFAULTS.get(carrier, {})
    return dataclasses.replace(
        props, **{name: None for name, value in defaults.items() if getattr(props, name) == value}
    )


def normalized(packet: Packet) -> Packet:
    """``packet`` as mqtt5 models it (standard defaults absent)."""
    if isinstance(packet, Connect) and packet.will is not None:
        will = dataclasses.replace(packet.will, properties=_without_defaults(packet.will.properties, "WILL"))
        packet = dataclasses.replace(packet, will=will)
    if hasattr(packet, "properties"):
        props = _without_defaults(packet.properties, packet.TYPE.name)
        packet = dataclasses.replace(packet, properties=props)  # type: ignore[arg-type]
    return packet


# Our property name -> mqtt5's attribute name, where they differ.
_ATTRS = {
    "request_problem_information": "request_problem_info",
    "request_response_information": "request_response_info",
    "receive_maximum": "receive_max",
    "topic_alias_maximum": "topic_alias_max",
    "maximum_packet_size": "max_packet_size",
    "maximum_qos": "max_qos",
    "assigned_client_identifier": "assigned_client_id",
    "response_information": "response_info",
    "reason_string": "reason_str",
    "subscription_identifier_available": "subscription_id_available",
    "subscription_identifiers": "subscription_ids",
}
_MAX_QOS_DEFAULT = 2  # mqtt5's CONNACK Maximum QoS when absent


def _properties(m: Any, carrier: str) -> Properties:
    """The properties of mqtt5 object ``m`` (a packet or a will) as ours; its defaults become absent."""
    props = Properties()
    defaults = {**_DEFAULTS.get(carrier, {}), "maximum_qos": _MAX_QOS_DEFAULT}
    for spec in PROPERTIES:
        attr = _ATTRS.get(spec.name, spec.name)
        if spec.name == "subscription_identifiers" and carrier == "SUBSCRIBE":
            attr = "subscription_id"
        if not hasattr(m, attr):
            continue
        value = getattr(m, attr)
        if spec.name == "user_properties":
            props.user_properties = [tuple(pair) for pair in value]
        elif spec.name == "subscription_identifiers":
            props.subscription_identifiers = (
                list(value) if isinstance(value, list) else [] if value is None else [value]
            )
        else:
            value = int(value) if isinstance(value, int) else value  # bools and enums as plain ints
            if value is not None and value != defaults.get(spec.name):
                setattr(props, spec.name, value)
    return props


_ACKS = {
    mqtt5.PubAckPacket: Puback,
    mqtt5.PubRecPacket: Pubrec,
    mqtt5.PubRelPacket: Pubrel,
    mqtt5.PubCompPacket: Pubcomp,
}
_REASON_ONLY = {mqtt5.DisconnectPacket: Disconnect, mqtt5.AuthPacket: Auth}


def ours(m: Any) -> Packet:
    """An mqtt5 packet as ours."""
    if isinstance(m, mqtt5.ConnectPacket):
        will = None
        if m.will is not None:
            w = m.will
            will = Will(w.topic, w.payload or b"", int(w.qos), w.retain, _properties(w, "WILL"))
        props = _properties(m, "CONNECT")
        return Connect(m.client_id, MQTT_5, m.clean_start, m.keep_alive, will, m.username, m.password, props)
    if isinstance(m, mqtt5.ConnAckPacket):
        return Connack(int(m.reason_code), m.session_present, _properties(m, "CONNACK"))
    if isinstance(m, mqtt5.PublishPacket):
        props = _properties(m, "PUBLISH")
        return Publish(m.topic, m.payload, int(m.qos), m.retain, m.duplicate, m.packet_id, props)
    if type(m) in _ACKS:
        return _ACKS[type(m)](m.packet_id, int(m.reason_code), _properties(m, "ACK"))  # type: ignore[no-any-return]
    if isinstance(m, mqtt5.SubscribePacket):
        subs = [
            Subscription(f.pattern, int(f.max_qos), f.no_local, f.retain_as_published, int(f.retain_handling))
            for f in m.topic_filters
        ]
        return Subscribe(m.packet_id, subs, _properties(m, "SUBSCRIBE"))
    if isinstance(m, (mqtt5.SubAckPacket, mqtt5.UnsubAckPacket)):
        cls = Suback if isinstance(m, mqtt5.SubAckPacket) else Unsuback
        return cls(m.packet_id, [int(c) for c in m.reason_codes], _properties(m, "ACK"))
    if isinstance(m, mqtt5.UnsubscribePacket):
        return Unsubscribe(m.packet_id, list(m.patterns), _properties(m, "UNSUBSCRIBE"))
    if type(m) in _REASON_ONLY:
        return _REASON_ONLY[type(m)](int(m.reason_code), _properties(m, "REASON"))  # type: ignore[no-any-return]
    return {mqtt5.PingReqPacket: Pingreq, mqtt5.PingRespPacket: Pingresp}[type(m)]()  # type: ignore[no-any-return]


def _cross_check(packet: Packet, from_client: bool) -> None:
    packet = normalized(packet)
    data = encode(packet, MQTT_5)
    if data == b"\xf0\x00":  # mqtt5 refuses the short AUTH that 5.0 §3.15.2.1 allows; it writes the long form
        assert decode_packet(mqtt5.AuthPacket().write(), MQTT_5, from_client=from_client) == packet
        return
    theirs, used = mqtt5.read(memoryview(data))
    assert used == len(data)
    assert ours(theirs) == packet  # mqtt5 reads our bytes as we meant them
    rewritten = theirs.write()
    level = None if isinstance(packet, Connect) else MQTT_5
    assert decode_packet(rewritten, level, from_client=from_client) == packet  # we read what mqtt5 writes


@mqtt_settings(400)
@given(st.data())
def test_client_packets_against_mqtt5(data: st.DataObject) -> None:
    _cross_check(data.draw(client_packets(MQTT_5)), True)


@mqtt_settings(400)
@given(st.data())
def test_server_packets_against_mqtt5(data: st.DataObject) -> None:
    _cross_check(data.draw(server_packets(MQTT_5)), False)


def test_mqtt5_decodes_the_connack_the_emulator_announces() -> None:
    from webpubsub_emulator.mqtt.connect import accept

    connack = accept(
        Connect("", MQTT_5, properties=Properties(session_expiry_interval=3600)), "ab12", session_present=False
    )
    theirs, _ = mqtt5.read(memoryview(encode(connack, MQTT_5)))
    assert theirs.retain_available is False
    assert theirs.max_packet_size == 1024 * 1024
    assert theirs.assigned_client_id == "ab12"
    assert theirs.session_expiry_interval == 30


def test_mqtt5_refuses_level_4_as_the_sheet_says() -> None:
    data = encode(Connect("c1", 4), 4)
    try:
        mqtt5.read(memoryview(data))
    except Exception as error:  # mqtt5 raises its own ValueError subclass
        assert "version" in str(error).lower() or "protocol" in str(error).lower()
    else:
        raise AssertionError("mqtt5 decoded a 3.1.1 CONNECT")
