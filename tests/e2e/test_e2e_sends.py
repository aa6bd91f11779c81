"""The four sends x JSON/text/binary, reaching raw, json and reliable clients in the right form (sync and aio SDK)."""

from __future__ import annotations

import base64
import io
import json
from typing import Any, Optional

import pytest
from azure.core.exceptions import HttpResponseError
from azure.messaging.webpubsubservice import odata
from e2e_support import RELIABLE, Clients, Frame, Service, WsClient, assert_nothing_else, decoded

# What the SDK is given, and how each kind of client must see it (the one place the delivery rules are written down):
#   raw client:  the frame kind and payload (JSON arrives as its text; compared after parsing)
#   JSON client: the message's dataType and data (binary data decoded from base64)
PAYLOADS: dict[str, dict[str, Any]] = {
    "json": {
        "message": {"text": "h\u00e9llo", "n": [1, 2.5, None, True]},
        "raw": ("text-json", {"text": "h\u00e9llo", "n": [1, 2.5, None, True]}),
        "json": ("json", {"text": "h\u00e9llo", "n": [1, 2.5, None, True]}),
    },
    "text": {
        "message": "h\u00e9llo w\u00f6rld \U0001f600",
        "raw": ("text", "h\u00e9llo w\u00f6rld \U0001f600"),
        "json": ("text", "h\u00e9llo w\u00f6rld \U0001f600"),
    },
    "binary": {
        "message": b"\x00\x01\x7f\x80\xfe\xff",
        "raw": ("binary", b"\x00\x01\x7f\x80\xfe\xff"),
        "json": ("binary", b"\x00\x01\x7f\x80\xfe\xff"),
    },
}

SEND_KINDS = ["all", "user", "group", "connection"]


def view(frame: Frame, client: WsClient, expected_raw_kind: str) -> tuple[str, Any]:
    """What a client saw, in the shape of the PAYLOADS table."""
    if client.protocol is None:
        data_type, data = decoded(frame)
        if expected_raw_kind == "text-json" and data_type == "text":
            return "text-json", json.loads(data)
        return data_type, data
    return decoded(frame)


def check_envelope(frame: Frame, client: WsClient, send_kind: str, group: str) -> None:
    """JSON clients: from/group/fromUserId per send kind, and sequenceId only on the reliable subprotocol."""
    if client.protocol is None:
        return
    message = frame.data
    assert message["type"] == "message"
    if send_kind == "group":
        assert message["from"] == "group"
        assert message["group"] == group
        assert "fromUserId" in message and message["fromUserId"] is None  # present, null for REST group sends
    else:
        assert message["from"] == "server"
        assert "group" not in message
    if client.protocol == RELIABLE:
        assert isinstance(message["sequenceId"], int) and message["sequenceId"] >= 1
    else:
        assert "sequenceId" not in message


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
@pytest.mark.parametrize("send_kind", SEND_KINDS)
async def test_send_reaches_every_kind_of_client(
    service: Service, clients: Clients, send_kind: str, payload: str
) -> None:
    expected = PAYLOADS[payload]
    message = expected["message"]
    group = "everyone"
    if send_kind == "all":
        await service.send_to_all(message)
    elif send_kind == "group":
        for client in clients:
            await service.add_connection_to_group(group, client.connection_id)
        await service.send_to_group(group, message)
    for client in clients:
        if send_kind == "user":
            await service.send_to_user(client.user_id, message)
        elif send_kind == "connection":
            await service.send_to_connection(client.connection_id, message)
        frame = await client.next_message()
        kind = "raw" if client.protocol is None else "json"
        assert view(frame, client, expected["raw"][0]) == expected[kind], f"{client.name}: {frame}"
        check_envelope(frame, client, send_kind, group)
    await assert_nothing_else(service, *clients)


async def test_reliable_sequence_ids_rise_by_one(service: Service, clients: Clients) -> None:
    for text in ("one", "two", "three"):
        await service.send_to_connection(clients.reliable.connection_id, text)
    ids = [(await clients.reliable.next_message()).data["sequenceId"] for _ in range(3)]
    assert ids == [ids[0], ids[0] + 1, ids[0] + 2]


# (message, send_to_all options, what a JSON client sees, what a raw client sees); a callable makes a fresh stream
CONTENT_CASES: list[tuple[Any, dict[str, Any], tuple[str, Any], Optional[tuple[str, Any]]]] = [
    # inferred from the Python type
    ([1, "two", None], {}, ("json", [1, "two", None]), ("text", '[1, "two", null]')),
    (42, {}, ("json", 42), ("text", "42")),
    (True, {}, ("json", True), ("text", "true")),
    (bytearray(b"\x01\x02"), {}, ("binary", b"\x01\x02"), ("binary", b"\x01\x02")),
    (memoryview(b"\x03\x04"), {}, ("binary", b"\x03\x04"), ("binary", b"\x03\x04")),
    (lambda: io.BytesIO(b"stream"), {}, ("binary", b"stream"), ("binary", b"stream")),
    # an explicit content type wins; a str sent as JSON is a JSON string, and raw clients see it with its quotes
    ("Hello", {"content_type": "application/json"}, ("json", "Hello"), ("text", '"Hello"')),
    ({"a": "\u00e9"}, {"content_type": "application/json; charset=utf-8"}, ("json", {"a": "\u00e9"}), None),
    (
        "\u00e9t\u00e9",
        {"content_type": "text/plain; charset=utf-8"},
        ("text", "\u00e9t\u00e9"),
        ("text", "\u00e9t\u00e9"),
    ),
    ("plain", {"content_type": "application/octet-stream"}, ("binary", b"plain"), ("binary", b"plain")),
    ("plain", {"content_type": "TEXT/PLAIN"}, ("text", "plain"), ("text", "plain")),
    # a Content-Type in the per-call headers counts as explicit too
    ("hdr", {"headers": {"Content-Type": "application/octet-stream"}}, ("binary", b"hdr"), ("binary", b"hdr")),
    # the 1.3.0 workaround for the TTL still works
    ("ttl", {"params": {"messageTtlSeconds": 10}}, ("text", "ttl"), ("text", "ttl")),
]


