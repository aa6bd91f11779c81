"""The ``json.webpubsub.azure.v1`` subprotocol with real WebSocket clients (service-behaviour.md §4, §6, §9-§11)."""

from __future__ import annotations

import base64
import json
from typing import Any, Dict, List, Sequence, Tuple

import aiohttp
import pytest
from webpubsub_emulator import Emulator
from ws_support import JSON, ClientPool, Rest, expect_close, expect_silence, recv_json

HUB = "jsonhub"
WS = aiohttp.ClientWebSocketResponse


class Clients(ClientPool):
    """Opens JSON clients (the ``clients`` fixture closes them at the end of the test)."""

    async def connect(
        self,
        user_id: str | None = None,
        roles: Sequence[str] = (),
        groups: Sequence[str] = (),
        protocol: str = JSON,
    ) -> Tuple[WS, Dict[str, Any]]:
        ws, connected, _url = await self.subprotocol(protocol, user_id, roles, groups)
        return ws, connected


async def ack_for(ws: WS, payload: Dict[str, Any]) -> Dict[str, Any]:
    await ws.send_json(payload)
    msg = await recv_json(ws)
    assert msg["type"] == "ack" and msg["ackId"] == payload["ackId"], msg
    return msg


def assert_failed(ack: Dict[str, Any], name: str) -> None:
    assert ack["success"] is False, ack
    assert ack["error"]["name"] == name, ack
    assert isinstance(ack["error"]["message"], str) and ack["error"]["message"], ack


# ---- connected --------------------------------------------------------------------------------------------------


async def test_connected_message_shape(clients: Clients) -> None:
    _, msg = await clients.connect(user_id="alice")
    assert set(msg) == {"type", "event", "userId", "connectionId"}
    assert msg["userId"] == "alice"
    assert isinstance(msg["connectionId"], str) and msg["connectionId"]


async def test_connected_anonymous_has_null_user(clients: Clients) -> None:
    _, msg = await clients.connect()
    assert "userId" in msg and msg["userId"] is None
    assert "reconnectionToken" not in msg


async def test_connection_ids_are_unique(clients: Clients) -> None:
    ids = {(await clients.connect(user_id="same"))[1]["connectionId"] for _ in range(3)}
    assert len(ids) == 3


# ---- ping / unknown --------------------------------------------------------------------------------------------


async def test_ping_pong(clients: Clients) -> None:
    ws, _ = await clients.connect()
    await ws.send_json({"type": "ping"})
    assert await recv_json(ws) == {"type": "pong"}


async def test_unknown_message_types_are_ignored(clients: Clients) -> None:
    ws, _ = await clients.connect()
    await ws.send_json({"type": "invoke", "invocationId": "1", "target": "x", "event": "e"})
    await ws.send_json({"type": "somethingNew"})
    await ws.send_json({"type": "ping"})
    assert await recv_json(ws) == {"type": "pong"}


async def test_json_in_a_binary_frame_is_accepted(clients: Clients) -> None:
    ws, _ = await clients.connect()
    await ws.send_bytes(b'{"type":"ping"}')
    assert await recv_json(ws) == {"type": "pong"}


# ---- joinGroup / leaveGroup -------------------------------------------------------------------------------------


async def test_join_without_role_is_forbidden(clients: Clients) -> None:
    ws, _ = await clients.connect()
    ack = await ack_for(ws, {"type": "joinGroup", "group": "g", "ackId": 1})
    assert_failed(ack, "Forbidden")


async def test_join_and_leave_with_role(clients: Clients, rest: Rest) -> None:
    ws, _ = await clients.connect(roles=["webpubsub.joinLeaveGroup"])
    ack = await ack_for(ws, {"type": "joinGroup", "group": "g", "ackId": 1})
    assert ack == {"type": "ack", "ackId": 1, "success": True}
    assert await rest.group_exists("g") == 200
    assert await rest.send_to_group("g", b"in") == 202
    assert (await recv_json(ws))["data"] == "in"
    ack = await ack_for(ws, {"type": "leaveGroup", "group": "g", "ackId": 2})
    assert ack["success"] is True
    assert await rest.group_exists("g") == 404
    assert await rest.send_to_group("g", b"out") == 202
    await expect_silence(ws)


