"""How ``send_to_*`` turns a message into a body and a Content-Type (sdk-compat §5 and D2)."""

from __future__ import annotations

import io
from typing import Any, Optional

import pytest

SENDS = {
    "send_to_all": (),
    "send_to_user": ("u1",),
    "send_to_group": ("g1",),
    "send_to_connection": ("c1",),
}
ALLOWED = ("application/json", "text/plain", "application/octet-stream")


def media_type(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


# message, expected media type, expected body. The content type is inferred from the message (D2).
INFERRED = [
    pytest.param({"hello": "world"}, "application/json", b'{"hello": "world"}', id="dict"),
    pytest.param({"a": "é"}, "application/json", b'{"a": "\\u00e9"}', id="dict-non-ascii"),
    pytest.param([1, "two", None], "application/json", b'[1, "two", null]', id="list"),
    pytest.param(42, "application/json", b"42", id="int"),
    pytest.param(1.5, "application/json", b"1.5", id="float"),
    pytest.param(True, "application/json", b"true", id="bool"),
    pytest.param(None, "application/json", b"null", id="none"),
    pytest.param("héllo wörld", "text/plain", "héllo wörld".encode(), id="str"),
    pytest.param(b"\x00\x01raw", "application/octet-stream", b"\x00\x01raw", id="bytes"),
    pytest.param(bytearray(b"\x02\x03"), "application/octet-stream", b"\x02\x03", id="bytearray"),
    pytest.param(memoryview(b"\x04\x05"), "application/octet-stream", b"\x04\x05", id="memoryview"),
    pytest.param(io.BytesIO(b"abc"), "application/octet-stream", b"abc", id="BytesIO"),
]


@pytest.mark.parametrize("name", list(SENDS))
@pytest.mark.parametrize(("message", "expected_media_type", "expected_body"), INFERRED)
async def test_content_type_is_inferred_from_the_message(
    sdk, name: str, message: Any, expected_media_type: str, expected_body: bytes
) -> None:
    if isinstance(message, io.BytesIO):
        message = io.BytesIO(message.getvalue())  # a fresh stream per run
    client = sdk.client()
    sdk.script(202)

    await sdk.call(getattr(client, name), *SENDS[name], message)

    sent = sdk.recorder.only
    content_type = sent.headers["Content-Type"]
    assert media_type(content_type) == expected_media_type
    if ";" in content_type:  # a text/plain default may name its charset, which must then be UTF-8
        assert content_type.replace(" ", "").lower() == f"{expected_media_type};charset=utf-8"
    assert sent.body == expected_body


# message, explicit content_type (sent verbatim), expected body
EXPLICIT = [
    pytest.param("hello", "text/plain", b"hello", id="str-text"),
    pytest.param("hello", "application/json", b'"hello"', id="str-as-json"),
    pytest.param("hé", "application/octet-stream", "hé".encode(), id="str-as-octets"),
    pytest.param(b"\x00\x01", "application/octet-stream", b"\x00\x01", id="bytes-octets"),
    pytest.param(io.BytesIO(b"abc"), "application/octet-stream", b"abc", id="BytesIO-octets"),
    pytest.param(io.StringIO("Hello World"), "application/octet-stream", b"Hello World", id="StringIO-octets"),
    pytest.param({"a": "é"}, "application/json; charset=utf-8", b'{"a": "\\u00e9"}', id="json-with-charset"),
    pytest.param({"a": 1}, "Application/JSON", b'{"a": 1}', id="json-mixed-case"),
    pytest.param("hi", "TEXT/PLAIN; charset=utf-8", b"hi", id="text-upper-with-charset"),
    pytest.param(b"\xff", "Application/Octet-Stream", b"\xff", id="octets-mixed-case"),
]


@pytest.mark.parametrize("name", list(SENDS))
@pytest.mark.parametrize(("message", "content_type", "expected_body"), EXPLICIT)
async def test_explicit_content_type_wins_and_is_sent_verbatim(
    sdk, name: str, message: Any, content_type: str, expected_body: bytes
) -> None:
    if isinstance(message, (io.BytesIO, io.StringIO)):
        message = type(message)(message.getvalue())
    client = sdk.client()
    sdk.script(202)

    await sdk.call(getattr(client, name), *SENDS[name], message, content_type=content_type)

    sent = sdk.recorder.only
    assert sent.headers["Content-Type"] == content_type
    assert sent.body == expected_body


@pytest.mark.parametrize(
    ("message", "header", "expected_body"),
    [("hi", "application/json", b'"hi"'), ({"a": 1}, "application/json", b'{"a": 1}'), ("hi", "text/plain", b"hi")],
)
async def test_content_type_from_per_call_headers_wins_over_inference(
    sdk, message: Any, header: str, expected_body: bytes
) -> None:
    client = sdk.client()
    sdk.script(202)

    await sdk.call(client.send_to_all, message, headers={"Content-Type": header})

    sent = sdk.recorder.only
    assert sent.headers["Content-Type"] == header
    assert sent.body == expected_body


@pytest.mark.parametrize("name", list(SENDS))
@pytest.mark.parametrize("content_type", ["text/html", "application/xml", "", "json", "application/json-seq"])
async def test_unknown_content_type_raises_value_error_listing_the_accepted_types(
    sdk, name: str, content_type: Optional[str]
) -> None:
    client = sdk.client()

    with pytest.raises(ValueError) as info:
        await sdk.call(getattr(client, name), *SENDS[name], "hello", content_type=content_type)

    message = str(info.value)
    for allowed in ALLOWED:
        assert allowed in message
    assert sdk.sent == []  # nothing went out
