"""Against npm mqtt-packet 9.0.2 (run by Node): 3.1.1 property-tested both ways, 5.0 on one packet of each type."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mqtt_support import NodeOracle, client_packets, hexed, mqtt_settings, server_packets, unhexed
from webpubsub_emulator.mqtt import (
    MQTT_5,
    MQTT_311,
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

_CMD = {
    Connect: "connect", Connack: "connack", Publish: "publish", Puback: "puback", Pubrec: "pubrec",
    Pubrel: "pubrel", Pubcomp: "pubcomp", Subscribe: "subscribe", Suback: "suback", Unsubscribe: "unsubscribe",
    Unsuback: "unsuback", Pingreq: "pingreq", Pingresp: "pingresp", Disconnect: "disconnect", Auth: "auth",
}  # fmt: skip


def to_node(p: Packet) -> Dict[str, Any]:
    """A 3.1.1 packet in mqtt-packet's shape."""
    d: Dict[str, Any] = {"cmd": _CMD[type(p)]}
    if isinstance(p, Connect):
        d.update(
            protocolId="MQTT", protocolVersion=4, clean=p.clean_start, keepalive=p.keep_alive, clientId=p.client_id
        )
        if p.will is not None:
            d["will"] = {
                "topic": p.will.topic,
                "payload": hexed(p.will.payload),
                "qos": p.will.qos,
                "retain": p.will.retain,
            }
        if p.username is not None:
            d["username"] = p.username
        if p.password is not None:
            d["password"] = hexed(p.password)
    elif isinstance(p, Connack):
        d.update(sessionPresent=p.session_present, returnCode=p.code)
    elif isinstance(p, Publish):
        d.update(topic=p.topic, payload=hexed(p.payload), qos=p.qos, retain=p.retain, dup=p.dup)
        if p.packet_id is not None:
            d["messageId"] = p.packet_id
    elif isinstance(p, (Puback, Pubrec, Pubrel, Pubcomp, Unsuback)):
        d["messageId"] = p.packet_id
    elif isinstance(p, Subscribe):
        d.update(
            messageId=p.packet_id, subscriptions=[{"topic": s.topic_filter, "qos": s.qos} for s in p.subscriptions]
        )
    elif isinstance(p, Suback):
        d.update(messageId=p.packet_id, granted=p.codes)
    elif isinstance(p, Unsubscribe):
        d.update(messageId=p.packet_id, unsubscriptions=p.topic_filters)
    return d


def from_node(d: Dict[str, Any]) -> Packet:
    """mqtt-packet's parse of a 3.1.1 packet as ours."""
    d = unhexed(d)
    cmd = d["cmd"]
    if cmd == "connect":
        will = None
        if d.get("will"):
            w = d["will"]
            will = Will(w["topic"], w["payload"], w["qos"], w["retain"])
        assert (d["protocolId"], d["protocolVersion"]) == ("MQTT", 4)
        return Connect(d["clientId"], 4, d["clean"], d["keepalive"], will, d.get("username"), d.get("password"))
    if cmd == "connack":
        return Connack(d["returnCode"], d["sessionPresent"])
    if cmd == "publish":
        return Publish(d["topic"], d["payload"], d["qos"], d["retain"], d["dup"], d.get("messageId"))
    simple = {"puback": Puback, "pubrec": Pubrec, "pubrel": Pubrel, "pubcomp": Pubcomp, "unsuback": Unsuback}
    if cmd in simple:
        return simple[cmd](d["messageId"])  # type: ignore[no-any-return]
    if cmd == "subscribe":
        return Subscribe(d["messageId"], [Subscription(s["topic"], s["qos"]) for s in d["subscriptions"]])
    if cmd == "suback":
        return Suback(d["messageId"], d["granted"])
    if cmd == "unsubscribe":
        return Unsubscribe(d["messageId"], d["unsubscriptions"])
    return {"pingreq": Pingreq, "pingresp": Pingresp, "disconnect": Disconnect}[cmd]()  # type: ignore[no-any-return]


def _cross_check(oracle: NodeOracle, packet: Packet, from_client: bool) -> None:
    data = encode(packet, MQTT_311)
    parsed = oracle.parse(data, MQTT_311)
    assert "error" not in parsed, parsed
    assert [from_node(d) for d in parsed["packets"]] == [packet]  # mqtt-packet reads what we write
    level = None if isinstance(packet, Connect) else MQTT_311
    if isinstance(packet, Connect) and not packet.client_id and not packet.clean_start:
        # MQTT-3.1.3-7 (the server answers CONNACK 2): mqtt-packet refuses to write it at all
        with pytest.raises(ValueError, match="clientId must be given"):
            oracle.generate(to_node(packet), MQTT_311)
        return
    generated = oracle.generate(to_node(packet), MQTT_311)
    assert decode_packet(generated, level, from_client=from_client) == packet  # we read what it writes
    assert generated == data  # and both write the same bytes


@mqtt_settings(300)
@given(st.data())
def test_3_1_1_client_packets_against_mqtt_packet(node_oracle: NodeOracle, data: st.DataObject) -> None:
    _cross_check(node_oracle, data.draw(client_packets(MQTT_311)), True)


@mqtt_settings(300)
@given(st.data())
def test_3_1_1_server_packets_against_mqtt_packet(node_oracle: NodeOracle, data: st.DataObject) -> None:
    _cross_check(node_oracle, data.draw(server_packets(MQTT_311)), False)