async def test_scoped_join_role(clients: Clients) -> None:
    ws, _ = await clients.connect(roles=["webpubsub.joinLeaveGroup.g1"])
    assert (await ack_for(ws, {"type": "joinGroup", "group": "g1", "ackId": 1}))["success"] is True
    assert_failed(await ack_for(ws, {"type": "joinGroup", "group": "g2", "ackId": 2}), "Forbidden")
    assert_failed(await ack_for(ws, {"type": "joinGroup", "group": "G1", "ackId": 3}), "Forbidden")
    assert (await ack_for(ws, {"type": "leaveGroup", "group": "g1", "ackId": 4}))["success"] is True
    assert_failed(await ack_for(ws, {"type": "leaveGroup", "group": "g2", "ackId": 5}), "Forbidden")


async def test_send_role_does_not_allow_join(clients: Clients) -> None:
    ws, _ = await clients.connect(roles=["webpubsub.sendToGroup"])
    assert_failed(await ack_for(ws, {"type": "joinGroup", "group": "g", "ackId": 1}), "Forbidden")


@pytest.mark.parametrize(
    ("pattern", "allowed", "denied"),
    [
        ("chat.*", ["chat.a", "chat."], ["chat.a.b", "chatx", "other"]),
        ("chat.**", ["chat.a", "chat.a.b"], ["chat", "other.a"]),
        ("room-?", ["room-1"], ["room-", "room-12", "room-."]),
        (r"lit\*", ["lit*"], ["litx"]),
    ],
)
async def test_wildcard_join_role(clients: Clients, pattern: str, allowed: List[str], denied: List[str]) -> None:
    ws, _ = await clients.connect(roles=[f"webpubsub.joinLeaveGroups.{pattern}"])
    ack_id = 0
    for group in allowed:
        ack_id += 1
        assert (await ack_for(ws, {"type": "joinGroup", "group": group, "ackId": ack_id}))["success"] is True, group
    for group in denied:
        ack_id += 1
        assert_failed(await ack_for(ws, {"type": "joinGroup", "group": group, "ackId": ack_id}), "Forbidden")


async def test_wildcard_send_role(clients: Clients) -> None:
    sender, _ = await clients.connect(roles=["webpubsub.sendToGroups.news.*"])
    ack = await ack_for(sender, {"type": "sendToGroup", "group": "news.tech", "ackId": 1, "data": 1})
    assert ack["success"] is True
    ack = await ack_for(sender, {"type": "sendToGroup", "group": "sport.x", "ackId": 2, "data": 1})
    assert_failed(ack, "Forbidden")


async def test_join_bad_group_name_is_bad_request(clients: Clients) -> None:
    ws, _ = await clients.connect(roles=["webpubsub.joinLeaveGroup"])
    assert_failed(await ack_for(ws, {"type": "joinGroup", "group": "   ", "ackId": 1}), "BadRequest")
    assert_failed(await ack_for(ws, {"type": "joinGroup", "group": "", "ackId": 2}), "BadRequest")
    assert_failed(await ack_for(ws, {"type": "joinGroup", "group": "x" * 1025, "ackId": 3}), "BadRequest")


async def test_join_without_ack_id_is_silent(clients: Clients, rest: Rest) -> None:
    ws, _ = await clients.connect()
    await ws.send_json({"type": "joinGroup", "group": "g"})  # forbidden, but fire-and-forget
    await expect_silence(ws)
    joiner, _ = await clients.connect(roles=["webpubsub.joinLeaveGroup"])
    await joiner.send_json({"type": "joinGroup", "group": "g"})
    await joiner.send_json({"type": "ping"})
    assert await recv_json(joiner) == {"type": "pong"}
    assert await rest.send_to_group("g", b"x") == 202
    assert (await recv_json(joiner))["data"] == "x"


# ---- ack ids --------------------------------------------------------------------------------------------------


async def test_duplicate_ack_id(clients: Clients) -> None:
    ws, _ = await clients.connect(roles=["webpubsub.joinLeaveGroup"])
    assert (await ack_for(ws, {"type": "joinGroup", "group": "g", "ackId": 7}))["success"] is True
    ack = await ack_for(ws, {"type": "leaveGroup", "group": "g", "ackId": 7})
    assert_failed(ack, "Duplicate")
    assert "7" in ack["error"]["message"]


