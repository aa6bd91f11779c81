"""The data-plane REST API's rules, free of IO: routes, parameters, bodies, pages.

Which operation a method and path name (the path split on ``/`` before percent-decoding, so names may hold ``/``),
the common parameters (``filter``/``$filter``, ``messageTtlSeconds``, ``excluded``, ``targetName``), how a send body
becomes a :class:`~.protocol.Payload` (by Content-Type and charset; none means binary), metadata headers, the body of
``:addToGroups`` / ``:removeFromGroups``, and ListConnectionsInGroup's pages and continuation tokens. Every refusal is
an :class:`~.errors.EmulatorError` whose class says the status.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
from typing import Any, Iterable, NamedTuple, Optional, Sequence
from urllib.parse import quote, unquote, urlencode

from multidict import MultiMapping

from . import limits
from .errors import BadRequest, MethodNotAllowed, NotFound, Unauthorized, UnsupportedMediaType
from .odata import CompiledFilter, parse_filter
from .protocol import Payload
from .roles import JOIN_LEAVE_GROUP, SEND_TO_GROUP
from .validation import parse_int, validate_api_version, validate_group, validate_hub, validate_id, validate_user_id
from .wellformed import NotEncodable, check_metadata

__all__ = [
    "ROUTES",
    "Page",
    "Route",
    "batch_of",
    "bearer_token",
    "check_params",
    "decode_continuation",
    "encode_continuation",
    "excluded_of",
    "filter_of",
    "match_route",
    "metadata_of",
    "next_link",
    "page_of",
    "path_segments",
    "payload_of",
    "permission_of",
    "ttl_of",
]

INT32_MAX = 2**31 - 1
_SEND_TYPES = ("application/json", "text/plain", "application/octet-stream")
_METADATA_PREFIX = "x-webpubsub-metadata-"
#: codecs Python calls text encodings that are no charset a sender could mean
_NOT_CHARSETS = frozenset({"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined"})
_H = "{hub}"


class Route(NamedTuple):
    """One operation: its method, its path under ``/api/hubs/`` (``{name}`` = a parameter) and its name."""

    method: str
    pattern: tuple[str, ...]
    operation: str


#: The 24 operations under ``/api/hubs/`` (health is answered before routing).
ROUTES = (
    Route("POST", (_H, ":addToGroups"), "add_connections_to_groups"),
    Route("POST", (_H, ":closeConnections"), "close_all"),
    Route("POST", (_H, ":generateToken"), "generate_token"),
    Route("POST", (_H, ":removeFromGroups"), "remove_connections_from_groups"),
    Route("POST", (_H, ":send"), "send_to_all"),
    Route("DELETE", (_H, "connections", "{connectionId}"), "close_connection"),
    Route("HEAD", (_H, "connections", "{connectionId}"), "connection_exists"),
    Route("POST", (_H, "connections", "{connectionId}", ":send"), "send_to_connection"),
    Route("DELETE", (_H, "connections", "{connectionId}", "groups"), "remove_connection_from_all_groups"),
    Route("HEAD", (_H, "groups", "{group}"), "group_exists"),
    Route("POST", (_H, "groups", "{group}", ":closeConnections"), "close_group"),
    Route("POST", (_H, "groups", "{group}", ":send"), "send_to_group"),
    Route("GET", (_H, "groups", "{group}", "connections"), "list_connections_in_group"),
    Route("DELETE", (_H, "groups", "{group}", "connections", "{connectionId}"), "remove_connection_from_group"),
    Route("PUT", (_H, "groups", "{group}", "connections", "{connectionId}"), "add_connection_to_group"),
    Route("DELETE", (_H, "permissions", "{permission}", "connections", "{connectionId}"), "revoke_permission"),
    Route("HEAD", (_H, "permissions", "{permission}", "connections", "{connectionId}"), "check_permission"),
    Route("PUT", (_H, "permissions", "{permission}", "connections", "{connectionId}"), "grant_permission"),
    Route("HEAD", (_H, "users", "{userId}"), "user_exists"),
    Route("POST", (_H, "users", "{userId}", ":closeConnections"), "close_user"),
    Route("POST", (_H, "users", "{userId}", ":send"), "send_to_user"),
    Route("DELETE", (_H, "users", "{userId}", "groups"), "remove_user_from_all_groups"),
    Route("DELETE", (_H, "users", "{userId}", "groups", "{group}"), "remove_user_from_group"),
    Route("PUT", (_H, "users", "{userId}", "groups", "{group}"), "add_user_to_group"),
)


def path_segments(raw_path: str) -> list[str]:
    """The percent-decoded segments of a request path (split first, so an encoded ``/`` stays inside a segment)."""
    try:
        return [unquote(s, errors="strict") for s in raw_path.split("?", 1)[0].split("/")]
    except UnicodeDecodeError:
        raise BadRequest("The request path is not valid percent-encoded UTF-8.") from None


def _match(pattern: tuple[str, ...], segments: Sequence[str]) -> Optional[dict[str, str]]:
    if len(pattern) != len(segments):
        return None
    params: dict[str, str] = {}
    for pat, seg in zip(pattern, segments):
        if pat.startswith("{"):
            params[pat[1:-1]] = seg
        elif pat != seg:
            return None
    return params


def match_route(method: str, segments: Sequence[str]) -> tuple[str, dict[str, str]]:
    """The operation and path parameters of ``method`` on the segments after ``/api/hubs/``.

    :raises NotFound: no operation has this path.
    :raises MethodNotAllowed: the path exists with other methods.
    """
    path_matched = False
    for route in ROUTES:
        params = _match(route.pattern, segments)
        if params is None:
            continue
        path_matched = True
        if route.method == method:
            return route.operation, params
    if path_matched:
        raise MethodNotAllowed(f"The method {method} is not allowed on this resource.")
    raise NotFound("No such operation.")


def check_params(api_version: Optional[str], params: dict[str, str]) -> str:
    """Validate the api-version and the path parameters; returns the hub (``hub`` is removed from ``params``)."""
    validate_api_version(api_version)
    hub = validate_hub(params.pop("hub"))
    if "group" in params:
        validate_group(params["group"])
    if "connectionId" in params:
        validate_id(params["connectionId"], what="connection id")
    if "userId" in params:
        validate_user_id(params["userId"])
    return hub


def bearer_token(authorization: Optional[str]) -> str:
    """The token of a ``Bearer`` ``Authorization`` header."""
    scheme, _, token = (authorization or "").partition(" ")
    if not authorization or scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("A bearer token is required in the Authorization header.")
    return token.strip()


def filter_of(query: MultiMapping[str]) -> Optional[CompiledFilter]:
    """The compiled ``filter`` (or the preview spelling ``$filter``); None when absent or blank."""
    text = query.get("filter")
    if text is None:
        text = query.get("$filter")
    if text is None or not text.strip():
        return None
    return parse_filter(text)


def ttl_of(query: MultiMapping[str]) -> Optional[int]:
    """``messageTtlSeconds`` (0-300)."""
    return parse_int(query.get("messageTtlSeconds"), name="messageTtlSeconds", minimum=0, maximum=300)


def excluded_of(query: MultiMapping[str]) -> set[str]:
    """The ``excluded`` connection ids."""
    return {c for c in query.getall("excluded", []) if c}


def _text_codec(charset: str) -> str:
    """The codec of a ``charset`` parameter: a text encoding Python knows, not one of its own transforms (base64,
    hex, zlib, rot13 are bytes-to-bytes or str-to-str; unicode_escape, idna, punycode are not charsets)."""
    try:
        info = codecs.lookup(charset)
    except LookupError:
        raise UnsupportedMediaType(f"Unsupported charset '{charset[:40]}'.") from None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        raise UnsupportedMediaType(f"Unsupported charset '{charset[:40]}': it is not a text charset.")
    return info.name


def payload_of(content_type: Optional[str], body: bytes) -> Payload:
    """A send body as a payload: JSON, text (a text charset honoured) or binary; no Content-Type means binary.

    Only text charsets are accepted (others are 415); the decoded text must be valid Unicode and JSON must nest within
    :data:`~.limits.MAX_JSON_DEPTH` (else 400), so that every recipient can be sent the message.
    """
    if content_type is None or not content_type.strip():
        return Payload.binary(body)
    mime, _, params = content_type.partition(";")
    mime = mime.strip().lower()
    if mime not in _SEND_TYPES:
        raise UnsupportedMediaType("The Content-Type must be application/json, text/plain or application/octet-stream.")
    if mime == "application/octet-stream":
        return Payload.binary(body)
    charset = "utf-8"
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    codec = _text_codec(charset)
    try:
        text = body.decode(codec)
    except (UnicodeDecodeError, ValueError, LookupError):
        raise BadRequest(f"The request body is not valid {charset[:40]} text.") from None
    if mime == "text/plain":
        return Payload.text(text)
    try:
        return Payload.json_text(text)
    except NotEncodable:
        raise
    except ValueError:
        raise BadRequest("The request body is not valid JSON.") from None


def metadata_of(headers: Iterable[tuple[str, str]]) -> Optional[dict[str, str]]:
    """The ``X-WebPubSub-Metadata-<key>`` headers as message metadata (None when there are none); a value that is not
    valid UTF-8 (or holds control characters) is a 400."""
    meta = {
        key[len(_METADATA_PREFIX) :]: value
        for key, value in headers
        if key.lower().startswith(_METADATA_PREFIX) and len(key) > len(_METADATA_PREFIX)
    }
    return check_metadata(meta)


def batch_of(content_type: Optional[str], raw: bytes) -> tuple[list[str], Optional[CompiledFilter]]:
    """The ``groups`` and compiled ``filter`` of an ``:addToGroups`` / ``:removeFromGroups`` body."""
    mime = (content_type or "application/json").partition(";")[0].strip().lower()
    if mime and mime not in ("application/json", "text/json"):
        raise UnsupportedMediaType("The request body must be application/json.")
    try:
        body = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object with 'groups' and an optional 'filter'.")
    unknown = set(body) - {"groups", "filter"}
    if unknown:
        raise BadRequest(f"Unknown property '{sorted(unknown)[0][:40]}' in the request body.")
    groups = body.get("groups")
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise BadRequest("The request body needs 'groups': an array of group names.")
    if len(groups) > limits.MAX_BATCH_GROUPS:
        raise BadRequest(f"'groups' may name at most {limits.MAX_BATCH_GROUPS} groups.")
    for group in groups:
        validate_group(group)
    groups = list(dict.fromkeys(groups))  # each group once
    text = body.get("filter")
    if text is not None and not isinstance(text, str):
        raise BadRequest("'filter' must be a string.")
    return groups, parse_filter(text) if text and text.strip() else None


def permission_of(permission: str, query: MultiMapping[str]) -> tuple[str, Optional[str]]:
    """The permission of a path and its optional ``targetName`` group (None: every group)."""
    if permission not in (SEND_TO_GROUP, JOIN_LEAVE_GROUP):
        raise BadRequest(f"Unknown permission: it must be '{SEND_TO_GROUP}' or '{JOIN_LEAVE_GROUP}'.")
    target = query.get("targetName")
    if target is not None:
        validate_group(target, what="targetName group")
    return permission, target


def encode_continuation(after: int, served: int) -> str:
    """An opaque continuation token: the join number of the last member served and how many were served."""
    return base64.urlsafe_b64encode(f"v1:{after}:{served}".encode()).decode().rstrip("=")


def decode_continuation(token: Optional[str]) -> tuple[int, int]:
    """The ``(after, served)`` of a continuation token ((0, 0) for none)."""
    if not token:
        return 0, 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
        tag, after, served = text.split(":")
        if tag != "v1":
            raise ValueError(tag)
        return int(after), int(served)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequest("The continuationToken is not valid.") from None


class Page(NamedTuple):
    """One page of ListConnectionsInGroup: the body's ``value`` and the query of the next page (None: last page)."""

    value: list[dict[str, Any]]
    next_query: Optional[dict[str, Any]]


