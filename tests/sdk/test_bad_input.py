"""Bad input gets a clear error, or the behaviour the caller meant; secrets never reach the logs.

Each case here used to be accepted silently (issue 9): a str lifetime minted a token that never expires, a declared
charset was ignored, a str ``excluded`` was split into characters, ``.``/``..`` reached another resource, an int user
id or an ``alg`` header changed the token, and secret headers or URL user info were logged in clear.
"""

from __future__ import annotations

import io
import logging
import typing
from typing import Any, Iterator

import jwt
import pytest

from .conftest import ACCESS_KEY, sdk_module

# ---------------------------------------------------------------------------------------------------- client tokens


@pytest.mark.parametrize("minutes", ["60", 60.0, True, b"60"])
async def test_a_lifetime_that_is_not_an_int_is_refused(sdk: Any, minutes: Any) -> None:
    client = sdk.client()
    with pytest.raises(TypeError, match="minutes_to_expire must be an int"):
        await sdk.call(client.get_client_access_token, minutes_to_expire=minutes)
    assert sdk.recorder.sent == []


@pytest.mark.parametrize("minutes", [0, -5])
async def test_a_lifetime_below_one_minute_is_refused(sdk: Any, minutes: int) -> None:
    client = sdk.client()
    with pytest.raises(ValueError, match="minutes_to_expire must be at least 1"):
        await sdk.call(client.get_client_access_token, minutes_to_expire=minutes)


@pytest.mark.parametrize("method", ["get_client_access_token", "generate_client_token"])
async def test_the_service_path_refuses_bad_lifetimes_too(sdk: Any, method: str) -> None:
    from .conftest import FakeAsyncTokenCredential, FakeTokenCredential

    credential = FakeAsyncTokenCredential() if sdk.is_aio else FakeTokenCredential()
    client = sdk.client(credential=credential)
    with pytest.raises(TypeError, match="minutes_to_expire"):
        await sdk.call(getattr(client, method), minutes_to_expire="60")
    with pytest.raises(ValueError, match="at least 1"):
        await sdk.call(getattr(client, method), minutes_to_expire=-5)
    assert sdk.recorder.sent == []


@pytest.mark.parametrize("user_id", [42, b"alice", ["alice"]])
async def test_a_user_id_that_is_not_a_str_is_refused(sdk: Any, user_id: Any) -> None:
    client = sdk.client()
    with pytest.raises(TypeError, match="user_id must be a str"):
        await sdk.call(client.get_client_access_token, user_id=user_id)
    with pytest.raises(TypeError, match="user_id must be a str"):
        await sdk.call(client.generate_client_token, user_id=user_id)


async def test_an_empty_user_id_is_refused_instead_of_dropping_sub(sdk: Any) -> None:
    client = sdk.client()
    with pytest.raises(ValueError, match="user_id must not be empty"):
        await sdk.call(client.get_client_access_token, user_id="")
    token = (await sdk.call(client.get_client_access_token, user_id=None))["token"]
    assert "sub" not in jwt.decode(token, ACCESS_KEY, algorithms=["HS256"], options={"verify_aud": False})


@pytest.mark.parametrize("alg", ["none", "HS512", "HS256"])
@pytest.mark.parametrize("name", ["alg", "ALG"])
async def test_jwt_headers_cannot_change_the_signing_algorithm(sdk: Any, alg: str, name: str) -> None:
    client = sdk.client()
    with pytest.raises(ValueError, match="cannot set 'alg'"):
        await sdk.call(client.get_client_access_token, jwt_headers={name: alg, "kid": "k"})


async def test_roles_and_groups_given_as_one_str_or_a_tuple_are_whole_names(sdk: Any) -> None:
    client = sdk.client()
    result = await sdk.call(client.get_client_access_token, roles=("r1", "r2"), groups="lobby")
    claims = jwt.decode(result["token"], ACCESS_KEY, algorithms=["HS256"], options={"verify_aud": False})
    assert claims["role"] == ["r1", "r2"]
    assert claims["webpubsub.group"] == ["lobby"]


async def test_the_service_path_sends_one_str_role_as_one_role(sdk: Any) -> None:
    from .conftest import FakeAsyncTokenCredential, FakeTokenCredential, Reply

    credential = FakeAsyncTokenCredential() if sdk.is_aio else FakeTokenCredential()
    client = sdk.client(credential=credential)
    sdk.script(Reply(200, {"token": "t"}))
    await sdk.call(client.get_client_access_token, roles="admin", groups=("g1", "g2"))
    assert sdk.recorder.only.query["role"] == ["admin"]
    assert sdk.recorder.only.query["group"] == ["g1", "g2"]


# ---------------------------------------------------------------------------------------------------- charsets


