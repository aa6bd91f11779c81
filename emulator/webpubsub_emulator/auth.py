"""Pure JWT handling: verifying REST and client access tokens, and minting client tokens.

Tokens are HS256 JWTs keyed with the access key string encoded as UTF-8 (never base64-decoded).
"""

from __future__ import annotations

import functools
import time
from typing import Any, Iterable, Mapping, Optional
from urllib.parse import unquote, urlsplit

import jwt

from .errors import Unauthorized

__all__ = [
    "CLOCK_SKEW_SECONDS",
    "MIN_KEY_BYTES",
    "AuthError",
    "check_client_audience",
    "check_key",
    "check_rest_audience",
    "client_audience_path",
    "decode_token",
    "mint_client_token",
]

#: Tolerance applied to ``exp``.
CLOCK_SKEW_SECONDS = 300
#: Access keys shorter than this (in UTF-8 bytes) are refused.
MIN_KEY_BYTES = 32

_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}
#: Names of this machine that count as the same host: a token minted for ``localhost`` works on ``127.0.0.1``.
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


class AuthError(Unauthorized):
    """A token was missing, malformed, badly signed, expired or meant for another audience.

    The message never contains the token or the key.
    """


def check_key(access_key: str) -> str:
    """Return the key when it is long enough; raise ``ValueError`` otherwise."""
    if len(access_key.encode("utf-8")) < MIN_KEY_BYTES:
        raise ValueError(f"The access key must be at least {MIN_KEY_BYTES} bytes long (UTF-8).")
    return access_key


def decode_token(token: str, access_key: str, *, now: Optional[float] = None) -> dict[str, Any]:
    """Verify the signature and ``exp`` (with clock skew) and return the claims. ``aud`` is checked separately."""
    if not token:
        raise AuthError("The access token is missing.")
    options: Any = {"require": ["exp"], "verify_aud": False, "verify_iat": False, "verify_nbf": False}
    try:
        claims = jwt.decode(
            token,
            access_key.encode("utf-8"),
            algorithms=["HS256"],
            options=options,
            leeway=CLOCK_SKEW_SECONDS,
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("The access token has expired.") from None
    except jwt.MissingRequiredClaimError:
        raise AuthError("The access token has no 'exp' claim.") from None
    except jwt.InvalidSignatureError:
        raise AuthError("The access token signature is invalid.") from None
    except jwt.PyJWTError:
        raise AuthError("The access token is malformed or not signed with HS256.") from None
    if now is not None:  # an explicit clock (tests) replaces pyjwt's own check
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)) or exp + CLOCK_SKEW_SECONDS < now:
            raise AuthError("The access token has expired.")
    if not isinstance(claims, dict):
        raise AuthError("The access token claims are not an object.")
    return claims


def _authority(host: str, port: Optional[int], scheme: str) -> tuple[str, int]:
    host = host.lower().strip("[]")
    return host, port if port is not None else _DEFAULT_PORTS.get(scheme, 80)


def _split_host_header(host_header: str, scheme: str) -> Optional[tuple[str, int]]:
    try:
        parts = urlsplit(f"{scheme}://{host_header}")
        if parts.hostname is None:
            return None
        return _authority(parts.hostname, parts.port, scheme)
    except ValueError:
        return None


def _is_loopback(host: str) -> bool:
    return host in _LOOPBACK_NAMES


def _same_authority(a: tuple[str, int], b: tuple[str, int]) -> bool:
    if a == b:
        return True
    # localhost, 127.0.0.1 and ::1 name the same local emulator
    return a[1] == b[1] and _is_loopback(a[0]) and _is_loopback(b[0])


def _aud_parts(claims: Mapping[str, Any]) -> tuple[str, tuple[str, int], str]:
    aud = claims.get("aud")
    if isinstance(aud, list) and len(aud) == 1:
        aud = aud[0]
    if not isinstance(aud, str) or not aud:
        raise AuthError("The access token has no usable 'aud' claim.")
    return _parse_aud(aud)


@functools.lru_cache(maxsize=1024)
def _parse_aud(aud: str) -> tuple[str, tuple[str, int], str]:
    # pure, and clients send the same audience again and again (a REST token's aud is the request URL): parsed once
    try:
        parts = urlsplit(aud)
        port = parts.port
    except ValueError:
        raise AuthError("The access token 'aud' claim is not a URL.") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise AuthError("The access token 'aud' claim must be an http(s) or ws(s) URL.")
    return scheme, _authority(parts.hostname, port, scheme), parts.path


def _host_matches(aud_authority: tuple[str, int], hosts: Iterable[tuple[str, int]]) -> bool:
    return any(_same_authority(aud_authority, h) for h in hosts)


@functools.lru_cache(maxsize=256)
def _known_authorities(request_scheme: str, host_header: Optional[str], endpoint: str) -> tuple[tuple[str, int], ...]:
    # pure; the Host header and the endpoint hardly ever change: computed once per combination
    result: list[tuple[str, int]] = []
    if host_header:
        parsed = _split_host_header(host_header, request_scheme)
        if parsed:
            result.append(parsed)
    ep = urlsplit(endpoint)
    if ep.hostname:
        result.append(_authority(ep.hostname, ep.port, ep.scheme.lower()))
    return tuple(result)


def _decoded_segments(path: str) -> list[str]:
    return [unquote(s) for s in path.split("/")]


def check_rest_audience(
    claims: Mapping[str, Any], *, raw_path: str, request_scheme: str, host_header: Optional[str], endpoint: str
) -> None:
    """Check a REST token's ``aud``: host[:port] case-insensitively, the path exactly; scheme and query are ignored.

    The host may be the one the request was sent to (its Host header) or the emulator's configured endpoint.
    """
    _scheme, authority, aud_path = _aud_parts(claims)
    if not _host_matches(authority, _known_authorities(request_scheme, host_header, endpoint)):
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
    claims: Mapping[str, Any],
    *,
    hub: str,
    request_scheme: str,
    host_header: Optional[str],
    endpoint: str,
    client_type: str = "Default",
) -> None:
    """Check a client token's ``aud``: http/https/ws/wss, a known host[:port], and the path of the client type's
    endpoint (:func:`client_audience_path`: ``/client/hubs/<hub>``, MQTT ``/clients/mqtt/hubs/<hub>``)."""
    _scheme, authority, aud_path = _aud_parts(claims)
    if not _host_matches(authority, _known_authorities(request_scheme, host_header, endpoint)):
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
