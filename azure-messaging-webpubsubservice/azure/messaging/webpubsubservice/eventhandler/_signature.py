# --------------------------------------------------------------------------
# Copyright (c) the azure-messaging-webpubsubservice reimplementation authors.
# Licensed under the MIT License; see the LICENSE file at the root of the repository.
# --------------------------------------------------------------------------
"""``ce-signature``: computing it (for tests) and verifying it (for every event).

The value holds one ``sha256=<hex>`` entry per access key of the resource: HMAC-SHA256 keyed with the access key
(UTF-8) over the connection id (UTF-8). It binds only the connection id: it proves the sender knows a key, not that the
body or the time are genuine.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Iterable, List, Union

__all__ = ["compute_signature", "signature_matches"]

_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")


def _digest(key: str, connection_id: str) -> str:
    return hmac.new(key.encode("utf-8"), connection_id.encode("utf-8"), hashlib.sha256).hexdigest()


def compute_signature(connection_id: str, keys: Union[str, Iterable[str]]) -> str:
    """The ``ce-signature`` header value the service sends for ``connection_id``, one entry per key.

    :param str connection_id: The connection id (``ce-connectionId``).
    :param keys: One access key, or several (primary first); each gives one ``sha256=<hex>`` entry.
    :type keys: str or ~collections.abc.Iterable[str]
    :return: For example ``sha256=77..61,sha256=88..2c``.
    :rtype: str
    :raises ValueError: If no key is given.
    """
    key_list: List[str] = [keys] if isinstance(keys, str) else list(keys)
    if not key_list:
        raise ValueError("at least one access key is needed to compute a signature")
    return ",".join(f"sha256={_digest(key, connection_id)}" for key in key_list)


def _entries(header: str) -> List[bytes]:
    found = []
    for raw in header.split(","):
        algorithm, sep, value = raw.strip().partition("=")
        value = value.strip()
        if sep and algorithm.strip().lower() == "sha256" and _HEX_DIGEST.fullmatch(value):
            found.append(value.lower().encode("ascii"))
    return found


def signature_matches(header: str, connection_id: str, keys: Iterable[str]) -> bool:
    """True when any ``sha256=`` entry of ``header`` is the HMAC of ``connection_id`` under any of ``keys``.

    Entries are separated by commas (spaces allowed), the hex digits may be in any case, and entries that are not
    ``sha256=<64 hex digits>`` are ignored. Every comparison is made in constant time, and all of them are made.

    :param str header: The ``ce-signature`` value (several header lines joined with ``,``).
    :param str connection_id: The ``ce-connectionId`` value.
    :param keys: The access keys to accept.
    :rtype: bool
    """
    given = _entries(header)
    matched = False
    for key in keys:
        expected = _digest(key, connection_id).encode("ascii")
        for entry in given:
            matched |= hmac.compare_digest(expected, entry)
    return matched
