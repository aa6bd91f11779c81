"""Pure tests of the emulator core: no sockets, a fake clock."""

from __future__ import annotations

import json
from typing import List, Optional

import pytest
from core_support import FakeClock, context, frames, messages
from core_support import open_session as connect
from webpubsub_emulator.core import Core
from webpubsub_emulator.errors import Forbidden
from webpubsub_emulator.json_clients import JSON, settle
from webpubsub_emulator.odata import parse_filter
from webpubsub_emulator.outbox import CloseFrame
from webpubsub_emulator.protocol import MalformedMessage, Payload, parse_client_message
from webpubsub_emulator.raw_clients import RAW
from webpubsub_emulator.reliable_clients import RELIABLE
from webpubsub_emulator.roles import PermissionState
from webpubsub_emulator.session import SessionState as ConnectionState


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def core(clock: FakeClock) -> Core:
    return Core(clock)


# ---------------------------------------------------------------- connections, hubs, users, groups


def test_json_connection_gets_connected_first_with_user_id_key(core: Core) -> None:
    conn = connect(core, user="u1", drain=False)
    assert messages(core, conn) == [
        {"type": "system", "event": "connected", "userId": "u1", "connectionId": conn.connection_id}
    ]
    anon = connect(core, drain=False)
    (msg,) = messages(core, anon)
    assert msg["userId"] is None and "reconnectionToken" not in msg


def test_reliable_connected_carries_reconnection_token(core: Core) -> None:
    conn = connect(core, kind=RELIABLE, drain=False)
    (msg,) = messages(core, conn)
    assert msg["reconnectionToken"] == conn.reconnection_token and conn.reconnection_token


def test_raw_connection_gets_no_system_message(core: Core) -> None:
    conn = connect(core, kind=RAW, drain=False)
    assert frames(core, conn) == []


def test_hub_names_are_case_insensitive(core: Core) -> None:
    conn = connect(core, "MyHub", user="u")
    assert core.connection_exists("myhub", conn.connection_id)
    assert core.connection_exists("MYHUB", conn.connection_id)
    assert core.user_exists("myHub", "u")
    assert not core.user_exists("myhub", "U")  # user ids are case-sensitive


def test_groups_exist_only_while_they_have_members(core: Core) -> None:
    conn = connect(core, groups=("g",))
    assert core.group_exists("hub", "g") and conn.groups == {"g"}
    core.leave_group(conn, "g")
    assert not core.group_exists("hub", "g")
    core.join_group(conn, "G")
    assert not core.group_exists("hub", "g")  # group names are case-sensitive


def test_group_members_are_listed_in_join_order(core: Core) -> None:
    a, b, c = connect(core), connect(core), connect(core)
    for conn in (b, c, a):
        core.join_group(conn, "g")
    core.join_group(b, "g")  # joining again keeps the original position
    assert [m.connection_id for _s, m in core.group_members("hub", "g")] == [
        b.connection_id,
        c.connection_id,
        a.connection_id,
    ]


def test_close_removes_from_indexes_and_queues_disconnected_then_close(core: Core) -> None:
    conn = connect(core, user="u", groups=("g",))
    core.close(conn, reason="bye")
    assert not core.connection_exists("hub", conn.connection_id)
    assert not core.user_exists("hub", "u") and not core.group_exists("hub", "g")
    out = frames(core, conn)
    assert json.loads(out[0]) == {"type": "system", "event": "disconnected", "message": "bye"}
    assert out[1] == CloseFrame(1000, "")
    core.transport_closed(conn)
    assert conn.state is ConnectionState.GONE


def test_close_of_raw_client_sends_only_the_close(core: Core) -> None:
    conn = connect(core, kind=RAW)
    core.close(conn, reason="bye")
    assert frames(core, conn) == [CloseFrame(1000, "")]


def test_transport_loss_removes_a_non_reliable_connection(core: Core) -> None:
    conn = connect(core, user="u")
    assert core.transport_lost(conn) is False
    assert not core.connection_exists("hub", conn.connection_id)
    assert not core.user_exists("hub", "u")


# ---------------------------------------------------------------- routing and delivery formats


def test_delivery_formats_per_kind(core: Core) -> None:
    raw = connect(core, kind=RAW)
    js = connect(core)
    targets = [raw, js]
    core.deliver(targets, Payload.text("hi"))
    core.deliver(targets, Payload.json_text('"Hello"'))
    core.deliver(targets, Payload.binary(b"\x00\x01"))
    assert frames(core, raw) == ["hi", '"Hello"', b"\x00\x01"]
    assert messages(core, js) == [
        {"type": "message", "from": "server", "dataType": "text", "data": "hi"},
        {"type": "message", "from": "server", "dataType": "json", "data": "Hello"},
        {"type": "message", "from": "server", "dataType": "binary", "data": "AAE="},
    ]


