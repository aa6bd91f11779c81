"""Every limit the emulator enforces, in one place: messages, connections, frames, buffers, bodies, the unauthenticated
phase, event handlers and long work.

Each limit is a module constant read when it is applied, so that a test may patch it. Every value is listed, with what
happens when it is passed, in ``emulator/README.md`` (section "Limits"); a test checks that the two agree.
"""

from __future__ import annotations

from typing import Union

from .errors import PayloadTooLarge

__all__ = [
    "ASGI_LIFESPAN_TIMEOUT_SECONDS",
    "BODY_TIMEOUT_SECONDS",
    "BUFFER_MAX_BYTES",
    "BUFFER_MAX_MESSAGES",
    "CLIENT_MAX_REQUEST_BYTES",
    "CLOSE_GRACE_SECONDS",
    "CLOSE_REASON_MAX_BYTES",
    "CONTROL_MAX_BYTES",
    "CONTROL_MAX_FRAMES",
    "EVENT_QUEUE_MAX_BYTES",
    "EVENT_QUEUE_MAX_EVENTS",
    "HARD_FRAME_BYTES",
    "HEADER_TIMEOUT_SECONDS",
    "KEEPALIVE_TIMEOUT_SECONDS",
    "MAX_BATCH_GROUPS",
    "MAX_BODY_BYTES",
    "MAX_EVENT_NAME_LENGTH",
    "MAX_FAULT_DELAY_SECONDS",
    "MAX_FILTER_CLAUSES",
    "MAX_FILTER_DEPTH",
    "MAX_FILTER_LENGTH",
    "MAX_FILTER_LIST_ITEMS",
    "MAX_FRAME_BYTES",
    "MAX_GROUPS_PER_CONNECTION",
    "MAX_GROUP_LENGTH",
    "MAX_HEADERS",
    "MAX_HEAD_BYTES",
    "MAX_HUB_LENGTH",
    "MAX_JSON_DEPTH",
    "MAX_LINE_BYTES",
    "MAX_PAGE_SIZE",
    "MAX_PARSE_DEPTH",
    "MAX_PENDING_CONNECTIONS",
    "MAX_PENDING_HANDSHAKES",
    "MAX_REMEMBERED_ACK_IDS",
    "MAX_TTL_SECONDS",
    "MAX_USER_ID_LENGTH",
    "MAX_WILDCARD_STARS",
    "PENDING_MAX_BYTES",
    "PENDING_MAX_MESSAGES",
    "RECOVERY_WINDOW_SECONDS",
    "REST_LOG_SIZE",
    "UPSTREAM_MAX_ANSWER_BYTES",
    "UPSTREAM_MAX_CONNECTIONS_PER_HUB",
    "UPSTREAM_MAX_COOKIES",
    "UPSTREAM_MAX_COOKIE_BYTES",
    "UPSTREAM_TIMEOUT_SECONDS",
    "VALIDATION_FAILURE_TTL_SECONDS",
    "VALIDATION_TIMEOUT_SECONDS",
    "VALIDATION_TTL_SECONDS",
    "WORK_SLICE",
    "FrameTooLarge",
    "check_frame_size",
    "close_reason",
]

# ---------------------------------------------------------------------------------------------------- messages
#: JSON (in a message's data, a REST body, a client frame, a handler's answer) may nest this deep, no deeper: the
#: default of System.Text.Json, which the service is built on. Deeper JSON is refused where it enters (400, or a
#: ``BadRequest`` ack), never found while encoding it for a recipient.
MAX_JSON_DEPTH = 64
#: JSON nested deeper than this is not even parsed: a client frame is malformed (``disconnected``, 1007), a REST body or
#: a handler's answer invalid.
MAX_PARSE_DEPTH = 512
#: The longest user event name (characters). An event name is also one path segment of the handler URL.
MAX_EVENT_NAME_LENGTH = 256
#: The longest hub name (characters).
MAX_HUB_LENGTH = 128
#: The longest group name (characters).
MAX_GROUP_LENGTH = 1024
#: The longest user id (characters), from a token, a ``connect`` answer or a REST path.
MAX_USER_ID_LENGTH = 1024
#: The longest message TTL (``messageTtlSeconds``, ``ttlSeconds``).
MAX_TTL_SECONDS = 300

