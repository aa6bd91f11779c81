"""The upstream contract without IO: handler tables, event headers and bodies, and how answers are read."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import List, Optional

import pytest
from webpubsub_emulator.errors import HandlerRefused, UpstreamError
from webpubsub_emulator.protocol import Payload
from webpubsub_emulator.upstream_contract import (
    ConnectOutcome,
    EventHandler,
    EventTarget,
    HandlerTable,
    UpstreamResponse,
    UserEvent,
    connect_body,
    event_headers,
    json_reply,
    metadata_headers,
    origin_allowed,
    parse_connect_answer,
    raw_reply,
    system_call,
    user_call,
    user_event_of,
)

KEY = "k" * 32
OFFERED = ["json.webpubsub.azure.v1", "custom"]


def answer(
    status: int, body: bytes = b"", content_type: Optional[str] = None, *headers: tuple[str, str]
) -> UpstreamResponse:
    return UpstreamResponse(status, body, content_type, tuple(headers))


def test_the_first_matching_handler_wins() -> None:
    first = EventHandler("http://a/{event}", user_event_pattern="chat, Ping", system_events=frozenset({"connected"}))
    second = EventHandler("http://b/{hub}/{event}")
    table = HandlerTable({"Hub": [first], "hub": [second]})
    assert table.configured and table.has_handlers("HUB") and not table.has_handlers("other")
    assert table.find("hub", user_event="ping") is first
    assert table.find("hub", user_event="other") is second
    assert table.find("hub", system_event="connected") is first
    assert table.find("hub", system_event="connect") is second
    assert table.find("other", user_event="ping") is None
    assert second.url("message", "hub") == "http://b/hub/message"
    assert not HandlerTable({}).configured


def test_event_headers() -> None:
    target = EventTarget("hub", "conn-1", "user-1", "json.webpubsub.azure.v1")
    target.connection_state = "s1"
    target.cookies["c"] = "v"
    headers = dict(
        event_headers(
            target,
            event_name="chat",
            ce_type="azure.webpubsub.user.chat",
            content_type="text/plain",
            origin="localhost",
            access_key=KEY,
            extra_headers=metadata_headers({"Key": "v"}),
        )
    )
    digest = hmac.new(KEY.encode(), b"conn-1", hashlib.sha256).hexdigest()
    assert headers["ce-signature"] == f"sha256={digest}"
    assert headers["ce-source"] == "/hubs/hub/client/conn-1" and headers["ce-id"] == "0"
    assert headers["ce-awpsversion"] == "1.0" and headers["WebHook-Request-Origin"] == "localhost"
    assert (headers["ce-userId"], headers["ce-connectionState"], headers["Cookie"]) == ("user-1", "s1", "c=v")
    assert headers["ce-subprotocol"] == "json.webpubsub.azure.v1" and headers["x-webpubsub-metadata-key"] == "v"
    again = dict(event_headers(target, event_name="e", ce_type="t", content_type="c", origin="o", access_key=KEY))
    assert again["ce-id"] == "1"  # the next event id of the connection
    anonymous = dict(
        event_headers(
            EventTarget("hub", "c2", None), event_name="e", ce_type="t", content_type="c", origin="o", access_key=KEY
        )
    )
    assert "ce-userId" not in anonymous and "ce-subprotocol" not in anonymous and "Cookie" not in anonymous


def test_connect_body_strips_credentials_and_stringifies_claims() -> None:
    body = json.loads(
        connect_body(
            {"sub": "u", "exp": 5, "role": ["r"]},
            [("access_token", "secret"), ("a", "1"), ("a", "2")],
            [("Authorization", "Bearer secret"), ("User-Agent", "x")],
            OFFERED,
        )
    )
    assert body == {
        "claims": {"sub": ["u"], "exp": ["5"], "role": ["r"]},
        "query": {"a": ["1", "2"]},
        "headers": {"User-Agent": ["x"]},
        "subprotocols": OFFERED,
        "clientCertificates": [],
    }


def test_user_event_bodies_follow_the_data_type() -> None:
    assert user_event_of("e", Payload.binary(b"\x00"), None, 1)[1:3] == (b"\x00", "application/octet-stream")
    assert user_event_of("e", Payload.json_text('{"a":1}'), None, 1)[1:3] == (b'{"a":1}', "application/json")
    assert user_event_of("e", Payload.text("hé"), {"m": "v"}, None)[1:] == (
        "hé".encode(),
        "text/plain; charset=utf-8",
        {"m": "v"},
        None,
    )


@pytest.mark.parametrize(
    ("status", "allowed", "ok"),
    [
        (200, ["*"], True),
        (204, ["LocalHost"], True),
        (200, ["a, localhost"], True),
        (200, ["other"], False),
        (500, ["*"], False),
        (200, [], False),
        # the JS middleware answers the host of its configured endpoint, port kept, one header line per endpoint
        (200, ["LOCALHOST:8080"], True),
        (200, ["localhost:8081"], False),
        (200, ["other:8080", "localhost:8080"], True),
        (200, ["other", "*"], True),
    ],
)
def test_abuse_protection_origin(status: int, allowed: List[str], ok: bool) -> None:
    assert origin_allowed(status, allowed, "localhost", 8080) is ok


def test_connect_answers() -> None:
    def read(resp: UpstreamResponse) -> ConnectOutcome:
        return parse_connect_answer(resp, offered=OFFERED, user_id="token-user", chosen="json.webpubsub.azure.v1")

    assert read(answer(204)) == ConnectOutcome("token-user", "json.webpubsub.azure.v1", None)
    assert read(answer(200, b"null")) == ConnectOutcome("token-user", "json.webpubsub.azure.v1", None)
    assert read(answer(200, b"", None, ("ce-connectionState", "s"))).state == "s"
    full = read(answer(200, b'{"userId":"","roles":[],"groups":["g"],"subprotocol":"custom"}'))
    assert full == ConnectOutcome("", "custom", None, [], ["g"])
    assert read(answer(200, b'{"groups":[]}')).groups is None  # empty groups keep the token's


@pytest.mark.parametrize(
    "resp",
    [
        answer(500),
        answer(302),
        answer(200, b"{bad"),
        answer(200, b"[1]"),
        answer(200, b'{"userId":5}'),
        answer(200, b'{"roles":"r"}'),
        answer(200, b'{"groups":["\\n"]}'),
        answer(200, b'{"subprotocol":"not-offered"}'),
        answer(200, b"", None, ("ce-connectionState", "a"), ("ce-connectionstate", "b")),
    ],
)
def test_unusable_connect_answers_are_handler_failures(resp: UpstreamResponse) -> None:
    with pytest.raises(UpstreamError):
        parse_connect_answer(resp, offered=OFFERED, user_id=None, chosen=None)


def test_a_4xx_connect_answer_is_passed_on() -> None:
    with pytest.raises(HandlerRefused) as refused:
        parse_connect_answer(answer(401, b"no", "text/plain"), offered=OFFERED, user_id=None, chosen=None)
    assert refused.value.http().status == 401 and refused.value.http().body == b"no"


def test_replies() -> None:
    assert raw_reply(answer(204)) is None and raw_reply(answer(200)) is None and raw_reply(answer(201, b"x")) is None
    assert raw_reply(answer(200, b"hi", "text/plain; charset=utf-8")) == Payload.text("hi")
    assert raw_reply(answer(200, b'{"a":1}', "application/json")) == Payload.text('{"a":1}')
    assert raw_reply(answer(200, b"\x00", None)) == Payload.binary(b"\x00")
    assert json_reply(answer(200, b"hi", "Text/Plain")) == Payload.text("hi")
    assert json_reply(answer(200, b'{"a":1}', "application/json")) == Payload.json_text('{"a":1}')
    assert json_reply(answer(200, b"{bad", "text/json")) == Payload.text("{bad")
    assert json_reply(answer(200, b"\x00", "application/octet-stream")) == Payload.binary(b"\x00")


def test_event_calls() -> None:
    handler = EventHandler("http://h/{event}")
    call = user_call(handler, UserEvent("chat", b"x", "text/plain", {"Trace": "1"}, 5))
    assert (call.event_name, call.ce_type, call.body, call.content_type) == (
        "chat",
        "azure.webpubsub.user.chat",
        b"x",
        "text/plain",
    )
    assert call.extra_headers == {"x-webpubsub-metadata-trace": "1"}
    connect = system_call(handler, "connect", b"{}")
    assert (connect.ce_type, connect.content_type, connect.extra_headers) == (
        "azure.webpubsub.sys.connect",
        "application/json",
        None,
    )