def test_group_delivery_has_group_and_null_from_user(core: Core) -> None:
    js = connect(core, groups=("g",))
    core.deliver(core.targets_group("hub", "g"), Payload.json_value({"k": 1}), group="g", metadata={"a": "b"})
    assert messages(core, js) == [
        {
            "type": "message",
            "from": "group",
            "group": "g",
            "fromUserId": None,
            "dataType": "json",
            "data": {"k": 1},
            "metadata": {"a": "b"},
        }
    ]


def test_select_applies_filter_and_excluded(core: Core) -> None:
    a = connect(core, user="listener-1", groups=("g",))
    b = connect(core, user="listener-2")
    c = connect(core, user="other")
    flt = parse_filter("startswith(userId, 'listener-')")
    assert core.select(core.live_connections("hub"), filter=flt) == [a, b]
    assert core.select(core.live_connections("hub"), filter=flt, excluded={a.connection_id}) == [b]
    assert core.select(core.live_connections("hub"), filter=parse_filter("'g' in groups")) == [a]
    assert c in core.select(core.live_connections("hub"), filter=parse_filter("userId ne 'x'"))


def test_hubs_are_isolated(core: Core) -> None:
    a = connect(core, "one", groups=("g",))
    b = connect(core, "two", groups=("g",))
    core.deliver(core.targets_group("one", "g"), Payload.text("x"), group="g")
    assert len(frames(core, a)) == 1 and frames(core, b) == []


def test_client_send_to_group_needs_permission_not_membership(core: Core) -> None:
    sender = connect(core, user="s")
    receiver = connect(core, groups=("g",))
    with pytest.raises(Forbidden) as refused:
        core.client_send_to_group(sender, "g", Payload.text("x"))
    assert refused.value.code == "Forbidden" and "g" in refused.value.message
    assert frames(core, receiver) == []
    sender.permissions.grant("sendToGroup", "g")
    core.client_send_to_group(sender, "g", Payload.text("x"))  # permitted: no error
    assert messages(core, receiver)[0]["fromUserId"] == "s"


def test_no_echo_skips_the_sender(core: Core) -> None:
    a = connect(core, roles=("webpubsub.sendToGroup",), groups=("g",))
    b = connect(core, groups=("g",))
    core.client_send_to_group(a, "g", Payload.text("x"), no_echo=True)
    assert frames(core, a) == [] and len(frames(core, b)) == 1
    core.client_send_to_group(a, "g", Payload.text("x"))
    assert len(frames(core, a)) == 1


def test_client_join_checks_scoped_and_wildcard_roles(core: Core) -> None:
    conn = connect(core, roles=("webpubsub.joinLeaveGroup.a", "webpubsub.joinLeaveGroups.room-*"))
    core.client_join(conn, "a")
    core.client_join(conn, "room-1")
    with pytest.raises(Forbidden) as refused:
        core.client_join(conn, "b")
    assert refused.value.code == "Forbidden"
    assert conn.groups == {"a", "room-1"}


def test_acks_and_duplicates(core: Core) -> None:
    conn = connect(core)
    ctx = context(core)

    def join(ack_id: Optional[int]) -> Optional[str]:
        frame = {"type": "joinGroup", "group": "g", **({"ackId": ack_id} if ack_id is not None else {})}
        ack = JSON.on_frame(ctx, conn, json.dumps(frame))
        assert ack is None or isinstance(ack, str)
        return ack

    out = [join(7)]  # no permission: a failure, which is not recorded
    conn.permissions.grant("joinLeaveGroup", None)
    out.append(join(7))  # now processed
    out.append(join(7))  # the same ackId again
    assert join(None) is None  # fire-and-forget: nothing
    acks = [json.loads(a) for a in out if a is not None]
    assert acks[0]["success"] is False
    assert acks[0]["error"] == {"name": "Forbidden", "message": "The connection has no permission to join group 'g'."}
    assert acks[1] == {"type": "ack", "ackId": 7, "success": True}
    assert acks[2]["error"] == {"name": "Duplicate", "message": "Message with ack-id: 7 has been processed"}
    assert len(acks) == 3


# ---------------------------------------------------------------- TTL


def test_ttl_drops_only_for_the_slow_client(core: Core, clock: FakeClock) -> None:
    fast, slow = connect(core), connect(core)
    core.deliver([fast, slow], Payload.text("a"), ttl_seconds=5)
    assert len(frames(core, fast)) == 1
    clock.advance(5.1)
    core.deliver([fast, slow], Payload.text("b"), ttl_seconds=5)
    assert [m["data"] for m in messages(core, slow)] == ["b"]
    assert [m["data"] for m in messages(core, fast)] == ["b"]