async def test_failed_ack_id_is_not_recorded(clients: Clients, rest: Rest) -> None:
    ws, connected = await clients.connect()
    assert_failed(await ack_for(ws, {"type": "joinGroup", "group": "g", "ackId": 5}), "Forbidden")
    assert await rest.permission("PUT", "joinLeaveGroup", connected["connectionId"], "g") == 200
    assert (await ack_for(ws, {"type": "joinGroup", "group": "g", "ackId": 5}))["success"] is True


async def test_ack_ids_are_per_connection(clients: Clients) -> None:
    a, _ = await clients.connect(roles=["webpubsub.joinLeaveGroup"])
    b, _ = await clients.connect(roles=["webpubsub.joinLeaveGroup"])
    assert (await ack_for(a, {"type": "joinGroup", "group": "g", "ackId": 1}))["success"] is True
    assert (await ack_for(b, {"type": "joinGroup", "group": "g", "ackId": 1}))["success"] is True


async def test_large_ack_id(clients: Clients) -> None:
    ws, _ = await clients.connect(roles=["webpubsub.joinLeaveGroup"])
    big = 2**64 - 1
    assert (await ack_for(ws, {"type": "joinGroup", "group": "g", "ackId": big}))["success"] is True


# ---- sendToGroup ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data_type", "data"),
    [
        ("json", {"k": "v", "n": [1, 2.5, None, True]}),
        ("json", "Hello"),
        ("json", 42),
        ("text", "hello \u00e9"),
        ("binary", base64.b64encode(b"\x00\x01\xff").decode()),
    ],
)
async def test_send_to_group_delivery(clients: Clients, data_type: str, data: Any) -> None:
    member, _ = await clients.connect(user_id="member", groups=["g"])
    sender, _ = await clients.connect(user_id="sender", roles=["webpubsub.sendToGroup"])
    ack = await ack_for(sender, {"type": "sendToGroup", "group": "g", "ackId": 1, "dataType": data_type, "data": data})
    assert ack["success"] is True
    msg = await recv_json(member)
    assert msg == {
        "type": "message",
        "from": "group",
        "group": "g",
        "fromUserId": "sender",
        "dataType": data_type,
        "data": data,
    }
    await expect_silence(sender, 0.1)  # the sender is not a member


async def test_send_to_group_default_data_type_is_json(clients: Clients) -> None:
    member, _ = await clients.connect(groups=["g"])
    sender, _ = await clients.connect(roles=["webpubsub.sendToGroup.g"])
    await sender.send_json({"type": "sendToGroup", "group": "g", "data": {"a": 1}})
    msg = await recv_json(member)
    assert msg["dataType"] == "json" and msg["data"] == {"a": 1}
    assert "fromUserId" in msg and msg["fromUserId"] is None


async def test_send_to_group_echo_and_no_echo(clients: Clients) -> None:
    ws, _ = await clients.connect(user_id="u", roles=["webpubsub.sendToGroup"], groups=["g"])
    await ws.send_json({"type": "sendToGroup", "group": "g", "dataType": "text", "data": "echo"})
    assert (await recv_json(ws))["data"] == "echo"
    await ws.send_json({"type": "sendToGroup", "group": "g", "noEcho": True, "dataType": "text", "data": "quiet"})
    await ws.send_json({"type": "ping"})
    assert await recv_json(ws) == {"type": "pong"}


async def test_send_to_group_no_echo_still_reaches_others(clients: Clients) -> None:
    other, _ = await clients.connect(groups=["g"])
    ws, _ = await clients.connect(roles=["webpubsub.sendToGroup"], groups=["g"])
    ack = await ack_for(
        ws, {"type": "sendToGroup", "group": "g", "ackId": 1, "noEcho": True, "dataType": "text", "data": "x"}
    )
    assert ack["success"] is True
    assert (await recv_json(other))["data"] == "x"
    await expect_silence(ws, 0.2)


async def test_send_to_group_without_permission(clients: Clients) -> None:
    member, _ = await clients.connect(groups=["g"])
    sender, _ = await clients.connect(roles=["webpubsub.sendToGroup.other", "webpubsub.joinLeaveGroup"])
    ack = await ack_for(sender, {"type": "sendToGroup", "group": "g", "ackId": 1, "dataType": "text", "data": "x"})
    assert_failed(ack, "Forbidden")
    await expect_silence(member, 0.2)


