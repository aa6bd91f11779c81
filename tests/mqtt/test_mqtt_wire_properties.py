"""Data representations and the 27 properties: types, placement, repetition and value rules."""

from __future__ import annotations

from typing import Any

import pytest
from webpubsub_emulator.mqtt import MqttError, PacketType, Properties
from webpubsub_emulator.mqtt.properties import PROPERTIES, WILL, PropertySpec, read_properties, write_properties
from webpubsub_emulator.mqtt.wire import MAX_VBI, Reader, read_vbi_prefix, write_utf8, write_vbi

CARRIERS = [*PacketType, WILL]
SAMPLES = {
    "byte": 1,
    "two-byte integer": 513,
    "four-byte integer": 70000,
    "variable byte integer": 300,
    "UTF-8 string": "ünï",
    "binary data": b"\x00\xff",
    "UTF-8 string pair": ("k", "v"),
}
# The sheet's list (mqtt.md §12): identifier -> type.
SHEET = {
    0x01: "byte", 0x17: "byte", 0x19: "byte", 0x24: "byte", 0x25: "byte", 0x28: "byte", 0x29: "byte", 0x2A: "byte",
    0x13: "two-byte integer", 0x21: "two-byte integer", 0x22: "two-byte integer", 0x23: "two-byte integer",
    0x02: "four-byte integer", 0x11: "four-byte integer", 0x18: "four-byte integer", 0x27: "four-byte integer",
    0x0B: "variable byte integer",
    0x03: "UTF-8 string", 0x08: "UTF-8 string", 0x12: "UTF-8 string", 0x15: "UTF-8 string", 0x1A: "UTF-8 string",
    0x1C: "UTF-8 string", 0x1F: "UTF-8 string",
    0x09: "binary data", 0x16: "binary data",
    0x26: "UTF-8 string pair",
}  # fmt: skip


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, "00"),
        (127, "7f"),
        (128, "8001"),
        (16_383, "ff7f"),
        (16_384, "808001"),
        (2_097_151, "ffff7f"),
        (2_097_152, "80808001"),
        (MAX_VBI, "ffffff7f"),
    ],
)
def test_variable_byte_integer_boundaries(value: int, encoded: str) -> None:
    assert write_vbi(value).hex() == encoded
    assert read_vbi_prefix(bytes.fromhex(encoded), 0) == (value, len(encoded) // 2)
    assert read_vbi_prefix(bytes.fromhex(encoded)[:-1], 0) is None  # not all here yet


def test_variable_byte_integer_limits() -> None:
    for bad in (-1, MAX_VBI + 1):
        with pytest.raises(ValueError):
            write_vbi(bad)
    with pytest.raises(MqttError) as info:
        read_vbi_prefix(bytes.fromhex("ffffffff01"), 0)
    assert info.value.reason_code == 0x81
    assert read_vbi_prefix(bytes.fromhex("8000"), 0) == (0, 2)  # non-minimal accepted


def test_reader_types() -> None:
    data = bytes.fromhex("0701020102030480010002c3bc0003000102000161000162") + b"rest"
    r = Reader(data)
    assert (r.u8(), r.u16(), r.u32(), r.vbi(), r.utf8(), r.binary(), r.pair()) == (
        7, 0x0102, 0x01020304, 128, "ü", b"\x00\x01\x02", ("a", "b"),
    )  # fmt: skip
    assert r.rest() == b"rest"
    r.expect_end("test")
    for method in (r.u8, r.u16, r.u32, r.vbi, r.utf8, r.binary):
        with pytest.raises(MqttError):
            method()


def test_strings_refuse_what_mqtt_forbids() -> None:
    for raw in (b"\xc3\x28", b"\xed\xa0\x80", b"a\x00b", b"\xff"):
        with pytest.raises(MqttError):
            Reader(len(raw).to_bytes(2, "big") + raw).utf8()
    with pytest.raises(ValueError):
        write_utf8("a\x00")
    assert Reader(write_utf8("\U0001f600 non-BMP")).utf8() == "\U0001f600 non-BMP"


def test_the_table_is_the_sheets_27_properties() -> None:
    assert len(PROPERTIES) == 27
    assert {spec.identifier: spec.kind.name for spec in PROPERTIES} == SHEET
    assert len({spec.name for spec in PROPERTIES}) == 27


def _props(spec: PropertySpec, value: Any) -> Properties:
    props = Properties()
    if spec.name in ("user_properties", "subscription_identifiers"):
        getattr(props, spec.name).append(value)
    else:
        setattr(props, spec.name, value)
    return props


def _encoded(spec: PropertySpec, value: Any, times: int = 1) -> bytes:
    body = (write_vbi(spec.identifier) + spec.kind.write(value)) * times
    return write_vbi(len(body)) + body


@pytest.mark.parametrize("spec", PROPERTIES, ids=lambda s: s.name)
def test_every_property_round_trips_on_every_packet_that_may_carry_it(spec: PropertySpec) -> None:
    value = SAMPLES[spec.kind.name]
    for carrier in spec.carriers:
        data = write_properties(_props(spec, value), carrier)
        assert data == _encoded(spec, value)
        assert read_properties(Reader(data), carrier) == _props(spec, value)


@pytest.mark.parametrize("spec", PROPERTIES, ids=lambda s: s.name)
def test_every_property_is_malformed_where_it_may_not_be(spec: PropertySpec) -> None:
    value = SAMPLES[spec.kind.name]
    misplaced = [c for c in CARRIERS if c not in spec.carriers]
    assert misplaced
    for carrier in misplaced:
        with pytest.raises(MqttError) as info:
            read_properties(Reader(_encoded(spec, value)), carrier)
        assert info.value.reason_code == 0x81
        with pytest.raises(ValueError):
            write_properties(_props(spec, value), carrier)


@pytest.mark.parametrize("spec", PROPERTIES, ids=lambda s: s.name)
def test_repetition(spec: PropertySpec) -> None:
    value = SAMPLES[spec.kind.name]
    for carrier in spec.carriers:
        data = _encoded(spec, value, times=2)
        repeatable = spec.name == "user_properties" or (
            spec.name == "subscription_identifiers" and carrier == PacketType.PUBLISH
        )
        if repeatable:
            assert getattr(read_properties(Reader(data), carrier), spec.name) == [value, value]
        else:
            with pytest.raises(MqttError) as info:
                read_properties(Reader(data), carrier)
            assert info.value.reason_code == 0x82


CHECKED = [
    (spec, bad)
    for spec in PROPERTIES
    for bad in {"byte": [2, 255], "two-byte integer": [0], "four-byte integer": [0], "variable byte integer": [0]}.get(
        spec.kind.name, []
    )
    if spec.check is not None
]


@pytest.mark.parametrize(("spec", "bad"), CHECKED, ids=[f"{s.name}={b}" for s, b in CHECKED])
def test_out_of_range_values_are_protocol_errors(spec: PropertySpec, bad: int) -> None:
    carrier = next(iter(spec.carriers))
    with pytest.raises(MqttError) as info:
        read_properties(Reader(_encoded(spec, bad)), carrier)
    assert info.value.reason_code == 0x82


def test_which_values_are_checked() -> None:
    checked = {spec.name for spec, _ in CHECKED}
    assert checked == {
        "payload_format_indicator", "request_problem_information", "request_response_information", "maximum_qos",
        "retain_available", "wildcard_subscription_available", "subscription_identifier_available",
        "shared_subscription_available", "receive_maximum", "maximum_packet_size", "topic_alias",
        "subscription_identifiers",
    }  # fmt: skip


def test_unknown_and_truncated_properties() -> None:
    for block in ("017f", "02ff01", "0203", "051100", "05"):
        with pytest.raises(MqttError) as info:
            read_properties(Reader(bytes.fromhex(block)), PacketType.PUBLISH)
        assert info.value.reason_code == 0x81


def test_empty_and_absent_blocks() -> None:
    assert write_properties(None, PacketType.PUBLISH) == b"\x00"
    assert write_properties(Properties(), PacketType.PUBLISH) == b"\x00"
    assert read_properties(Reader(b"\x00"), PacketType.PUBLISH).is_empty()
    copy = Properties(user_properties=[("a", "b")]).copy(content_type="x")
    copy.user_properties.append(("c", "d"))
    assert copy.content_type == "x" and copy.user_properties == [("a", "b"), ("c", "d")]