def page_of(members: Sequence[tuple[int, Any]], query: MultiMapping[str]) -> Page:
    """Page ``(join number, session)`` members (join order) by ``maxpagesize``, ``top`` and ``continuationToken``."""
    page_size = parse_int(
        query.get("maxpagesize"),
        name="maxpagesize",
        minimum=1,
        maximum=limits.MAX_PAGE_SIZE,
        default=limits.MAX_PAGE_SIZE,
    )
    top = parse_int(query.get("top"), name="top", minimum=1, maximum=INT32_MAX)
    assert page_size is not None
    after, served = decode_continuation(query.get("continuationToken"))
    remaining = None if top is None else max(top - served, 0)
    limit = page_size if remaining is None else min(page_size, remaining)
    rest = [(seq, s) for seq, s in members if seq > after]
    page = rest[:limit]
    value: list[dict[str, Any]] = []
    for _seq, session in page:
        item: dict[str, Any] = {"connectionId": session.connection_id}
        if session.user_id is not None:
            item["userId"] = session.user_id
        value.append(item)
    served += len(page)
    if not (len(rest) > len(page) and (top is None or served < top) and page):
        return Page(value, None)
    next_query: dict[str, Any] = {}
    if query.get("api-version"):
        next_query["api-version"] = query["api-version"]  # a client may follow the link as given (the JS SDK does)
    if top is not None:
        next_query["top"] = top
    next_query["maxpagesize"] = page_size
    next_query["continuationToken"] = encode_continuation(page[-1][0], served)
    return Page(value, next_query)


def next_link(base_url: str, hub: str, group: str, next_query: dict[str, Any]) -> str:
    """The absolute ``nextLink`` of a ListConnectionsInGroup page."""
    path = f"/api/hubs/{quote(hub, safe='')}/groups/{quote(group, safe='')}/connections"
    return f"{base_url}{path}?{urlencode(next_query)}"
