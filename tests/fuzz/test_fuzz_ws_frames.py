"""Random frames thrown at the JSON subprotocols of a running emulator (service-behaviour.md §6, §7, §9).

For every frame, the emulator either keeps the connection (and answers the ``ping`` that follows with ``pong``; any
failed ack carries a client-error name, never ``InternalServerError``) or closes it with a documented code (1007
malformed, 1009 too large, 1011 only for a well-formed ``event`` with no handler configured) and says why (a
``disconnected`` message or a close reason). It never hangs, and its health endpoint still answers 200 afterwards.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Union

import pytest
import requests
from fuzz_support import API_VERSION, HUB, JSON_PROTOCOL, RELIABLE_PROTOCOL, client_token, fuzz_settings
from hypothesis import example, given
from hypothesis import strategies as st
from webpubsub_emulator import EmulatorThread
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

Frame = Union[str, bytes]
ROLES = ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"]
CLIENT_ERROR_NAMES = {"BadRequest", "Forbidden", "Duplicate", "NotFound"}
TYPES = ["joinGroup", "leaveGroup", "sendToGroup", "event", "ping", "sequenceAck", "invoke", "cancelInvocation"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**53, max_value=2**80),
    st.integers(min_value=-(2**80), max_value=-1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["", " ", "\u0000", "\ud7ff", "g" * 1025, "a\nb", "'", "%2F", "../.."]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
groups = st.one_of(st.sampled_from(["g1", "group.2", "grp 3", "é"]), json_values)
messages = st.fixed_dictionaries(
    {"type": st.one_of(st.sampled_from(TYPES), json_values)},
    optional={
        "group": groups,
        "ackId": st.one_of(st.integers(min_value=-1, max_value=2**64 + 1), json_values),
        "dataType": st.one_of(st.sampled_from(["json", "text", "binary", "protobuf", "JSON", "Text"]), json_values),
        "data": st.one_of(json_values, st.just("A" * 200_000), st.just("not base64 ???")),
        "noEcho": st.one_of(st.booleans(), json_values),
        "event": st.one_of(st.text(max_size=10), json_values),
        "sequenceId": st.one_of(st.integers(min_value=-1, max_value=2**64 + 1), json_values),
        "metadata": json_values,
        "ttlSeconds": st.one_of(st.integers(min_value=-5, max_value=400), json_values),
    },
)
frames = st.one_of(
    messages.map(lambda m: json.dumps(m)),
    messages.map(lambda m: json.dumps(m).encode("utf-8")),
    json_values.map(lambda v: json.dumps(v)),
    st.text(max_size=200),
    st.binary(max_size=200),
)

DEEP = 100_000
DEEP_JSON = json.dumps({"type": "sendToGroup", "group": "g1", "dataType": "json"})[:-1] + ',"data":'
DEEP_JSON += "[" * DEEP + "]" * DEEP + "}"


@dataclass
class Outcome:
    alive: bool
    messages: List[Dict[str, Any]] = field(default_factory=list)
    code: Optional[int] = None
    reason: str = ""


def _exchange(emu: EmulatorThread, protocol: str, frame: Frame) -> Outcome:
    token = client_token(emu.endpoint, sub="fuzzer", role=ROLES)
    url = emu.endpoint.replace("http://", "ws://", 1) + f"/client/hubs/{HUB}?access_token={token}"
    with connect(url, subprotocols=[protocol], open_timeout=10, max_size=None, close_timeout=5) as ws:
        connected = json.loads(ws.recv(timeout=10))
        assert connected["type"] == "system" and connected["event"] == "connected"
        outcome = Outcome(alive=False)
        try:
            ws.send(frame)
            ws.send(json.dumps({"type": "ping"}))
            while True:
                raw = ws.recv(timeout=10)  # TimeoutError here means the emulator hung: the test fails
                msg = json.loads(raw)
                outcome.messages.append(msg)
                if msg.get("type") == "pong":
                    outcome.alive = True
                    return outcome
        except ConnectionClosed as closed:
            if closed.rcvd is not None:
                outcome.code, outcome.reason = closed.rcvd.code, closed.rcvd.reason
            return outcome


def _is_event(frame: Frame) -> bool:
    try:
        obj = json.loads(frame)
    except (ValueError, RecursionError):
        return False
    return isinstance(obj, dict) and obj.get("type") == "event"


def _check(emu: EmulatorThread, frame: Frame, outcome: Outcome) -> None:
    # With no upstream configured, an event fails upstream: InternalServerError is the documented ack for that.
    allowed_names = CLIENT_ERROR_NAMES | ({"InternalServerError"} if _is_event(frame) else set())
    for msg in outcome.messages:
        if msg.get("type") == "ack":
            assert isinstance(msg["success"], bool), msg
            if not msg["success"]:
                name = msg["error"]["name"]
                assert name in allowed_names, f"ack error {name!r} for a client mistake: {msg}"
                assert msg["error"]["message"]
    if not outcome.alive:
        allowed = {1007, 1009} | ({1011} if _is_event(frame) else set())
        assert outcome.code in allowed, f"closed with {outcome.code} {outcome.reason!r}"
        said = any(m.get("type") == "system" and m.get("event") == "disconnected" for m in outcome.messages)
        assert said or outcome.reason, "closed without a disconnected message or a close reason"
    health = requests.head(f"{emu.endpoint}/api/health?api-version={API_VERSION}", timeout=10)
    assert health.status_code == 200


@pytest.mark.parametrize("protocol", [JSON_PROTOCOL, RELIABLE_PROTOCOL], ids=["json", "reliable"])
@fuzz_settings(max_examples=150)
@given(frame=frames)
@example(frame=DEEP_JSON)
@example(frame="[" * DEEP)
@example(frame='{"type":"joinGroup","group":"g1","ackId":18446744073709551616}')
@example(frame='{"type":"sendToGroup","group":"g1","dataType":"binary","data":"%%%"}')
@example(frame='{"type":"sendToGroup","group":"g1","dataType":"json","data":NaN,"ackId":1}')
@example(frame='{"type":"sendToGroup","group":"g1","dataType":"json","data":1e999,"ackId":1}')
@example(frame='{"type":"sequenceAck","sequenceId":-1}')
@example(frame=b"\xff\xfe\x00")
@example(frame='{"type":"joinGroup","group":"g1","ackId":1,"type":"leaveGroup"}')
def test_random_frames(emu: EmulatorThread, protocol: str, frame: Frame) -> None:
    _check(emu, frame, _exchange(emu, protocol, frame))


def test_oversized_frame_is_closed_with_1009(emu: EmulatorThread) -> None:
    frame = json.dumps({"type": "event", "event": "e", "dataType": "text", "data": "x" * (1024 * 1024 + 16)})
    outcome = _exchange(emu, JSON_PROTOCOL, frame)
    assert not outcome.alive and outcome.code == 1009, outcome
    _check(emu, frame, outcome)


@pytest.mark.parametrize("value", ["NaN", "1e999", "-1e999", "Infinity"])
def test_non_finite_numbers_never_reach_other_clients(emu: EmulatorThread, value: str) -> None:
    """A group message is re-serialised for receivers; whatever the emulator accepts must go out as strict JSON
    (RFC 8259 has no NaN or Infinity; ``1e999`` parses to infinity in Python)."""
    frame = '{"type":"sendToGroup","group":"nan","dataType":"json","data":{"v":' + value + '},"ackId":1}'
    token = client_token(emu.endpoint, sub="receiver", role=ROLES)
    url = emu.endpoint.replace("http://", "ws://", 1) + f"/client/hubs/{HUB}?access_token={token}"
    with connect(url, subprotocols=[JSON_PROTOCOL], open_timeout=10) as receiver:
        json.loads(receiver.recv(timeout=10))
        receiver.send(json.dumps({"type": "joinGroup", "group": "nan", "ackId": 1}))
        assert json.loads(receiver.recv(timeout=10))["success"] is True
        outcome = _exchange(emu, JSON_PROTOCOL, frame)
        _check(emu, frame, outcome)
        acks = [m for m in outcome.messages if m.get("type") == "ack"]
        if acks and acks[0]["success"]:
            raw = receiver.recv(timeout=10)

            def strict(value: str) -> Any:
                raise AssertionError(f"non-standard JSON constant {value} sent to a client")

            msg = json.loads(raw, parse_constant=strict)
            assert msg["type"] == "message"
            assert not (isinstance(msg["data"], float) and math.isnan(msg["data"]))
