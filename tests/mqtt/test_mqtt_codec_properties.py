"""Property tests: every valid packet round-trips; any input either decodes or raises MqttError, nothing else."""

from __future__ import annotations

from typing import List, Optional

from hypothesis import given
from hypothesis import strategies as st
from mqtt_support import client_packets, connects, mqtt_settings, server_packets
from webpubsub_emulator.mqtt import MQTT_5, MQTT_311, Connect, MqttError, Packet, PacketBuffer, decode_packet, encode

versions = st.sampled_from([MQTT_311, MQTT_5])


def _level(packet: Packet, version: int) -> Optional[int]:
    return None if isinstance(packet, Connect) else version


@mqtt_settings(400)
@given(st.data(), versions)
def test_client_packets_round_trip(data: st.DataObject, version: int) -> None:
    packet = data.draw(client_packets(version))
    assert decode_packet(encode(packet, version), _level(packet, version), from_client=True) == packet


@mqtt_settings(400)
@given(st.data(), versions)
def test_server_packets_round_trip(data: st.DataObject, version: int) -> None:
    packet = data.draw(server_packets(version))
    assert decode_packet(encode(packet, version), version, from_client=False) == packet


@mqtt_settings(200)
@given(st.data(), versions)
def test_any_split_of_a_stream_gives_the_same_packets(data: st.DataObject, version: int) -> None:
    first = data.draw(connects(version))
    rest = data.draw(st.lists(client_packets(version, connect=False), max_size=6))
    stream = b"".join(encode(p, version) for p in [first, *rest])
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    buffer = PacketBuffer()
    packets: List[Packet] = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)]):
        packets += buffer.feed(stream[start:end])
    assert packets == [first, *rest]


def _feed_all(buffer: PacketBuffer, frames: List[bytes]) -> None:
    try:
        for frame in frames:
            for packet in buffer.feed(frame):
                encode(packet, buffer.version or MQTT_311)  # whatever decodes also encodes
    except MqttError as error:
        assert 0x80 <= error.reason_code <= 0xA2 and error.close_code in (1002, 1009) and error.message


@mqtt_settings(1500)
@given(st.lists(st.binary(max_size=64), max_size=8), st.sampled_from([None, MQTT_311, MQTT_5]), st.booleans())
def test_random_bytes_only_ever_raise_mqtt_error(frames: List[bytes], version: Optional[int], side: bool) -> None:
    _feed_all(PacketBuffer(version, from_client=side), frames)


@mqtt_settings(800)
@given(st.data(), versions, st.booleans())
def test_mutated_packets_only_ever_raise_mqtt_error(data: st.DataObject, version: int, side: bool) -> None:
    packet = data.draw(client_packets(version) if side else server_packets(version))
    raw = bytearray(encode(packet, version))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw) - 1))
        action = data.draw(st.sampled_from(["flip", "set", "cut", "insert"]))
        if action == "flip":
            raw[at] ^= 1 << data.draw(st.integers(0, 7))
        elif action == "set":
            raw[at] = data.draw(st.integers(0, 255))
        elif action == "cut":
            del raw[at]
        else:
            raw.insert(at, data.draw(st.integers(0, 255)))
        if not raw:
            break
    buffer = PacketBuffer(None if isinstance(packet, Connect) else version, from_client=side)
    _feed_all(buffer, [bytes(raw)])
