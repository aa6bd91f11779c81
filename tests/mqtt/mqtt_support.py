"""Helpers for the MQTT tests: hypothesis strategies for valid packets, deterministic settings, the Node oracle."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
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
)
from webpubsub_emulator.mqtt.codes import PacketType, allowed_reason_codes
from webpubsub_emulator.mqtt.properties import PROPERTIES, WILL
from webpubsub_emulator.mqtt.wire import MAX_VBI

NODE_DIR = Path(__file__).parent / "node"


def mqtt_settings(max_examples: int) -> Any:
    """Deterministic hypothesis settings (no example database), as in tests/fuzz."""
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


# ------------------------------------------------------------------------------------------------ strategies

texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
blobs = st.binary(max_size=24)
packet_ids = st.integers(1, 65535)
qos = st.integers(0, 2)
pairs = st.lists(st.tuples(texts, texts), max_size=3)

_FLAGS = {
    "payload_format_indicator",
    "request_problem_information",
    "request_response_information",
    "maximum_qos",
    "retain_available",
    "wildcard_subscription_available",
    "subscription_identifier_available",
    "shared_subscription_available",
}
_POSITIVE = {"receive_maximum", "maximum_packet_size", "topic_alias"}
_TYPE_VALUES = {
    "byte": st.integers(0, 255),
    "two-byte integer": st.integers(0, 65535),
    "four-byte integer": st.integers(0, 2**32 - 1),
    "UTF-8 string": texts,
    "binary data": blobs,
}


def _value(spec: Any) -> st.SearchStrategy[Any]:
    if spec.name in _FLAGS:
        return st.integers(0, 1)
    if spec.name in _POSITIVE:
        return st.integers(1, 65535 if spec.kind.name == "two-byte integer" else 2**32 - 1)
    return _TYPE_VALUES[spec.kind.name]


@st.composite
def properties(
    draw: Any, carrier: int, *, repeat_subscription_ids: bool = False, exclude: frozenset = frozenset()
) -> Properties:
    """Valid properties for ``carrier`` (a packet type or WILL)."""
    props = Properties()
    for spec in PROPERTIES:
        if carrier not in spec.carriers or spec.name in exclude or not draw(st.booleans()):
            continue
        if spec.name == "user_properties":
            props.user_properties = draw(pairs)
        elif spec.name == "subscription_identifiers":
            props.subscription_identifiers = draw(
                st.lists(st.integers(1, MAX_VBI), min_size=1, max_size=3 if repeat_subscription_ids else 1)
            )
        else:
            setattr(props, spec.name, draw(_value(spec)))
    return props


def _props(version: int, carrier: int, **kwargs: Any) -> st.SearchStrategy[Properties]:
    return properties(carrier, **kwargs) if version == MQTT_5 else st.just(Properties())


def _code(version: int, kind: PacketType) -> st.SearchStrategy[int]:
    codes = sorted(allowed_reason_codes(kind, version))
    return st.sampled_from(codes) if codes else st.just(0)


@st.composite
def connects(draw: Any, version: int) -> Connect:
    will = None
    if draw(st.booleans()):
        will = Will(draw(texts.filter(bool)), draw(blobs), draw(qos), draw(st.booleans()), draw(_props(version, WILL)))
    username = draw(st.none() | texts)
    password = draw(st.none() | blobs)
    if version == MQTT_311 and username is None:
        password = None
    return Connect(
        draw(texts),
        version,
        draw(st.booleans()),
        draw(st.integers(0, 65535)),
        will,
        username,
        password,
        draw(_props(version, PacketType.CONNECT)),
    )


@st.composite
def publishes(draw: Any, version: int, *, from_client: bool) -> Publish:
    level = draw(qos)
    props = draw(
        _props(version, PacketType.PUBLISH, repeat_subscription_ids=True, exclude=_client_excludes(from_client))
    )
    return Publish(
        draw(texts if props.topic_alias is not None else texts.filter(bool)),
        draw(blobs),
        level,
        draw(st.booleans()),
        draw(st.booleans()) if level else False,
        draw(packet_ids) if level else None,
        props,
    )


def _client_excludes(from_client: bool) -> frozenset:
    return frozenset({"subscription_identifiers"}) if from_client else frozenset()


def _acks(cls: Any, version: int) -> st.SearchStrategy[Packet]:
    return st.builds(cls, packet_ids, _code(version, cls.TYPE), _props(version, cls.TYPE))


@st.composite
def subscribes(draw: Any, version: int) -> Subscribe:
    subs = draw(
        st.lists(
            st.builds(
                Subscription,
                texts.filter(bool),
                qos,
                st.booleans() if version == MQTT_5 else st.just(False),
                st.booleans() if version == MQTT_5 else st.just(False),
                st.integers(0, 2) if version == MQTT_5 else st.just(0),
            ),
            min_size=1,
            max_size=4,
        )
    )
    return Subscribe(draw(packet_ids), subs, draw(_props(version, PacketType.SUBSCRIBE)))


def _codes_packet(cls: Any, version: int) -> st.SearchStrategy[Packet]:
    if cls is Unsuback and version == MQTT_311:
        return st.builds(Unsuback, packet_ids, st.just([]))
    return st.builds(
        cls, packet_ids, st.lists(_code(version, cls.TYPE), min_size=1, max_size=4), _props(version, cls.TYPE)
    )


def _reason_packet(cls: Any, version: int) -> st.SearchStrategy[Packet]:
    if version == MQTT_311:
        return st.builds(cls)
    return st.builds(cls, _code(version, cls.TYPE), _props(version, cls.TYPE))


def client_packets(version: int, *, connect: bool = True) -> st.SearchStrategy[Packet]:
    """Every packet type a client sends, valid for ``version`` (CONNECT only when ``connect``)."""
    options = [
        publishes(version, from_client=True),
        _acks(Puback, version),
        _acks(Pubrec, version),
        _acks(Pubrel, version),
        _acks(Pubcomp, version),
        subscribes(version),
        st.builds(
            Unsubscribe,
            packet_ids,
            st.lists(texts.filter(bool), min_size=1, max_size=4),
            _props(version, PacketType.UNSUBSCRIBE),
        ),
        st.just(Pingreq()),
        _reason_packet(Disconnect, version),
    ]
    if version == MQTT_5:
        options.append(_reason_packet(Auth, version))
    if connect:
        options.append(connects(version))
    return st.one_of(options)


def server_packets(version: int) -> st.SearchStrategy[Packet]:
    """Every packet type a server sends, valid for ``version``."""
    connack_code = _code(version, PacketType.CONNACK)
    options = [
        st.builds(
            lambda code, present, props: Connack(code, present and code == 0, props),
            connack_code,
            st.booleans(),
            _props(version, PacketType.CONNACK),
        ),
        publishes(version, from_client=False),
        _acks(Puback, version),
        _acks(Pubrec, version),
        _acks(Pubrel, version),
        _acks(Pubcomp, version),
        _codes_packet(Suback, version),
        _codes_packet(Unsuback, version),
        st.just(Pingresp()),
    ]
    if version == MQTT_5:
        options += [_reason_packet(Disconnect, version), _reason_packet(Auth, version)]
    return st.one_of(options)


# ------------------------------------------------------------------------------------------------ Node oracle


class NodeOracle:
    """npm mqtt-packet 9.0.2 in a Node process (tests/mqtt/node/oracle.js), one JSON request per line."""

    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not on PATH: the MQTT oracle tests need Node.js 20")
        if not (NODE_DIR / "node_modules" / "mqtt-packet").is_dir():
            raise RuntimeError(f"{NODE_DIR}/node_modules is missing: run `make venv` (it runs npm ci there)")
        self._proc = subprocess.Popen(
            [node, str(NODE_DIR / "oracle.js")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=NODE_DIR,
        )
        self._lock = threading.Lock()

    def _ask(self, request: Dict[str, Any]) -> Dict[str, Any]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        with self._lock:
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
            line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the Node oracle exited")
        answer: Dict[str, Any] = json.loads(line)
        return answer

    def parse(self, data: bytes, version: int) -> Dict[str, Any]:
        """mqtt-packet's parse of ``data``: {"packets": [...]} and maybe "error"."""
        return self._ask({"op": "parse", "hex": data.hex(), "version": version})

    def generate(self, packet: Dict[str, Any], version: int) -> bytes:
        """mqtt-packet's bytes for ``packet`` (its own JSON shape; buffers as {"$hex": ...})."""
        answer = self._ask({"op": "generate", "packet": packet, "version": version})
        if "error" in answer:
            raise ValueError(answer["error"])
        return bytes.fromhex(answer["hex"])

    def close(self) -> None:
        """Stop the Node process."""
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        self._proc.wait(timeout=10)


def hexed(data: Optional[bytes]) -> Optional[Dict[str, str]]:
    """A buffer in the oracle's JSON shape."""
    return None if data is None else {"$hex": data.hex()}


def unhexed(value: Any) -> Any:
    """Buffers from the oracle's JSON shape back to bytes (recursively)."""
    if isinstance(value, dict):
        if set(value) == {"$hex"}:
            return bytes.fromhex(value["$hex"])
        return {k: unhexed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unhexed(v) for v in value]
    return value


def all_types(packets: List[Packet]) -> set:
    """The packet types in ``packets``."""
    return {p.TYPE for p in packets}
