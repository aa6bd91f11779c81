"""HS256 signing without PyJWT's per-call key checks: the tokens must be byte-identical to ``jwt.encode``."""

from __future__ import annotations

import types
import warnings
from typing import Any

import jwt
import pytest
from azure.core.credentials import AzureKeyCredential
from jwt.exceptions import InvalidKeyError

from .conftest import API_VERSION, ENDPOINT, HUB, sdk_module

signing = sdk_module("._custom.jwt_signing")
client_tokens = sdk_module("._custom.client_tokens")
policies = sdk_module("._custom.policies")

LONG_KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"  # 44 bytes: no PyJWT key-length warning
KEYS = [LONG_KEY, "k" * 32, "Schl\u00fcssel-" + "x" * 40, "=+/" * 20]
CLAIMS: list[dict[str, Any]] = [
    {"aud": f"{ENDPOINT}/api/hubs/{HUB}/:send?api-version={API_VERSION}", "exp": 1_700_000_060},
    {
        "aud": f"{ENDPOINT}/api/hubs/{HUB}/:send?excluded=a%20b&filter=userId%20eq%20%27%C3%A9%27&api-version=1",
        "exp": 1,
        signing.NAME_CLAIM: 'us\u00e9r "quoted" \u2028 \U0001f600',
    },
    {"aud": "https://h/client/hubs/h", "iat": 0, "exp": 3600, "sub": "u1", "role": ["r1", "r2"], "webpubsub.group": []},
]


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("claims", CLAIMS)
def test_fast_hs256_is_byte_identical_to_pyjwt(claims: dict[str, Any], key: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # these keys take the fast path: no PyJWT warning to reproduce
        assert signing.sign_hs256(dict(claims), key) == jwt.encode(claims, key, algorithm="HS256")


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("user", [None, "admin@contoso", "\u00e9\u00e8"])
def test_rest_token_is_byte_identical_to_pyjwt(key: str, user: Any) -> None:
    url = f"{ENDPOINT}/api/hubs/{HUB}/:send?api-version={API_VERSION}"
    claims: dict[str, Any] = {"aud": url, "exp": 1_700_000_000 + signing.REST_TOKEN_LIFETIME_SECONDS}
    if user:
        claims[signing.NAME_CLAIM] = user
    assert signing.sign_rest_token(url, key, user=user, now=1_700_000_000.7) == jwt.encode(
        claims, key, algorithm="HS256"
    )


@pytest.mark.parametrize("key", KEYS)
def test_client_token_is_byte_identical_to_pyjwt(key: str) -> None:
    token = client_tokens.sign_client_token(
        key, "https://h/client/hubs/h", user_id="u", roles=["a", "b"], groups=["g"], minutes_to_expire=5, now=100
    )
    claims = {"aud": "https://h/client/hubs/h", "iat": 100, "exp": 400, "sub": "u", "role": ["a", "b"]}
    claims["webpubsub.group"] = ["g"]
    assert token == jwt.encode(claims, key, algorithm="HS256")
    with_kid = client_tokens.sign_client_token(key, "https://h/client/hubs/h", jwt_headers={"kid": "k1"}, now=100)
    assert jwt.get_unverified_header(with_kid) == {"alg": "HS256", "kid": "k1", "typ": "JWT"}
    assert with_kid == jwt.encode(
        {"aud": "https://h/client/hubs/h", "iat": 100, "exp": 3700}, key, algorithm="HS256", headers={"kid": "k1"}
    )


def test_short_keys_still_get_pyjwts_warnings_and_the_same_token() -> None:
    """A key PyJWT warns about (2.10.0 and later: shorter than the hash) is signed by PyJWT itself."""
    claims = {"aud": "https://h/x", "exp": 5}
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        token = signing.sign_hs256(dict(claims), "short")
    with warnings.catch_warnings(record=True) as pyjwts:
        warnings.simplefilter("always")
        assert token == jwt.encode(claims, "short", algorithm="HS256")
    assert [(w.category, str(w.message)) for w in ours] == [(w.category, str(w.message)) for w in pyjwts]
    if hasattr(jwt.algorithms.HMACAlgorithm, "check_key_length"):
        assert pyjwts, "this PyJWT checks key lengths, so a 5-byte key must warn"


PEM_KEY = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----"


@pytest.mark.parametrize("key", ["", PEM_KEY, '{"kty": "oct"}'])
def test_odd_keys_are_accepted_or_rejected_exactly_as_pyjwt_does(key: str) -> None:
    claims = {"aud": "https://h/x", "exp": 5}
    try:
        expected = jwt.encode(claims, key, algorithm="HS256")
    except InvalidKeyError:
        with pytest.raises(InvalidKeyError):
            signing.sign_hs256(dict(claims), key)
    else:  # older PyJWT accepts empty and JWK-looking keys
        assert signing.sign_hs256(dict(claims), key) == expected


def test_a_pem_key_is_rejected_by_every_pyjwt() -> None:
    with pytest.raises(InvalidKeyError):
        signing.sign_hs256({"aud": "https://h/x", "exp": 5}, PEM_KEY)


class _Request:
    def __init__(self, url: str) -> None:
        self.url = url
        self.headers: dict[str, str] = {}


class _PipelineRequest:
    def __init__(self, url: str) -> None:
        self.http_request = _Request(url)


def _bearer(policy: Any, url: str) -> str:
    request = _PipelineRequest(url)
    policy.on_request(request)
    header = request.http_request.headers["Authorization"]
    assert header.startswith("Bearer ")
    return header[len("Bearer ") :]


def test_policy_reuses_a_token_only_for_the_same_url_key_and_second(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_700_000_000.2]
    monkeypatch.setattr(signing, "time", types.SimpleNamespace(time=lambda: now[0]))
    credential = AzureKeyCredential(LONG_KEY)
    policy = policies.JwtCredentialPolicy(credential, user="u")
    url = f"{ENDPOINT}/api/hubs/{HUB}/:send?api-version={API_VERSION}"

    def expected(aud: str, key: str, issued: int) -> str:
        claims = {"aud": aud, "exp": issued + 60, signing.NAME_CLAIM: "u"}
        return jwt.encode(claims, key, algorithm="HS256")

    first = _bearer(policy, url)
    assert first == expected(url, LONG_KEY, 1_700_000_000)
    now[0] = 1_700_000_000.9
    assert _bearer(policy, url) == first
    other = url + "&filter=x"
    assert _bearer(policy, other) == expected(other, LONG_KEY, 1_700_000_000)
    now[0] = 1_700_000_001.0
    assert _bearer(policy, other) == expected(other, LONG_KEY, 1_700_000_001)
    credential.update("Z" * 44)
    assert _bearer(policy, other) == expected(other, "Z" * 44, 1_700_000_001)