async def test_membership_does_not_grant_send(clients: Clients) -> None:
    ws, _ = await clients.connect(groups=["g"])
    ack = await ack_for(ws, {"type": "sendToGroup", "group": "g", "ackId": 1, "dataType": "text", "data": "x"})
    assert_failed(ack, "Forbidden")


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "sendToGroup", "group": "g", "ackId": 1, "dataType": "json", "data": None},
        {"type": "sendToGroup", "group": "g", "ackId": 1, "dataType": "text", "data": "x", "ttlSeconds": 301},
        {"type": "sendToGroup", "group": "g", "ackId": 1, "dataType": "text", "data": "x", "ttlSeconds": -1},
        {"type": "sendToGroup", "group": "   ", "ackId": 1, "dataType": "text", "data": "x"},
    ],
)
async def test_send_to_group_bad_request(clients: Clients, payload: Dict[str, Any]) -> None:
    ws, _ = await clients.connect(roles=["webpubsub.sendToGroup"])
    assert_failed(await ack_for(ws, payload), "BadRequest")


async def test_send_to_group_ttl_in_range_is_fine(clients: Clients) -> None:
    ws, _ = await clients.connect(roles=["webpubsub.sendToGroup"])
    payload = {"type": "sendToGroup", "group": "g", "ackId": 1, "dataType": "text", "data": "x", "ttlSeconds": 300}
    assert (await ack_for(ws, payload))["success"] is True


async def test_large_frame_under_limit_is_accepted(clients: Clients) -> None:
    member, _ = await clients.connect(groups=["g"])
    ws, _ = await clients.connect(roles=["webpubsub.sendToGroup"])
    big = "x" * 500_000
    ack = await ack_for(ws, {"type": "sendToGroup", "group": "g", "ackId": 1, "dataType": "text", "data": big})
    assert ack["success"] is True
    assert (await recv_json(member))["data"] == big


# ---- event ----------------------------------------------------------------------------------------------------


async def test_event_without_handler_is_an_error_ack(clients: Clients) -> None:
    """No upstream handler is configured (the Python API has no handler settings).

    Chosen behaviour: an ``InternalServerError`` ack and the connection stays open.  service-behaviour.md §12.9 makes
    dropping the client (1011) the default and the ack the optional [ms-emu] mode; the team brief chose the ack.
    """
    ws, _ = await clients.connect()
    ack = await ack_for(ws, {"type": "event", "event": "hello", "ackId": 1, "dataType": "text", "data": "hi"})
    assert_failed(ack, "InternalServerError")
    await ws.send_json({"type": "event", "event": "quiet", "dataType": "json", "data": {"a": 1}})  # no ackId
    await ws.send_json({"type": "ping"})
    assert await recv_json(ws) == {"type": "pong"}


# ---- REST sends reaching JSON clients -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body", "data_type", "data"),
    [
        ("text/plain", b"Hello", "text", "Hello"),
        ("text/plain; charset=utf-8", "h\u00e9".encode(), "text", "h\u00e9"),
        ("application/json", b'"Hello"', "json", "Hello"),
        ("application/json", b'{"a": [1, {"b": null}]}', "json", {"a": [1, {"b": None}]}),
        ("application/octet-stream", b"\x00\xff\x10", "binary", base64.b64encode(b"\x00\xff\x10").decode()),
        (None, b"\x01\x02", "binary", base64.b64encode(b"\x01\x02").decode()),
    ],
)
async def test_rest_send_forms(
    clients: Clients, rest: Rest, content_type: str | None, body: bytes, data_type: str, data: Any
) -> None:
    ws, connected = await clients.connect(user_id="u1", groups=["g"])
    expected_server = {"type": "message", "from": "server", "dataType": data_type, "data": data}
    assert await rest.send_to_all(body, content_type) == 202
    assert await recv_json(ws) == expected_server
    assert await rest.send_to_user("u1", body, content_type) == 202
    assert await recv_json(ws) == expected_server
    assert await rest.send_to_connection(connected["connectionId"], body, content_type) == 202
    assert await recv_json(ws) == expected_server
    assert await rest.send_to_group("g", body, content_type) == 202
    assert await recv_json(ws) == {
        "type": "message",
        "from": "group",
        "group": "g",
        "fromUserId": None,
        "dataType": data_type,
        "data": data,
    }


