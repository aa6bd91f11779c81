"""Messages across protocols (mqtt.md §7) and the upstream facts (§9): content types, TTL, codes, bodies, headers."""

from __future__ import annotations

from typing import Any, Optional

import pytest
from webpubsub_emulator.mqtt import MQTT_5, MQTT_311, Connect, Properties, Publish
from webpubsub_emulator.mqtt.messages import CONTENT_TYPES, Message, expiry_interval, payload_for, ttl_seconds
from webpubsub_emulator.mqtt.upstream import (
    STATUS_CODES,
    Disconnection,
    connect_body,
    connect_refusal,
    disconnected_body,
    event_content_type,
    event_headers,
    reply_user_properties,
    status_for_code,
)
from webpubsub_emulator.protocol import Payload

# ------------------------------------------------------------------------------------------------ §7 into MQTT


@pytest.mark.parametrize(
    ("payload", "raw", "content_type"),
    [
        (Payload.text("héllo"), "héllo".encode(), "text/plain"),
        (Payload.json_text('"Hello"'), b'"Hello"', "application/json"),  # the quotes stay
        (Payload.json_value({"a": 1}), b'{"a":1}', "application/json"),
        (Payload.binary(b"\x00\xff"), b"\x00\xff", "application/octet-stream"),
    ],
)
def test_web_pubsub_payloads_into_mqtt(payload: Payload, raw: bytes, content_type: str) -> None:
    message = Message.from_payload("g", payload, qos=1, ttl=None)
    publish = message.to_publish(qos=1, packet_id=5, now=0.0)
    assert (publish.topic, publish.payload, publish.qos, publish.packet_id) == ("g", raw, 1, 5)
    assert publish.properties.content_type == content_type
    assert publish.properties.payload_format_indicator is None  # no Payload Format Indicator, no charset
    assert publish.retain is False and publish.dup is False


def test_content_types_table() -> None:
    assert CONTENT_TYPES == {"text": "text/plain", "json": "application/json", "binary": "application/octet-stream"}


def test_ttl_becomes_the_seconds_left_rounded_up() -> None:
    message = Message.from_payload("g", Payload.text("x"), ttl=10, now=100.0)
    assert message.expires_at == 110.0
    assert message.to_publish(qos=1, packet_id=1, now=100.0).properties.message_expiry_interval == 10
    assert message.to_publish(qos=1, packet_id=1, now=105.5).properties.message_expiry_interval == 5
    assert message.to_publish(qos=1, packet_id=1, now=109.99).properties.message_expiry_interval == 1
    assert not message.expired(109.99) and message.expired(110.0)
    assert Message.from_payload("g", Payload.text("x"), ttl=0).expires_at is None
    assert expiry_interval(None, 5.0) is None


def test_mqtt_to_mqtt_keeps_everything_but_the_subscription_id_and_expiry() -> None:
    props = Properties(
        payload_format_indicator=1,
        message_expiry_interval=60,
        content_type="application/json",
        response_topic="reply/here",
        correlation_data=b"\x01\x02",
        user_properties=[("a", "1"), ("a", "2")],
        subscription_identifiers=[],
    )
    message = Message.from_publish(Publish("g", b"{}", 2, packet_id=9, properties=props), sender="dev1", now=10.0)
    out = message.to_publish(qos=1, packet_id=3, now=30.0, subscription_id=42)
    assert out.properties == props.copy(message_expiry_interval=40, subscription_identifiers=[42])
    assert message.sender == "dev1" and message.qos == 2
    assert ttl_seconds(message, 30.0) == 40
    zero = Message.from_publish(Publish("g", properties=Properties(message_expiry_interval=0)), sender=None, now=1.0)
    assert ttl_seconds(zero, 1.0) == 1  # an MQTT expiry of 0 is a 1 s TTL


# ------------------------------------------------------------------------------------------------ §7 out of MQTT


@pytest.mark.parametrize(
    ("content_type", "payload", "data_type", "value"),
    [
        ("text/plain", b"caf\xc3\xa9", "text", "café"),
        ("TEXT/Plain; charset=utf-8", b"hi", "text", "hi"),
        ("application/json", b'{"t": 21}', "json", {"t": 21}),
        ("application/json", b'"Hello"', "json", "Hello"),
        ("application/octet-stream", b"\x01", "binary", "AQ=="),
        ("application/x-protobuf", b"\x01", "binary", "AQ=="),
        ("image/png", b"\x89P", "binary", "iVA="),
        (None, b"plain text", "binary", "cGxhaW4gdGV4dA=="),
        ("text/plain", b"\xff\xfe", "binary", "//4="),  # not UTF-8: binary, bytes intact, not refused
        ("application/json", b"{not json", "binary", "e25vdCBqc29u"),
        ("application/json", b"NaN", "binary", "TmFO"),
    ],
)
def test_out_of_mqtt_the_content_type_picks_the_data_type(
    content_type: Optional[str], payload: bytes, data_type: str, value: Any
) -> None:
    result = payload_for(payload, content_type)
    assert (result.data_type, result.value) == (data_type, value)
    if data_type == "binary":
        assert result.raw == payload


def test_the_payload_format_indicator_does_not_change_the_type() -> None:
    message = Message("g", b"text", payload_format_indicator=1)
    assert message.web_payload().data_type == "binary"


