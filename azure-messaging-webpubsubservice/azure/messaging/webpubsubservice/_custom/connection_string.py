# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""Connection strings: ``Endpoint=https://<name>.webpubsub.azure.com;AccessKey=<key>;Version=1.0;``.

No error message produced here contains a value of the connection string (the access key least of all).
"""

from typing import Any, Dict, MutableMapping, NamedTuple, Optional, Tuple

from .endpoint import apply_port

__all__ = ["ConnectionStringParts", "connection_string_settings", "parse_connection_string"]

_KEYS = {"endpoint": "Endpoint", "accesskey": "AccessKey", "port": "Port", "version": "Version"}


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
    found = _fields(connection_string)
    return _require_fields(found.get("endpoint"), found.get("accesskey"), found.get("port"))


def _fields(connection_string: str) -> Dict[str, str]:
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
        if key in _KEYS:
            if key in found:
                raise ValueError(f"Connection string key '{_KEYS[key]}' appears more than once")
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
    found = _fields(connection_string)
    rest = dict(kwargs)
    parts = _require_fields(
        rest.pop("endpoint", None) or found.get("endpoint"),
        rest.pop("accesskey", None) or found.get("accesskey"),
        rest.pop("port", None) or found.get("port"),
    )
    return apply_port(parts.endpoint, parts.port), parts.access_key, rest
