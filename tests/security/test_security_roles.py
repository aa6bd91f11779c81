"""Roles and permissions are enforced for every group action of a ``json.webpubsub.azure.v1`` client: joinGroup,
leaveGroup and sendToGroup without the right role get a ``Forbidden`` ack and have no effect
(service-behaviour.md §4, §6.3)."""

from __future__ import annotations

import contextlib
import itertools
import json
from typing import Any, Dict, Iterator, List, Optional, Sequence

import pytest
import requests
from security_support import HUB, JSON_PROTOCOL, now, rest_url, seg, sign
from webpubsub_emulator import EmulatorThread
from websockets.sync.client import ClientConnection, connect


class Client:
    """A json.webpubsub.azure.v1 client with blocking helpers; keeps the non-ack messages it reads."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ack_ids = itertools.count(1)
        self.messages: List[Dict[str, Any]] = []
        connected = self.recv()
        assert connected["type"] == "system" and connected["event"] == "connected", connected
        self.connection_id: str = connected["connectionId"]

    def recv(self) -> Dict[str, Any]:
        frame = self.ws.recv(timeout=10)
        return json.loads(frame)

    def request(self, **frame: Any) -> Dict[str, Any]:
        ack_id = next(self.ack_ids)
        self.ws.send(json.dumps({**frame, "ackId": ack_id}))
        while True:
            msg = self.recv()
            if msg.get("type") == "ack" and msg.get("ackId") == ack_id:
                return msg
            self.messages.append(msg)

    def join(self, group: str) -> Dict[str, Any]:
        return self.request(type="joinGroup", group=group)

    def leave(self, group: str) -> Dict[str, Any]:
        return self.request(type="leaveGroup", group=group)

    def send(self, group: str, data: str, no_echo: bool = True) -> Dict[str, Any]:
        return self.request(type="sendToGroup", group=group, dataType="text", data=data, noEcho=no_echo)

    def next_message(self) -> Dict[str, Any]:
        if self.messages:
            return self.messages.pop(0)
        return self.recv()


@pytest.fixture
def client_factory(emu: EmulatorThread) -> Iterator[Any]:
    stack = contextlib.ExitStack()

    def make(roles: Sequence[str] = (), user: Optional[str] = None) -> Client:
        claims: Dict[str, Any] = {"aud": f"{emu.endpoint}/client/hubs/{HUB}", "iat": now(), "exp": now() + 600}
        if roles:
            claims["role"] = list(roles)
        if user:
            claims["sub"] = user
        url = emu.endpoint.replace("http://", "ws://", 1) + f"/client/hubs/{HUB}?access_token={sign(claims)}"
        ws = stack.enter_context(connect(url, subprotocols=[JSON_PROTOCOL], open_timeout=10))
        return Client(ws)

    with stack:
        yield make


def _forbidden(ack: Dict[str, Any]) -> bool:
    return ack["success"] is False and ack["error"]["name"] == "Forbidden" and bool(ack["error"]["message"])


def _ok(ack: Dict[str, Any]) -> bool:
    return ack["success"] is True


def _rest(emu: EmulatorThread, method: str, path: str, query: str = "") -> int:
    url = rest_url(emu.endpoint, path, query)
    token = sign({"aud": url, "exp": now() + 60})
    return requests.request(method, url, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code


def _group_exists(emu: EmulatorThread, group: str) -> bool:
    status = _rest(emu, "HEAD", f"/groups/{seg(group)}")
    assert status in (200, 404)
    return status == 200


def test_no_role_forbids_every_group_action(emu: EmulatorThread, client_factory: Any) -> None:
    client = client_factory()
    assert _forbidden(client.join("norole.g1"))
    assert not _group_exists(emu, "norole.g1"), "a forbidden join must not add the connection"
    assert _forbidden(client.leave("norole.g1"))
    assert _forbidden(client.send("norole.g1", "x"))


def test_group_scoped_join_leave_role(emu: EmulatorThread, client_factory: Any) -> None:
    client = client_factory(["webpubsub.joinLeaveGroup.scoped.a"])
    assert _ok(client.join("scoped.a"))
    assert _group_exists(emu, "scoped.a")
    assert _forbidden(client.join("scoped.b"))
    assert not _group_exists(emu, "scoped.b")
    assert _forbidden(client.leave("scoped.b"))
    assert _forbidden(client.send("scoped.a", "x")), "joinLeaveGroup does not grant sendToGroup"
    assert _ok(client.leave("scoped.a"))


def test_group_scoped_send_role(client_factory: Any) -> None:
    client = client_factory(["webpubsub.sendToGroup.sendscoped.a"])
    assert _ok(client.send("sendscoped.a", "x"))
    assert _forbidden(client.send("sendscoped.b", "x"))
    assert _forbidden(client.join("sendscoped.a")), "sendToGroup does not grant joinLeaveGroup"
    assert _forbidden(client.leave("sendscoped.a"))


def test_all_group_roles(client_factory: Any) -> None:
    client = client_factory(["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"])
    for group in ("any.1", "any.2"):
        assert _ok(client.join(group))
        assert _ok(client.send(group, "x"))
        assert _ok(client.leave(group))


def test_role_names_are_exact(client_factory: Any) -> None:
    """Near-miss role spellings grant nothing (matching is case-sensitive and needs the exact prefix)."""
    client = client_factory(["webpubsub.JoinLeaveGroup", "webpubsub.sendtogroup", "joinLeaveGroup", "webpubsub.*"])
    assert _forbidden(client.join("exact.a"))
    assert _forbidden(client.send("exact.a", "x"))


def test_wildcard_roles(client_factory: Any) -> None:
    client = client_factory(["webpubsub.sendToGroups.team.*", "webpubsub.joinLeaveGroups.room?"])
    assert _ok(client.send("team.x", "x"))
    assert _forbidden(client.send("team.x.y", "x")), "* does not cross '.'"
    assert _forbidden(client.send("other", "x"))
    assert _ok(client.join("room1"))
    assert _forbidden(client.join("room12"))
    assert _forbidden(client.join("room"))


def test_forbidden_send_is_not_delivered(client_factory: Any) -> None:
    receiver = client_factory(["webpubsub.joinLeaveGroup"])
    intruder = client_factory()
    sender = client_factory(["webpubsub.sendToGroup"])
    assert _ok(receiver.join("deliver.g"))
    assert _forbidden(intruder.send("deliver.g", "intruder"))
    assert _ok(sender.send("deliver.g", "marker"))
    first = receiver.next_message()
    assert first["type"] == "message" and first["group"] == "deliver.g", first
    assert first["data"] == "marker", "the forbidden message reached the group"


def test_rest_grant_and_revoke_are_enforced(emu: EmulatorThread, client_factory: Any) -> None:
    client = client_factory()
    conn = seg(client.connection_id)
    assert _forbidden(client.join("grant.a"))
    assert _rest(emu, "PUT", f"/permissions/joinLeaveGroup/connections/{conn}", "targetName=grant.a") == 200
    assert _ok(client.join("grant.a"))
    assert _forbidden(client.join("grant.b")), "a grant for one group must not open others"
    assert _rest(emu, "DELETE", f"/permissions/joinLeaveGroup/connections/{conn}", "targetName=grant.a") == 204
    assert _forbidden(client.leave("grant.a"))
    assert _group_exists(emu, "grant.a"), "revoking never removes existing memberships"


def test_rest_revoke_overrides_a_token_role(emu: EmulatorThread, client_factory: Any) -> None:
    client = client_factory(["webpubsub.sendToGroup"])
    conn = seg(client.connection_id)
    assert _rest(emu, "DELETE", f"/permissions/sendToGroup/connections/{conn}", "targetName=revoked.x") == 204
    assert _forbidden(client.send("revoked.x", "x"))
    assert _ok(client.send("revoked.y", "y"))