def test_3_1_1_a_stream_of_every_type_in_one_buffer(node_oracle: NodeOracle) -> None:
    stream: List[Packet] = [
        Connect("c1", 4, True, 60, Will("w", b"bye", 1), "u", b"p"),
        Publish("g", b"x", 2, packet_id=7),
        Pubrel(7),
        Subscribe(8, [Subscription("g", 2)]),
        Unsubscribe(9, ["g"]),
        Pingreq(),
        Disconnect(),
    ]
    parsed = node_oracle.parse(b"".join(encode(p, MQTT_311) for p in stream), MQTT_311)
    assert [from_node(d) for d in parsed["packets"]] == stream


# ---- 5.0: one packet of each type, with properties, checked field by field against mqtt-packet's names
FIVE: List[tuple] = [
    (
        Connect(
            "dev1", MQTT_5, False, 30, Will("w", b"gone", 1, False, Properties(will_delay_interval=5)),
            "u", b"pw", Properties(session_expiry_interval=60, receive_maximum=10, user_properties=[("k", "v")]),
        ),
        {"clientId": "dev1", "clean": False, "keepalive": 30, "username": "u", "password": b"pw",
         "properties": {"sessionExpiryInterval": 60, "receiveMaximum": 10, "userProperties": {"k": "v"}},
         "will": {"topic": "w", "payload": b"gone", "qos": 1, "properties": {"willDelayInterval": 5}}},
    ),
    (
        Connack(0, True, Properties(retain_available=0, maximum_packet_size=1048576, assigned_client_identifier="a1")),
        {"sessionPresent": True, "reasonCode": 0,
         "properties": {"retainAvailable": False, "maximumPacketSize": 1048576, "assignedClientIdentifier": "a1"}},
    ),
    (
        Publish("g", b"hi", 1, False, True, 3, Properties(content_type="text/plain", message_expiry_interval=9,
                                                          correlation_data=b"\x01", subscription_identifiers=[4])),
        {"topic": "g", "payload": b"hi", "qos": 1, "dup": True, "messageId": 3,
         "properties": {"contentType": "text/plain", "messageExpiryInterval": 9, "correlationData": b"\x01",
                        "subscriptionIdentifier": 4}},
    ),
    (Puback(3, 0x87, Properties(reason_string="no")), {"messageId": 3, "reasonCode": 0x87,
                                                       "properties": {"reasonString": "no"}}),
    (Pubrec(4, 0x10), {"messageId": 4, "reasonCode": 0x10}),
    (Pubrel(4, 0x92), {"messageId": 4, "reasonCode": 0x92}),
    (Pubcomp(4), {"messageId": 4}),
    (
        Subscribe(5, [Subscription("g", 2, True, True, 1)], Properties(subscription_identifiers=[77])),
        {"messageId": 5, "subscriptions": [{"topic": "g", "qos": 2, "nl": True, "rap": True, "rh": 1}],
         "properties": {"subscriptionIdentifier": 77}},
    ),
    (Suback(5, [0x02, 0xA2, 0x87]), {"messageId": 5, "granted": [2, 0xA2, 0x87]}),
    (Unsubscribe(6, ["g", "h"]), {"messageId": 6, "unsubscriptions": ["g", "h"]}),
    (Unsuback(6, [0x00, 0x11]), {"messageId": 6, "granted": [0, 0x11]}),
    (Pingreq(), {}),
    (Pingresp(), {}),
    (Disconnect(0x98, Properties(reason_string="closed")),
     {"reasonCode": 0x98, "properties": {"reasonString": "closed"}}),
    (Auth(0x18, Properties(authentication_method="m")),
     {"reasonCode": 0x18, "properties": {"authenticationMethod": "m"}}),
]  # fmt: skip


def _subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(_subset(v, actual.get(k)) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(map(_subset, expected, actual))
    return bool(expected == actual)


def test_5_every_type_against_mqtt_packet(node_oracle: NodeOracle) -> None:
    assert {type(p) for p, _ in FIVE} == set(_CMD)
    for packet, fields in FIVE:
        parsed = node_oracle.parse(encode(packet, MQTT_5), MQTT_5)
        assert "error" not in parsed, (packet, parsed)
        [theirs] = [unhexed(d) for d in parsed["packets"]]
        assert theirs["cmd"] == _CMD[type(packet)]
        assert _subset(fields, theirs), (fields, theirs)
        node_packet = {"cmd": _CMD[type(packet)], **_for_generate(fields, packet)}
        level = None if isinstance(packet, Connect) else MQTT_5
        by_client = isinstance(
            packet, (Connect, Puback, Pubrec, Pubrel, Pubcomp, Subscribe, Unsubscribe, Pingreq, Auth)
        )
        decoded = decode_packet(node_oracle.generate(node_packet, MQTT_5), level, from_client=by_client)
        assert decoded == packet


def _for_generate(fields: Dict[str, Any], packet: Packet) -> Dict[str, Any]:
    def wire(value: Any) -> Any:
        if isinstance(value, bytes):
            return hexed(value)
        if isinstance(value, dict):
            return {k: wire(v) for k, v in value.items()}
        if isinstance(value, list):
            return [wire(v) for v in value]
        return value

    out: Dict[str, Any] = wire(fields)
    if isinstance(packet, Connect):
        out.update(protocolId="MQTT", protocolVersion=5)
    if isinstance(packet, Publish):
        out.setdefault("retain", False)
    return out