# ------------------------------------------------------------------------------------------------ §9.4 connect refusals

STATUS_ROWS = [
    # (status, 3.1.1 fallback, 5.0 fallback)
    (400, 4, 0x86),
    (401, 5, 0x87),
    (403, 5, 0x87),
    (429, 3, 0x80),
    (500, 3, 0x80),
    (503, 3, 0x80),
    (418, 3, 0x80),
    (None, 3, 0x80),
]


@pytest.mark.parametrize(("status", "code_311", "code_5"), STATUS_ROWS)
def test_a_refusal_without_a_usable_mqtt_body(status: Optional[int], code_311: int, code_5: int) -> None:
    for body in (None, {}, {"mqtt": None}, {"mqtt": {"reason": "x"}}, "text"):
        assert connect_refusal(status, body, MQTT_311).code == code_311
        assert connect_refusal(status, body, MQTT_5).code == code_5


def test_the_handlers_mqtt_code_wins_when_valid_for_the_version() -> None:
    body = {"mqtt": {"code": 0x8A, "reason": "banned", "userProperties": [{"name": "k", "value": "v"}, {"bad": 1}]}}
    answer = connect_refusal(403, body, MQTT_5)
    assert answer == (0x8A, "banned", [("k", "v")])
    assert connect_refusal(400, {"mqtt": {"code": 4}}, MQTT_311).code == 4
    # invalid for the version -> 3 / 0x80, whatever the status
    for code in (0, 6, 0x8A, True, "5", 0x8B):
        assert connect_refusal(401, {"mqtt": {"code": code}}, MQTT_311).code == 3
    for code in (0, 5, 0x8B, 0x8E, None):
        assert connect_refusal(401, {"mqtt": {"code": code}}, MQTT_5).code == 0x80


def test_status_for_code_matches_the_handler_sdks() -> None:
    for status, ((codes_311, codes_5), _) in STATUS_CODES.items():
        assert all(status_for_code(c, MQTT_311) == status for c in codes_311)
        assert all(status_for_code(c, MQTT_5) == status for c in codes_5)
    assert status_for_code(0x9A, MQTT_5) == 400 and status_for_code(0x8A, MQTT_5) == 403
    assert status_for_code(0x42, MQTT_5) == 500


# ------------------------------------------------------------------------------------------------ §9.2, §9.3 bodies


def test_connect_body() -> None:
    five = Connect("c1", MQTT_5, False, 60, username="u", password=b"\x00pw")
    five.properties.user_properties = [("a", "b")]
    assert connect_body(five) == {
        "protocolVersion": 5,
        "username": "u",
        "password": "AHB3",
        "userProperties": [{"name": "a", "value": "b"}],
        "cleanStart": False,
    }
    old = connect_body(Connect("c1", MQTT_311))
    assert old == {"protocolVersion": 4, "username": None, "password": None, "userProperties": None, "cleanStart": True}


@pytest.mark.parametrize(
    ("last", "body"),
    [
        (
            Disconnection(True, None, 0),
            {
                "reason": None,
                "mqtt": {"initiatedByClient": True, "disconnectPacket": {"code": 0, "userProperties": None}},
            },
        ),
        (
            Disconnection(True, "bye", 4, (("k", "v"),)),
            {
                "reason": "bye",
                "mqtt": {
                    "initiatedByClient": True,
                    "disconnectPacket": {"code": 4, "userProperties": [{"name": "k", "value": "v"}]},
                },
            },
        ),
        (
            Disconnection(False, "keep-alive timeout", 0x8D),
            {
                "reason": "keep-alive timeout",
                "mqtt": {"initiatedByClient": False, "disconnectPacket": {"code": 0x8D, "userProperties": None}},
            },
        ),
        (
            Disconnection(False, "the connection was lost"),
            {"reason": "the connection was lost", "mqtt": {"initiatedByClient": False, "disconnectPacket": None}},
        ),
    ],
)
def test_disconnected_body(last: Disconnection, body: dict) -> None:
    assert disconnected_body(last) == body


# ------------------------------------------------------------------------------------------------ §9.5 user events


def test_event_content_type() -> None:
    assert event_content_type("application/json", MQTT_5) == "application/json"
    assert event_content_type("text/plain; charset=utf-8", MQTT_5) == "text/plain; charset=utf-8"
    assert event_content_type(None, MQTT_5) == "application/octet-stream"
    assert event_content_type("anything", MQTT_311) == "application/octet-stream"
    for bad in ("json", "text/", "/plain", "a b/c", "text/plain\r\nX: y", ""):
        assert event_content_type(bad, MQTT_5) is None


def test_user_properties_become_mqtt_headers_and_back() -> None:
    headers, unfit = event_headers([("k", "v"), ("k", "w"), ("bad name", "x"), ("ok", "line\nbreak")])
    assert headers == [("mqtt-k", "v"), ("mqtt-k", "w")] and unfit == 2
    reply = reply_user_properties([("MQTT-Temp", "21"), ("content-type", "x"), ("mqtt-k", "1"), ("mqtt-k", "2")], 204)
    assert reply == [("Temp", "21"), ("k", "1"), ("k", "2"), ("azure-status-code", "204")]
