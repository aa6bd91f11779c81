"""The codec against byte vectors worked out from the standards: every packet type both ways, 3.1.1 and 5.0."""

from __future__ import annotations

from typing import Optional

import pytest
from webpubsub_emulator.mqtt import (
    MQTT_5,
    MQTT_311,
    Auth,
    Connack,
    Connect,
    Disconnect,
    MqttError,
    Packet,
    PacketType,
    Pingreq,
    Pingresp,
    Properties,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    ReasonCode,
    Suback,
    Subscribe,
    Subscription,
    Unsuback,
    Unsubscribe,
    Will,
    decode_packet,
    encode,
)

CLIENT, SERVER = True, False

# (version, sent by the client?, bytes, packet): decode(bytes) == packet and encode(packet) == bytes.
VECTORS = [
    # ---- MQTT 3.1.1
    (MQTT_311, CLIENT, "100e00044d5154540402003c00026331", Connect("c1", MQTT_311, True, 60)),
    (
        MQTT_311,
        CLIENT,
        "102000044d51545404ec001e00026331000174000268690004757365720003707764",
        Connect("c1", MQTT_311, False, 30, Will("t", b"hi", 1, True), "user", b"pwd"),
    ),
    (MQTT_311, SERVER, "20020000", Connack(0, False)),
    (MQTT_311, SERVER, "20020100", Connack(0, True)),
    (MQTT_311, SERVER, "20020005", Connack(5, False)),
    (MQTT_311, CLIENT, "300700036132626869", Publish("a2b", b"hi")),
    (MQTT_311, SERVER, "3b0900036132620a0a6869", Publish("a2b", b"hi", 1, True, True, 0x0A0A)),
    (MQTT_311, CLIENT, "4002000a", Puback(10)),
    (MQTT_311, SERVER, "5002000a", Pubrec(10)),
    (MQTT_311, CLIENT, "6202000a", Pubrel(10)),
    (MQTT_311, SERVER, "7002000a", Pubcomp(10)),
    (MQTT_311, CLIENT, "8206000100016101", Subscribe(1, [Subscription("a", 1)])),
    (MQTT_311, SERVER, "900400010180", Suback(1, [1, 0x80])),
    (MQTT_311, CLIENT, "a2050002000161", Unsubscribe(2, ["a"])),
    (MQTT_311, SERVER, "b0020002", Unsuback(2)),
    (MQTT_311, CLIENT, "c000", Pingreq()),
    (MQTT_311, SERVER, "d000", Pingresp()),
    (MQTT_311, CLIENT, "e000", Disconnect()),
    # ---- MQTT 5.0
    (MQTT_5, CLIENT, "100f00044d5154540502003c0000026331", Connect("c1", MQTT_5, True, 60)),
    (
        MQTT_5,
        CLIENT,
        "102000044d515454050e003c0511000000780002633105180000000a00017400017a",
        Connect(
            "c1",
            MQTT_5,
            True,
            60,
            Will("t", b"z", 1, False, Properties(will_delay_interval=10)),
            properties=Properties(session_expiry_interval=120),
        ),
    ),
    (MQTT_5, SERVER, "2003000000", Connack(0, False)),
    (
        MQTT_5,
        SERVER,
        "200f01000c120002633125002700100000",
        Connack(0, True, Properties(retain_available=0, maximum_packet_size=1048576, assigned_client_identifier="c1")),
    ),
    (MQTT_5, SERVER, "2003008700", Connack(0x87, False)),
    (MQTT_5, CLIENT, "30050001610078", Publish("a", b"x")),
    (
        MQTT_5,
        SERVER,
        "3515000161000a0c030004746578740b050b8120787878",
        Publish("a", b"xxx", 2, True, False, 10, Properties(content_type="text", subscription_identifiers=[5, 4097])),
    ),
    (MQTT_5, CLIENT, "4002000a", Puback(10)),
    (MQTT_5, SERVER, "4003000a10", Puback(10, 0x10)),
    (MQTT_5, SERVER, "4008000a10041f000172", Puback(10, 0x10, Properties(reason_string="r"))),
    (MQTT_5, CLIENT, "5003000a87", Pubrec(10, 0x87)),
    (MQTT_5, CLIENT, "6203000a92", Pubrel(10, 0x92)),
    (MQTT_5, SERVER, "7002000a", Pubcomp(10)),
    (MQTT_5, CLIENT, "820700010000016105", Subscribe(1, [Subscription("a", 1, no_local=True)])),
    (
        MQTT_5,
        CLIENT,
        "82090001020b070001622e",
        Subscribe(
            1,
            [Subscription("b", 2, no_local=True, retain_as_published=True, retain_handling=2)],
            Properties(subscription_identifiers=[7]),
        ),
    ),
    (MQTT_5, SERVER, "9004000100a2", Suback(1, [0xA2])),
    (MQTT_5, CLIENT, "a206000200000161", Unsubscribe(2, ["a"])),
    (MQTT_5, SERVER, "b00400020011", Unsuback(2, [0x11])),
    (MQTT_5, CLIENT, "c000", Pingreq()),
    (MQTT_5, SERVER, "d000", Pingresp()),
    (MQTT_5, CLIENT, "e000", Disconnect()),
    (MQTT_5, SERVER, "e0018e", Disconnect(0x8E)),
    (MQTT_5, SERVER, "e0068e041f000178", Disconnect(0x8E, Properties(reason_string="x"))),
    (MQTT_5, CLIENT, "f00618041500016d", Auth(0x18, Properties(authentication_method="m"))),
    (MQTT_5, SERVER, "f0021900", Auth(0x19)),
    (MQTT_5, SERVER, "f000", Auth()),
]