async def test_rest_send_targets(clients: Clients, rest: Rest) -> None:
    a, ca = await clients.connect(user_id="a", groups=["g"])
    b, _ = await clients.connect(user_id="b")
    assert await rest.send_to_user("b", b"for b") == 202
    assert (await recv_json(b))["data"] == "for b"
    assert await rest.send_to_connection(ca["connectionId"], b"for a") == 202
    assert (await recv_json(a))["data"] == "for a"
    assert await rest.send_to_group("g", b"for g") == 202
    assert (await recv_json(a))["data"] == "for g"
    await expect_silence(b, 0.2)
    assert await rest.send_to_user("nobody", b"x") == 202
    assert await rest.send_to_group("empty", b"x") == 202
    assert await rest.send_to_connection("no-such-connection", b"x") == 202
    await expect_silence(a, 0.1)


async def test_rest_excluded_and_filter(clients: Clients, rest: Rest) -> None:
    a, ca = await clients.connect(user_id="a", groups=["g"])
    b, cb = await clients.connect(user_id="b", groups=["g"])
    c, _ = await clients.connect(user_id="c")
    assert await rest.send_to_all(b"1", excluded=[ca["connectionId"], cb["connectionId"]]) == 202
    assert (await recv_json(c))["data"] == "1"
    assert await rest.send_to_all(b"2", filter="userId eq 'b' or userId eq 'c'") == 202
    assert (await recv_json(b))["data"] == "2"
    assert (await recv_json(c))["data"] == "2"
    assert await rest.send_to_all(b"3", filter="'g' in groups", excluded=[cb["connectionId"]]) == 202
    assert (await recv_json(a))["data"] == "3"
    assert await rest.send_to_group("g", b"4", excluded=[ca["connectionId"]]) == 202
    assert (await recv_json(b))["data"] == "4"
    assert await rest.send_to_group("g", b"5", filter="userId ne 'b'") == 202
    assert (await recv_json(a))["data"] == "5"
    await expect_silence(a, 0.1)
    await expect_silence(b, 0.1)
    await expect_silence(c, 0.1)


async def test_rest_bad_filter_is_400(clients: Clients, rest: Rest) -> None:
    status, body = await rest.call(
        "POST", "/:send", query=[("filter", "not length(userId) gt 5")], body=b"x", content_type="text/plain"
    )
    assert status == 400
    assert json.loads(body)["code"] == "BadRequest"


# ---- REST membership and permissions ------------------------------------------------------------------------


async def test_rest_add_and_remove_connection(clients: Clients, rest: Rest) -> None:
    ws, connected = await clients.connect()
    cid = connected["connectionId"]
    assert await rest.add_to_group("g", cid) == 200
    assert await rest.send_to_group("g", b"x") == 202
    assert (await recv_json(ws))["data"] == "x"
    assert await rest.remove_from_group("g", cid) == 204
    assert await rest.send_to_group("g", b"y") == 202
    await expect_silence(ws, 0.2)


async def test_rest_grant_check_revoke(clients: Clients, rest: Rest) -> None:
    ws, connected = await clients.connect()
    cid = connected["connectionId"]
    assert await rest.permission("HEAD", "sendToGroup", cid, "g") == 404
    assert await rest.permission("PUT", "sendToGroup", cid, "g") == 200
    assert await rest.permission("HEAD", "sendToGroup", cid, "g") == 200
    assert await rest.permission("HEAD", "sendToGroup", cid, "h") == 404
    assert await rest.permission("HEAD", "joinLeaveGroup", cid, "g") == 404
    ok = {"type": "sendToGroup", "group": "g", "ackId": 1, "dataType": "text", "data": "x"}
    assert (await ack_for(ws, ok))["success"] is True
    assert await rest.permission("DELETE", "sendToGroup", cid, "g") == 204
    assert await rest.permission("HEAD", "sendToGroup", cid, "g") == 404
    assert_failed(await ack_for(ws, {**ok, "ackId": 2}), "Forbidden")


