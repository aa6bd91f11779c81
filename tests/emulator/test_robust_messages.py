"""Messages that some recipient could not be sent (issue 8, findings 1, 2 and 10): checked once, where they enter.

A lone surrogate (valid JSON: ``"\\ud800"``), JSON nested deeper than the documented limit, metadata that cannot be a
header, a charset that is not a text charset: each is refused where it enters (a ``BadRequest`` ack for a client frame,
400 or 415 for REST) with a reason, and every other member of the group keeps its connection and its messages, raw,
JSON and reliable alike. Before, the message was accepted and every recipient's TCP connection was cut while writing
it (reliable members for good: every recovery re-sent it).
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Tuple

import aiohttp
import pytest
from webpubsub_emulator import limits
from ws_support import (
    JSON,
    RELIABLE,
    ClientPool,
    Rest,
    expect_close,
    expect_silence,
    raw_http,
    recv,
    recv_json,
    seg,
    sign,
)

HUB = "robusthub"
ROLES = ("webpubsub.joinLeaveGroup", "webpubsub.sendToGroup")
WS = aiohttp.ClientWebSocketResponse


class Members:
    """A sender and one receiver of each kind (raw, JSON, reliable), all in group ``g``."""

    def __init__(self, sender: WS, receivers: List[Tuple[str, WS]]) -> None:
        self.sender = sender
        self.receivers = receivers

    async def still_served(self, rest: Rest, text: str = "still here") -> None:
        """Every receiver is connected and gets the next message (nothing before it)."""
        assert await rest.send_to_group("g", text.encode(), "text/plain") == 202
        for kind, ws in self.receivers:
            msg = await recv(ws)
            assert msg.type is aiohttp.WSMsgType.TEXT, f"{kind} receiver: {msg.type!r} {msg.data!r}"
            if kind == "raw":
                assert msg.data == text
            else:
                got = json.loads(msg.data)
                assert (got["type"], got["data"]) == ("message", text), got
                assert ("sequenceId" in got) is (kind == "reliable")

    async def ack(self, frame: Dict[str, Any]) -> Dict[str, Any]:
        """Send ``frame`` (with ackId 1) as JSON text (escapes as ``json.dumps`` makes them) and return its ack."""
        return await self.ack_text(json.dumps({**frame, "ackId": 1}))

    async def ack_text(self, text: str) -> Dict[str, Any]:
        """Send ``text`` (a request with ackId 1) and return its ack."""
        await self.sender.send_str(text)
        msg = await recv_json(self.sender)
        assert msg["type"] == "ack" and msg["ackId"] == 1, msg
        return msg


@pytest.fixture
async def members(clients: ClientPool) -> Members:
    sender, _, _ = await clients.subprotocol(JSON, "sender", ROLES)
    receivers: List[Tuple[str, WS]] = [("raw", await clients.open_url(clients.url("raw", groups=["g"])))]
    for kind, protocol in (("json", JSON), ("reliable", RELIABLE)):
        ws, _, _ = await clients.subprotocol(protocol, kind, groups=["g"])
        receivers.append((kind, ws))
    return Members(sender, receivers)


def deep(depth: int) -> str:
    """JSON text of ``1`` in ``depth`` nested arrays (built as text: too deep for ``json.dumps`` in a test's stack)."""
    return "[" * depth + "1" + "]" * depth


def deep_send(depth: int) -> str:
    return '{"type":"sendToGroup","group":"g","ackId":1,"data":' + deep(depth) + "}"


def assert_bad_request(ack: Dict[str, Any], *words: str) -> None:
    assert ack["success"] is False and ack["error"]["name"] == "BadRequest", ack
    for word in words:
        assert word in ack["error"]["message"], ack


# ---- client frames ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "words"),
    [
        ({"type": "sendToGroup", "group": "g", "dataType": "text", "data": "\ud800"}, ("Unicode",)),
        ({"type": "sendToGroup", "group": "g", "dataType": "json", "data": {"k": ["ok", "\udfff"]}}, ("Unicode",)),
        ({"type": "sendToGroup", "group": "g", "data": 1, "metadata": {"k": "\ud800"}}, ("Unicode",)),
        ({"type": "sendToGroup", "group": "g", "data": 1, "metadata": {"k": "a\r\nb"}}, ("control",)),
        ({"type": "sendToGroup", "group": "g", "data": 1, "metadata": {"bad key": "v"}}, ("metadata key",)),
        ({"type": "sendToGroup", "group": "\ud800", "data": 1}, ("group",)),
    ],
    ids=["text", "json", "metadata-value", "metadata-crlf", "metadata-key", "group-name"],
)
async def test_client_message_no_recipient_could_be_sent_is_refused_and_no_one_is_cut(
    members: Members, rest: Rest, frame: Dict[str, Any], words: Tuple[str, ...]
) -> None:
    assert_bad_request(await members.ack(frame), *words)
    await members.still_served(rest)
    # the sender stays connected too, and its next message goes out (the refused one never shows up)
    assert (await members.ack({"type": "sendToGroup", "group": "g", "dataType": "text", "data": "fine"}))["success"]
    for kind, ws in members.receivers:
        msg = await recv(ws)
        assert (msg.data if kind == "raw" else json.loads(msg.data)["data"]) == "fine", kind


