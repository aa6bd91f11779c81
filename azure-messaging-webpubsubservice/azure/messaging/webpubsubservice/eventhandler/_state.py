# --------------------------------------------------------------------------
# Copyright (c) the azure-messaging-webpubsubservice reimplementation authors.
# Licensed under the MIT License; see the LICENSE file at the root of the repository.
# --------------------------------------------------------------------------
"""Connection state: the ``ce-connectionState`` header, read on every event and written back when it changed.

On the wire the state is base64 (standard alphabet, padded) of the UTF-8 JSON of one object holding every key, e.g.
``{"key":"a"}`` ⇄ ``eyJrZXkiOiJhIn0=``. The service stores it opaquely and echoes it on later events of the same
connection; only ``connect`` and user events may change it.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import logging
from typing import Any, Dict, Iterator, MutableMapping, Optional

__all__ = ["STATE_HEADER", "STATE_WARN_BYTES", "ConnectionState", "decode_state", "encode_state"]

log = logging.getLogger("azure.messaging.webpubsubservice.eventhandler")

STATE_HEADER = "ce-connectionState"
#: Encoded states larger than this are logged with a warning (HTTP servers limit header sizes, e.g. gunicorn 8190).
STATE_WARN_BYTES = 4096


def encode_state(values: Dict[str, Any]) -> str:
    """The header value for a state object.

    :raises TypeError: If a value is not JSON-serialisable. :raises ValueError: For NaN or infinities.
    """
    text = json.dumps(values, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def decode_state(header: Optional[str]) -> Optional[Dict[str, Any]]:
    """The state object in a header value; ``{}`` for no header; None when the value is not base64 JSON of an object."""
    if header is None or not header.strip():
        return {}
    try:
        value = json.loads(base64.b64decode(header.strip(), validate=True).decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


class ConnectionState(MutableMapping[str, Any]):
    """The connection's state as a mutable mapping of JSON values.

    Changes made in ``connect`` or a user event are sent back as one ``ce-connectionState`` header holding the whole
    new object, and only when something changed; :meth:`clear` sends an empty object. In ``connected``,
    ``disconnected`` and group events the state is read-only (the service ignores changes there).

    :ivar raw: The header value as received (None when absent), also when it could not be decoded.
    :ivar valid: False when a header was present but was not base64 JSON of an object (the state then starts empty).
    """

    def __init__(self, header: Optional[str] = None, *, writable: bool = True) -> None:
        decoded = decode_state(header)
        self.raw = header
        self.valid = decoded is not None
        if decoded is None:
            log.warning("ignoring a %s header that is not base64 JSON of an object", STATE_HEADER)
            decoded = {}
        self._initial = copy.deepcopy(decoded)
        self._values: Dict[str, Any] = decoded
        self._writable = writable
        self._cleared = False

    def _check_writable(self) -> None:
        if not self._writable:
            raise RuntimeError("connection state can only be changed in connect and user events")

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._check_writable()
        if not isinstance(key, str):
            raise TypeError("state keys must be str")
        json.dumps(value, allow_nan=False)  # fail here, in the caller's code, rather than when replying
        self._values[key] = copy.deepcopy(value)

    def __delitem__(self, key: str) -> None:
        self._check_writable()
        del self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def clear(self) -> None:
        """Remove every key; the reply then carries an empty state (``e30=``)."""
        self._check_writable()
        self._values.clear()
        self._cleared = True

    @property
    def changed(self) -> bool:
        """True when the reply must carry a new state header."""
        if self._values != self._initial:
            return True
        return self._cleared and self.raw is not None and self.raw.strip() != encode_state({})

    def to_dict(self) -> Dict[str, Any]:
        """A copy of the current values."""
        return copy.deepcopy(self._values)

    def header_value(self) -> Optional[str]:
        """The header to send back, or None when nothing changed."""
        if not self.changed:
            return None
        value = encode_state(self._values)
        if len(value) > STATE_WARN_BYTES:
            log.warning("connection state is %d bytes encoded; keep state small (HTTP header limits)", len(value))
        return value

    def __repr__(self) -> str:
        return f"ConnectionState(keys={sorted(self._values)!r}, changed={self.changed})"
