# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""IO-free logic shared by the sync and the async client.

Everything here is pure: connection-string parsing, endpoint and port handling, hub validation, JWT signing,
message encoding for the ``send_to_*`` operations, client access-token claims and URLs, client-protocol
normalisation, the reverse-proxy URL rewrite and the next-link handling of ``list_connections``.
Nothing here performs IO, and no error message produced here contains an access key, a token or a
connection-string value.
"""

import base64
import functools
import hashlib
import hmac
import io
import json
import re
import time
from typing import Any, Dict, Iterable, List, Mapping, MutableMapping, NamedTuple, Optional, Tuple, Union
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import jwt
from azure.core.serialization import AzureJSONEncoder
from jwt.algorithms import HMACAlgorithm
from jwt.exceptions import InvalidKeyError

from ._models import GroupMember, WebPubSubClientProtocol

__all__ = [
    "CONTENT_TYPES",
    "HUB_PATTERN",
    "NAME_CLAIM",
    "REST_TOKEN_LIFETIME_SECONDS",
    "ClientTokenTarget",
    "ConnectionStringParts",
    "apply_port",
    "client_token_result",
    "client_token_target",
    "connection_string_settings",
    "current_second",
    "encode_message",
    "group_member_page",
    "groups_request_body",
    "is_http_url",
    "join_endpoint",
    "local_client_token",
    "next_link_url",
    "normalize_client_protocol",
    "origin_to_proxy",
    "parse_connection_string",
    "pop_content_type",
    "proxy_to_origin",
    "send_arguments",
    "service_token_result",
    "sign_client_token",
    "sign_rest_token",
    "validate_hub",
]

HUB_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_`,.[\]]{0,127}$")
"""A hub name: a letter first, then letters, digits or any of ``_ ` , . [ ]``; 1 to 128 characters in total."""

NAME_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
"""The JWT claim carrying the ``user`` client option in REST tokens."""

REST_TOKEN_LIFETIME_SECONDS = 60
"""Lifetime of the JWT signed for each REST request."""

JSON = "application/json"
TEXT = "text/plain"
OCTET_STREAM = "application/octet-stream"
CONTENT_TYPES = (JSON, TEXT, OCTET_STREAM)
"""The media types the ``send_to_*`` operations accept, compared case-insensitively."""

_CONNECTION_STRING_KEYS = {"endpoint": "Endpoint", "accesskey": "AccessKey", "port": "Port", "version": "Version"}

# ---------------------------------------------------------------------------------------------------- hub


def validate_hub(hub: Any) -> str:
    """Check a hub name against the service's rule and return it unchanged.

    :param str hub: The hub name.
    :return: The hub name.
    :rtype: str
    :raises ValueError: If the name does not match the rule. The message states the rule.
    """
    if not isinstance(hub, str) or not HUB_PATTERN.fullmatch(hub):
        raise ValueError(
            "Invalid hub name: a hub name must start with a letter and contain only letters, digits and the "
            "characters _ ` , . [ ], with 1 to 128 characters in total"
        )
    return hub


# ---------------------------------------------------------------------------------------------------- endpoint


def _port_number(port: Union[int, str]) -> int:
    if isinstance(port, bool):
        raise ValueError("The port must be an integer between 1 and 65535")
    if isinstance(port, str):
        text = port.strip()
        if not text.isdigit() or not text.isascii():
            raise ValueError("The port must be an integer between 1 and 65535")
        number = int(text)
    elif isinstance(port, int):
        number = port
    else:
        raise ValueError("The port must be an integer between 1 and 65535")
    if not 1 <= number <= 65535:
        raise ValueError("The port must be an integer between 1 and 65535")
    return number


