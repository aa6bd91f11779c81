"""Connection strings of every shape into ``WebPubSubServiceClient.from_connection_string`` (sync and aio): the only
exception ever raised is ``ValueError``, and no error message or traceback ever contains the access key
(sdk-compat.md §3, D5, D10, D11)."""

from __future__ import annotations

import string
import traceback
from typing import Any, List, Tuple

import pytest
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient as AsyncWebPubSubServiceClient
from fuzz_support import fuzz_settings
from hypothesis import example, given
from hypothesis import strategies as st

KEY_NAMES = ["Endpoint", "AccessKey", "Port", "Version", "ClientEndpoint", "Foo", "transport", "logging_enable"]
KEYS = st.one_of(
    st.sampled_from(KEY_NAMES).flatmap(
        lambda k: st.sampled_from([k, k.lower(), k.upper(), f" {k}", f"{k} ", k.swapcase()])
    ),
    st.text(max_size=12),
)
VALUES = st.one_of(
    st.sampled_from(
        [
            "http://localhost:8080",
            "https://Contoso.WebPubSub.Azure.com",
            "https://x.example.com/",
            "http://h:8080",
            "https://[::1]:443",
            "ws://x",
            "ftp://x",
            "localhost",
            "http://",
            "https://:99999",
            "8080",
            "0",
            "-1",
            "65536",
            "99999999999999999999",
            "1.0",
            "abc",
            "",
            " ",
            "=",
            "==",
        ]
    ),
    st.text(max_size=30),
)
# The secret gets a prefix no other generated text can produce by accident, so "not in message" is meaningful.
SECRETS = st.text(alphabet=string.ascii_letters + string.digits + "+/=", min_size=12, max_size=48).map(
    lambda s: "Secr3t" + s
)


@st.composite
def connection_strings(draw: Any) -> Tuple[str, str]:
    secret = draw(SECRETS)
    segments: List[str] = []
    for key, sep, value in draw(st.lists(st.tuples(KEYS, st.sampled_from(["=", "==", "", " = ", "=="]), VALUES))):
        segments.append(f"{key}{sep}{value}")
    key_name = draw(st.sampled_from(["AccessKey", "accesskey", "ACCESSKEY", " AccessKey ", "AccessKey"]))
    position = draw(st.integers(0, len(segments)))
    segments.insert(position, f"{key_name}={secret}")
    if draw(st.booleans()):  # sometimes a usable endpoint too, so that success paths are exercised
        segments.insert(draw(st.integers(0, len(segments))), "Endpoint=" + draw(VALUES))
    joiner = draw(st.sampled_from([";", ";;", "; ", " ;"]))
    text = joiner.join(segments) + draw(st.sampled_from(["", ";", ";;", " "]))
    return text, secret


def _try(cls: Any, conn_str: str, secret: str) -> None:
    try:
        client = cls.from_connection_string(conn_str, hub="hub")
    except ValueError as exc:
        rendered = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        assert secret not in rendered, f"the access key leaks through {type(exc).__name__}"
        assert secret not in repr(exc.args)
        return
    # Success: the client must be usable as far as construction goes, and must not expose the key in its repr.
    assert secret not in repr(client)
    del client


@pytest.mark.parametrize("cls", [WebPubSubServiceClient, AsyncWebPubSubServiceClient], ids=["sync", "aio"])
@fuzz_settings(max_examples=300)
@given(case=connection_strings())
@example(case=("Endpoint=http://h;AccessKey=Secr3tAAAAAAAAAAAA;NoEqualsSign", "Secr3tAAAAAAAAAAAA"))
@example(case=("AccessKey=Secr3tAAAAAAAAAAAA;AccessKey=Secr3tAAAAAAAAAAAA", "Secr3tAAAAAAAAAAAA"))
@example(case=("Endpoint=http://h:80;Port=81;AccessKey=Secr3tAAAAAAAAAAAA", "Secr3tAAAAAAAAAAAA"))
@example(case=("Endpoint=http://h;Port=Secr3tAAAAAAAAAAAA;AccessKey=Secr3tAAAAAAAAAAAA", "Secr3tAAAAAAAAAAAA"))
@example(case=("Secr3tAAAAAAAAAAAA;Endpoint=http://h;AccessKey=Secr3tAAAAAAAAAAAA", "Secr3tAAAAAAAAAAAA"))
def test_structured_connection_strings(cls: Any, case: Tuple[str, str]) -> None:
    conn_str, secret = case
    _try(cls, conn_str, secret)


@fuzz_settings(max_examples=300)
@given(text=st.text(max_size=80))
def test_arbitrary_text(text: str) -> None:
    try:
        WebPubSubServiceClient.from_connection_string(text, hub="hub")
    except ValueError:
        pass