async def test_rest_grant_without_target_is_all_groups(clients: Clients, rest: Rest) -> None:
    ws, connected = await clients.connect()
    cid = connected["connectionId"]
    assert await rest.permission("PUT", "joinLeaveGroup", cid) == 200
    assert await rest.permission("HEAD", "joinLeaveGroup", cid) == 200
    assert (await ack_for(ws, {"type": "joinGroup", "group": "anything", "ackId": 1}))["success"] is True
    assert await rest.permission("DELETE", "joinLeaveGroup", cid) == 204
    assert await rest.permission("HEAD", "joinLeaveGroup", cid) == 404
    assert_failed(await ack_for(ws, {"type": "joinGroup", "group": "other", "ackId": 2}), "Forbidden")


async def test_rest_revoke_literal_overrides_wildcard_token_role(clients: Clients, rest: Rest) -> None:
    ws, connected = await clients.connect(roles=["webpubsub.joinLeaveGroups.room-*"])
    cid = connected["connectionId"]
    assert await rest.permission("HEAD", "joinLeaveGroup", cid, "room-1") == 200
    assert await rest.permission("DELETE", "joinLeaveGroup", cid, "room-1") == 204
    assert await rest.permission("HEAD", "joinLeaveGroup", cid, "room-1") == 404
    assert_failed(await ack_for(ws, {"type": "joinGroup", "group": "room-1", "ackId": 1}), "Forbidden")
    assert (await ack_for(ws, {"type": "joinGroup", "group": "room-2", "ackId": 2}))["success"] is True


async def test_rest_revoke_without_target_removes_token_roles(clients: Clients, rest: Rest) -> None:
    ws, connected = await clients.connect(roles=["webpubsub.sendToGroup", "webpubsub.sendToGroup.g"])
    cid = connected["connectionId"]
    assert await rest.permission("DELETE", "sendToGroup", cid) == 204
    msg = {"type": "sendToGroup", "group": "g", "ackId": 1, "dataType": "text", "data": "x"}
    assert_failed(await ack_for(ws, msg), "Forbidden")


async def test_revoke_keeps_memberships(clients: Clients, rest: Rest) -> None:
    ws, connected = await clients.connect(roles=["webpubsub.joinLeaveGroup"])
    assert (await ack_for(ws, {"type": "joinGroup", "group": "g", "ackId": 1}))["success"] is True
    assert await rest.permission("DELETE", "joinLeaveGroup", connected["connectionId"], "g") == 204
    assert await rest.send_to_group("g", b"still") == 202
    assert (await recv_json(ws))["data"] == "still"
    assert_failed(await ack_for(ws, {"type": "leaveGroup", "group": "g", "ackId": 2}), "Forbidden")


async def test_rest_grant_unknown_connection_is_404(rest: Rest) -> None:
    assert await rest.permission("PUT", "sendToGroup", "no-such-connection", "g") == 404
    assert await rest.permission("DELETE", "sendToGroup", "no-such-connection", "g") == 204
    assert await rest.permission("HEAD", "sendToGroup", "no-such-connection", "g") == 404


# ---- closes ---------------------------------------------------------------------------------------------------


async def test_rest_close_connection(clients: Clients, rest: Rest) -> None:
    ws, connected = await clients.connect()
    other, _ = await clients.connect()
    assert await rest.close_connection(connected["connectionId"], reason="bye now") == 204
    frames, code = await expect_close(ws)
    assert [json.loads(f.data) for f in frames] == [{"type": "system", "event": "disconnected", "message": "bye now"}]
    assert code == 1000
    assert await rest.connection_exists(connected["connectionId"]) == 404
    await other.send_json({"type": "ping"})
    assert await recv_json(other) == {"type": "pong"}


async def test_rest_close_group_user_all_with_excluded(clients: Clients, rest: Rest) -> None:
    g1, _ = await clients.connect(user_id="x", groups=["g"])
    g2, c2 = await clients.connect(user_id="y", groups=["g"])
    u1, _ = await clients.connect(user_id="z")
    rest_of, c4 = await clients.connect(user_id="w")
    assert await rest.close_group("g", reason="group closed", excluded=[c2["connectionId"]]) == 204
    frames, code = await expect_close(g1)
    assert json.loads(frames[-1].data) == {"type": "system", "event": "disconnected", "message": "group closed"}
    assert code == 1000
    assert await rest.close_user("z", reason="user closed") == 204
    frames, code = await expect_close(u1)
    assert json.loads(frames[-1].data)["message"] == "user closed" and code == 1000
    assert await rest.close_all(reason="all closed", excluded=[c4["connectionId"]]) == 204
    frames, code = await expect_close(g2)
    assert json.loads(frames[-1].data)["message"] == "all closed" and code == 1000
    await rest_of.send_json({"type": "ping"})
    assert await recv_json(rest_of) == {"type": "pong"}


