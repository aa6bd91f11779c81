"""CONNECT validation and the CONNACK per version (mqtt.md §3), row by row."""

from __future__ import annotations

from typing import Optional

import pytest
from webpubsub_emulator.mqtt import (
    MQTT_5,
    MQTT_311,
    Connack,
    Connect,
    MqttError,
    Properties,
    Will,
    decode_packet,
    encode,
)
from webpubsub_emulator.mqtt.connect import (
    CLIENT_ID_RE,
    accept,
    assign_client_id,
    check_connect,
    granted_session_expiry,
    refusal_for_error,
    refuse,
)

GOOD = {"client_id": "dev1", "keep_alive": 60}


def _connect(version: int, **changes: object) -> Connect:
    fields = {**GOOD, **changes}
    return Connect(protocol_level=version, **fields)  # type: ignore[arg-type]


def _answer(connect: Connect) -> Optional[int]:
    """The CONNACK code, -1 for a silent close, None when accepted."""
    refusal = check_connect(connect)
    if refusal is None:
        return None
    return -1 if refusal.connack is None else refusal.connack.code


CLOSE = -1
ROWS = [
    # (case, CONNECT fields, 3.1.1 answer, 5.0 answer)
    ("accepted", {}, None, None),
    ("Authentication Method", {"properties": Properties(authentication_method="SCRAM")}, None, 0x8C),
    ("client id with underscore", {"client_id": "dev_1"}, 2, 0x85),
    ("client id of 129 characters", {"client_id": "a" * 129}, 2, 0x85),
    ("client id of 128 characters", {"client_id": "a" * 128}, None, None),
    ("client id with non-ASCII", {"client_id": "dév"}, 2, 0x85),
    ("empty client id", {"client_id": ""}, 2, None),
    ("keep-alive 0", {"keep_alive": 0}, CLOSE, None),
    ("keep-alive 181", {"keep_alive": 181}, CLOSE, None),
    ("keep-alive 180", {"keep_alive": 180}, None, None),
    ("keep-alive 1", {"keep_alive": 1}, None, None),
    ("will topic empty", {"will": Will("")}, CLOSE, 0x90),
    ("will topic blank", {"will": Will("  ")}, CLOSE, 0x90),
    ("will topic 1025 characters", {"will": Will("t" * 1025)}, CLOSE, 0x90),
    ("will topic 1024 characters", {"will": Will("t" * 1024)}, None, None),
    ("will topic with +", {"will": Will("a/+")}, CLOSE, 0x90),
    ("will topic with #", {"will": Will("a/#")}, CLOSE, 0x90),
    ("will topic starting with $", {"will": Will("$SYS/x")}, CLOSE, 0x90),
    ("will topic with a newline", {"will": Will("a\nb")}, CLOSE, 0x90),
    ("will payload 2001 bytes", {"will": Will("t", b"x" * 2001)}, CLOSE, 0x95),
    ("will payload 2000 bytes", {"will": Will("t", b"x" * 2000)}, None, None),
    ("will retain", {"will": Will("t", retain=True)}, None, 0x9A),
    ("first broken rule wins: client id before keep-alive", {"client_id": "a_b", "keep_alive": 0}, 2, 0x85),
    ("first broken rule wins: will topic before payload", {"will": Will("#", b"x" * 3000)}, CLOSE, 0x90),
]


