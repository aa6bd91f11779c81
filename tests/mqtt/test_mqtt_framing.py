"""The reassembly buffer: packets split across frames, several packets per frame, the size limit from the header."""

from __future__ import annotations

import pytest
from webpubsub_emulator.errors import BadRequest, EmulatorError
from webpubsub_emulator.mqtt import (
    MAX_PACKET_SIZE,
    MQTT_5,
    MQTT_311,
    Connect,
    MqttError,
    PacketBuffer,
    Pingreq,
    Publish,
    Subscribe,
    Subscription,
    encode,
)

CONNECT = Connect("c1", MQTT_311, True, 60)
STREAM = [CONNECT, Subscribe(1, [Subscription("g", 1)]), Publish("g", b"x" * 300, 1, packet_id=2), Pingreq()]
DATA = b"".join(encode(p, MQTT_311) for p in STREAM)


def test_one_frame_holding_several_packets() -> None:
    buffer = PacketBuffer()
    assert buffer.feed(DATA) == STREAM
    assert buffer.version == MQTT_311
    assert buffer.buffered == 0


def test_every_split_into_two_frames() -> None:
    for cut in range(len(DATA) + 1):
        buffer = PacketBuffer()
        assert buffer.feed(DATA[:cut]) + buffer.feed(DATA[cut:]) == STREAM, cut


def test_one_byte_per_frame() -> None:
    buffer = PacketBuffer()
    packets = []
    for i in range(len(DATA)):
        packets += buffer.feed(DATA[i : i + 1])
    assert packets == STREAM


def test_the_frames_mqtt_js_sends_for_a_21_byte_connect() -> None:
    connect = Connect("abcdefghi", MQTT_311, True, 60)
    data = encode(connect, MQTT_311)
    assert data[1] == 21 and len(data) == 23  # 21 bytes after the fixed header, 23 in the frames below
    buffer, packets, at = PacketBuffer(), [], 0
    for size in (1, 1, 2, 4, 1, 1, 2, 2, 9):  # mqtt.md §1 [probe]
        packets += buffer.feed(data[at : at + size])
        at += size
    assert packets == [connect]


def test_remaining_length_split_across_frames() -> None:
    publish = Publish("t", b"y" * 20_000)
    data = encode(publish, MQTT_5)
    assert data[1] & 0x80 and data[2] & 0x80  # a three-byte Remaining Length
    buffer = PacketBuffer(MQTT_5)
    assert buffer.feed(data[:2]) == []
    assert buffer.feed(data[2:3]) == []
    assert buffer.feed(data[3:]) == [publish]


def test_pull_one_packet_at_a_time_leaves_the_rest_buffered() -> None:
    buffer = PacketBuffer()
    buffer.append(DATA)
    assert buffer.next_packet() == CONNECT
    assert buffer.buffered == len(DATA) - len(encode(CONNECT, MQTT_311))
    assert list(buffer.packets()) == STREAM[1:]
    assert buffer.next_packet() is None


def test_the_limit_is_one_mebibyte_header_included() -> None:
    header = 1 + 3  # first byte + a three-byte Remaining Length
    fits = Publish("t", b"z" * (MAX_PACKET_SIZE - header - 3))
    data = encode(fits, MQTT_311)
    assert len(data) == MAX_PACKET_SIZE
    buffer = PacketBuffer(MQTT_311)
    assert buffer.feed(data) == [fits]
    too_big = encode(Publish("t", b"z" * (MAX_PACKET_SIZE - header - 2)), MQTT_311)
    with pytest.raises(MqttError) as info:
        PacketBuffer(MQTT_311).feed(too_big)
    assert (info.value.reason_code, info.value.close_code) == (0x95, 1009)


def test_oversize_is_refused_from_the_header_alone() -> None:
    buffer = PacketBuffer(MQTT_5)
    header = bytes.fromhex("30ffffff7f")  # a PUBLISH announcing 268,435,455 bytes
    with pytest.raises(MqttError) as info:
        buffer.feed(header)
    assert info.value.reason_code == 0x95 and "268435460" in info.value.message
    assert buffer.buffered == 0


def test_a_fifth_remaining_length_byte_is_malformed() -> None:
    with pytest.raises(MqttError) as info:
        PacketBuffer(MQTT_311).feed(bytes.fromhex("30808080808001"))
    assert info.value.reason_code == 0x81


def test_the_buffer_is_unusable_after_an_error() -> None:
    buffer = PacketBuffer(MQTT_311)
    with pytest.raises(MqttError):
        buffer.feed(bytes.fromhex("0000"))
    with pytest.raises(MqttError):
        buffer.feed(encode(Pingreq(), MQTT_311))
    with pytest.raises(MqttError):
        buffer.next_packet()


def test_before_connect_only_connect_is_accepted() -> None:
    buffer = PacketBuffer()
    with pytest.raises(MqttError) as info:
        buffer.feed(encode(Pingreq(), MQTT_311))
    assert info.value.reason_code == 0x82 and info.value.version is None


def test_the_connect_sets_the_version_for_what_follows() -> None:
    connect = Connect("c1", MQTT_5)
    publish = Publish("t", b"", 1, packet_id=1)
    buffer = PacketBuffer()
    assert buffer.feed(encode(connect, MQTT_5) + encode(publish, MQTT_5)) == [connect, publish]
    assert buffer.version == MQTT_5


def test_a_smaller_limit() -> None:
    buffer = PacketBuffer(MQTT_311, max_packet_size=10)
    assert buffer.feed(encode(Publish("t", b"1234"), MQTT_311)) == [Publish("t", b"1234")]
    with pytest.raises(MqttError):
        buffer.feed(encode(Publish("t", b"12345678"), MQTT_311))


def test_a_client_side_buffer_takes_server_packets() -> None:
    from webpubsub_emulator.mqtt import Connack

    buffer = PacketBuffer(MQTT_311, from_client=False)
    assert buffer.feed(encode(Connack(0, True), MQTT_311)) == [Connack(0, True)]


def test_what_waits_unread_is_bounded() -> None:
    buffer = PacketBuffer(MQTT_311, max_packet_size=100)
    assert buffer.max_buffered == 200
    for _ in range(50):
        buffer.append(encode(Pingreq(), MQTT_311))  # 100 bytes, not taken
    with pytest.raises(MqttError) as info:
        buffer.append(b"\xc0" * 101)
    assert (info.value.reason_code, info.value.close_code) == (0x97, 1008)
    with pytest.raises(MqttError):
        buffer.next_packet()
    drained = PacketBuffer(MQTT_311, max_packet_size=100)
    for _ in range(1000):  # feed() takes every packet as it goes: never over the bound
        assert drained.feed(encode(Pingreq(), MQTT_311) * 50) == [Pingreq()] * 50


def test_the_mqtt_error_is_a_kind_of_the_emulators_one_error_model() -> None:
    error = MqttError.too_large(2_000_000, 1_048_576)
    assert isinstance(error, BadRequest) and isinstance(error, EmulatorError)
    assert (error.status, error.code, error.reason_code, error.close_code) == (400, "BadRequest", 0x95, 1009)