@pytest.mark.parametrize("case", range(len(CONTENT_CASES)))
async def test_content_types(service: Service, clients: Clients, case: int) -> None:
    message, options, for_json, for_raw = CONTENT_CASES[case]
    await service.send_to_all(message() if callable(message) else message, **options)
    assert decoded(await clients.json.next_message()) == for_json
    raw = decoded(await clients.raw.next_message())
    if for_raw is not None:
        assert raw == for_raw


async def test_excluded(service: Service, clients: Clients) -> None:
    await service.send_to_all("not json", excluded=[clients.json.connection_id])
    for client in (clients.raw, clients.reliable):
        assert decoded(await client.next_message()) == ("text", "not json")

    for client in clients:
        await service.add_connection_to_group("room", client.connection_id)
    await service.send_to_group("room", "not raw", excluded=[clients.raw.connection_id, clients.reliable.connection_id])
    assert decoded(await clients.json.next_message()) == ("text", "not raw")
    await assert_nothing_else(service, *clients)


async def test_filter(service: Service, clients: Clients) -> None:
    await service.send_to_all("reliable only", filter=odata("userId eq {}", "reliable-user"))
    assert decoded(await clients.reliable.next_message()) == ("text", "reliable only")

    await service.send_to_all("members of home-raw", filter=odata("{} in groups", "home-raw"))
    assert decoded(await clients.raw.next_message()) == ("text", "members of home-raw")

    for client in clients:
        await service.add_connection_to_group("room", client.connection_id)
    await service.send_to_group("room", "json only", filter=odata("connectionId eq {}", clients.json.connection_id))
    assert decoded(await clients.json.next_message()) == ("text", "json only")

    await service.send_to_user("json-user", "nobody", filter=odata("connectionId ne {}", clients.json.connection_id))
    await assert_nothing_else(service, *clients)


async def test_filter_syntax_error_is_a_400(service: Service, clients: Clients) -> None:
    with pytest.raises(HttpResponseError) as info:
        await service.send_to_all("x", filter="userId eq")
    assert info.value.status_code == 400


@pytest.mark.parametrize("send_kind", SEND_KINDS)
async def test_message_ttl_seconds(service: Service, clients: Clients, send_kind: str) -> None:
    target = clients.json
    await service.add_connection_to_group("ttl", target.connection_id)
    send = {
        "all": lambda **kw: service.send_to_all("ttl", **kw),
        "user": lambda **kw: service.send_to_user(target.user_id, "ttl", **kw),
        "group": lambda **kw: service.send_to_group("ttl", "ttl", **kw),
        "connection": lambda **kw: service.send_to_connection(target.connection_id, "ttl", **kw),
    }[send_kind]
    await send(message_ttl_seconds=30)
    assert decoded(await target.next_message()) == ("text", "ttl")
    await send(message_ttl_seconds=0)  # 0: never expires
    assert decoded(await target.next_message()) == ("text", "ttl")
    with pytest.raises(HttpResponseError) as info:  # the service checks the range (0-300), not the SDK
        await send(message_ttl_seconds=301)
    assert info.value.status_code == 400
    await assert_nothing_else(service, target)


# A client's own group message, by dataType: (data sent, what a JSON member sees, what a raw member sees)
CLIENT_GROUP_MESSAGES = {
    "json": ({"k": [1, "v"]}, ("json", {"k": [1, "v"]}), "text-json"),
    "text": ("h\u00e9llo", ("text", "h\u00e9llo"), ("text", "h\u00e9llo")),
    "binary": (base64.b64encode(b"\x00\xff").decode(), ("binary", b"\x00\xff"), ("binary", b"\x00\xff")),
}


@pytest.mark.parametrize("data_type", sorted(CLIENT_GROUP_MESSAGES))
async def test_client_group_message_reaches_every_kind_of_member(
    service: Service, clients: Clients, data_type: str
) -> None:
    data, for_json, for_raw = CLIENT_GROUP_MESSAGES[data_type]
    publisher = await WsClient.open(
        await service.url(user_id="publisher", roles=["webpubsub.sendToGroup.room"]), RELIABLE, "publisher"
    )
    for client in clients:
        await service.add_connection_to_group("room", client.connection_id)
    ack = await publisher.publish("room", data, data_type)
    assert ack["success"] is True, ack
    for client in (clients.json, clients.reliable):
        frame = await client.next_message()
        assert decoded(frame) == for_json
        assert (frame.data["from"], frame.data["group"], frame.data["fromUserId"]) == ("group", "room", "publisher")
    raw = await clients.raw.next_message()
    if for_raw == "text-json":
        assert raw.kind == "text" and json.loads(raw.data) == data
    else:
        assert decoded(raw) == for_raw
    await assert_nothing_else(service, *clients, publisher)  # the publisher is not a member: it got nothing
    await publisher.close()