@pytest.mark.parametrize(
    ("content_type", "encoding"),
    [
        ("text/plain; charset=latin-1", "latin-1"),
        ("text/plain;charset=ISO-8859-1", "latin-1"),
        ('text/plain; charset="utf-16"', "utf-16"),
        ("text/plain; charset=utf-8", "utf-8"),
        ("application/octet-stream; charset=cp1252", "cp1252"),
    ],
)
async def test_a_declared_charset_encodes_the_text(sdk: Any, content_type: str, encoding: str) -> None:
    client = sdk.client()
    sdk.script(202)
    await sdk.call(client.send_to_all, "caf\u00e9 \u00fcber", content_type=content_type)
    sent = sdk.recorder.only
    assert sent.headers["Content-Type"] == content_type
    assert sent.body == "caf\u00e9 \u00fcber".encode(encoding)


async def test_a_declared_charset_encodes_a_text_stream_and_json(sdk: Any) -> None:
    client = sdk.client()
    sdk.script(202, 202)
    await sdk.call(client.send_to_all, io.StringIO("\u00e9"), content_type="text/plain; charset=latin-1")
    await sdk.call(client.send_to_all, {"a": "\u00e9"}, content_type="application/json; charset=utf-16")
    assert sdk.recorder.sent[0].body == b"\xe9"
    assert sdk.recorder.sent[1].body.decode("utf-16") == '{"a": "\\u00e9"}'


async def test_bytes_are_sent_as_given_whatever_the_charset(sdk: Any) -> None:
    client = sdk.client()
    sdk.script(202)
    await sdk.call(client.send_to_all, b"\xe9", content_type="text/plain; charset=latin-1")
    assert sdk.recorder.only.body == b"\xe9"


async def test_an_unknown_charset_is_refused(sdk: Any) -> None:
    client = sdk.client()
    with pytest.raises(ValueError, match="Unsupported charset 'klingon'"):
        await sdk.call(client.send_to_all, "hi", content_type="text/plain; charset=klingon")
    assert sdk.recorder.sent == []


async def test_text_the_charset_cannot_hold_is_refused(sdk: Any) -> None:
    client = sdk.client()
    with pytest.raises(ValueError, match="cannot be encoded in the declared charset iso8859-1"):
        await sdk.call(client.send_to_user, "u1", "\u20ac", content_type="text/plain; charset=latin-1")
    assert sdk.recorder.sent == []


# ---------------------------------------------------------------------------------------------------- excluded


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("send_to_all", ({"a": 1},)),
        ("send_to_group", ("g", {"a": 1})),
        ("close_all_connections", ()),
        ("close_group_connections", ("g",)),
        ("close_user_connections", ("u",)),
    ],
)
@pytest.mark.parametrize(("excluded", "expected"), [("conn-1", ["conn-1"]), (("c1", "c2"), ["c1", "c2"])])
async def test_excluded_as_one_str_is_one_id_and_a_tuple_is_a_list(
    sdk: Any, method: str, args: tuple, excluded: Any, expected: list
) -> None:
    client = sdk.client()
    sdk.script(202 if method.startswith("send") else 204)
    await sdk.call(getattr(client, method), *args, excluded=excluded)
    assert sdk.recorder.only.query["excluded"] == expected


# ---------------------------------------------------------------------------------------------------- path segments

PATH_CALLS = [
    ("send_to_group", ("{}", "hi"), {}, "group"),
    ("send_to_user", ("{}", "hi"), {}, "user_id"),
    ("send_to_connection", ("{}", "hi"), {}, "connection_id"),
    ("add_user_to_group", ("{}", "u1"), {}, "group"),
    ("add_user_to_group", ("g", "{}"), {}, "user_id"),
    ("add_connection_to_group", ("g",), {"connection_id": "{}"}, "connection_id"),
    ("remove_connection_from_group", ("{}", "c1"), {}, "group"),
    ("close_group_connections", ("{}",), {}, "group"),
    ("close_connection", ("{}",), {}, "connection_id"),
    ("group_exists", ("{}",), {}, "group"),
    ("user_exists", ("{}",), {}, "user_id"),
    ("grant_permission", ("sendToGroup", "{}"), {}, "connection_id"),
    ("check_permission", ("sendToGroup", "{}"), {}, "connection_id"),
    ("list_connections", ("{}",), {}, "group"),
    ("list_connections", (), {"group": "{}"}, "group"),
]


@pytest.mark.parametrize("name", [".", "..", ""])
@pytest.mark.parametrize(
    ("method", "args", "kwargs", "parameter"), PATH_CALLS, ids=[f"{c[0]}-{c[3]}" for c in PATH_CALLS]
)
async def test_a_name_that_cannot_be_a_path_segment_is_refused(
    sdk: Any, method: str, args: tuple, kwargs: dict, parameter: str, name: str
) -> None:
    """``groups/../:send`` would be normalised to ``/:send`` (every connection of the hub), so it is never sent."""
    client = sdk.client()
    args = tuple(name if a == "{}" else a for a in args)
    kwargs = {k: name if v == "{}" else v for k, v in kwargs.items()}
    expected = f"{parameter} must not be empty" if name == "" else f"{parameter} '{name}' cannot be addressed"
    with pytest.raises(ValueError, match=expected):
        result = await sdk.call(getattr(client, method), *args, **kwargs)
        await sdk.collect(result)  # list_connections checks when it is called, before any page
    assert sdk.recorder.sent == []