def apply_port(endpoint: str, port: Optional[Union[int, str]]) -> str:
    """Return the endpoint with ``port`` applied, and without trailing ``/``.

    An empty or None port leaves the endpoint unchanged. The port goes into the authority, before any path prefix
    (``http://host/prefix`` with 8080 gives ``http://host:8080/prefix``). When the endpoint already names a port,
    the same port is accepted and a different one is rejected.

    :param str endpoint: The service endpoint, such as ``https://<name>.webpubsub.azure.com``.
    :param port: The port, as an int or a string of digits, or None.
    :type port: int or str or None
    :return: The endpoint with the port.
    :rtype: str
    :raises ValueError: If the port is not an integer in 1-65535, or conflicts with a port already in the endpoint.
    """
    endpoint = endpoint.rstrip("/")
    if port is None or port == "":
        return endpoint
    number = _port_number(port)
    parts = urlsplit(endpoint)
    if not parts.scheme or not parts.netloc:
        return f"{endpoint}:{number}"
    try:
        existing = parts.port
    except ValueError:
        # urllib's message quotes the offending text; do not chain it.
        raise ValueError("The endpoint has an invalid port") from None
    if existing is not None:
        if existing != number:
            raise ValueError("The port conflicts with the port already present in the endpoint")
        return endpoint
    return urlunsplit(parts._replace(netloc=f"{parts.netloc}:{number}"))