# ---------------------------------------------------------------------------------------------------- filters, roles
#: An OData filter longer than this (characters) is refused (400) before it is parsed.
MAX_FILTER_LENGTH = 64 * 1024
#: The most comparison / ``in`` / boolean-function clauses a filter may contain.
MAX_FILTER_CLAUSES = 100
#: The deepest nesting of parentheses, ``not`` and function calls a filter may use.
MAX_FILTER_DEPTH = 50
#: The most values an ``in (...)`` list of a filter may hold.
MAX_FILTER_LIST_ITEMS = 5000
#: The most ``*`` a wildcard role pattern may hold.
MAX_WILDCARD_STARS = 5

# ---------------------------------------------------------------------------------------------------- per connection
#: Client frames larger than this are refused: ``disconnected`` (JSON clients) and close 1009 with a reason.
MAX_FRAME_BYTES = 1024 * 1024
#: Frames beyond this are cut off by aiohttp itself (close 1009 without a reason) before they are buffered.
HARD_FRAME_BYTES = 16 * 1024 * 1024

#: A reliable client's unacked messages: more than this many closes the connection (``disconnected``, 1008).
BUFFER_MAX_MESSAGES = 1000
#: ... or more than this many bytes of them.
BUFFER_MAX_BYTES = 16 * 1024 * 1024
#: Messages waiting for a slow non-reliable client: more than this many closes it (``disconnected``, 1008).
PENDING_MAX_MESSAGES = 10_000
#: ... or more than this many bytes of them.
PENDING_MAX_BYTES = 64 * 1024 * 1024
#: Acks, pongs and system messages waiting for a client that does not read them (every protocol, counted apart from
#: its messages): more than this many closes it (``disconnected``, 1008).
CONTROL_MAX_FRAMES = 10_000
#: ... or more than this many bytes of them.
CONTROL_MAX_BYTES = 4 * 1024 * 1024
#: User events of one connection waiting for the handler to answer the one before (they are sent one at a time, in
#: order): while this many wait, the emulator reads no more frames from that client.
EVENT_QUEUE_MAX_EVENTS = 100
#: ... or while this many bytes of them wait.
EVENT_QUEUE_MAX_BYTES = 16 * 1024 * 1024
#: The groups one connection may be in; joining one more is refused (ack ``BadRequest``, REST 400).
MAX_GROUPS_PER_CONNECTION = 1000
#: The ackIds a JSON client's session remembers for ``Duplicate`` acks: the newest this many.
MAX_REMEMBERED_ACK_IDS = 1000

#: How long a reliable connection whose transport dropped is held for recovery.
RECOVERY_WINDOW_SECONDS = 30.0
#: How long a closing connection may take to write its last frames before its transport is dropped.
CLOSE_GRACE_SECONDS = 10.0
#: A WebSocket close reason must fit in this many UTF-8 bytes (RFC 6455 section 5.5).
CLOSE_REASON_MAX_BYTES = 123

