# --------------------------------------------------------------------------
# Copyright (c) the azure-messaging-webpubsubservice reimplementation authors.
# Licensed under the MIT License; see the LICENSE file at the root of the repository.
# --------------------------------------------------------------------------
"""The abuse-protection handshake (``OPTIONS``, or ``GET`` as a fallback, with ``WebHook-Request-Origin``).

The service asks whether this URL agrees to receive its events; we answer ``200`` with ``WebHook-Allowed-Origin: *``
when one of the request's origins is allowed, and ``400`` without that header otherwise. Host names are compared
exactly and case-insensitively, with scheme and port ignored on both sides; never by prefix or substring.

The origin header proves nothing about the caller (anyone can send it): it keeps the *service* from being aimed at a
stranger's URL. Requests are authenticated by their signature.
"""

from __future__ import annotations

import logging
import re
from typing import FrozenSet, Iterable, List, Optional
from urllib.parse import urlsplit

from ._http import HandlerResponse

__all__ = ["ANY_ORIGIN", "allowed_hosts", "handshake_response", "host_name", "request_origins"]

log = logging.getLogger("azure.messaging.webpubsubservice.eventhandler")

#: Put this in ``allowed_endpoints`` to allow every origin.
ANY_ORIGIN = "*"
_SEPARATORS = re.compile(r"[,\s]+")


def host_name(endpoint: str) -> str:
    """The lower-case host of an endpoint URL or a bare ``host[:port]`` (``https://X.example:443/`` → ``x.example``).

    :raises ValueError: If no host can be found.
    """
    text = endpoint.strip()
    parts = urlsplit(text if "://" in text else f"//{text}")
    try:
        host = parts.hostname
    except ValueError:  # e.g. an unbalanced "[" in a bare host
        host = None
    if not host:
        raise ValueError("an allowed endpoint must be a URL or a host name")
    return host.lower().rstrip(".")


def request_origins(value: Optional[str]) -> List[str]:
    """The host names in a ``WebHook-Request-Origin`` value (several are separated by commas and/or spaces)."""
    origins = []
    for item in _SEPARATORS.split(value or ""):
        if item:
            try:
                origins.append(host_name(item))
            except ValueError:
                continue
    return origins


def allowed_hosts(endpoints: Iterable[str]) -> Optional[FrozenSet[str]]:
    """The allow-list as host names, or None when every origin is allowed (an entry ``*``)."""
    hosts = set()
    for endpoint in endpoints:
        if endpoint.strip() == ANY_ORIGIN:
            return None
        hosts.add(host_name(endpoint))
    return frozenset(hosts)


def handshake_response(origin_header: Optional[str], allowed: Optional[FrozenSet[str]]) -> HandlerResponse:
    """Answer one handshake: ``origin_header`` is the request's ``WebHook-Request-Origin`` (None when absent)."""
    origins = request_origins(origin_header)
    if not origins:
        log.warning("abuse-protection request without a WebHook-Request-Origin host: refused with 400")
        return _text(400, "WebHook-Request-Origin is missing.")
    if allowed is not None and not allowed.intersection(origins):
        log.warning("abuse-protection request from %s refused: not in allowed_endpoints", ", ".join(origins))
        return _text(400, "This origin is not allowed.")
    log.debug("abuse-protection request from %s allowed", ", ".join(origins))
    return HandlerResponse(200, [("WebHook-Allowed-Origin", "*")])


def _text(status: int, message: str) -> HandlerResponse:
    return HandlerResponse(status, [("Content-Type", "text/plain; charset=utf-8")], message.encode("utf-8"))
