"""Pure JWT handling: verifying REST and client access tokens (and, opt-in, Entra tokens), and minting client tokens.

Tokens are HS256 JWTs keyed with the access key string encoded as UTF-8 (never base64-decoded). PyJWT checks the
signature and the claims' shape; the lifetime rules are this module's (:func:`check_lifetime`): ``exp`` is required
and must be a number, ``nbf`` and ``iat`` (when present) must be numbers, and every one of them is honoured with
:data:`CLOCK_SKEW_SECONDS` of tolerance, with the same comparisons PyJWT makes. A token verified once is remembered
(:class:`TokenCache`, bounded) so that the next request carrying it skips the HMAC and the JSON decoding; its lifetime
is checked again on every use, so a cached answer is the answer PyJWT would give at that moment.

``aud`` is checked against this emulator's own names (:class:`~.exposure.ServerNames`), never against the Host header
of the request that carries the token.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections import OrderedDict
from typing import Any, Iterable, Mapping, Optional
from urllib.parse import unquote, urlsplit

import jwt

from .errors import Unauthorized
from .exposure import Authority, ServerNames, authority_of

__all__ = [
    "CLOCK_SKEW_SECONDS",
    "ENTRA_AUDIENCE",
    "MIN_KEY_BYTES",
    "TOKEN_CACHE_SIZE",
    "AuthError",
    "TokenCache",
    "check_client_audience",
    "check_key",
    "check_lifetime",
    "check_rest_audience",
    "client_audience_path",
    "decode_entra_token",
    "decode_token",
    "mint_client_token",
]

#: Tolerance applied to ``exp``, ``nbf`` and ``iat`` (service-behaviour.md §2: 5 minutes).
CLOCK_SKEW_SECONDS = 300
#: Access keys shorter than this (in UTF-8 bytes) are refused.
MIN_KEY_BYTES = 32
#: How many verified tokens :class:`TokenCache` remembers (least recently used ones are forgotten first).
TOKEN_CACHE_SIZE = 1024
#: The audience of a Microsoft Entra token for Web PubSub (scope ``https://webpubsub.azure.com/.default``).
ENTRA_AUDIENCE = "https://webpubsub.azure.com"

#: Characters that cannot appear in a key that must live in a connection string (``Key=Value;`` pairs).
_KEY_FORBIDDEN = frozenset(";")


class AuthError(Unauthorized):
    """A token was missing, malformed, badly signed, expired or meant for another audience.

    The message never contains the token or the key.
    """


def check_key(access_key: str) -> str:
    """Return the key when it can sign tokens and live in a connection string; raise ``ValueError`` otherwise.

    It must be at least :data:`MIN_KEY_BYTES` UTF-8 bytes, printable, without ``;`` and without whitespace (a
    connection string is ``Endpoint=...;AccessKey=<key>;Version=1.0;``, and its parsers split on ``;`` and strip
    spaces). The message never repeats the key.
    """
    if not isinstance(access_key, str):
        raise ValueError("The access key must be a string.")
    if any(c in _KEY_FORBIDDEN for c in access_key):
        raise ValueError("The access key must not contain ';' (it could not be written in a connection string).")
    if any(c.isspace() for c in access_key):
        raise ValueError("The access key must not contain spaces or other whitespace (connection strings strip them).")
    if not access_key.isprintable():
        raise ValueError("The access key must not contain control characters.")
    if len(access_key.encode("utf-8")) < MIN_KEY_BYTES:
        raise ValueError(f"The access key must be at least {MIN_KEY_BYTES} bytes long (UTF-8).")
    return access_key


# ---------------------------------------------------------------------------------------------------- lifetime
def _numeric(claims: Mapping[str, Any], name: str) -> Optional[int]:
    """The claim as PyJWT compares it (``int()`` of the value), or None when absent; a non-number is refused."""
    if name not in claims:
        return None
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise AuthError(f"The access token's '{name}' claim must be a number (seconds since the epoch).")
    return int(value)


def check_lifetime(claims: Mapping[str, Any], now: float, *, skew: float = CLOCK_SKEW_SECONDS) -> None:
    """Refuse a token outside its lifetime at ``now`` (seconds since the epoch), with ``skew`` seconds of tolerance.

    ``exp`` is required; ``exp``, ``nbf`` and ``iat`` must be numbers. The comparisons are PyJWT's (the claim truncated
    to an integer): expired when ``exp <= now - skew``, not yet valid when ``nbf > now + skew`` or ``iat > now + skew``.
    """
    iat = _numeric(claims, "iat")
    nbf = _numeric(claims, "nbf")
    if claims.get("exp") is None:
        raise AuthError("The access token has no 'exp' claim.")
    exp = _numeric(claims, "exp")
    assert exp is not None
    if iat is not None and iat > now + skew:
        raise AuthError("The access token was issued in the future ('iat').")
    if nbf is not None and nbf > now + skew:
        raise AuthError("The access token is not valid yet ('nbf').")
    if exp <= now - skew:
        raise AuthError("The access token has expired.")


class TokenCache:
    """Tokens whose signature was verified, with their claims: at most ``size``, least recently used forgotten first.

    Keyed by (key, token), so a token is only ever answered for the key that verified it. Safe to share between the
    threads of several emulators.
    """

    def __init__(self, size: int = TOKEN_CACHE_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str, token: str) -> Optional[dict[str, Any]]:
        """The claims of a token verified before with this key (None: not remembered)."""
        with self._lock:
            claims = self._entries.get((key, token))
            if claims is not None:
                self._entries.move_to_end((key, token))
            return claims

    def put(self, key: str, token: str, claims: dict[str, Any]) -> None:
        """Remember a verified token."""
        if self.size <= 0:
            return
        with self._lock:
            self._entries[(key, token)] = claims
            self._entries.move_to_end((key, token))
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def forget(self, key: str, token: str) -> None:
        """Drop a token (it expired: it can never be valid again)."""
        with self._lock:
            self._entries.pop((key, token), None)

    def clear(self) -> None:
        """Forget every token."""
        with self._lock:
            self._entries.clear()


#: The cache :func:`decode_token` uses unless it is given another.
TOKENS = TokenCache()

# PyJWT checks the signature, the algorithm and the claims' shape (``sub`` and ``jti`` must be strings); the lifetime
# is check_lifetime's, so that the cached and the uncached answer are decided by the same code.
_PYJWT_OPTIONS: Any = {
    "verify_aud": False,
    "verify_exp": False,
    "verify_iat": False,
    "verify_nbf": False,
}


def _verify_signature(token: str, access_key: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(token, access_key.encode("utf-8"), algorithms=["HS256"], options=_PYJWT_OPTIONS)
    except jwt.InvalidSignatureError:
        raise AuthError("The access token signature is invalid.") from None
    except jwt.PyJWTError:
        raise AuthError("The access token is malformed or not signed with HS256.") from None
    if not isinstance(claims, dict):
        raise AuthError("The access token claims are not an object.")
    return claims


def decode_token(
    token: str, access_key: str, *, now: Optional[float] = None, cache: Optional[TokenCache] = None
) -> dict[str, Any]:
    """Verify the signature and the lifetime (:func:`check_lifetime`) and return the claims (a new dict each call).

    ``aud`` is checked separately. ``now`` defaults to the current time; ``cache`` to :data:`TOKENS`. A token seen
    before with the same key is answered from the cache (its lifetime checked again at ``now``).
    """
    if not token:
        raise AuthError("The access token is missing.")
    store = TOKENS if cache is None else cache
    at = time.time() if now is None else now
    claims = store.get(access_key, token)
    if claims is None:
        claims = _verify_signature(token, access_key)
        check_lifetime(claims, at)
        store.put(access_key, token, claims)
    else:
        try:
            check_lifetime(claims, at)
        except AuthError:
            store.forget(access_key, token)  # expired (or early): verified afresh next time, as PyJWT would
            raise
    return dict(claims)


def decode_entra_token(token: str, *, now: Optional[float] = None) -> dict[str, Any]:
    """Read a Microsoft Entra token WITHOUT verifying its signature: only its audience and lifetime are checked.

    For local testing only (``--accept-entra-tokens``): anyone can forge such a token. ``aud`` must be
    :data:`ENTRA_AUDIENCE` (with or without a trailing ``/``); the lifetime rules are :func:`check_lifetime`'s.
    """
    if not token:
        raise AuthError("The access token is missing.")
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise AuthError("The Entra token is malformed.") from None
    if not isinstance(claims, dict):
        raise AuthError("The Entra token claims are not an object.")
    if not is_entra_audience(claims.get("aud")):
        raise AuthError(f"The Entra token's audience must be {ENTRA_AUDIENCE}.")
    check_lifetime(claims, time.time() if now is None else now)
    return claims


def is_entra_audience(aud: Any) -> bool:
    """True when ``aud`` (a string or a one-element list) names Web PubSub's Entra audience."""
    if isinstance(aud, list) and len(aud) == 1:
        aud = aud[0]
    return isinstance(aud, str) and aud.rstrip("/").lower() == ENTRA_AUDIENCE


