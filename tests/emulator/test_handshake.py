"""The pure handshake decisions: hub, subprotocols, recovery pair, token, identity, connect outcome, raw mode."""

from __future__ import annotations

from typing import Any, Optional

import pytest
from multidict import MultiDict
from webpubsub_emulator import handshake
from webpubsub_emulator.errors import BadRequest, NotFound, Unauthorized, UpstreamError
from webpubsub_emulator.json_clients import JSON
from webpubsub_emulator.raw_clients import RAW, SEND_EVENT, RawMode
from webpubsub_emulator.reliable_clients import RELIABLE
from webpubsub_emulator.upstream_contract import ConnectOutcome

JSON_P = "json.webpubsub.azure.v1"
RELIABLE_P = "json.reliable.webpubsub.azure.v1"


@pytest.mark.parametrize(
    ("raw_path", "query_hub", "hub"),
    [
        ("/client/hubs/chat", None, "chat"),
        ("/client/hubs/Chat?access_token=x", None, "Chat"),
        ("/client/hubs/a%5Bb%5D", None, "a[b]"),
        ("/client", "h1", "h1"),
        ("/client/", "h1", "h1"),
    ],
)
def test_hub_from_the_path_or_the_query(raw_path: str, query_hub: Optional[str], hub: str) -> None:
    assert handshake.hub_of(raw_path, query_hub) == hub


@pytest.mark.parametrize(
    ("raw_path", "query_hub", "error"),
    [
        ("/client", None, BadRequest),
        ("/client/", "", BadRequest),
        ("/client/hubs/1bad", None, BadRequest),
        ("/client/hubs", None, NotFound),
        ("/client/hubs/a/b", None, NotFound),
        ("/client/other", None, NotFound),
    ],
)
def test_hub_refusals(raw_path: str, query_hub: Optional[str], error: type) -> None:
    with pytest.raises(error):
        handshake.hub_of(raw_path, query_hub)


def test_subprotocols_offered_and_chosen() -> None:
    offered = handshake.offered_subprotocols(["custom, " + RELIABLE_P, JSON_P, " , "])
    assert offered == ["custom", RELIABLE_P, JSON_P]
    assert handshake.choose_subprotocol(offered) == RELIABLE_P
    assert handshake.choose_subprotocol(["custom"]) is None
    assert handshake.kind_of(JSON_P) is JSON and handshake.kind_of(RELIABLE_P) is RELIABLE
    assert handshake.kind_of(None) is RAW and handshake.kind_of("custom") is RAW


def test_recovery_pair() -> None:
    assert handshake.recovery_pair(MultiDict()) is None
    assert handshake.recovery_pair(MultiDict(awps_connection_id="c")) == ("c", "")
    assert handshake.recovery_pair(MultiDict(awps_connection_id="c", awps_reconnection_token="t")) == ("c", "t")


def test_the_token_comes_from_the_query_or_a_bearer_header() -> None:
    assert handshake.token_of("q", "Bearer h") == "q"
    assert handshake.token_of(None, "bearer  h ") == "h"
    for query, header in ((None, None), ("", "Basic x"), (None, "Bearer ")):
        with pytest.raises(Unauthorized):
            handshake.token_of(query, header)


def test_identity_from_claims() -> None:
    claims: dict[str, Any] = {"sub": "u", "role": "webpubsub.joinLeaveGroup", "webpubsub.group": ["a"], "group": "b"}
    admission = handshake.admit("hub", claims, JSON_P)
    assert (admission.user_id, admission.groups, admission.subprotocol) == ("u", ["a", "b"], JSON_P)
    assert admission.permissions.allows("joinLeaveGroup", "any")
    assert handshake.admit("hub", {"sub": ["only"]}, None).user_id == "only"
    assert handshake.admit("hub", {"sub": ""}, None).user_id is None
    assert handshake.admit("hub", {}, None).user_id is None


@pytest.mark.parametrize(
    ("claims", "error"),
    [
        ({"sub": ["a", "b"]}, Unauthorized),
        ({"webpubsub.group": [1]}, BadRequest),
        ({"group": ""}, BadRequest),
        ({"role": "webpubsub.sendToGroups."}, BadRequest),
    ],
)
def test_identity_refusals(claims: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        handshake.admit("hub", claims, None)


def test_a_connect_answer_replaces_what_it_names() -> None:
    admission = handshake.admit("hub", {"sub": "u", "group": "token-group"}, JSON_P)
    outcome = ConnectOutcome("other", RELIABLE_P, "state", ["webpubsub.sendToGroup"], None)
    after = handshake.with_connect_outcome(admission, outcome)
    assert (after.user_id, after.subprotocol, after.connection_state) == ("other", RELIABLE_P, "state")
    assert after.groups == ["token-group"]  # no groups in the answer: the token's stay
    assert after.permissions.allows("sendToGroup", "g")
    after = handshake.with_connect_outcome(admission, ConnectOutcome("u", JSON_P, None, None, ["x"]))
    assert after.groups == ["x"]
    with pytest.raises(UpstreamError):
        handshake.with_connect_outcome(admission, ConnectOutcome("u", JSON_P, None, ["webpubsub.sendToGroups."]))


def test_raw_modes() -> None:
    assert handshake.raw_mode_of(MultiDict()) is SEND_EVENT
    assert handshake.raw_mode_of(MultiDict(webpubsub_mode="SendEvent")) is SEND_EVENT
    query = MultiDict(webpubsub_mode="sendToGroup", group="g", noEcho="TRUE")
    assert handshake.raw_mode_of(query) == RawMode("sendToGroup", "g", True)
    for bad in (
        MultiDict(webpubsub_mode="other"),
        MultiDict(webpubsub_mode="sendToGroup"),
        MultiDict([("webpubsub_mode", "sendToGroup"), ("group", "a"), ("group", "b")]),
        MultiDict(webpubsub_mode="sendToGroup", group=""),
    ):
        with pytest.raises(BadRequest):
            handshake.raw_mode_of(bad)