def _id(vector: tuple) -> str:
    version, by_client, _, packet = vector
    return f"{'5.0' if version == MQTT_5 else '3.1.1'}-{'client' if by_client else 'server'}-{type(packet).__name__}"


@pytest.mark.parametrize("vector", VECTORS, ids=_id)
def test_decode_vector(vector: tuple) -> None:
    version, by_client, hex_bytes, packet = vector
    level = None if isinstance(packet, Connect) else version
    assert decode_packet(bytes.fromhex(hex_bytes), level, from_client=by_client) == packet


@pytest.mark.parametrize("vector", VECTORS, ids=_id)
def test_encode_vector(vector: tuple) -> None:
    version, _, hex_bytes, packet = vector
    assert encode(packet, version).hex() == hex_bytes


def test_every_packet_type_has_vectors_both_ways_for_both_versions() -> None:
    for version in (MQTT_311, MQTT_5):
        types = {type(p).TYPE for v, _, _, p in VECTORS if v == version}
        expected = set(PacketType) - ({PacketType.AUTH} if version == MQTT_311 else set())
        assert types == expected


# ------------------------------------------------------------------------------------------------ malformed input

# (version or None before CONNECT, sent by the client?, bytes, expected 5.0 reason code)
MALFORMED = [
    ("reserved type 0", MQTT_311, CLIENT, "0000", 0x81),
    ("AUTH in 3.1.1", MQTT_311, CLIENT, "f000", 0x81),
    ("PUBREL flags 0000", MQTT_311, CLIENT, "60020001", 0x81),
    ("SUBSCRIBE flags 0000", MQTT_311, CLIENT, "8006000100016101", 0x81),
    ("PINGREQ flags 0001", MQTT_311, CLIENT, "c100", 0x81),
    ("PUBLISH QoS 3", MQTT_311, CLIENT, "36050001610001", 0x81),
    ("PUBLISH DUP on QoS 0", MQTT_311, CLIENT, "3803000161", 0x81),
    ("PUBLISH packet id 0", MQTT_311, CLIENT, "32050001610000", 0x81),
    ("PUBACK packet id 0", MQTT_5, CLIENT, "40020000", 0x81),
    ("CONNACK from a client", MQTT_311, CLIENT, "20020000", 0x81),
    ("SUBACK from a client", MQTT_5, CLIENT, "900400010000", 0x81),
    ("PINGRESP from a client", MQTT_311, CLIENT, "d000", 0x81),
    ("PINGREQ from the server", MQTT_311, SERVER, "c000", 0x81),
    ("SUBSCRIBE from the server", MQTT_311, SERVER, "8206000100016101", 0x81),
    ("3.1.1 DISCONNECT from the server", MQTT_311, SERVER, "e000", 0x81),
    ("3.1.1 DISCONNECT with a body", MQTT_311, CLIENT, "e00100", 0x81),
    ("3.1.1 PUBACK with a reason code", MQTT_311, CLIENT, "4003000100", 0x81),
    ("PINGREQ with a body", MQTT_5, CLIENT, "c00100", 0x81),
    ("5.0 PUBACK reason code not for PUBACK", MQTT_5, CLIENT, "4003000105", 0x81),
    ("5.0 DISCONNECT reason code 0x01", MQTT_5, CLIENT, "e00101", 0x81),
    ("3.1.1 SUBACK code 3", MQTT_311, SERVER, "9003000103", 0x81),
    ("SUBACK without codes", MQTT_311, SERVER, "90020001", 0x81),
    ("SUBSCRIBE without filters", MQTT_311, CLIENT, "82020001", 0x82),
    ("UNSUBSCRIBE without filters", MQTT_5, CLIENT, "a203000100", 0x82),
    ("SUBSCRIBE empty filter", MQTT_311, CLIENT, "82050001000001", 0x81),
    ("UNSUBSCRIBE empty filter", MQTT_311, CLIENT, "a20400010000", 0x81),
    ("3.1.1 SUBSCRIBE option bit 2", MQTT_311, CLIENT, "8206000100016104", 0x81),
    ("5.0 SUBSCRIBE option bit 6", MQTT_5, CLIENT, "820700010000016140", 0x81),
    ("5.0 SUBSCRIBE Retain Handling 3", MQTT_5, CLIENT, "820700010000016130", 0x82),
    ("SUBSCRIBE QoS 3", MQTT_311, CLIENT, "8206000100016103", 0x81),
    ("SUBSCRIBE filter then no options byte", MQTT_311, CLIENT, "82050001000161", 0x81),
    ("refusing CONNACK with Session Present", MQTT_311, SERVER, "20020105", 0x82),
    ("CONNACK reserved flag", MQTT_311, SERVER, "20020200", 0x81),
    ("client PUBLISH with a Subscription Identifier", MQTT_5, CLIENT, "3006000161020b01", 0x82),
    ("string with invalid UTF-8", MQTT_311, CLIENT, "30040002c328", 0x81),
    ("string with an encoded surrogate", MQTT_311, CLIENT, "30050003eda080", 0x81),
    ("string with U+0000", MQTT_311, CLIENT, "300400026100", 0x81),
    ("empty topic name", MQTT_311, CLIENT, "30020000", 0x82),
    ("5.0 empty topic name without a Topic Alias", MQTT_5, CLIENT, "3003000000", 0x82),
    ("string longer than the packet", MQTT_311, CLIENT, "3003000561", 0x81),
    ("packet ends before the packet id", MQTT_311, CLIENT, "320400016100", 0x81),
    ("unknown property", MQTT_5, CLIENT, "3006000161017f00", 0x81),
    ("property not allowed in PUBLISH", MQTT_5, CLIENT, "3009000161051100000000", 0x81),
    ("property block longer than the packet", MQTT_5, CLIENT, "30050001610501", 0x81),
    ("Content Type twice", MQTT_5, CLIENT, "300c000161080300016103000162", 0x82),
    ("Payload Format Indicator 2", MQTT_5, CLIENT, "3006000161020102", 0x82),
    ("Topic Alias 0", MQTT_5, CLIENT, "300700016103230000", 0x82),
    ("Subscription Identifier twice in SUBSCRIBE", MQTT_5, CLIENT, "820b0001040b010b0200016101", 0x82),
    ("Subscription Identifier 0", MQTT_5, CLIENT, "82090001020b0000016101", 0x82),
    ("Receive Maximum 0 in CONNECT", None, CLIENT, "101200044d5154540502003c0321000000026331", 0x82),
    ("the first packet is not CONNECT", None, CLIENT, "c000", 0x82),
]


