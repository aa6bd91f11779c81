"""The limits the emulator enforces on connections, frames, buffers and REST bodies, in one place.

Each limit is a module constant read when it is applied (tests may patch it). Limits that belong to one rule stay
with that rule: group names (``validation.MAX_GROUP_LENGTH``), message TTLs (``protocol.MAX_TTL_SECONDS``), OData
filters (``odata.MAX_CLAUSES``, ``odata.MAX_DEPTH``) and wildcard roles (``roles.MAX_WILDCARD_STARS``).
"""

from __future__ import annotations

from typing import Union

from .errors import PayloadTooLarge

__all__ = [
    "BUFFER_MAX_BYTES",
    "BUFFER_MAX_MESSAGES",
    "CLIENT_MAX_REQUEST_BYTES",
    "CLOSE_GRACE_SECONDS",
    "CLOSE_REASON_MAX_BYTES",
    "HARD_FRAME_BYTES",
    "MAX_BODY_BYTES",
    "MAX_FRAME_BYTES",
    "MAX_LINE_BYTES",
    "MAX_PAGE_SIZE",
    "PENDING_MAX_BYTES",
    "PENDING_MAX_MESSAGES",
    "RECOVERY_WINDOW_SECONDS",
    "TRACE_BATCH_ENTRIES",
    "TRACE_FEED_ENTRIES",
    "TRACE_FLUSH_SECONDS",
    "TRACE_KEEPALIVE_SECONDS",
    "TRACE_LOGIN_BYTES",
    "TRACE_LOGIN_SECONDS",
    "TRACE_MAX_WATCHERS",
    "TRACE_SNAPSHOT_CONNECTIONS",
    "TRACE_WRITE_TIMEOUT_SECONDS",
    "FrameTooLarge",
    "check_frame_size",
    "close_reason",
]

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

#: How long a reliable connection whose transport dropped is held for recovery.
RECOVERY_WINDOW_SECONDS = 30.0
#: How long a closing connection may take to write its last frames before its transport is dropped.
CLOSE_GRACE_SECONDS = 10.0
#: A WebSocket close reason must fit in this many UTF-8 bytes (RFC 6455 section 5.5).
CLOSE_REASON_MAX_BYTES = 123

#: REST request bodies larger than this get 413.
MAX_BODY_BYTES = 1024 * 1024
#: aiohttp's own cap on a request body (above every body limit the REST API applies).
CLIENT_MAX_REQUEST_BYTES = 2 * 1024 * 1024
#: The longest request line and header field (long filters make long URLs, and a REST token signs the full URL).
MAX_LINE_BYTES = 64 * 1024
#: The largest (and default) page of ListConnectionsInGroup.
MAX_PAGE_SIZE = 200

#: The live trace page (``/trace``): entries the feed shared by every watcher holds (only while someone watches). A
#: watcher further behind than this loses the entries it missed, and is told how many.
TRACE_FEED_ENTRIES = 2000
#: Pages watching at the same time; one more is refused with 503.
TRACE_MAX_WATCHERS = 8
#: A watcher gets at most this many entries per write ...
TRACE_BATCH_ENTRIES = 500
#: ... and at most one write per this many seconds: the emulator encodes at most 5000 entries a second per watcher.
TRACE_FLUSH_SECONDS = 0.1
#: A watcher that has been sent nothing for this long gets a comment line (so a dead connection is noticed).
TRACE_KEEPALIVE_SECONDS = 15.0
#: A watcher whose socket takes nothing for this long (it stopped reading) is disconnected.
TRACE_WRITE_TIMEOUT_SECONDS = 30.0
#: The connections a snapshot lists (the rest are counted).
TRACE_SNAPSHOT_CONNECTIONS = 2000
#: How long a sign-in to the trace page (with the access key, from beyond loopback) lasts.
TRACE_LOGIN_SECONDS = 8 * 3600
#: The largest sign-in form accepted.
TRACE_LOGIN_BYTES = 4096


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
    data = text.encode("utf-8")
    if len(data) <= CLOSE_REASON_MAX_BYTES:
        return text
    return data[: CLOSE_REASON_MAX_BYTES - 3].decode("utf-8", "ignore") + "..."