def looks_like_entra(token: str) -> bool:
    """True when an unverified look at the token shows Web PubSub's Entra audience (to explain a 401 better)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    return isinstance(claims, dict) and is_entra_audience(claims.get("aud"))


def _aud_parts(claims: Mapping[str, Any]) -> tuple[str, Authority, str]:
    aud = claims.get("aud")
    if isinstance(aud, list) and len(aud) == 1:
        aud = aud[0]
    if not isinstance(aud, str) or not aud:
        raise AuthError("The access token has no usable 'aud' claim.")
    return _parse_aud(aud)


@functools.lru_cache(maxsize=1024)
def _parse_aud(aud: str) -> tuple[str, Authority, str]:
    # pure, and clients send the same audience again and again (a REST token's aud is the request URL): parsed once
    try:
        parts = urlsplit(aud)
        port = parts.port
    except ValueError:
        raise AuthError("The access token 'aud' claim is not a URL.") from None
    scheme = parts.scheme.lower()
    authority = authority_of(parts.hostname, port, scheme)
    if authority is None:
        raise AuthError("The access token 'aud' claim must be an http(s) or ws(s) URL.")
    return scheme, authority, parts.path


def _decoded_segments(path: str) -> list[str]:
    return [unquote(s) for s in path.split("/")]


def check_rest_audience(claims: Mapping[str, Any], *, raw_path: str, names: ServerNames) -> None:
    """Check a REST token's ``aud``: host[:port] one of this emulator's own (``names``), case-insensitively, and the
    path exactly; scheme and query are ignored. The Host header of the request plays no part."""
    _scheme, authority, aud_path = _aud_parts(claims)
    if not names.is_own_authority(authority):
        raise AuthError("The access token 'aud' claim names another host.")
    req_path = raw_path.split("?", 1)[0]
    if aud_path != req_path and _decoded_segments(aud_path) != _decoded_segments(req_path):
        raise AuthError("The access token 'aud' claim does not match the request path.")


def client_audience_path(hub: str, client_type: str = "Default") -> str:
    """Return the ``aud`` path for a client token of the given client type."""
    kind = client_type.lower()
    if kind == "mqtt":
        return f"/clients/mqtt/hubs/{hub}"
    if kind == "socketio":
        return f"/clients/socketio/hubs/{hub}"
    return f"/client/hubs/{hub}"


def check_client_audience(
    claims: Mapping[str, Any], *, hub: str, names: ServerNames, client_type: str = "Default"
) -> None:
    """Check a client token's ``aud``: http/https/ws/wss, one of this emulator's own host[:port] (``names``), and the
    path of the client type's endpoint (:func:`client_audience_path`: ``/client/hubs/<hub>``, MQTT
    ``/clients/mqtt/hubs/<hub>``; the hub compared case-insensitively)."""
    _scheme, authority, aud_path = _aud_parts(claims)
    if not names.is_own_authority(authority):
        raise AuthError("The access token 'aud' claim names another host.")
    prefix = client_audience_path("", client_type)
    if not aud_path.startswith(prefix) or unquote(aud_path[len(prefix) :]).lower() != hub.lower():
        raise AuthError("The access token 'aud' claim is not meant for this hub.")


def mint_client_token(
    access_key: str,
    *,
    audience: str,
    user_id: Optional[str] = None,
    roles: Iterable[str] = (),
    groups: Iterable[str] = (),
    minutes_to_expire: int = 60,
    now: Optional[float] = None,
) -> str:
    """Mint a client access token shaped like the one the server SDKs sign with an access key."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {"aud": audience, "iat": issued, "exp": issued + minutes_to_expire * 60}
    if user_id:
        claims["sub"] = user_id
    role_list = list(roles)
    if role_list:
        claims["role"] = role_list
    group_list = list(groups)
    if group_list:
        claims["webpubsub.group"] = group_list
    return jwt.encode(claims, access_key.encode("utf-8"), algorithm="HS256")