def test_ttl_zero_never_expires_and_expire_purges_queues(core: Core, clock: FakeClock) -> None:
    conn = connect(core)
    core.deliver([conn], Payload.text("keep"), ttl_seconds=0)
    core.deliver([conn], Payload.text("drop"), ttl_seconds=1)
    clock.advance(2)
    core.expire()
    assert conn.outbox is not None and conn.outbox.messages == 1
    assert [m["data"] for m in messages(core, conn)] == ["keep"]


def test_control_frames_never_expire(core: Core, clock: FakeClock) -> None:
    conn = connect(core)
    core.send_control(conn, settle(conn, 1) or "")
    clock.advance(10_000)
    assert messages(core, conn) == [{"type": "ack", "ackId": 1, "success": True}]


# ---------------------------------------------------------------- reliable sessions


def test_sequence_ids_and_cumulative_acks(core: Core) -> None:
    conn = connect(core, kind=RELIABLE)
    for i in range(5):
        core.deliver([conn], Payload.text(str(i)))
    core.send_control(conn, settle(conn, 1) or "")
    out = messages(core, conn)
    assert [m.get("sequenceId") for m in out] == [1, 2, 3, 4, 5, None]  # acks carry no sequenceId
    assert conn.outbox is not None and conn.outbox.messages == 5
    ctx = context(core)
    assert RELIABLE.on_frame(ctx, conn, '{"type":"sequenceAck","sequenceId":3}') is None
    assert [s for s, _t, _n in conn.kind_state.unacked] == [4, 5] and conn.outbox.messages == 2
    RELIABLE.on_frame(ctx, conn, '{"type":"sequenceAck","sequenceId":2}')  # going backwards changes nothing
    assert conn.outbox.messages == 2


def test_recovery_resends_unacked_and_continues_sequence(core: Core, clock: FakeClock) -> None:
    conn = connect(core, kind=RELIABLE)
    for i in range(3):
        core.deliver([conn], Payload.text(str(i)))
    frames(core, conn)
    RELIABLE.sequence_ack(conn, 1)
    assert core.transport_lost(conn) is True
    assert conn.state is ConnectionState.HELD and core.connection_exists("hub", conn.connection_id)
    core.deliver([conn], Payload.text("while-away"))
    clock.advance(20)
    assert core.resume("hub", conn.connection_id, "wrong") is None
    assert core.resume("hub", conn.connection_id, conn.reconnection_token or "") is conn
    out = messages(core, conn)
    assert [(m["sequenceId"], m["data"]) for m in out] == [(2, "1"), (3, "2"), (4, "while-away")]
    assert all(m["type"] == "message" for m in out)  # no second `connected`


def test_recovery_window_expires(core: Core, clock: FakeClock) -> None:
    conn = connect(core, kind=RELIABLE, user="u", groups=("g",))
    core.transport_lost(conn)
    clock.advance(29)
    assert core.expire() == []
    clock.advance(2)
    assert core.expire() == [conn]
    assert not core.connection_exists("hub", conn.connection_id)
    assert not core.group_exists("hub", "g") and not core.user_exists("hub", "u")
    assert core.resume("hub", conn.connection_id, conn.reconnection_token or "") is None


def test_rest_close_prevents_recovery(core: Core) -> None:
    conn = connect(core, kind=RELIABLE)
    token = conn.reconnection_token or ""
    core.transport_lost(conn)
    core.close(conn, reason="bye")
    assert not core.connection_exists("hub", conn.connection_id)
    assert core.resume("hub", conn.connection_id, token) is None


def test_reliable_buffer_overflow_closes_with_1008(clock: FakeClock) -> None:
    core = Core(clock, buffer_max_messages=3)
    conn = connect(core, kind=RELIABLE)
    other = connect(core, kind=RELIABLE)
    for i in range(4):
        core.deliver([conn, other], Payload.text(str(i)))
        RELIABLE.sequence_ack(other, 10**6)
        frames(core, other)
        RELIABLE.sequence_ack(other, 10**6)
    out = frames(core, conn)
    assert json.loads(out[-2])["event"] == "disconnected"
    assert out[-1] == CloseFrame(1008, "Message buffer full")
    assert not core.connection_exists("hub", conn.connection_id)
    assert core.connection_exists("hub", other.connection_id)  # the acking client is unaffected


def test_reliable_buffer_byte_limit(clock: FakeClock) -> None:
    core = Core(clock, buffer_max_bytes=10)
    conn = connect(core, kind=RELIABLE)
    core.deliver([conn], Payload.text("x" * 6))
    core.deliver([conn], Payload.text("y" * 6))
    assert conn.state is ConnectionState.CLOSING