def is_http_url(url: str) -> bool:
    """Tell whether a string is an absolute ``http://`` or ``https://`` URL with a host.

    :param str url: The string.
    :return: True for an absolute HTTP(S) URL.
    :rtype: bool
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def join_endpoint(endpoint: str, url: str) -> str:
    """Join a relative URL onto the endpoint, keeping the endpoint's path prefix; absolute URLs pass through.

    :param str endpoint: The endpoint, possibly with a path prefix (``http://h/prefix``).
    :param str url: A relative (``/api/health``) or absolute URL.
    :return: The absolute URL.
    :rtype: str
    """
    if urlsplit(url).scheme:
        return url
    return endpoint.rstrip("/") + "/" + url.lstrip("/")


def next_link_url(next_link: str, api_version: str) -> str:
    """Turn a ``nextLink`` into the URL, relative to the client endpoint, of the next page request.

    The service may send the link absolute (possibly naming a proxy or another host) or relative. Only its path from
    ``/api/`` on and its query are kept, so the request goes to the client's endpoint (path prefix included);
    ``api-version`` is replaced with the client's.

    :param str next_link: The ``nextLink`` of a ``list_connections`` page (or a continuation token).
    :param str api_version: The client's api-version.
    :return: The relative path and query to request.
    :rtype: str
    """
    parts = urlsplit(next_link)
    # The query is kept byte for byte (a continuation token may hold '+', '/' or '='); only api-version is replaced.
    query = [
        item for item in parts.query.split("&") if item and unquote(item.split("=", 1)[0]).lower() != "api-version"
    ]
    query.append("api-version=" + quote(api_version, safe=""))
    path = parts.path
    anchor = path.find("/api/")
    if anchor > 0:
        path = path[anchor:]
    if not path.startswith("/"):
        path = "/" + path
    return path + "?" + "&".join(query)


# -------------------------------------------------------------------------------- connection strings


class ConnectionStringParts(NamedTuple):
    """The fields of a Web PubSub connection string that the SDK uses."""

    endpoint: str
    """The ``Endpoint`` value."""
    access_key: str
    """The ``AccessKey`` value, used as the raw HMAC key."""
    port: Optional[str]
    """The ``Port`` value, or None."""

    def __repr__(self) -> str:
        return f"ConnectionStringParts(endpoint={self.endpoint!r}, access_key='***', port={self.port!r})"


def parse_connection_string(connection_string: str) -> ConnectionStringParts:
    """Parse a connection string such as ``Endpoint=https://x.webpubsub.azure.com;AccessKey=...;Version=1.0;``.

    Segments are separated by ``;``; blank segments are ignored. Each segment is split at its first ``=``. Keys are
    case-insensitive; spaces around keys and values are ignored. ``Endpoint`` and ``AccessKey`` are required,
    ``Port`` is optional; ``Version`` and unknown keys are ignored. A key may appear only once.

    :param str connection_string: The connection string.
    :return: The endpoint, access key and port.
    :rtype: ConnectionStringParts
    :raises ValueError: If a segment has no ``=`` or an empty key, a key repeats, or a required key is missing or
        empty. The message names the segment position or the key, never a value.
    """
    found = _connection_string_fields(connection_string)
    return _require_fields(found.get("endpoint"), found.get("accesskey"), found.get("port"))


def _connection_string_fields(connection_string: str) -> Dict[str, str]:
    if not isinstance(connection_string, str):
        raise ValueError("The connection string must be a str")
    found: Dict[str, str] = {}
    seen_unknown: Dict[str, int] = {}
    for position, raw in enumerate(connection_string.split(";"), start=1):
        segment = raw.strip()
        if not segment:
            continue
        key, sep, value = segment.partition("=")
        if not sep:
            raise ValueError(f"Connection string segment {position} is not of the form Key=Value")
        key = key.strip().lower()
        if not key:
            raise ValueError(f"Connection string segment {position} has an empty key")
        if key in _CONNECTION_STRING_KEYS:
            if key in found:
                raise ValueError(f"Connection string key '{_CONNECTION_STRING_KEYS[key]}' appears more than once")
            found[key] = value.strip()
        else:
            # Unknown keys are ignored; they are never named in messages (a mangled segment could hold a secret).
            if key in seen_unknown:
                raise ValueError(f"Connection string segment {position} repeats the key of segment {seen_unknown[key]}")
            seen_unknown[key] = position
    return found


def _require_fields(endpoint: Optional[str], access_key: Optional[str], port: Optional[str]) -> ConnectionStringParts:
    if not endpoint:
        raise ValueError("Connection string is missing a non-empty 'Endpoint' value")
    if not access_key:
        raise ValueError("Connection string is missing a non-empty 'AccessKey' value")
    return ConnectionStringParts(endpoint=endpoint, access_key=access_key, port=port or None)


def connection_string_settings(
    connection_string: str, kwargs: MutableMapping[str, Any]
) -> Tuple[str, str, MutableMapping[str, Any]]:
    """Resolve the endpoint and key of ``from_connection_string``; explicit kwargs beat the connection string.

    ``endpoint``, ``accesskey`` and ``port`` keyword arguments, when given, override the connection string's values
    (as in 1.3.0). ``port`` is applied to the endpoint here and removed from the returned kwargs.

    :param str connection_string: The connection string.
    :param kwargs: The keyword arguments given to ``from_connection_string``; they are not modified.
    :type kwargs: ~collections.abc.MutableMapping
    :return: The endpoint (port applied), the access key and the remaining client kwargs.
    :rtype: tuple[str, str, ~collections.abc.MutableMapping]
    :raises ValueError: If the connection string or the port is invalid.
    """
    found = _connection_string_fields(connection_string)
    rest = dict(kwargs)
    parts = _require_fields(
        rest.pop("endpoint", None) or found.get("endpoint"),
        rest.pop("accesskey", None) or found.get("accesskey"),
        rest.pop("port", None) or found.get("port"),
    )
    return apply_port(parts.endpoint, parts.port), parts.access_key, rest


# ---------------------------------------------------------------------------------------------------- REST tokens


def current_second() -> int:
    """The current time in whole seconds since the epoch: the resolution of the ``exp`` claim.

    :return: The time.
    :rtype: int
    """
    return int(time.time())


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
    return _encode_hs256(claims, key)


# ---------------------------------------------------------------------------------------------------- HS256 signing
#
# PyJWT's ``jwt.encode`` re-validates the HMAC key on every call (PEM, SSH, DER and JWK checks, including a
# ``json.loads`` of the key), which costs more than the signature itself. The tokens signed here always have the same
# header, so they are built directly: the header segment is computed once, the key is validated once (by PyJWT's own
# ``HMACAlgorithm.prepare_key``, so the same keys are accepted or rejected) and the prepared HMAC is copied for each
# token. The bytes are identical to ``jwt.encode(claims, key, algorithm="HS256")`` (tests/sdk check this). Keys PyJWT
# rejects or warns about (too short) still go through ``jwt.encode``, so its errors and warnings are unchanged.

_HS256 = HMACAlgorithm(HMACAlgorithm.SHA256)
_HS256_HEADER_SEGMENT = (
    base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode("utf-8"))
    .rstrip(b"=")
    .decode("ascii")
)


@functools.lru_cache(maxsize=8)
def _prepared_hmac(key: str) -> Optional["hmac.HMAC"]:
    """The HMAC-SHA256 state for a key PyJWT accepts without a warning, or None (then PyJWT signs)."""
    try:
        prepared = _HS256.prepare_key(key)
    except InvalidKeyError:
        return None
    # PyJWT 2.10+ warns about short keys (let it sign those); older releases, down to our floor, have no such check.
    check_key_length = getattr(_HS256, "check_key_length", None)
    if check_key_length is not None and check_key_length(prepared):
        return None
    return hmac.new(prepared, digestmod=hashlib.sha256)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _encode_hs256(claims: Dict[str, Any], key: str) -> str:
    """``jwt.encode(claims, key, algorithm="HS256")``, byte for byte, without PyJWT's per-call key checks."""
    mac = _prepared_hmac(key) if isinstance(key, str) else None
    if mac is None:
        return jwt.encode(claims, key, algorithm="HS256")
    signing_input = _HS256_HEADER_SEGMENT + "." + _b64url(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
    mac = mac.copy()
    mac.update(signing_input.encode("ascii"))
    return signing_input + "." + _b64url(mac.digest())


# ---------------------------------------------------------------------------------------------------- reverse proxy


def _replace_prefix(url: str, old: str, new: str) -> str:
    old = old.rstrip("/")
    new = new.rstrip("/")
    old_parts = urlsplit(old)
    url_parts = urlsplit(url)
    same_origin = (
        old_parts.scheme.lower() == url_parts.scheme.lower() and old_parts.netloc.lower() == url_parts.netloc.lower()
    )
    if not same_origin:
        return url
    prefix = old_parts.path.rstrip("/")
    path = url_parts.path
    if prefix and not (path == prefix or path.startswith(prefix + "/")):
        return url
    new_parts = urlsplit(new)
    new_path = new_parts.path.rstrip("/") + path[len(prefix) :]
    return urlunsplit((new_parts.scheme, new_parts.netloc, new_path, url_parts.query, url_parts.fragment))


def origin_to_proxy(url: str, origin_endpoint: str, proxy_endpoint: str) -> str:
    """Send a request URL to the reverse proxy: replace the origin endpoint prefix with the proxy endpoint.

    Only the URL prefix (scheme, host, port and path prefix) is rewritten; the rest of the path and the query are
    kept. A URL outside the origin endpoint is returned unchanged.

    :param str url: The request URL.
    :param str origin_endpoint: The service endpoint.
    :param str proxy_endpoint: The reverse-proxy endpoint.
    :return: The URL to send.
    :rtype: str
    """
    return _replace_prefix(url, origin_endpoint, proxy_endpoint)


def proxy_to_origin(url: str, origin_endpoint: str, proxy_endpoint: str) -> str:
    """Map a proxied request URL back to the service URL it stands for (used as the REST JWT ``aud``).

    :param str url: The request URL, possibly already rewritten to the proxy.
    :param str origin_endpoint: The service endpoint.
    :param str proxy_endpoint: The reverse-proxy endpoint.
    :return: The URL naming the service.
    :rtype: str
    """
    return _replace_prefix(url, proxy_endpoint, origin_endpoint)


# ---------------------------------------------------------------------------------------------------- messages


def pop_content_type(content_type: Optional[str], headers: MutableMapping[str, str]) -> Optional[str]:
    """Choose the explicit content type of a send: the ``content_type`` argument, else a Content-Type header.

    Any Content-Type entry (in any letter case) is removed from ``headers``, so the content type is set exactly once.

    :param content_type: The ``content_type`` keyword, or None.
    :type content_type: str or None
    :param headers: The per-call headers; modified in place.
    :type headers: ~collections.abc.MutableMapping[str, str]
    :return: The explicit content type, or None when the message decides.
    :rtype: str or None
    """
    from_headers: Optional[str] = None
    for name in [name for name in headers if name.lower() == "content-type"]:
        from_headers = headers.pop(name)
    return content_type if content_type is not None else from_headers


def _is_text_stream(message: Any) -> bool:
    return isinstance(message, io.TextIOBase)


def _is_binary_stream(message: Any) -> bool:
    if isinstance(message, (io.RawIOBase, io.BufferedIOBase)):
        return True
    return not isinstance(message, (str, bytes, bytearray, memoryview, io.TextIOBase)) and callable(
        getattr(message, "read", None)
    )


def _accepted() -> str:
    return (
        "the content type must be one of application/json, text/plain, application/octet-stream (optionally with "
        "parameters); without a content type the message must be a dict, list, str, int, float, bool, None, bytes, "
        "bytearray, memoryview or a file-like object"
    )


def _utf8(message: Any) -> Union[bytes, Any]:
    if isinstance(message, str):
        return message.encode("utf-8")
    if isinstance(message, (bytes, bytearray, memoryview)):
        return bytes(message)
    if _is_text_stream(message):
        return message.read().encode("utf-8")
    if _is_binary_stream(message):
        return message
    kind = type(message).__name__
    raise ValueError(f"Cannot send a {kind} as text/plain or application/octet-stream: " + _accepted())


class _MessageEncoder(AzureJSONEncoder):
    """azure-core's JSON encoder, plus any mapping (such as a model of this package) as a JSON object."""

    def default(self, o: Any) -> Any:
        if isinstance(o, Mapping):
            return dict(o)
        return super().default(o)


def _json_body(message: Any) -> bytes:
    try:
        return json.dumps(message, cls=_MessageEncoder, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"The message cannot be serialised as JSON ({type(message).__name__})") from exc


def encode_message(message: Any, content_type: Optional[str]) -> Tuple[str, Any]:
    """Choose the Content-Type of a send and encode the message into the request body.

    With an explicit ``content_type`` its media type (compared case-insensitively) decides and the string is sent
    verbatim, parameters included:

    * ``application/json``: the message is JSON-serialised (``"hello"`` for a str, base64 for bytes); NaN and
      infinities are rejected, since they have no JSON spelling;
    * ``text/plain`` and ``application/octet-stream``: a str or text stream is UTF-8 encoded, bytes-like objects are
      sent as they are and a binary stream is streamed.

    Without one, the message type decides: dict, list, tuple, int, float, bool and None are sent as
    ``application/json``; str and text streams as ``text/plain`` (UTF-8); bytes, bytearray, memoryview and binary
    streams as ``application/octet-stream``.

    :param message: The message to send.
    :type message: any
    :param content_type: The explicit content type, or None.
    :type content_type: str or None
    :return: The Content-Type header value and the body.
    :rtype: tuple[str, any]
    :raises ValueError: If the content type is not supported, or the message does not fit it.
    """
    if content_type is not None:
        content_type = str(content_type)  # a MessageContentType member is sent as its value
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type == JSON:
            return content_type, _json_body(message)
        if media_type in (TEXT, OCTET_STREAM):
            return content_type, _utf8(message)
        raise ValueError("Unsupported content type: " + _accepted())
    if message is None or isinstance(message, (Mapping, list, tuple, int, float, bool)):
        return JSON, _json_body(message)
    if isinstance(message, str) or _is_text_stream(message):
        return TEXT, _utf8(message)
    if isinstance(message, (bytes, bytearray, memoryview)) or _is_binary_stream(message):
        return OCTET_STREAM, _utf8(message)
    raise ValueError(f"Unsupported message type {type(message).__name__}: " + _accepted())


# ---------------------------------------------------------------------------------------------------- client tokens


_PROTOCOL_PATHS = {
    WebPubSubClientProtocol.DEFAULT: "/client/hubs/",
    WebPubSubClientProtocol.MQTT: "/clients/mqtt/hubs/",
    WebPubSubClientProtocol.SOCKETIO: "/clients/socketio/hubs/",
}


def normalize_client_protocol(protocol: Any) -> WebPubSubClientProtocol:
    """Resolve a client protocol given as a str (any letter case), an enum member or None (the default).

    :param protocol: ``"Default"``, ``"MQTT"``, ``"SocketIO"`` in any letter case, a
        :class:`~azure.messaging.webpubsubservice.models.WebPubSubClientProtocol` or
        :class:`~azure.messaging.webpubsubservice.models.WebPubSubClientType` member, or None.
    :type protocol: str or None
    :return: The protocol.
    :rtype: ~azure.messaging.webpubsubservice.models.WebPubSubClientProtocol
    :raises ValueError: For any other value.
    """
    if protocol is None:
        return WebPubSubClientProtocol.DEFAULT
    if isinstance(protocol, WebPubSubClientProtocol):
        return protocol
    if isinstance(protocol, str):
        try:
            return WebPubSubClientProtocol(protocol.value if hasattr(protocol, "value") else protocol)
        except ValueError:
            pass
    raise ValueError("Unsupported client_protocol: expected one of 'Default', 'MQTT' or 'SocketIO' (any letter case)")


class ClientTokenTarget(NamedTuple):
    """Where a client connects: the URL it uses and the audience its token names."""

    base_url: str
    """The WebSocket URL without the token, such as ``wss://host/client/hubs/Hub``."""
    audience: str
    """The token audience, such as ``https://host/client/hubs/Hub``."""


def client_token_target(endpoint: str, hub: str, protocol: WebPubSubClientProtocol) -> ClientTokenTarget:
    """Compute the client URL and the token audience for a hub.

    The scheme and host are lowercased (a path prefix keeps its case), trailing ``/`` is removed and the hub keeps its
    case. ``http`` becomes ``ws`` and ``https`` becomes ``wss`` in the URL; the audience keeps the HTTP scheme.

    :param str endpoint: The service endpoint (not a reverse proxy), port included.
    :param str hub: The hub.
    :param protocol: The client protocol.
    :type protocol: ~azure.messaging.webpubsubservice.models.WebPubSubClientProtocol
    :return: The client base URL and the audience.
    :rtype: ClientTokenTarget
    :raises ValueError: If the endpoint's scheme is not http or https.
    """
    parts = urlsplit(endpoint.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("The endpoint must be an absolute http:// or https:// URL")
    http_endpoint = f"{scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"
    ws_endpoint = ("ws" if scheme == "http" else "wss") + http_endpoint[len(scheme) :]
    suffix = _PROTOCOL_PATHS[protocol] + hub
    return ClientTokenTarget(base_url=ws_endpoint + suffix, audience=http_endpoint + suffix)


def _string_list(values: Optional[Union[str, Iterable[str]]]) -> List[str]:
    if not values:
        return []
    if isinstance(values, str):
        return [values]
    return [str(value) for value in values]


def sign_client_token(
    key: str,
    audience: str,
    *,
    user_id: Optional[str] = None,
    roles: Optional[Iterable[str]] = None,
    groups: Optional[Iterable[str]] = None,
    minutes_to_expire: int = 60,
    jwt_headers: Optional[Mapping[str, Any]] = None,
    now: Optional[float] = None,
) -> str:
    """Sign a client access token locally with the access key.

    Claims: ``aud``, ``iat``, ``exp`` (``iat`` + ``minutes_to_expire`` minutes), ``sub`` (when ``user_id`` is
    non-empty), ``role`` (a list, when non-empty) and ``webpubsub.group`` (a list, when non-empty).

    :param str key: The access key, used as the raw HMAC-SHA256 key.
    :param str audience: The audience, from :func:`client_token_target`.
    :keyword user_id: The user id.
    :paramtype user_id: str or None
    :keyword roles: The roles, such as ``webpubsub.joinLeaveGroup.<group>``.
    :paramtype roles: list[str] or None
    :keyword groups: The groups the connection joins on connect.
    :paramtype groups: list[str] or None
    :keyword int minutes_to_expire: The token lifetime in minutes. Default 60.
    :keyword jwt_headers: Extra JWT header fields, such as ``kid``.
    :paramtype jwt_headers: dict[str, any] or None
    :keyword now: The current time in seconds since the epoch (for tests); defaults to the clock.
    :paramtype now: float or None
    :return: The signed token.
    :rtype: str
    """
    issued = int(time.time() if now is None else now)
    claims: Dict[str, Any] = {
        "aud": audience,
        "iat": issued,
        "exp": issued + int(minutes_to_expire * 60),
    }
    if user_id:
        claims["sub"] = user_id
    role_list = _string_list(roles)
    if role_list:
        claims["role"] = role_list
    group_list = _string_list(groups)
    if group_list:
        claims["webpubsub.group"] = group_list
    if jwt_headers:
        return jwt.encode(claims, key, algorithm="HS256", headers=dict(jwt_headers))
    return _encode_hs256(claims, key)


def client_token_result(base_url: str, token: str) -> Dict[str, str]:
    """Build the dict returned by ``get_client_access_token``.

    :param str base_url: The client base URL.
    :param str token: The access token.
    :return: ``{"baseUrl": ..., "token": ..., "url": "<baseUrl>?access_token=<token>"}``.
    :rtype: dict[str, str]
    """
    return {"baseUrl": base_url, "token": token, "url": f"{base_url}?access_token={token}"}


def service_token_result(base_url: str, response: Any) -> Dict[str, str]:
    """Build the ``get_client_access_token`` result from the service's ``:generateToken`` response.

    :param str base_url: The client base URL.
    :param response: The decoded response, ``{"token": "..."}``.
    :type response: dict
    :return: ``{"baseUrl", "token", "url"}``.
    :rtype: dict[str, str]
    :raises ValueError: If the response holds no token.
    """
    token = response.get("token") if isinstance(response, Mapping) else None
    if not isinstance(token, str) or not token:
        raise ValueError("The service's generateToken response holds no token")
    return client_token_result(base_url, token)


def local_client_token(
    endpoint: str,
    hub: str,
    key: str,
    *,
    user_id: Optional[str] = None,
    roles: Optional[Iterable[str]] = None,
    minutes_to_expire: int = 60,
    jwt_headers: Optional[Mapping[str, Any]] = None,
    groups: Optional[Iterable[str]] = None,
    client_protocol: Any = WebPubSubClientProtocol.DEFAULT,
) -> Dict[str, str]:
    """Build the ``get_client_access_token`` result for a key credential: the token is signed locally.

    :param str endpoint: The service endpoint (not a reverse proxy), port included.
    :param str hub: The hub.
    :param str key: The access key.
    :keyword user_id: The user id (``sub``).
    :paramtype user_id: str or None
    :keyword roles: The roles (``role``).
    :paramtype roles: list[str] or None
    :keyword int minutes_to_expire: The lifetime in minutes. Default 60.
    :keyword jwt_headers: Extra JWT header fields.
    :paramtype jwt_headers: dict[str, any] or None
    :keyword groups: The initial groups (``webpubsub.group``).
    :paramtype groups: list[str] or None
    :keyword client_protocol: The client protocol. Default ``"Default"``.
    :paramtype client_protocol: str or ~azure.messaging.webpubsubservice.models.WebPubSubClientProtocol
    :return: ``{"baseUrl", "token", "url"}``.
    :rtype: dict[str, str]
    :raises ValueError: If the protocol or the endpoint scheme is not supported.
    """
    target = client_token_target(endpoint, hub, normalize_client_protocol(client_protocol))
    token = sign_client_token(
        key,
        target.audience,
        user_id=user_id,
        roles=roles,
        groups=groups,
        minutes_to_expire=minutes_to_expire,
        jwt_headers=jwt_headers,
    )
    return client_token_result(target.base_url, token)


def send_arguments(
    message: Any, content_type: Optional[str], message_ttl_seconds: Optional[int], kwargs: Mapping[str, Any]
) -> Tuple[Any, Dict[str, Any]]:
    """Prepare the body and the keyword arguments of a generated ``send_to_*`` operation.

    :param message: The message.
    :type message: any
    :param content_type: The explicit content type, or None.
    :type content_type: str or None
    :param message_ttl_seconds: The message TTL, or None.
    :type message_ttl_seconds: int or None
    :param kwargs: The caller's other keyword arguments (``headers`` is copied, never modified).
    :type kwargs: ~collections.abc.Mapping
    :return: The body, and the keyword arguments for the generated operation.
    :rtype: tuple[any, dict[str, any]]
    :raises ValueError: If the content type is not supported, or the message does not fit it.
    """
    rest = dict(kwargs)
    headers: Dict[str, str] = dict(rest.pop("headers", None) or {})
    chosen, body = encode_message(message, pop_content_type(content_type, headers))
    rest["headers"] = headers
    rest["content_type"] = chosen
    rest["message_ttl_seconds"] = message_ttl_seconds
    return body, rest


def groups_request_body(request: Any, filter: Optional[str], name: str) -> Any:
    """Build the JSON body of ``:addToGroups`` / ``:removeFromGroups``.

    :param request: A list (or tuple or set) of group names, a mapping ``{"groups": [...], "filter": "..."}``, an
        object with ``as_dict()`` (a model), or bytes / a binary stream holding the JSON.
    :type request: list[str] or dict or IO[bytes]
    :param filter: The OData filter selecting the connections, when ``request`` is a list of groups.
    :type filter: str or None
    :param str name: The parameter name to use in error messages.
    :return: A dict, or the bytes/stream as given.
    :rtype: dict or bytes or IO[bytes]
    :raises ValueError: If ``filter`` is given with a mapping that has one, or ``request`` has another type.
    """
    if isinstance(request, (bytes, bytearray, io.IOBase)):
        if filter is not None:
            raise ValueError(f"Pass the filter inside '{name}' when it is already-serialised JSON")
        return bytes(request) if isinstance(request, bytearray) else request
    if not isinstance(request, Mapping) and callable(getattr(request, "as_dict", None)):
        request = request.as_dict()
    if isinstance(request, Mapping):
        body = dict(request)
        if filter is not None:
            if body.get("filter") is not None:
                raise ValueError(f"The filter is given twice: in '{name}' and as the 'filter' keyword")
            body["filter"] = filter
        if "groups" in body and isinstance(body["groups"], (tuple, set, frozenset)):
            body["groups"] = list(body["groups"])
        return body
    if isinstance(request, str):
        request = [request]
    if isinstance(request, (list, tuple, set, frozenset)):
        body = {"groups": list(request)}
        if filter is not None:
            body["filter"] = filter
        return body
    raise ValueError(
        f"'{name}' must be a list of group names, a dict {{'groups': [...], 'filter': '...'}}, or JSON bytes"
    )


def group_member_page(body: Any) -> Tuple[Optional[str], List[GroupMember]]:
    """Read one ``list_connections`` page.

    :param body: The decoded JSON response, ``{"value": [...], "nextLink": "..."}``.
    :type body: dict
    :return: The next link (None on the last page) and the members.
    :rtype: tuple[str or None, list[~azure.messaging.webpubsubservice.GroupMember]]
    """
    if not isinstance(body, Mapping):
        return None, []
    members = [GroupMember._from_json(item) for item in body.get("value") or []]
    return body.get("nextLink") or None, members
