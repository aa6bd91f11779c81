# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""The environment, read once: whether the default transport needs azure-core's per-request environment lookups.

With ``use_env_settings=True`` (azure-core's default) the transport looks at the environment on every request:
requests scans the proxy variables and looks for a netrc file, and aiohttp makes two thread-pool hops (netrc, then
proxies), which halves the async client's request rate. The environment is read once, when the client is created: if
it sets a proxy, a netrc file or (for requests) a CA bundle, nothing changes; otherwise the transport skips the
per-request lookups. So a proxy variable set after the client was created needs a new client.

A CA bundle (``REQUESTS_CA_BUNDLE``, then ``CURL_CA_BUNDLE``, which only requests reads) is read once as well: the
requests transport is given it as ``connection_verify``, exactly the bundle requests would pick per request, unless the
caller chose ``connection_verify`` themselves (requests ignores the variables then too).
"""

import os
import urllib.request
from typing import Any, Dict, Optional

__all__ = ["ca_bundle_in_environment", "environment_settings_in_use", "skip_unused_environment_settings"]

_CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def ca_bundle_in_environment() -> Optional[str]:
    """The CA bundle requests would use from the environment: ``REQUESTS_CA_BUNDLE``, else ``CURL_CA_BUNDLE``.

    :return: The path, or None.
    :rtype: str or None
    """
    for name in _CA_BUNDLE_VARIABLES:
        value = os.environ.get(name)
        if value:
            return value
    return None


def environment_settings_in_use() -> bool:
    """Tell whether the environment holds a proxy or netrc setting azure-core's transports would look up per request.

    That is a proxy (``HTTP_PROXY``, ``HTTPS_PROXY``, ``NO_PROXY``... or the system's proxy settings, as
    :func:`urllib.request.getproxies` reports them) or a netrc file (``NETRC``, ``~/.netrc``, ``~/_netrc``).

    :return: True if any of them is set.
    :rtype: bool
    """
    if urllib.request.getproxies():
        return True
    if os.environ.get("NETRC"):
        return True
    for name in ("~/.netrc", "~/_netrc"):
        path = os.path.expanduser(name)
        if not path.startswith("~") and os.path.exists(path):
            return True
    return False


def skip_unused_environment_settings(rest: Dict[str, Any], *, ca_bundle: bool) -> None:
    """Build the client's own transport with ``use_env_settings=False`` when the environment sets nothing it reads.

    Nothing is changed when the caller passes ``transport``, ``session`` or ``use_env_settings``, or when the
    environment sets a proxy or a netrc file. For requests (``ca_bundle=True``) a CA bundle from the environment
    becomes ``connection_verify``.

    :param rest: The keyword arguments for the generated client; ``use_env_settings`` may be added.
    :type rest: dict[str, any]
    :keyword bool ca_bundle: The transport is requests, which reads ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``.
    """
    if rest.get("transport") is not None or rest.get("session") is not None or "use_env_settings" in rest:
        return
    if environment_settings_in_use():
        return
    bundle = ca_bundle_in_environment() if ca_bundle else None
    if bundle and rest.get("connection_verify", True) is True:
        rest["connection_verify"] = bundle
    rest["use_env_settings"] = False
