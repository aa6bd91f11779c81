# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""HS256 signing with the access key: the JWT of each REST request, and the signer the client tokens use.

PyJWT's ``jwt.encode`` re-validates the HMAC key on every call (PEM, SSH, DER and JWK checks, including a
``json.loads`` of the key), which costs more than the signature itself. The tokens signed here have a fixed header,
so they are built directly: the header segment is computed once, the key is validated once (by PyJWT's own
``HMACAlgorithm.prepare_key``, so the same keys are accepted or rejected) and the prepared HMAC is copied for each
token. The bytes are identical to ``jwt.encode(claims, key, algorithm="HS256")`` (tests/sdk check this). Keys PyJWT
rejects, or warns about as too short (PyJWT 2.10.0 and later), still go through ``jwt.encode``, so its errors and
warnings are unchanged.
"""

import base64
import functools
import hashlib
import hmac
import json
import time
from typing import Any, Callable, Dict, Mapping, Optional

import jwt
from jwt.algorithms import HMACAlgorithm
from jwt.exceptions import InvalidKeyError

__all__ = ["NAME_CLAIM", "REST_TOKEN_LIFETIME_SECONDS", "current_second", "sign_hs256", "sign_rest_token"]

NAME_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
"""The JWT claim carrying the ``user`` client option in REST tokens."""

REST_TOKEN_LIFETIME_SECONDS = 60
"""Lifetime of the JWT signed for each REST request."""

_HS256 = HMACAlgorithm(HMACAlgorithm.SHA256)
_HEADER_SEGMENT = (
    base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode("utf-8"))
    .rstrip(b"=")
    .decode("ascii")
)


def _no_key_length_check(key: bytes) -> Optional[str]:
    return None


# PyJWT 2.10.0 added ``check_key_length`` (the warning for keys shorter than the hash). Older releases, which the
# declared floor admits, neither have it nor warn, so every key they accept takes the direct path.
_key_length_problem: Callable[[bytes], Optional[str]] = getattr(_HS256, "check_key_length", _no_key_length_check)


def current_second() -> int:
    """The current time in whole seconds since the epoch: the resolution of the ``exp`` claim.

    :return: The time.
    :rtype: int
    """
    return int(time.time())


@functools.lru_cache(maxsize=8)
def _prepared_hmac(key: str) -> Optional["hmac.HMAC"]:
    """The HMAC-SHA256 state for a key PyJWT accepts without a warning, or None (then PyJWT signs)."""
    try:
        prepared = _HS256.prepare_key(key)
    except InvalidKeyError:
        return None
    if _key_length_problem(prepared):
        return None
    return hmac.new(prepared, digestmod=hashlib.sha256)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_hs256(claims: Dict[str, Any], key: str, headers: Optional[Mapping[str, Any]] = None) -> str:
    """``jwt.encode(claims, key, algorithm="HS256", headers=headers)``, byte for byte.

    Without extra header fields the token is built directly (see the module docstring); with them PyJWT signs.

    :param claims: The claims.
    :type claims: dict[str, any]
    :param str key: The access key, used as the raw HMAC-SHA256 key.
    :param headers: Extra JWT header fields, such as ``kid``; they must not contain ``alg``.
    :type headers: ~collections.abc.Mapping[str, any] or None
    :return: The signed token.
    :rtype: str
    """
    if headers:
        return jwt.encode(claims, key, algorithm="HS256", headers=dict(headers))
    mac = _prepared_hmac(key) if isinstance(key, str) else None
    if mac is None:
        return jwt.encode(claims, key, algorithm="HS256")
    signing_input = _HEADER_SEGMENT + "." + _b64url(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
    mac = mac.copy()
    mac.update(signing_input.encode("ascii"))
    return signing_input + "." + _b64url(mac.digest())


def sign_rest_token(url: str, key: str, *, user: Optional[str] = None, now: Optional[float] = None) -> str:
    """Sign the JWT that authenticates one REST request with an access key.

    :param str url: The full request URL, query included, naming the service (not a proxy).
    :param str key: The access key, used as the raw HMAC-SHA256 key.
    :keyword user: Adds the name claim when given.
    :paramtype user: str or None
    :keyword now: The current time in seconds since the epoch (for tests); defaults to the clock.
    :paramtype now: float or None
    :return: The signed token.
    :rtype: str
    """
    issued = int(time.time() if now is None else now)
    claims: Dict[str, Any] = {"aud": url, "exp": issued + REST_TOKEN_LIFETIME_SECONDS}
    if user:
        claims[NAME_CLAIM] = user
    return sign_hs256(claims, key)
