"""MQTT 5.0 against an independent codec, mqtt5 0.8.0 (Rust): it reads what we write as we meant it, and we read
what it writes back. Collected on CPython >= 3.11 only (see conftest.py)."""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

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


def _user(m: Any) -> list:
    return [tuple(p) for p in m.user_properties]


def _opt(value: Any, default: Any) -> Any:
    return None if value == default else value


def _int(value: Any) -> Optional[int]:
    return None if value is None else int(value)


def ours(m: Any) -> Packet:
    """An mqtt5 packet as ours."""
    if isinstance(m, mqtt5.ConnectPacket):
        will = None
        if m.will is not None:
            w = m.will
            will = Will(
                w.topic,
                w.payload or b"",
                int(w.qos),
                w.retain,
                Properties(
                    payload_format_indicator=_opt(w.payload_format_indicator, 0),
                    message_expiry_interval=w.message_expiry_interval,
                    content_type=w.content_type,
                    response_topic=w.response_topic,
                    correlation_data=w.correlation_data,
                    will_delay_interval=_opt(w.will_delay_interval, 0),
                    user_properties=[tuple(p) for p in w.user_properties],
                ),
            )
        return Connect(
            m.client_id,
            MQTT_5,
            m.clean_start,
            m.keep_alive,
            will,
            m.username,
            m.password,
            Properties(
                session_expiry_interval=_opt(m.session_expiry_interval, 0),
                authentication_method=m.authentication_method,
                authentication_data=m.authentication_data,
                request_problem_information=_opt(int(m.request_problem_info), 1),
                request_response_information=_opt(int(m.request_response_info), 0),
                receive_maximum=_opt(m.receive_max, 65535),
                topic_alias_maximum=_opt(m.topic_alias_max, 0),
                maximum_packet_size=m.max_packet_size,
                user_properties=_user(m),
            ),
        )
    if isinstance(m, mqtt5.ConnAckPacket):
        return Connack(
            int(m.reason_code),
            m.session_present,
            Properties(
                session_expiry_interval=m.session_expiry_interval,
                assigned_client_identifier=m.assigned_client_id,
                server_keep_alive=m.server_keep_alive,
                authentication_method=m.authentication_method,
                authentication_data=m.authentication_data,
                response_information=m.response_info,
                server_reference=m.server_reference,
                reason_string=m.reason_str,
                receive_maximum=_opt(m.receive_max, 65535),
                topic_alias_maximum=_opt(m.topic_alias_max, 0),
                maximum_qos=_opt(int(m.max_qos), 2),
                retain_available=_opt(int(m.retain_available), 1),
                maximum_packet_size=m.max_packet_size,
                wildcard_subscription_available=_opt(int(m.wildcard_subscription_available), 1),
                subscription_identifier_available=_opt(int(m.subscription_id_available), 1),
                shared_subscription_available=_opt(int(m.shared_subscription_available), 1),
                user_properties=_user(m),
            ),
        )
    if isinstance(m, mqtt5.PublishPacket):
        return Publish(
            m.topic,
            m.payload,
            int(m.qos),
            m.retain,
            m.duplicate,
            m.packet_id,
            Properties(
                payload_format_indicator=_opt(m.payload_format_indicator, 0),
                message_expiry_interval=m.message_expiry_interval,
                content_type=m.content_type,
                response_topic=m.response_topic,
                correlation_data=m.correlation_data,
                subscription_identifiers=list(m.subscription_ids),
                topic_alias=m.topic_alias,
                user_properties=_user(m),
            ),
        )
    acks = {
        mqtt5.PubAckPacket: Puback,
        mqtt5.PubRecPacket: Pubrec,
        mqtt5.PubRelPacket: Pubrel,
        mqtt5.PubCompPacket: Pubcomp,
    }
    for cls, our in acks.items():
        if isinstance(m, cls):
            return our(
                m.packet_id, int(m.reason_code), Properties(reason_string=m.reason_str, user_properties=_user(m))
            )
    if isinstance(m, mqtt5.SubscribePacket):
        subs = [
            Subscription(f.pattern, int(f.max_qos), f.no_local, f.retain_as_published, int(f.retain_handling))
            for f in m.topic_filters
        ]
        ids = [] if m.subscription_id is None else [m.subscription_id]
        return Subscribe(m.packet_id, subs, Properties(subscription_identifiers=ids, user_properties=_user(m)))
    if isinstance(m, (mqtt5.SubAckPacket, mqtt5.UnsubAckPacket)):
        cls = Suback if isinstance(m, mqtt5.SubAckPacket) else Unsuback
        codes = [int(c) for c in m.reason_codes]
        return cls(m.packet_id, codes, Properties(reason_string=m.reason_str, user_properties=_user(m)))
    if isinstance(m, mqtt5.UnsubscribePacket):
        return Unsubscribe(m.packet_id, list(m.patterns), Properties(user_properties=_user(m)))
    if isinstance(m, mqtt5.PingReqPacket):
        return Pingreq()
    if isinstance(m, mqtt5.PingRespPacket):
        return Pingresp()
    if isinstance(m, mqtt5.DisconnectPacket):
        return Disconnect(
            int(m.reason_code),
            Properties(
                session_expiry_interval=m.session_expiry_interval,
                server_reference=m.server_reference,
                reason_string=m.reason_str,
                user_properties=_user(m),
            ),
        )
    if isinstance(m, mqtt5.AuthPacket):
        return Auth(
            int(m.reason_code),
            Properties(
                authentication_method=m.authentication_method,
                authentication_data=m.authentication_data,
                reason_string=m.reason_str,
                user_properties=_user(m),
            ),
        )
    raise AssertionError(f"unexpected mqtt5 packet {m!r}")


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