@pytest.mark.parametrize("name", [".x", "x.", "...", "a/../b", " . "])
async def test_names_that_merely_contain_dots_are_sent_encoded(sdk: Any, name: str) -> None:
    client = sdk.client()
    sdk.script(202)
    await sdk.call(client.send_to_group, name, "hi")
    assert sdk.recorder.only.path.split("/")[-2] not in (".", "..")


async def test_the_dot_segment_error_names_a_way_that_works(sdk: Any) -> None:
    client = sdk.client()
    with pytest.raises(ValueError, match=r"send_to_all\(message, filter=odata\(\"\{\} in groups\", name\)\)"):
        await sdk.call(client.send_to_group, "..", "hi")


# ---------------------------------------------------------------------------------------------------- type hints


def _hint_args(hint: Any) -> set:
    found: set = set()
    for arg in typing.get_args(hint) or (hint,):
        origin = typing.get_origin(arg)
        found.add(origin or arg)
        if origin is typing.Union:
            found |= _hint_args(arg)
    return found


@pytest.mark.parametrize("flavour", ["", ".aio"])
def test_type_hints_accept_what_the_docs_accept(flavour: str) -> None:
    import collections.abc

    client = sdk_module(flavour).WebPubSubServiceClient
    send = typing.get_type_hints(client.send_to_all)
    assert {bytes, bytearray, memoryview, str, tuple, list} <= _hint_args(send["message"])
    assert collections.abc.Sequence in _hint_args(send["excluded"])  # a tuple, a list, or one str
    token = typing.get_type_hints(client.get_client_access_token)
    assert collections.abc.Sequence in _hint_args(token["roles"])
    assert collections.abc.Sequence in _hint_args(token["groups"])
    batch = typing.get_type_hints(client.add_connections_to_groups)
    assert {collections.abc.Sequence, collections.abc.Set, bytearray} <= _hint_args(batch["groups"])


# ---------------------------------------------------------------------------------------------------- log redaction

SUBSCRIPTION_KEY = "apim-subscription-key-9f8e7d"
PROXY_PASSWORD = "proxy-pa55word-1a2b"


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    yield caplog


@pytest.mark.parametrize("header", ["Ocp-Apim-Subscription-Key", "api-key", "X-Functions-Key", "Cookie"])
async def test_secret_headers_and_url_user_info_are_redacted_at_every_level(
    sdk: Any, all_logs: pytest.LogCaptureFixture, header: str
) -> None:
    client = sdk.client(
        reverse_proxy_endpoint=f"https://gateway:{PROXY_PASSWORD}@apim.example.com/webpubsub",
        logging_enable=True,
    )
    # a caller who allow-lists the header for the INFO log still never sees its value
    client._config.http_logging_policy.allowed_header_names.add(header)
    sdk.script(202)

    await sdk.call(client.send_to_all, {"a": 1}, headers={header: SUBSCRIPTION_KEY})

    sent = sdk.recorder.only
    assert sent.headers[header] == SUBSCRIPTION_KEY  # the request itself is unchanged
    assert PROXY_PASSWORD in sent.url
    levels = {record.levelno for record in all_logs.records}
    assert {logging.DEBUG, logging.INFO} <= levels  # both the network trace and the HTTP log wrote the request
    assert SUBSCRIPTION_KEY not in all_logs.text
    assert PROXY_PASSWORD not in all_logs.text
    assert "REDACTED@apim.example.com" in all_logs.text


async def test_secret_response_headers_are_redacted(sdk: Any, all_logs: pytest.LogCaptureFixture) -> None:
    from .conftest import Reply

    client = sdk.client(logging_enable=True)
    client._config.http_logging_policy.allowed_header_names.add("Set-Cookie")
    sdk.script(Reply(202, headers={"Set-Cookie": "session=s3cr3t-cookie", "x-ms-request-id": "r1"}))

    await sdk.call(client.send_to_all, {"a": 1})

    assert "s3cr3t-cookie" not in all_logs.text
    assert "r1" in all_logs.text  # other headers are still logged


def test_redact_url_keeps_everything_but_the_user_info() -> None:
    redact_url = sdk_module("._custom.log_redaction").redact_url
    assert redact_url("https://u:p@h:8443/x?y=1") == "https://REDACTED@h:8443/x?y=1"
    assert redact_url("https://h/x?email=a@b") == "https://h/x?email=a@b"
    assert redact_url("https://h/x") == "https://h/x"
