"""Token lifetimes (issue 8, finding 11): ``nbf`` and ``iat`` honoured with the documented 5 minutes of skew, a numeric
``exp`` required, and the verified-token cache answering exactly what PyJWT would (property-tested at the edges).

Over the wire for REST and WebSocket clients; the cache against PyJWT itself with both clocks frozen at the same
instant.
"""

from __future__ import annotations

import datetime
import time
from typing import Any, AsyncIterator, Callable, Dict, List, Optional

import aiohttp
import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from webpubsub_emulator import Emulator
from webpubsub_emulator.auth import CLOCK_SKEW_SECONDS, AuthError, TokenCache, decode_token
from ws_support import JSON, Api, expect_handshake_status, recv_json

KEY = "a-token-lifetime-test-key-0123456789-abcdef"
HUB = "lifetimes"
SKEW = CLOCK_SKEW_SECONDS


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async with Emulator(access_key=KEY) as emu, aiohttp.ClientSession() as session:
        yield Api(session, emu, hub=HUB)


def rest_token(api: Api, url: str, **claims: Any) -> str:
    payload: Dict[str, Any] = {"aud": url, "exp": int(time.time()) + 60}
    payload.update(claims)
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, KEY, algorithm="HS256")


def client_url(api: Api, **claims: Any) -> str:
    base = f"ws://127.0.0.1:{api.emu.port}/client/hubs/{HUB}"
    payload: Dict[str, Any] = {"aud": f"{api.emu.endpoint}/client/hubs/{HUB}", "exp": int(time.time()) + 600}
    payload.update(claims)
    token = jwt.encode({k: v for k, v in payload.items() if v is not None}, KEY, algorithm="HS256")
    return f"{base}?access_token={token}"


NOW = int(time.time())  # for the pure tests below, which pass their own clock
Claims = Callable[[int], Dict[str, Any]]  # the claims at the moment the test runs
REFUSED_CLAIMS = [
    pytest.param(lambda now: {"nbf": now + SKEW + 120}, id="nbf-in-the-future"),
    pytest.param(lambda now: {"iat": now + SKEW + 120}, id="iat-in-the-future"),
    pytest.param(lambda now: {"exp": str(now + 600)}, id="exp-as-a-string"),
    pytest.param(lambda now: {"exp": None}, id="no-exp"),
    pytest.param(lambda now: {"exp": True}, id="exp-as-a-boolean"),
    pytest.param(lambda now: {"nbf": "0"}, id="nbf-as-a-string"),
    pytest.param(lambda now: {"exp": now - SKEW - 1}, id="expired-beyond-the-skew"),
]
ACCEPTED_CLAIMS = [
    pytest.param(lambda now: {"nbf": now + SKEW - 60, "iat": now + SKEW - 60}, id="nbf-and-iat-within-the-skew"),
    pytest.param(lambda now: {"exp": now - SKEW + 60}, id="expired-within-the-skew"),
    pytest.param(lambda now: {"exp": float(now + 600), "iat": float(now)}, id="float-claims"),
]


@pytest.mark.parametrize("claims", REFUSED_CLAIMS)
async def test_rest_refuses_tokens_outside_their_lifetime(api: Api, claims: Claims) -> None:
    url = api.url("/:send")
    token = rest_token(api, url, **claims(int(time.time())))
    status, headers, body = await api.request("POST", "", url=url, body=b"x", content_type="text/plain", token=token)
    assert status == 401 and headers["x-ms-error-code"] == "Unauthorized", body


@pytest.mark.parametrize("claims", ACCEPTED_CLAIMS)
async def test_rest_accepts_tokens_within_the_skew(api: Api, claims: Claims) -> None:
    url = api.url("/:send")
    token = rest_token(api, url, **claims(int(time.time())))
    status, _headers, body = await api.request("POST", "", url=url, body=b"x", content_type="text/plain", token=token)
    assert status == 202, body


@pytest.mark.parametrize("claims", REFUSED_CLAIMS)
async def test_clients_are_refused_with_tokens_outside_their_lifetime(api: Api, claims: Claims) -> None:
    await expect_handshake_status(api.session, client_url(api, **claims(int(time.time()))), 401, protocols=(JSON,))


@pytest.mark.parametrize("claims", ACCEPTED_CLAIMS)
async def test_clients_connect_with_tokens_within_the_skew(api: Api, claims: Claims) -> None:
    async with api.session.ws_connect(client_url(api, **claims(int(time.time()))), protocols=(JSON,)) as ws:
        assert (await recv_json(ws))["event"] == "connected"


def test_a_cached_token_still_expires() -> None:
    """The same token answered twice from the cache, then refused once it is past ``exp`` + skew (a later clock)."""
    cache = TokenCache()
    token = jwt.encode({"aud": "http://x/", "exp": NOW + 10}, KEY, algorithm="HS256")
    assert decode_token(token, KEY, now=NOW, cache=cache)["exp"] == NOW + 10
    assert len(cache) == 1 and decode_token(token, KEY, now=NOW + 5, cache=cache)["exp"] == NOW + 10
    with pytest.raises(AuthError, match="expired"):
        decode_token(token, KEY, now=NOW + 10 + SKEW, cache=cache)
    assert len(cache) == 0


