"""The sans-IO core alone, against tables of requests: routing, signatures, handshakes, events, replies, state."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from typing import Any, List, Optional, Tuple

import pytest
from azure.core.credentials import AzureKeyCredential
from azure.messaging.webpubsubservice.eventhandler import (
    BadRequestError,
    ConnectRequest,
    ConnectResponse,
    EventRejectedError,
    ForbiddenError,
    HandlerRequest,
    HandlerResponse,
    UnauthorizedError,
    UserEventRequest,
    UserEventResponse,
    WebPubSubEventHandler,
    compute_signature,
)
from azure.messaging.webpubsubservice.eventhandler import testing as build

NET_KEY = "7aab239577fd4f24bc919802fb629f5f"
NET_CONNECTION = "0f9c97a2f0bf4706afe87a14e0797b11"
NET_SIGNATURE = "sha256=7767effcb3946f3e1de039df4b986ef02c110b1469d02c0a06f41b3b727ab561"
EMU_KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"
EMU_SIGNATURE = "sha256=8805d739a12d46f22bcb15382a8c1c2bf38ae8f04566017bd613d5ef47cafe2c"
KEY = NET_KEY


def make(**kwargs: Any) -> WebPubSubEventHandler:
    kwargs.setdefault("access_key", KEY)
    return WebPubSubEventHandler(kwargs.pop("hub", "hub"), **kwargs)


def with_headers(request: HandlerRequest, replace: dict[str, Optional[str]]) -> HandlerRequest:
    """The request with some headers replaced (None removes them)."""
    lowered = {k.lower(): v for k, v in replace.items()}
    lines = [(k, v) for k, v in request.headers.items() if k.lower() not in lowered]
    lines.extend((k, v) for k, v in replace.items() if v is not None)
    return HandlerRequest(request.method, request.path, lines, request.body)


# ------------------------------------------------------------------------------------------------ signatures
def test_signature_test_vectors() -> None:
    assert compute_signature(NET_CONNECTION, NET_KEY) == NET_SIGNATURE
    assert compute_signature(NET_CONNECTION, EMU_KEY) == EMU_SIGNATURE
    assert compute_signature(NET_CONNECTION, [NET_KEY, EMU_KEY]) == f"{NET_SIGNATURE},{EMU_SIGNATURE}"
    with pytest.raises(ValueError):
        compute_signature(NET_CONNECTION, [])


BAD = "sha256=" + "0" * 64


@pytest.mark.parametrize(
    ("signature", "status"),
    [
        (NET_SIGNATURE, 204),
        (NET_SIGNATURE.upper().replace("SHA256=", "sha256="), 204),  # upper-case hex
        ("SHA256=" + NET_SIGNATURE[7:], 204),  # the algorithm name in any case
        (f"{BAD},{NET_SIGNATURE}", 204),  # a bad entry before the good one
        (f"{NET_SIGNATURE}, {BAD}", 204),  # comma and space
        (f" {BAD} ,  {NET_SIGNATURE} ", 204),
        (f"{EMU_SIGNATURE},{NET_SIGNATURE}", 204),  # primary of another key, secondary ours
        (BAD, 401),
        (EMU_SIGNATURE, 401),  # another key's signature
        ("", 401),
        (None, 401),  # missing
        (NET_SIGNATURE[:-1], 401),  # truncated
        ("md5=" + NET_SIGNATURE[7:], 401),  # another algorithm
        (NET_SIGNATURE[7:], 401),  # no algorithm
        ("sha256=" + "g" * 64, 401),
    ],
)
def test_signature_table(signature: Optional[str], status: int) -> None:
    called: List[Any] = []
    handler = make()
    handler.on_connected(called.append)
    request = build.connected_request(connection_id=NET_CONNECTION)
    response = handler.handle(with_headers(request, {"ce-signature": signature}))
    assert response.status == (200 if status == 204 else 401)
    assert bool(called) == (status == 204)  # user code never runs on a failed check
    if status == 401:
        assert response.body == b"Signature verification failed."


def test_several_signature_header_lines_are_all_considered() -> None:
    request = build.connected_request(connection_id=NET_CONNECTION)
    request = with_headers(request, {"ce-signature": None})
    request.headers.add("ce-signature", BAD)
    request.headers.add("CE-Signature", NET_SIGNATURE)
    assert make().handle(request).status == 200


def test_several_keys_and_connection_strings() -> None:
    handler = WebPubSubEventHandler(
        "hub",
        connection_string=[f"Endpoint=https://a.webpubsub.azure.com;AccessKey={EMU_KEY};Version=1.0;"],
        access_key=["another-key-0123456789", NET_KEY],
    )
    for key in (EMU_KEY, NET_KEY):
        assert handler.handle(build.connected_request(access_key=key)).status == 200
    assert handler.handle(build.connected_request(access_key="unknown")).status == 401
    assert handler.allowed_origins == frozenset({"a.webpubsub.azure.com"})


def test_a_rotated_key_takes_effect_without_a_restart() -> None:
    credential = AzureKeyCredential("old-key-0123456789")
    handler = make(access_key=credential)
    assert handler.handle(build.connected_request(access_key="old-key-0123456789")).status == 200
    credential.update("new-key-0123456789")
    assert handler.handle(build.connected_request(access_key="old-key-0123456789")).status == 401
    assert handler.handle(build.connected_request(access_key="new-key-0123456789")).status == 200

    current = ["k1-0123456789"]
    rotating = make(access_key=lambda: list(current))
    assert rotating.handle(build.connected_request(access_key="k1-0123456789")).status == 200
    current[:] = ["k2-0123456789"]
    assert rotating.handle(build.connected_request(access_key="k1-0123456789")).status == 401
    current[:] = []  # a key source that returns nothing fails closed
    assert rotating.handle(build.connected_request(access_key="k2-0123456789")).status == 401


def test_no_key_is_an_error_unless_unsigned_on_purpose(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ValueError, match="allow_unsigned"):
        WebPubSubEventHandler("hub")
    with pytest.raises(ValueError, match="contradicts"):
        WebPubSubEventHandler("hub", access_key=KEY, allow_unsigned=True)
    with caplog.at_level(logging.WARNING):
        handler = WebPubSubEventHandler("hub", allow_unsigned=True)
    assert "unsigned" in caplog.text
    assert handler.handle(build.connected_request()).status == 200


def test_bad_configuration_is_refused_without_echoing_secrets() -> None:
    with pytest.raises(ValueError) as info:
        WebPubSubEventHandler("hub", connection_string="Endpoint=https://x;SecretPart")
    assert "SecretPart" not in str(info.value)
    for bad in (
        {"hub": ""},
        {"hub": []},
        {"hub": "my hub!"},
        {"hub": ["chat", "1st"]},
        {"path": "no-slash"},
        {"access_key": ""},
    ):
        with pytest.raises(ValueError):
            make(**bad)
    with pytest.raises(TypeError):
        make(access_key=[123])


# ------------------------------------------------------------------------------------------------ routing
@pytest.mark.parametrize(
    ("path", "mount", "status"),
    [
        ("/eventhandler", "/eventhandler", 200),
        ("/eventhandler/", "/eventhandler", 200),
        ("/eventhandler/connected", "/eventhandler", 200),
        ("/eventhandler/hubs/hub/deep/connected", "/eventhandler/", 200),
        ("/eventhandlerx/connected", "/eventhandler", 404),
        ("/other", "/eventhandler", 404),
        ("/anything/at/all", "/", 200),
    ],
)
def test_every_path_under_the_mount_is_served(path: str, mount: str, status: int) -> None:
    handler = make(path=mount)
    response = handler.handle(build.connected_request(path=path, access_key=KEY))
    assert response.status == status
    assert handler.accepts(build.connected_request(path=path)) == (status == 200)


def test_requests_that_are_not_events_are_not_ours() -> None:
    handler = make()
    for request in (
        HandlerRequest("GET", "/eventhandler/page"),
        HandlerRequest("POST", "/eventhandler/x", {"ce-type": "com.example.other"}),
        HandlerRequest("PUT", "/eventhandler/x", {"ce-type": "azure.webpubsub.sys.connected"}),
    ):
        assert not handler.accepts(request)
        assert handler.handle(request).status == 404


@pytest.mark.parametrize(
    "headers",
    [
        [("ce-connectionId", "a"), ("ce-connectionId", "b")],
        [("ce-hub", "hub"), ("ce-hub", "other")],
        [("ce-userId", "u1"), ("ce-userId", "u2")],
        [("ce-type", "azure.webpubsub.sys.connected"), ("ce-type", "azure.webpubsub.sys.connected")],
        [("ce-connectionId", "a, b")],  # a WSGI server joined two lines
    ],
)
def test_repeated_identity_headers_are_refused_before_user_code(headers: List[Tuple[str, str]]) -> None:
    called: List[Any] = []
    handler = make()
    handler.on_connected(called.append)
    request = build.connected_request(connection_id="a", user_id="u1", access_key=KEY)
    names = {name.lower() for name, _ in headers}
    lines = [(k, v) for k, v in request.headers.items() if k.lower() not in names]
    response = handler.handle(HandlerRequest("POST", request.path, lines + headers, request.body))
    assert response.status == 400 and not called


def test_hubs_compare_case_insensitively_and_unknown_hubs_are_refused() -> None:
    handler = make(hub=["Chat", "lobby"])
    assert handler.handle(build.connected_request(hub="chat", access_key=KEY)).status == 200
    assert handler.handle(build.connected_request(hub="LOBBY", access_key=KEY)).status == 200
    unknown = build.connected_request(hub="other", access_key=KEY)
    assert handler.handle(unknown).status == 400 and not handler.accepts(unknown)
    missing = with_headers(build.connected_request(access_key=KEY), {"ce-hub": None})
    assert make().handle(missing).status == 400


def test_header_names_in_any_case() -> None:
    request = build.user_event_request("Echo", "hi", user_id="u", access_key=KEY, state={"k": 1})
    for transform in (str.lower, str.upper, str.title):
        seen: List[UserEventRequest] = []
        handler = make()
        handler.on_event("echo")(lambda r, seen=seen: seen.append(r) or "ok")  # type: ignore[misc]
        lines = [(transform(k), v) for k, v in request.headers.items()]
        response = handler.handle(HandlerRequest("post", request.path, lines, request.body))
        assert response.status == 200 and response.body == b"ok"
        assert seen[0].context.user_id == "u" and seen[0].context.state["k"] == 1 and seen[0].text == "hi"


# ------------------------------------------------------------------------------------------------ handshake
@pytest.mark.parametrize(
    ("origin", "allowed", "status"),
    [
        ("a.webpubsub.azure.com", None, 200),
        ("a.webpubsub.azure.com", ["https://a.webpubsub.azure.com"], 200),
        ("A.WebPubSub.Azure.com", ["https://a.webpubsub.azure.com/"], 200),
        ("a.webpubsub.azure.com", ["http://a.webpubsub.azure.com:8080"], 200),  # port ignored
        ("127.0.0.1", ["http://127.0.0.1:54321"], 200),  # what the emulator sends
        ("a.webpubsub.azure.com:443", ["a.webpubsub.azure.com"], 200),
        ("custom.example.com, a.webpubsub.azure.com", ["https://a.webpubsub.azure.com"], 200),  # replicas
        ("custom.example.com,a.webpubsub.azure.com", ["a.webpubsub.azure.com"], 200),
        ("custom.example.com a.webpubsub.azure.com", ["a.webpubsub.azure.com"], 200),
        ("b.webpubsub.azure.com", ["https://a.webpubsub.azure.com"], 400),
        ("a.webpubsub.azure.com.attacker.tld", ["https://a.webpubsub.azure.com"], 400),  # no prefix match
        ("trusted.host.attacker.tld", ["trusted.host"], 400),
        ("webpubsub.azure.com", ["https://a.webpubsub.azure.com"], 400),  # no suffix match
        ("anything.example", ["*"], 200),
        ("", None, 400),
        (" , ", None, 400),
        (None, None, 400),
    ],
)
@pytest.mark.parametrize("method", ["OPTIONS", "GET"])
def test_handshake_table(origin: Optional[str], allowed: Optional[List[str]], status: int, method: str) -> None:
    handler = make(allowed_endpoints=allowed)
    request = build.handshake_request(origin, method=method)
    if method == "GET" and origin is None:
        assert handler.handle(request).status == 404  # a GET without the header is not a handshake
        return
    response = handler.handle(request)
    assert response.status == status
    assert response.header("WebHook-Allowed-Origin") == ("*" if status == 200 else None)


def test_the_connection_string_endpoint_is_the_default_allow_list() -> None:
    handler = WebPubSubEventHandler.from_connection_string(
        f"Endpoint=https://mine.webpubsub.azure.com;AccessKey={KEY};Version=1.0;", "hub"
    )
    assert handler.handle(build.handshake_request("mine.webpubsub.azure.com")).status == 200
    assert handler.handle(build.handshake_request("theirs.webpubsub.azure.com")).status == 400
    assert make().allowed_origins is None  # plain keys: any origin


def test_handshakes_need_no_signature_on_any_path() -> None:
    handler = make()
    assert handler.handle(build.handshake_request(path="/eventhandler/hubs/x/validate")).status == 200
    assert handler.handle(build.handshake_request(path="/elsewhere")).status == 404


# ------------------------------------------------------------------------------------------------ connect
def test_connect_request_fields_and_redacted_repr() -> None:
    seen: List[ConnectRequest] = []
    handler = make()
    handler.on_connect(lambda r: seen.append(r))  # type: ignore[func-returns-value]
    request = build.connect_request(
        hub="hub",
        user_id="alice",
        claims={"sub": ["alice"], "role": ["webpubsub.joinLeaveGroup"], "nameid": ["alice"]},
        query={"access_token": ["secret.jwt.value"], "room": ["lobby"]},
        headers={"User-Agent": ["test"]},
        subprotocols=["json.webpubsub.azure.v1", "protobuf.webpubsub.azure.v1"],
        client_certificates=[{"thumbprint": "abc", "content": "-----BEGIN CERTIFICATE-----"}],
        access_key=KEY,
    )
    assert handler.handle(request).status == 204
    got = seen[0]
    assert got.claim("sub") == "alice" and got.claims["nameid"] == ["alice"] and got.claim("missing") is None
    assert got.query["access_token"] == ["secret.jwt.value"] and got.query.first("room") == "lobby"
    assert got.headers == {"User-Agent": ["test"]} and got.subprotocols[1] == "protobuf.webpubsub.azure.v1"
    assert got.client_certificates[0].thumbprint == "abc" and got.mqtt is None
    assert got.context.event_name == "connect" and got.context.origin == build.DEFAULT_ORIGIN
    assert "secret.jwt.value" not in repr(got) and "lobby" in repr(got)
    assert "-----BEGIN" not in repr(got.client_certificates)


@pytest.mark.parametrize(
    ("reply", "body"),
    [
        (ConnectResponse(user_id="bob"), {"userId": "bob"}),
        (
            ConnectResponse(groups=["a", "b"], roles=["webpubsub.sendToGroup"]),
            {"groups": ["a", "b"], "roles": ["webpubsub.sendToGroup"]},
        ),
        (ConnectResponse(groups=[], roles=[]), {"roles": []}),  # empty groups change nothing; empty roles mean none
        (ConnectResponse(subprotocol="json.webpubsub.azure.v1"), {"subprotocol": "json.webpubsub.azure.v1"}),
        (ConnectResponse(), {}),
    ],
)
def test_connect_replies(reply: ConnectResponse, body: dict[str, Any]) -> None:
    handler = make()
    handler.on_connect(lambda r: reply)
    response = handler.handle(build.connect_request(subprotocols=["json.webpubsub.azure.v1"], access_key=KEY))
    assert response.status == 200 and response.content_type == "application/json; charset=utf-8"
    assert json.loads(response.body) == body


def test_connect_reply_validation() -> None:
    for bad in ({"user_id": ""}, {"subprotocol": ""}, {"groups": [""]}, {"roles": [None]}):
        with pytest.raises(ValueError):
            ConnectResponse(**bad)
    with pytest.raises(TypeError):
        ConnectResponse(groups="not-a-list")
    handler = make()
    handler.on_connect(lambda r: ConnectResponse(subprotocol="not.offered"))
    assert handler.handle(build.connect_request(subprotocols=["json.webpubsub.azure.v1"], access_key=KEY)).status == 500
    handler.on_connect(lambda r: {"userId": "x"})  # not a ConnectResponse
    assert handler.handle(build.connect_request(access_key=KEY)).status == 500


@pytest.mark.parametrize(
    ("error", "status", "body"),
    [
        (BadRequestError("bad room"), 400, b"bad room"),
        (UnauthorizedError("who are you"), 401, b"who are you"),
        (ForbiddenError(), 403, b"Forbidden."),
        (EventRejectedError("busy", status=503), 503, b"busy"),
        (RuntimeError("secret detail"), 500, b"Internal server error."),
    ],
)
def test_rejections_and_crashes(error: Exception, status: int, body: bytes, caplog: pytest.LogCaptureFixture) -> None:
    def refuse(_request: Any) -> None:
        raise error

    for request in (build.connect_request(access_key=KEY), build.user_event_request("e", "x", access_key=KEY)):
        handler = make()
        handler.on_connect(refuse)
        handler.on_event("e")(refuse)
        with caplog.at_level(logging.INFO):
            response = handler.handle(request)
        assert (response.status, response.body) == (status, body)
        assert response.content_type == "text/plain; charset=utf-8"
    if status == 500:
        assert "secret detail" in caplog.text  # the details go to the log only


def test_rejection_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        EventRejectedError("x", status=200)
    with pytest.raises(ValueError):
        EventRejectedError("x", mqtt_code=300)
    assert len(BadRequestError("x" * 5000).message) == 512


def test_socketio_connect_is_accepted_with_200() -> None:
    handler = make()
    request = build.connect_request(namespace="/chat", socket_id="sock1", access_key=KEY)
    response = handler.handle(request)
    assert (response.status, response.body) == (200, b"")
    seen: List[ConnectRequest] = []
    handler.on_connect(lambda r: seen.append(r))  # type: ignore[func-returns-value]
    handler.handle(request)
    assert seen[0].context.is_socketio and seen[0].context.namespace == "/chat" and seen[0].context.socket_id == "sock1"


# ------------------------------------------------------------------------------------------------ MQTT
MQTT5 = {
    "protocolVersion": 5,
    "username": "dev",
    "password": base64.b64encode(b"pw").decode(),
    "userProperties": [{"name": "a", "value": "b"}],
}


@pytest.mark.parametrize(
    ("version", "error", "status", "code"),
    [
        (4, BadRequestError("x"), 400, 4),
        (4, UnauthorizedError("x"), 401, 5),
        (4, ForbiddenError("x"), 403, 3),
        (4, RuntimeError("x"), 500, 3),
        (5, BadRequestError("x"), 400, 134),
        (5, UnauthorizedError("x"), 401, 135),
        (5, ForbiddenError("x"), 403, 128),
        (5, RuntimeError("x"), 500, 128),
        (5, ForbiddenError("banned", mqtt_code=138), 403, 138),
        (3, UnauthorizedError("x"), 401, 1),  # an unknown protocol version
    ],
)
def test_mqtt_connect_refusals_carry_the_connack_code(version: int, error: Exception, status: int, code: int) -> None:
    def refuse(_request: Any) -> None:
        raise error

    handler = make()
    handler.on_connect(refuse)
    request = build.connect_request(
        mqtt={**MQTT5, "protocolVersion": version}, physical_connection_id="p1", access_key=KEY
    )
    response = handler.handle(request)
    assert response.status == status and response.content_type == "application/json; charset=utf-8"
    assert json.loads(response.body)["mqtt"]["code"] == code


def test_mqtt_connect_fields_and_reply() -> None:
    seen: List[ConnectRequest] = []

    def connect(request: ConnectRequest) -> ConnectResponse:
        seen.append(request)
        return ConnectResponse(user_id="dev", subprotocol="mqtt", mqtt_user_properties=[("k", "v")])

    handler = make()
    handler.on_connect(connect)
    request = build.connect_request(
        mqtt=MQTT5, subprotocols=["mqtt"], physical_connection_id="phys", connection_id="client-1", access_key=KEY
    )
    response = handler.handle(request)
    assert json.loads(response.body) == {
        "userId": "dev",
        "subprotocol": "mqtt",
        "mqtt": {"userProperties": [{"name": "k", "value": "v"}]},
    }
    got = seen[0]
    assert got.context.is_mqtt and got.context.physical_connection_id == "phys" and got.context.session_id is None
    assert got.mqtt is not None and got.mqtt.protocol_version == 5 and got.mqtt.username == "dev"
    assert got.mqtt.password == b"pw" and "pw" not in repr(got.mqtt) and got.mqtt.user_properties[0].name == "a"
    bad = build.connect_request(
        mqtt={"protocolVersion": 5, "password": "%%%"}, physical_connection_id="p", access_key=KEY
    )
    assert handler.handle(bad).status == 400


def test_mqtt_user_event_and_disconnected() -> None:
    seen: List[Any] = []
    handler = make()
    handler.on_event("telemetry")(
        lambda r: seen.append(r) or UserEventResponse("ok", mqtt_user_properties=[("r", "1")])
    )  # type: ignore[func-returns-value]
    handler.on_disconnected(seen.append)
    request = build.user_event_request(
        "telemetry",
        b"\x01",
        physical_connection_id="p",
        session_id="s",
        extra_headers=[("mqtt-prop", "v")],
        access_key=KEY,
    )
    response = handler.handle(request)
    assert response.header("mqtt-r") == "1" and response.body == b"ok"
    assert seen[0].mqtt_user_properties[0].name == "prop" and seen[0].context.session_id == "s"
    mqtt = {
        "initiatedByClient": True,
        "disconnectPacket": {"code": 142, "userProperties": [{"name": "x", "value": "y"}]},
    }
    handler.handle(build.disconnected_request("gone", mqtt=mqtt, physical_connection_id="p", access_key=KEY))
    gone = seen[1]
    assert gone.reason == "gone" and gone.mqtt.initiated_by_client and gone.mqtt.disconnect_packet.code == 142


# ------------------------------------------------------------------------------------------------ user events
@pytest.mark.parametrize(
    ("data", "data_type", "media", "expected_type"),
    [
        ("héllo", "text", "text/plain", "text"),
        ({"a": 1}, "json", "application/json", "json"),
        (b"\x00\xff", "binary", "application/octet-stream", "binary"),
        (b"\x08\x01", "protobuf", "application/x-protobuf", "protobuf"),
    ],
)
def test_user_event_payload_views(data: Any, data_type: str, media: str, expected_type: str) -> None:
    seen: List[UserEventRequest] = []
    handler = make()
    handler.on_event()(lambda r: seen.append(r))  # type: ignore[func-returns-value]
    handler.handle(build.user_event_request("e", data, data_type=data_type, access_key=KEY))
    got = seen[0]
    assert got.media_type == media and got.data_type == expected_type
    if data_type == "text":
        assert got.text == data and got.data == data.encode()
    if data_type == "json":
        assert got.json() == data
    if isinstance(data, bytes):
        assert got.data == data


def test_other_media_types_charsets_and_metadata() -> None:
    seen: List[UserEventRequest] = []
    handler = make()
    handler.on_event()(lambda r: seen.append(r))  # type: ignore[func-returns-value]
    request = build.user_event_request("e", "x", access_key=KEY, extra_headers=[("X-WebPubSub-Metadata-Trace", "t1")])
    handler.handle(with_headers(request, {"Content-Type": "text/plain; charset=latin-1"}))
    request = with_headers(
        build.user_event_request("e", b"\xe9", access_key=KEY), {"Content-Type": "text/plain; charset=latin-1"}
    )
    handler.handle(request)
    handler.handle(
        with_headers(build.user_event_request("e", b"<x/>", access_key=KEY), {"Content-Type": "application/xml"})
    )
    assert seen[0].metadata == {"trace": "t1"}
    assert seen[1].text == "é"
    assert seen[2].data_type == "binary" and seen[2].media_type == "application/xml" and seen[2].data == b"<x/>"


def test_invalid_json_fails_only_when_parsed() -> None:
    results: List[Any] = []

    def lenient(request: UserEventRequest) -> str:
        results.append(request.text)
        return "fine"

    handler = make()
    handler.on_event("lenient")(lenient)
    handler.on_event("strict")(lambda r: r.json())
    bad = b'{"unterminated'
    response = handler.handle(build.user_event_request("lenient", bad, data_type="json", access_key=KEY))
    assert response.status == 200 and results == ['{"unterminated']
    response = handler.handle(build.user_event_request("strict", bad, data_type="json", access_key=KEY))
    assert (response.status, response.body) == (400, b"the event payload is not valid JSON")
    with pytest.raises(ValueError):  # the error is also a ValueError for code that catches that
        UserEventRequest.json(_user_event(bad))
    with pytest.raises(ValueError):
        _ = _user_event(b"\xff\xfe").text


def _user_event(body: bytes) -> UserEventRequest:
    seen: List[UserEventRequest] = []
    handler = make()
    handler.on_event()(lambda r: seen.append(r))  # type: ignore[func-returns-value]
    handler.handle(build.user_event_request("e", body, data_type="json", access_key=KEY))
    return seen[0]


@pytest.mark.parametrize(
    ("reply", "status", "content_type", "body"),
    [
        (None, 204, None, b""),
        ("héllo", 200, "text/plain; charset=utf-8", "héllo".encode()),
        (b"\x00\x01", 200, "application/octet-stream", b"\x00\x01"),
        (bytearray(b"\x02"), 200, "application/octet-stream", b"\x02"),
        (memoryview(b"\x03"), 200, "application/octet-stream", b"\x03"),
        ({"a": [1, None]}, 200, "application/json; charset=utf-8", b'{"a":[1,null]}'),
        ([1, 2], 200, "application/json; charset=utf-8", b"[1,2]"),
        (3.5, 200, "application/json; charset=utf-8", b"3.5"),
        (True, 200, "application/json; charset=utf-8", b"true"),
        (UserEventResponse("hi", data_type="json"), 200, "application/json; charset=utf-8", b'"hi"'),
        (UserEventResponse(b"hi", data_type="text"), 200, "text/plain; charset=utf-8", b"hi"),
        (UserEventResponse("hi", data_type="binary"), 200, "application/octet-stream", b"hi"),
        (float("nan"), 500, "text/plain; charset=utf-8", b"Internal server error."),
        (object(), 500, "text/plain; charset=utf-8", b"Internal server error."),
    ],
)
def test_user_event_reply_types(reply: Any, status: int, content_type: Optional[str], body: bytes) -> None:
    handler = make()
    handler.on_event("e")(lambda r: reply)
    response = handler.handle(build.user_event_request("e", "x", access_key=KEY))
    assert (response.status, response.content_type, response.body) == (status, content_type, body)


def test_user_event_reply_metadata_and_validation() -> None:
    handler = make()
    handler.on_event("e")(lambda r: UserEventResponse({"a": 1}, metadata={"trace": "t1"}))
    response = handler.handle(build.user_event_request("e", "x", access_key=KEY))
    assert response.header("X-WebPubSub-Metadata-trace") == "t1"
    for bad in ({"bad key": "v"}, {"k": "é"}, {"k" * 300: "v"}, {"k": "v" * 2000}):
        with pytest.raises(ValueError):
            UserEventResponse("x", metadata=bad)
    with pytest.raises(ValueError):
        UserEventResponse("x", data_type="xml")
    with pytest.raises(ValueError):
        UserEventResponse(b"\xff", data_type="text")
    with pytest.raises(ValueError):
        UserEventResponse(123, data_type="text")


def test_user_events_by_name_fallback_and_no_callback(caplog: pytest.LogCaptureFixture) -> None:
    handler = make()
    handler.on_event("Echo")(lambda r: "named")
    with caplog.at_level(logging.WARNING):
        response = handler.handle(build.user_event_request("other", "x", access_key=KEY))
    assert response.status == 204 and "no callback for user event 'other'" in caplog.text
    assert handler.handle(build.user_event_request("ECHO", "x", access_key=KEY)).body == b"named"
    handler.on_event(lambda r: "fallback")
    assert handler.handle(build.user_event_request("other", "x", access_key=KEY)).body == b"fallback"
    assert handler.handle(build.user_event_request("echo", "x", access_key=KEY)).body == b"named"
    # the event name comes from ce-eventName, falling back to the ce-type suffix (Socket.IO sends other names)
    request = with_headers(build.user_event_request("echo", "x", access_key=KEY), {"ce-eventName": None})
    assert handler.handle(request).body == b"named"


# ------------------------------------------------------------------------------------------------ other events
def test_connected_disconnected_and_group_events() -> None:
    seen: List[Tuple[str, Any]] = []
    handler = make()
    handler.on_connected(lambda r: seen.append(("connected", r)))
    handler.on_disconnected(lambda r: seen.append(("disconnected", r)))
    handler.on_group_joined(lambda r: seen.append(("joined", r)))
    handler.on_group_left(lambda r: seen.append(("left", r)))
    for request in (
        build.connected_request(user_id="u", subprotocol="json.webpubsub.azure.v1", access_key=KEY),
        build.disconnected_request("bye", access_key=KEY),
        build.disconnected_request(None, access_key=KEY),
        build.group_joined_request("g1", access_key=KEY),
        build.group_left_request("g1", access_key=KEY),
    ):
        response = handler.handle(request)
        assert (response.status, response.body) == (200, b"")
    kinds = [kind for kind, _ in seen]
    assert kinds == ["connected", "disconnected", "disconnected", "joined", "left"]
    assert seen[0][1].context.user_id == "u" and seen[0][1].context.subprotocol == "json.webpubsub.azure.v1"
    assert seen[1][1].reason == "bye" and seen[2][1].reason is None
    assert seen[3][1].group == "g1" and seen[4][1].group == "g1"
    # a lenient parse: a missing group or a broken body is not an error for these informative events
    broken = build.group_joined_request("g", access_key=KEY)
    broken.body = b"not json"
    assert handler.handle(broken).status == 200 and seen[-1][1].group is None


def test_non_blocking_events_without_callbacks_and_failing_ones() -> None:
    handler = make()
    assert handler.handle(build.connected_request(access_key=KEY)).status == 200
    assert handler.handle(build.connect_request(access_key=KEY)).status == 204  # no connect callback: accept
    handler.on_disconnected(lambda r: 1 / 0)
    assert handler.handle(build.disconnected_request(access_key=KEY)).status == 500


def test_unknown_event_types(caplog: pytest.LogCaptureFixture) -> None:
    handler = make()
    request = with_headers(build.connected_request(access_key=KEY), {"ce-type": "azure.webpubsub.sys.future"})
    with caplog.at_level(logging.DEBUG, logger="azure.messaging.webpubsubservice.eventhandler"):
        assert handler.handle(request).status == 204
    assert "unknown event type 'azure.webpubsub.sys.future'" in caplog.text
    handler.on_unknown_event(lambda r: {"type": r.context.event_type, "bytes": len(r.data)})
    response = handler.handle(request)
    assert json.loads(response.body) == {"type": "azure.webpubsub.sys.future", "bytes": 2}


def test_malformed_connect_bodies_are_400() -> None:
    handler = make()
    handler.on_connect(lambda r: None)
    for body in (b"not json", b"[1]", b'{"claims": []}', b'{"query": {"a": [1]}}', b'{"subprotocols": "x"}', b"\xff"):
        request = build.connect_request(access_key=KEY)
        request.body = body
        assert handler.handle(request).status == 400, body
    lenient = build.connect_request(access_key=KEY)
    lenient.body = b'{"query": {"a": "single"}}'  # a bare string instead of a list
    assert handler.handle(lenient).status == 204


# ------------------------------------------------------------------------------------------------ state
def test_state_changes_are_sent_once_and_only_when_changed() -> None:
    handler = make()
    actions = {
        "read": lambda s: s.get("k"),
        "same": lambda s: s.__setitem__("k", 1),
        "set": lambda s: s.__setitem__("n", [1, {"x": None}]),
        "delete": lambda s: s.__delitem__("k"),
        "clear": lambda s: s.clear(),
    }
    handler.on_event()(lambda r: actions[r.context.event_name](r.context.state))
    expected = {"read": None, "same": None, "set": {"k": 1, "n": [1, {"x": None}]}, "delete": {}, "clear": {}}
    for name, state in expected.items():
        response = handler.handle(build.user_event_request(name, "x", state={"k": 1}, access_key=KEY))
        values = state_headers(response)
        if state is None:
            assert values == []
        else:
            assert len(values) == 1 and json.loads(base64.b64decode(values[0])) == state
    response = handler.handle(build.user_event_request("clear", "x", access_key=KEY))
    assert state_headers(response) == []  # nothing to clear


def state_headers(response: HandlerResponse) -> List[str]:
    return [v for k, v in response.headers if k.lower() == "ce-connectionstate"]


def test_state_wire_format_and_bad_headers(caplog: pytest.LogCaptureFixture) -> None:
    seen: List[Any] = []
    handler = make()
    handler.on_event()(lambda r: seen.append(r.context.state))  # type: ignore[func-returns-value]
    handler.on_connect(lambda r: r.context.state.update(key="a"))
    response = handler.handle(build.connect_request(access_key=KEY))
    assert response.status == 204 and response.header("ce-connectionState") == "eyJrZXkiOiJhIn0="  # the docs' example
    for bad in ("not base64!", base64.b64encode(b"not json").decode(), "WzFd", base64.b64encode(b"\xff").decode()):
        request = with_headers(build.user_event_request("e", "x", access_key=KEY), {"ce-connectionState": bad})
        with caplog.at_level(logging.WARNING):
            assert handler.handle(request).status == 204
        state = seen[-1]
        assert dict(state) == {} and not state.valid and state.raw == bad
    assert "ce-connectionState" in caplog.text


def test_state_rules() -> None:
    handler = make()
    handler.on_event("bad")(lambda r: r.context.state.__setitem__("k", object()))
    assert handler.handle(build.user_event_request("bad", "x", access_key=KEY)).status == 500
    handler.on_connected(lambda r: r.context.state.__setitem__("k", 1))  # read-only outside blocking events
    assert handler.handle(build.connected_request(state={"k": 0}, access_key=KEY)).status == 500
    seen: List[Any] = []
    handler.on_disconnected(lambda r: seen.append(r.context.state.to_dict()))
    handler.handle(build.disconnected_request(state={"k": 2}, access_key=KEY))
    assert seen == [{"k": 2}]


def test_large_state_is_sent_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    handler = make()
    handler.on_event()(lambda r: r.context.state.__setitem__("big", "x" * 5000))
    with caplog.at_level(logging.WARNING):
        response = handler.handle(build.user_event_request("e", "x", access_key=KEY))
    assert response.header("ce-connectionState") and "keep state small" in caplog.text


# ------------------------------------------------------------------------------------------------ sync and async
async def _coroutine_reply(request: Any) -> str:
    await asyncio.sleep(0)
    return "from a coroutine"


def test_sync_handle_refuses_coroutine_callbacks(caplog: pytest.LogCaptureFixture) -> None:
    handler = make()
    handler.on_event("e")(_coroutine_reply)
    with caplog.at_level(logging.ERROR):
        response = handler.handle(build.user_event_request("e", "x", access_key=KEY))
    assert response.status == 500 and "coroutine function" in caplog.text
    with pytest.raises(TypeError, match="coroutine"):
        handler.require_sync_callbacks("the WSGI adapter")
    handler.on_event("e")(lambda r: _coroutine_reply(r))  # a plain function returning a coroutine
    assert handler.handle(build.user_event_request("e", "x", access_key=KEY)).status == 500


async def test_handle_async_runs_coroutines_and_plain_callbacks() -> None:
    import threading

    threads: List[str] = []
    handler = make()
    handler.on_event("async")(_coroutine_reply)
    handler.on_event("sync")(lambda r: threads.append(threading.current_thread().name) or "plain")  # type: ignore[func-returns-value]
    assert (
        await handler.handle_async(build.user_event_request("async", "x", access_key=KEY))
    ).body == b"from a coroutine"
    assert (await handler.handle_async(build.user_event_request("sync", "x", access_key=KEY))).body == b"plain"
    assert threads and threads[0] != threading.current_thread().name  # ran in a worker thread
    handler.on_event("boom")(lambda r: 1 / 0)
    assert (await handler.handle_async(build.user_event_request("boom", "x", access_key=KEY))).status == 500
    assert (await handler.handle_async(build.handshake_request())).status == 200


def test_reprs_hide_secrets() -> None:
    request = build.connect_request(query={"access_token": ["tok-123"]}, access_key=KEY)
    assert "tok-123" not in repr(request.headers) and KEY not in repr(make())
    assert "sha256" not in repr(request.headers)