@pytest.mark.parametrize(("fields", "answer_311", "answer_5"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_connect_rules(fields: dict, answer_311: Optional[int], answer_5: Optional[int]) -> None:
    if "properties" not in fields:
        assert _answer(_connect(MQTT_311, **fields)) == answer_311
    assert _answer(_connect(MQTT_5, **fields)) == answer_5


def test_a_refusing_connack_has_session_present_0_and_5_0_says_why() -> None:
    refusal = check_connect(_connect(MQTT_5, client_id="bad id"))
    assert refusal is not None and refusal.connack is not None
    assert refusal.connack.session_present is False
    assert refusal.connack.properties.reason_string == "the client identifier must be 1-128 letters and digits"
    old = check_connect(_connect(MQTT_311, client_id="bad id"))
    assert old is not None and old.connack == Connack(2) and old.version == MQTT_311


@pytest.mark.parametrize(
    ("kind", "answer_311", "answer_5"), [("token", 5, 0x87), ("internal", 3, 0x80), ("client_id", 2, 0x85)]
)
def test_refusals_found_elsewhere(kind: str, answer_311: int, answer_5: int) -> None:
    for version, code in ((MQTT_311, answer_311), (MQTT_5, answer_5)):
        refusal = refuse(kind, version, "why")
        assert refusal is not None and refusal.connack is not None and refusal.connack.code == code


def test_an_upstream_code_and_user_properties_reach_5_0_only() -> None:
    refusal = refuse("internal", MQTT_5, "banned here", code=0x8A, user_properties=[("k", "v")])
    assert refusal is not None and refusal.connack is not None
    assert refusal.connack.code == 0x8A
    assert refusal.connack.properties.user_properties == [("k", "v")]
    assert refusal.connack.properties.reason_string == "banned here"
    old = refuse("internal", MQTT_311, "banned here", code=4, user_properties=[("k", "v")])
    assert old is not None and old.connack == Connack(4)


def _decode_error(data: bytes) -> MqttError:
    with pytest.raises(MqttError) as info:
        decode_packet(data, None)
    return info.value


def test_unsupported_levels_get_the_3_1_1_connack_1_whatever_the_level() -> None:
    for level in (3, 6, 255):
        connect = bytearray(encode(Connect("c1", MQTT_311), MQTT_311))
        connect[8] = level
        refusal = refusal_for_error(_decode_error(bytes(connect)))
        assert refusal.connack is not None
        assert encode(refusal.connack, refusal.version).hex() == "20020001"


def test_a_wrong_protocol_name_closes_without_connack() -> None:
    connect = bytearray(encode(Connect("c1", MQTT_5), MQTT_5))
    connect[4:8] = b"MQTX"
    assert refusal_for_error(_decode_error(bytes(connect))).connack is None


def test_malformed_connect_3_1_1_closes_5_0_answers_with_the_code() -> None:
    for version, expected in ((MQTT_311, None), (MQTT_5, 0x81)):
        connect = bytearray(encode(Connect("c1", version), version))
        connect[9] |= 0x01  # the reserved connect flag
        refusal = refusal_for_error(_decode_error(bytes(connect)))
        assert (refusal.connack.code if refusal.connack else None) == expected
    bad_property = encode(Connect("c1", MQTT_5, properties=Properties(receive_maximum=1)), MQTT_5)
    zero = bad_property.replace(b"\x21\x00\x01", b"\x21\x00\x00")
    refusal = refusal_for_error(_decode_error(zero))
    assert refusal.connack is not None and refusal.connack.code == 0x82


def test_accept_3_1_1() -> None:
    assert accept(_connect(MQTT_311), "dev1", session_present=True) == Connack(0, True)


def test_accept_5_0_announces_the_emulators_limits() -> None:
    connack = accept(_connect(MQTT_5), "dev1", session_present=False, user_properties=[("region", "local")])
    props = connack.properties
    assert (connack.code, connack.session_present) == (0, False)
    assert (props.retain_available, props.maximum_packet_size) == (0, 1024 * 1024)
    assert props.assigned_client_identifier is None and props.session_expiry_interval is None
    assert props.user_properties == [("region", "local")]
    assert props.topic_alias_maximum is None  # 0 by default: aliases are never accepted
    assert props.wildcard_subscription_available is None and props.shared_subscription_available is None


def test_accept_5_0_assigns_the_empty_client_id_and_caps_the_session_expiry() -> None:
    connect = _connect(MQTT_5, client_id="", properties=Properties(session_expiry_interval=3600))
    connack = accept(connect, "f" * 32, session_present=False)
    assert connack.properties.assigned_client_identifier == "f" * 32
    assert connack.properties.session_expiry_interval == 30
    short = _connect(MQTT_5, properties=Properties(session_expiry_interval=20))
    assert accept(short, "dev1", session_present=False).properties.session_expiry_interval is None


def test_granted_session_expiry() -> None:
    assert granted_session_expiry(_connect(MQTT_311, clean_start=True)) == 0
    assert granted_session_expiry(_connect(MQTT_311, clean_start=False)) == 30
    assert granted_session_expiry(_connect(MQTT_311, clean_start=False), keep_window=5) == 5
    assert granted_session_expiry(_connect(MQTT_5)) == 0
    assert granted_session_expiry(_connect(MQTT_5, properties=Properties(session_expiry_interval=10))) == 10
    assert granted_session_expiry(_connect(MQTT_5, properties=Properties(session_expiry_interval=0xFFFFFFFF))) == 30


def test_assigned_client_ids_are_valid_client_ids() -> None:
    ids = {assign_client_id() for _ in range(20)}
    assert len(ids) == 20 and all(CLIENT_ID_RE.match(i) and len(i) == 32 for i in ids)