@pytest.mark.parametrize(
    ("version", "by_client", "hex_bytes", "code"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed(version: Optional[int], by_client: bool, hex_bytes: str, code: int) -> None:
    with pytest.raises(MqttError) as info:
        decode_packet(bytes.fromhex(hex_bytes), version, from_client=by_client)
    assert info.value.reason_code == code
    assert info.value.close_code == 1002
    assert info.value.message and hex_bytes not in info.value.message


def _connect(level_and_flags: str, tail: str = "003c00026331", name: str = "00044d515454") -> bytes:
    body = bytes.fromhex(name + level_and_flags + tail)
    return bytes((0x10, len(body))) + body


CONNECT_ERRORS = [
    ("reserved connect flag", _connect("0403"), 0x81, MQTT_311),
    ("will QoS 3", _connect("041e", "003c000263310001740000"), 0x81, MQTT_311),
    ("will retain without the will flag", _connect("0422"), 0x81, MQTT_311),
    ("will QoS without the will flag", _connect("040a"), 0x81, MQTT_311),
    ("3.1.1 password without user name", _connect("0442", "003c0002633100017a"), 0x81, MQTT_311),
    ("5.0 bad property", _connect("0502", "003c017f00026331"), 0x81, MQTT_5),
    ("client id not UTF-8", _connect("0402", "003c0002c328"), 0x81, MQTT_311),
    ("level 6", _connect("0602"), 0x84, None),
    ("level 3 under MQTT", _connect("0302"), 0x84, None),
    ("MQTT 3.1 (MQIsdp, level 3)", _connect("0302", name="00064d5149736470"), 0x84, None),
    ("protocol name MQTX", _connect("0402", name="00044d515458"), 0x81, None),
    ("MQIsdp with level 4", _connect("0402", name="00064d5149736470"), 0x81, None),
    ("truncated before the level", bytes.fromhex("100600044d515454"), 0x81, None),
]


@pytest.mark.parametrize(
    ("data", "code", "version"), [c[1:] for c in CONNECT_ERRORS], ids=[c[0] for c in CONNECT_ERRORS]
)
def test_connect_errors_carry_the_version_they_were_found_at(data: bytes, code: int, version: Optional[int]) -> None:
    with pytest.raises(MqttError) as info:
        decode_packet(data, None)
    assert (info.value.reason_code, info.value.version) == (code, version)


def test_password_without_user_name_is_fine_in_5() -> None:
    packet = Connect("c1", MQTT_5, True, 60, password=b"secret")
    assert decode_packet(encode(packet, MQTT_5), None) == packet


def test_decode_packet_wants_exactly_one_packet() -> None:
    for data in (b"", b"\xc0", b"\xc0\x00\x00", b"\xc0\x01"):
        with pytest.raises(MqttError):
            decode_packet(data, MQTT_311)


def test_remaining_length_is_minimal_on_encode_and_accepted_non_minimal_on_decode() -> None:
    publish = Publish("t", b"x" * 200)
    data = encode(publish, MQTT_311)
    assert data[1:3] == bytes((0xCB, 0x01))  # 203 = 0x4B + 1 * 128
    assert decode_packet(bytes.fromhex("c08000"), MQTT_311) == Pingreq()  # length 0 in two bytes
    assert decode_packet(bytes.fromhex("c080808000"), MQTT_311) == Pingreq()


def test_3_1_1_encoding_leaves_out_what_3_1_1_lacks() -> None:
    props = Properties(content_type="text/plain", user_properties=[("a", "b")])
    assert encode(Publish("t", b"x", properties=props), MQTT_311) == encode(Publish("t", b"x"), MQTT_311)
    assert encode(Unsuback(3, [0x11]), MQTT_311).hex() == "b0020003"
    with pytest.raises(ValueError):
        encode(Puback(1, ReasonCode.NOT_AUTHORIZED), MQTT_311)


def test_encoding_rejects_values_that_do_not_fit() -> None:
    with pytest.raises(ValueError):
        encode(Publish("t", qos=1), MQTT_311)  # QoS 1 without a packet id
    with pytest.raises(ValueError):
        encode(Publish("t", packet_id=1), MQTT_311)  # QoS 0 with one
    with pytest.raises(ValueError):
        encode(Publish("a\x00"), MQTT_311)
    with pytest.raises(ValueError):
        encode(Publish("t" * 70000), MQTT_311)
    with pytest.raises(ValueError):
        encode(Connack(0, False, Properties(topic_alias=1)), MQTT_5)  # misplaced property
    with pytest.raises(ValueError):
        encode(Pingreq(), 3)


def test_packet_type_and_version_of_every_class() -> None:
    packets: list[Packet] = [Connect(), Connack(), Publish("t"), Puback(1), Pubrec(1), Pubrel(1), Pubcomp(1)]
    packets += [Subscribe(1, [Subscription("a")]), Suback(1, [0]), Unsubscribe(1, ["a"]), Unsuback(1)]
    packets += [Pingreq(), Pingresp(), Disconnect(), Auth()]
    assert [p.TYPE for p in packets] == list(PacketType)