def test_the_cache_is_bounded_and_keyed_by_key() -> None:
    cache = TokenCache(size=3)
    tokens = [jwt.encode({"exp": NOW + 600, "n": i}, KEY, algorithm="HS256") for i in range(5)]
    for token in tokens:
        decode_token(token, KEY, now=NOW, cache=cache)
    assert len(cache) == 3
    assert cache.get(KEY, tokens[0]) is None and cache.get(KEY, tokens[4]) is not None
    # a token verified with one key is never answered for another
    with pytest.raises(AuthError, match="signature"):
        decode_token(tokens[4], KEY + "-other", now=NOW, cache=cache)


def test_a_returned_claims_dict_does_not_change_the_cache() -> None:
    cache = TokenCache()
    token = jwt.encode({"exp": NOW + 600, "sub": "u"}, KEY, algorithm="HS256")
    decode_token(token, KEY, now=NOW, cache=cache)["sub"] = "mallory"
    assert decode_token(token, KEY, now=NOW, cache=cache)["sub"] == "u"


# ---------------------------------------------------------------------------------------------------- equivalence
class _FrozenDatetime(datetime.datetime):
    at = 0.0

    @classmethod
    def now(cls, tz: Optional[datetime.tzinfo] = None) -> Any:
        return datetime.datetime.fromtimestamp(cls.at, tz)


def pyjwt_verdict(token: str, key: str, at: float, monkeypatch: pytest.MonkeyPatch) -> Any:
    """What PyJWT itself says at instant ``at`` (its clock frozen there): the claims, or the kind of refusal."""
    _FrozenDatetime.at = at
    with monkeypatch.context() as patch:
        patch.setattr(jwt.api_jwt, "datetime", _FrozenDatetime)
        try:
            return jwt.decode(
                token, key, algorithms=["HS256"], options={"require": ["exp"], "verify_aud": False}, leeway=SKEW
            )
        except jwt.ExpiredSignatureError:
            return "expired"
        except jwt.ImmatureSignatureError:
            return "early"
        except jwt.PyJWTError:
            return "invalid"


def emulator_verdict(token: str, key: str, at: float, cache: TokenCache) -> Any:
    try:
        return decode_token(token, key, now=at, cache=cache)
    except AuthError as exc:
        if "expired" in exc.message:
            return "expired"
        if "future" in exc.message or "not valid yet" in exc.message:
            return "early"
        return "invalid"


EDGES = [-SKEW - 1, -SKEW - 0.5, -SKEW, -SKEW + 0.5, -1, -0.5, 0, 0.5, 1, SKEW - 0.5, SKEW, SKEW + 0.5, SKEW + 1]
offsets = st.one_of(st.sampled_from(EDGES), st.floats(min_value=-2 * SKEW, max_value=2 * SKEW), st.integers(-900, 900))
numbers = st.one_of(st.integers(NOW - 2000, NOW + 2000), st.floats(NOW - 2000, NOW + 2000, allow_nan=False))


# PyJWT before 2.8 compares a fractional iat as it is (2.8 on truncate it, as every version does exp and nbf, and as
# the emulator does): on those versions the comparison is made with whole-second iat values, where they all agree
_PYJWT = tuple(int(p) for p in jwt.__version__.split(".")[:2])
iats = numbers if _PYJWT >= (2, 8) else st.integers(NOW - 2000, NOW + 2000)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    exp=numbers,
    nbf=st.one_of(st.none(), numbers),
    iat=st.one_of(st.none(), iats),
    times=st.lists(offsets, min_size=1, max_size=6),
    base=st.sampled_from(["exp", "nbf", "iat"]),
)
def test_cached_answers_are_what_pyjwt_would_answer(
    monkeypatch: pytest.MonkeyPatch,
    exp: float,
    nbf: Optional[float],
    iat: Optional[float],
    times: List[float],
    base: str,
) -> None:
    """A token checked again and again at moving instants around its exp/nbf/iat edges: every answer, cached or
    not, is PyJWT's own at that instant (the same claims, or the same kind of refusal)."""
    claims: Dict[str, Any] = {"exp": exp, "sub": "u"}
    if nbf is not None:
        claims["nbf"] = nbf
    if iat is not None:
        claims["iat"] = iat
    token = jwt.encode(claims, KEY, algorithm="HS256")
    anchor = claims.get(base, exp)
    cache = TokenCache()
    for offset in times:
        # the instant as PyJWT's clock (a datetime, microsecond resolution) holds it, so both see the same time
        at = datetime.datetime.fromtimestamp(anchor + offset, datetime.timezone.utc).timestamp()
        assert emulator_verdict(token, KEY, at, cache) == pyjwt_verdict(token, KEY, at, monkeypatch), (claims, at)