# ---------------------------------------------------------------------------------------------------- HTTP
#: REST request bodies larger than this get 413.
MAX_BODY_BYTES = 1024 * 1024
#: aiohttp's own cap on a request body (above every body limit the REST API applies).
CLIENT_MAX_REQUEST_BYTES = 2 * 1024 * 1024
#: A REST request body must arrive within this many seconds once its headers did (else 408).
BODY_TIMEOUT_SECONDS = 30.0
#: The longest request line and header field (long filters make long URLs, and a REST token signs the full URL).
MAX_LINE_BYTES = 64 * 1024
#: The most header fields of one request.
MAX_HEADERS = 100
#: The request line and headers of one request, together: a connection that sends more before they end is dropped.
MAX_HEAD_BYTES = 256 * 1024
#: The request line and headers must arrive within this many seconds (from the connection's start, or from the first
#: byte of a later request on a kept-alive connection); a connection that is slower is dropped.
HEADER_TIMEOUT_SECONDS = 10.0
#: An idle kept-alive connection (between two requests) is closed after this many seconds.
KEEPALIVE_TIMEOUT_SECONDS = 75.0
#: Connections still waiting for a request's headers: when one more arrives, the one waiting longest is dropped.
MAX_PENDING_CONNECTIONS = 256
#: WebSocket handshakes in progress (token checked, ``connect`` event, upgrade): one more is refused with 503.
MAX_PENDING_HANDSHAKES = 128
#: The newest REST requests ``Emulator.rest_log`` keeps (a test facility: it holds tokens).
REST_LOG_SIZE = 1000
#: The longest delay a fault plan may put on REST answers.
MAX_FAULT_DELAY_SECONDS = 60.0
#: The largest (and default) page of ListConnectionsInGroup.
MAX_PAGE_SIZE = 200
#: The most groups one ``:addToGroups`` / ``:removeFromGroups`` body may name.
MAX_BATCH_GROUPS = 1000
#: Long work (fan-outs, closes, batch membership over many connections) yields to the event loop after this many
#: connections, so that other clients and requests are served meanwhile.
WORK_SLICE = 500

# ---------------------------------------------------------------------------------------------------- event handlers
#: A blocking event (``connect``, user events) must be answered within this many seconds.
UPSTREAM_TIMEOUT_SECONDS = 30.0
#: A handler's answer larger than this many bytes is a handler failure (nothing more of it is read), over HTTP and
#: from an in-process ASGI application alike.
UPSTREAM_MAX_ANSWER_BYTES = 1024 * 1024
#: Simultaneous HTTP connections to the event handlers of one hub (each hub has its own pool).
UPSTREAM_MAX_CONNECTIONS_PER_HUB = 100
#: Cookies a handler may set on one connection (more are ignored).
UPSTREAM_MAX_COOKIES = 50
#: ... each at most this long (name and value); a longer one is ignored.
UPSTREAM_MAX_COOKIE_BYTES = 4096
#: An in-process ASGI handler's lifespan startup (and shutdown) must finish within this many seconds.
ASGI_LIFESPAN_TIMEOUT_SECONDS = 10.0
#: The abuse-protection request (``OPTIONS``) must be answered within this many seconds.
VALIDATION_TIMEOUT_SECONDS = 10.0
#: A handler URL that passed validation is not validated again for this many seconds.
VALIDATION_TTL_SECONDS = 60.0
#: A handler URL that failed validation fails every event for this many seconds without being asked again.
VALIDATION_FAILURE_TTL_SECONDS = 5.0


class FrameTooLarge(PayloadTooLarge):
    """A client frame larger than :data:`MAX_FRAME_BYTES` (close 1009 with this reason)."""


def check_frame_size(data: Union[str, bytes]) -> None:
    """Raise :class:`FrameTooLarge` when a client frame is larger than :data:`MAX_FRAME_BYTES` bytes."""
    limit = MAX_FRAME_BYTES
    if isinstance(data, bytes) or len(data) * 4 <= limit:  # a str of n characters holds at most 4n UTF-8 bytes
        size = len(data)
    else:
        size = len(data.encode("utf-8", "surrogatepass"))
    if size > limit:
        raise FrameTooLarge(f"The frame is larger than {limit} bytes.")


def close_reason(text: str) -> str:
    """``text`` cut to fit a WebSocket close reason (with ``...`` when it was cut)."""
    data = text.encode("utf-8", "replace")  # a reason is always sent, even one that is not valid Unicode
    if len(data) <= CLOSE_REASON_MAX_BYTES:
        return data.decode("utf-8")
    return data[: CLOSE_REASON_MAX_BYTES - 3].decode("utf-8", "ignore") + "..."