def test_pending_limit_for_non_reliable_clients(clock: FakeClock) -> None:
    core = Core(clock, pending_max_messages=2)
    conn = connect(core)
    for i in range(3):
        core.deliver([conn], Payload.text(str(i)))
    assert conn.state is ConnectionState.CLOSING


# ---------------------------------------------------------------- client frame parsing


def test_parse_client_messages() -> None:
    req = parse_client_message(
        '{"type":"sendToGroup","group":"g","ackId":3,"noEcho":true,"dataType":"text","data":"x"}'
    )
    assert (req.type, req.group, req.ack_id, req.no_echo, req.payload) == (
        "sendToGroup",
        "g",
        3,
        True,
        Payload.text("x"),
    )
    req = parse_client_message(b'{"type":"event","event":"e","dataType":"binary","data":"AAE="}')
    assert req.payload == Payload.binary(b"\x00\x01")
    assert parse_client_message('{"type":"sequenceAck","sequenceId":5}').sequence_id == 5
    assert parse_client_message('{"type":"invoke","invocationId":"1"}').type == "invoke"


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1]",
        "{}",
        '{"type":1}',
        '{"type":"joinGroup"}',
        '{"type":"joinGroup","group":5}',
        '{"type":"joinGroup","group":"g","ackId":"1"}',
        '{"type":"joinGroup","group":"g","ackId":-1}',
        '{"type":"sendToGroup","group":"g","dataType":"text","data":5}',
        '{"type":"event","dataType":"text","data":"x"}',
        '{"type":"sequenceAck"}',
        '{"type":"sendToGroup","group":"g","noEcho":"yes","data":1}',
        '{"type":"event","event":"e","data":NaN}',
    ],
)
def test_malformed_frames(frame: str) -> None:
    with pytest.raises(MalformedMessage):
        parse_client_message(frame)


@pytest.mark.parametrize(
    "frame",
    [
        '{"type":"sendToGroup","group":"g","ackId":1,"dataType":"json","data":null}',
        '{"type":"sendToGroup","group":"g","ackId":1,"dataType":"json"}',
        '{"type":"sendToGroup","group":"g","ackId":1,"data":1,"ttlSeconds":301}',
        '{"type":"sendToGroup","group":"g","ackId":1,"dataType":"binary","data":"!!"}',
        '{"type":"sendToGroup","group":"g","ackId":1,"dataType":"xml","data":"x"}',
        '{"type":"event","event":"e","ackId":1,"data":1,"metadata":{"a":1}}',
    ],
)
def test_invalid_values_are_bad_requests(frame: str) -> None:
    req = parse_client_message(frame)
    assert req.bad_request and req.ack_id == 1


def test_json_payload_from_rest_text_keeps_raw_text() -> None:
    p = Payload.json_text('{"a": 1}')
    assert p.raw == '{"a": 1}' and p.value == {"a": 1}
    with pytest.raises(ValueError):
        Payload.json_text("{bad")


@pytest.mark.parametrize("number", ["1e999", "-1e999", "Infinity", "NaN"])
def test_non_finite_numbers_are_malformed(number: str) -> None:
    with pytest.raises(MalformedMessage):
        parse_client_message('{"type":"sendToGroup","group":"g","data":' + number + "}")
    with pytest.raises(ValueError):
        Payload.json_text(number)


def test_on_ended_fires_once_per_final_end_with_the_reason(core: Core, clock: FakeClock) -> None:
    ended: List[tuple[str, Optional[str]]] = []
    core.on_ended = lambda c: ended.append((c.connection_id, c.close_reason))
    closed = connect(core)
    core.close(closed, reason="bye")
    core.close(closed, reason="again")  # closing twice changes nothing
    dropped = connect(core)
    core.transport_lost(dropped)
    held = connect(core, kind=RELIABLE)
    core.transport_lost(held)  # held for recovery: not ended yet
    assert [cid for cid, _ in ended] == [closed.connection_id, dropped.connection_id]
    clock.advance(31)
    core.expire()
    assert ended == [
        (closed.connection_id, "bye"),
        (dropped.connection_id, "The connection ended."),
        (held.connection_id, "The connection recovery timeout expired."),
    ]


def test_deliberate_close_of_a_reliable_client_ends_the_session(core: Core) -> None:
    conn = connect(core, kind=RELIABLE)
    assert core.transport_lost(conn, client_closed=True) is False
    assert not core.connection_exists("hub", conn.connection_id)


def test_new_connection_ids_are_unique_and_used(core: Core) -> None:
    cid = core.new_connection_id("hub")
    conn = core.open_session("hub", user_id=None, kind=RAW, permissions=PermissionState(()), connection_id=cid)
    assert conn.connection_id == cid
    assert len({core.new_connection_id("hub") for _ in range(100)} | {cid}) == 101