# ---- malformed and oversized frames ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        '"ping"',
        "{}",
        '{"type": 5}',
        '{"type": "joinGroup", "ackId": 1}',
        '{"type": "joinGroup", "group": 5, "ackId": 1}',
        '{"type": "event", "ackId": 1, "dataType": "text", "data": "x"}',
        '{"type": "sendToGroup", "ackId": 1, "dataType": "text", "data": "x"}',
    ],
)
async def test_malformed_frame_closes_1007(clients: Clients, frame: str) -> None:
    ws, _ = await clients.connect(roles=["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"])
    await ws.send_str(frame)
    frames, code = await expect_close(ws)
    messages = [json.loads(f.data) for f in frames]
    assert messages and messages[-1]["type"] == "system" and messages[-1]["event"] == "disconnected", messages
    assert isinstance(messages[-1].get("message"), str)
    assert code == 1007


async def test_binary_frame_that_is_not_utf8_json_closes_1007(clients: Clients) -> None:
    ws, _ = await clients.connect()
    await ws.send_bytes(b"\xff\xfe\x00garbage")
    _, code = await expect_close(ws)
    assert code == 1007


async def test_frame_over_1mib_closes_1009(clients: Clients) -> None:
    ws, _ = await clients.connect(roles=["webpubsub.sendToGroup"])
    data = "x" * (1024 * 1024 + 1)
    await ws.send_str(json.dumps({"type": "sendToGroup", "group": "g", "dataType": "text", "data": data}))
    _, code = await expect_close(ws)
    assert code == 1009


# ---- names: hubs are case-insensitive, groups and users are not ----------------------------------------------


async def test_hubs_are_isolated_and_case_insensitive(
    emu: Emulator, session: aiohttp.ClientSession, clients: Clients, rest: Rest
) -> None:
    ws, _ = await clients.connect(user_id="u")
    other_hub = Rest(session, emu.endpoint, emu.access_key, "otherhub")
    assert await other_hub.send_to_all(b"elsewhere") == 202
    assert await other_hub.send_to_user("u", b"elsewhere") == 202
    await expect_silence(ws, 0.2)
    upper = Rest(session, emu.endpoint, emu.access_key, HUB.upper())
    assert await upper.send_to_user("u", b"same hub") == 202
    assert (await recv_json(ws))["data"] == "same hub"


async def test_group_and_user_names_are_case_sensitive(clients: Clients, rest: Rest) -> None:
    ws, _ = await clients.connect(user_id="u1", groups=["g"])
    assert await rest.send_to_group("G", b"x") == 202
    assert await rest.send_to_user("U1", b"x") == 202
    await expect_silence(ws, 0.2)


@pytest.mark.parametrize("group", ["a/b", "with space", "caf\u00e9 \u2615", "100%", "q?x=1&y#z", "."])
async def test_unusual_group_names_round_trip(clients: Clients, rest: Rest, group: str) -> None:
    ws, _ = await clients.connect(user_id="odd/user %", roles=["webpubsub.joinLeaveGroup"])
    assert (await ack_for(ws, {"type": "joinGroup", "group": group, "ackId": 1}))["success"] is True
    assert await rest.group_exists(group) == 200
    assert await rest.send_to_group(group, b"hi") == 202
    msg = await recv_json(ws)
    assert msg["group"] == group and msg["data"] == "hi"
    assert await rest.send_to_user("odd/user %", b"user") == 202
    assert (await recv_json(ws))["data"] == "user"


async def test_application_roles_are_harmless(clients: Clients) -> None:
    ws, _ = await clients.connect(roles=["admin", "reader", "webpubsub.joinLeaveGroup"])
    assert (await ack_for(ws, {"type": "joinGroup", "group": "g", "ackId": 1}))["success"] is True
