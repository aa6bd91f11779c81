# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""Endpoint and hub rules: the hub name, the endpoint and its port, and the reverse-proxy URL rewrite.

Pure functions; no message produced here contains a credential.
"""

import re
from typing import Any, Optional, Union
from urllib.parse import urlsplit, urlunsplit

__all__ = ["HUB_PATTERN", "apply_port", "is_http_url", "origin_to_proxy", "proxy_to_origin", "validate_hub"]

HUB_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_`,.[\]]{0,127}$")
"""A hub name: a letter first, then letters, digits or any of ``_ ` , . [ ]``; 1 to 128 characters in total."""


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
