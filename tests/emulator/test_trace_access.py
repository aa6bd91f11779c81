"""Who may watch the trace page, without IO: this machine without a key (not through a proxy), anyone else with a
sign-in token signed with the access key, no other site's page at all. (A rebound Host name is refused before this,
by the emulator's own Host check: tests/emulator/test_trace_page.py.)"""

from __future__ import annotations

import time
from typing import Any, Optional

import jwt
import pytest
from webpubsub_emulator import DEFAULT_ACCESS_KEY
from webpubsub_emulator.trace_access import (
    AUDIENCE,
    Access,
    decide,
    is_local,
    key_matches,
    mint_sign_in,
    same_origin,
    sign_in_valid,
)

KEY = DEFAULT_ACCESS_KEY
OTHER_KEY = "another-key-of-at-least-thirty-two-bytes"


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("127.0.0.1", False, True),
        ("127.8.9.10", False, True),
        ("::1", False, True),
        ("::ffff:192.0.2.2", False, False),
        ("::ffff:127.0.0.1", False, True),  # an IPv4 client of a dual-stack socket
        ("192.0.2.2", False, False),
        ("10.0.0.1", False, False),
        ("127.0.0.1", True, False),  # a proxy on this machine relays everyone
        (None, False, False),
        ("", False, False),
        ("not an address", False, False),
    ],
)
def test_local_means_a_loopback_address_no_proxy_relayed(
    remote: Optional[str], forwarded: bool, expected: bool
) -> None:
    assert is_local(remote, forwarded) is expected


def test_same_origin() -> None:
    assert same_origin(None, "http", "127.0.0.1:8080")
    assert same_origin("http://127.0.0.1:8080", "http", "127.0.0.1:8080")
    assert same_origin("HTTP://LocalHost:8080", "http", "localhost:8080")
    assert not same_origin("http://evil.example", "http", "127.0.0.1:8080")
    assert not same_origin("https://127.0.0.1:8080", "http", "127.0.0.1:8080")
    assert not same_origin("null", "http", "127.0.0.1:8080")
    assert not same_origin("http://127.0.0.1:8080", "http", None)


def test_the_key_is_compared_whole() -> None:
    assert key_matches(KEY, KEY)
    assert not key_matches(KEY[:-1], KEY) and not key_matches(KEY + "x", KEY) and not key_matches("", KEY)
    assert not key_matches("é" + KEY[1:], KEY)


def test_a_sign_in_token_is_signed_with_the_key_for_the_trace_only() -> None:
    token = mint_sign_in(KEY)
    assert KEY not in token
    claims = jwt.decode(token, KEY, algorithms=["HS256"], audience=AUDIENCE)
    assert claims["exp"] - claims["iat"] == 8 * 3600
    assert sign_in_valid(token, KEY)
    assert not sign_in_valid(token, OTHER_KEY)  # a new key ends every sign-in
    assert not sign_in_valid(mint_sign_in(KEY, now=time.time() - 9 * 3600), KEY)  # expired
    assert not sign_in_valid(token[:-2], KEY)
    assert not sign_in_valid(None, KEY) and not sign_in_valid("", KEY)
    rest_token = jwt.encode({"aud": "http://127.0.0.1/api/hubs/h/:send", "exp": time.time() + 60}, KEY)
    assert not sign_in_valid(rest_token, KEY)  # a REST token is not a sign-in
    no_expiry = jwt.encode({"aud": AUDIENCE}, KEY)
    assert not sign_in_valid(no_expiry, KEY)
    unsigned = jwt.encode({"aud": AUDIENCE, "exp": time.time() + 60}, None, algorithm="none")
    assert not sign_in_valid(unsigned, KEY)


def verdict(**overrides: Any) -> Access:
    request: dict[str, Any] = {
        "remote": "127.0.0.1",
        "forwarded": False,
        "host": "127.0.0.1:8080",
        "origin": None,
        "scheme": "http",
        "cookie": None,
        "access_key": KEY,
    }
    request.update(overrides)
    return decide(**request)


def test_decide() -> None:
    assert verdict() is Access.LOCAL
    assert verdict(host="localhost:8080", origin="http://localhost:8080") is Access.LOCAL
    assert verdict(remote="192.0.2.2") is Access.SIGN_IN
    assert verdict(forwarded=True) is Access.SIGN_IN
    assert verdict(remote="192.0.2.2", cookie=mint_sign_in(KEY)) is Access.SIGNED_IN
    assert verdict(remote="192.0.2.2", cookie=mint_sign_in(OTHER_KEY)) is Access.SIGN_IN
    assert verdict(cookie=mint_sign_in(KEY)) is Access.SIGNED_IN
    assert verdict(origin="http://evil.example") is Access.CROSS_ORIGIN
    assert verdict(origin="http://evil.example", cookie=mint_sign_in(KEY)) is Access.CROSS_ORIGIN