async def test_client_json_deeper_than_the_limit_is_refused_and_the_limit_itself_is_delivered(
    members: Members, rest: Rest
) -> None:
    assert_bad_request(await members.ack_text(deep_send(500)), "deeper than")
    await members.still_served(rest)
    limit = limits.MAX_JSON_DEPTH
    assert_bad_request(await members.ack_text(deep_send(limit + 1)), f"deeper than {limit}")
    assert (await members.ack_text(deep_send(limit)))["success"]
    for kind, ws in members.receivers:
        msg = await recv(ws)
        text = msg.data if kind == "raw" else msg.data.split('"data":', 1)[1]
        assert text.startswith(deep(limit)), kind


async def test_client_frame_too_deep_to_parse_closes_only_the_sender(members: Members, rest: Rest) -> None:
    await members.sender.send_str(deep_send(970))
    frames, code = await expect_close(members.sender)
    assert code == 1007
    assert "nested deeper" in json.loads(frames[-1].data)["message"]
    await members.still_served(rest)


async def test_refused_message_is_not_replayed_to_a_recovering_reliable_member(members: Members, rest: Rest) -> None:
    assert_bad_request(await members.ack({"type": "sendToGroup", "group": "g", "data": "\ud800", "dataType": "text"}))
    await members.still_served(rest)
    await expect_silence(members.receivers[2][1])


# ---- REST ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body", "words"),
    [
        ("application/json", b'{"a":"\\ud800"}', "Unicode"),
        ("application/json", b'["\\udc00", "x"]', "Unicode"),
        ("text/plain; charset=utf-7", b"+2AA-", "Unicode"),
        ("application/json; charset=utf-7", b'"+2AA-"', "Unicode"),
        ("application/json", deep(970).encode(), "deeper than"),
    ],
    ids=["json-escape", "json-low-surrogate", "utf7-text", "utf7-json", "deep-json"],
)
async def test_rest_body_no_recipient_could_be_sent_is_400_and_no_one_is_cut(
    members: Members, rest: Rest, content_type: str, body: bytes, words: str
) -> None:
    status, data = await rest.call("POST", "/groups/g/:send", body=body, content_type=content_type)
    assert status == 400, data
    assert words in json.loads(data)["message"]
    await members.still_served(rest)


async def test_rest_json_at_the_depth_limit_is_delivered_one_deeper_is_400(members: Members, rest: Rest) -> None:
    limit = limits.MAX_JSON_DEPTH
    status, data = await rest.call(
        "POST", "/groups/g/:send", body=deep(limit + 1).encode(), content_type="application/json"
    )
    assert status == 400 and f"deeper than {limit}" in json.loads(data)["message"]
    assert await rest.send_to_group("g", deep(limit).encode(), "application/json") == 202
    for kind, ws in members.receivers:
        msg = await recv(ws)
        text = msg.data if kind == "raw" else msg.data.split('"data":', 1)[1]
        assert text.startswith(deep(limit)), kind


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (b"X-WebPubSub-Metadata-k", b"caf\xe9"),  # Latin-1, not UTF-8
        (b"X-WebPubSub-Metadata-k", b"\xed\xa0\x80"),  # a surrogate encoded as UTF-8 (CESU)
    ],
    ids=["latin1", "cesu"],
)
async def test_rest_metadata_header_that_is_not_utf8_is_400_and_no_one_is_cut(
    members: Members, rest: Rest, name: bytes, value: bytes
) -> None:
    target = rest.url("/groups/g/:send").split(rest.endpoint, 1)[1]
    headers = [
        ("Authorization", f"Bearer {sign(rest.endpoint + target, rest.key)}".encode()),
        ("Content-Type", b"text/plain"),
        (name.decode(), value),
    ]
    status, body = await raw_http(rest.endpoint, "POST", target, headers, b"hello")
    assert status == 400, body
    assert "metadata" in json.loads(body)["message"]
    await members.still_served(rest)


@pytest.mark.parametrize(
    "charset", ["base64", "hex", "zlib", "rot13", "bz2", "uu", "unicode_escape", "idna", "punycode"]
)
@pytest.mark.parametrize("mime", ["text/plain", "application/json"])
async def test_only_text_charsets_are_accepted(members: Members, rest: Rest, mime: str, charset: str) -> None:
    status, data = await rest.call(
        "POST", f"/groups/{seg('g')}/:send", body=b"aGk=", content_type=f"{mime}; charset={charset}"
    )
    assert status == 415, data
    assert json.loads(data)["code"] == "UnsupportedMediaType"
    await members.still_served(rest)


@pytest.mark.parametrize(
    ("charset", "body", "text"),
    [("utf-16", "h\u00e9".encode("utf-16"), "h\u00e9"), ("cp1252", b"\x80", "\u20ac"), ("utf-7", b"+AOk-", "\u00e9")],
)
async def test_text_charsets_still_work(members: Members, rest: Rest, charset: str, body: bytes, text: str) -> None:
    assert await rest.send_to_group("g", body, f"text/plain; charset={charset}") == 202
    _, raw = members.receivers[0]
    assert (await recv(raw)).data == text
