# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""The environment, read once: whether the default transport needs azure-core's per-request environment lookups.

With ``use_env_settings=True`` (azure-core's default) the transport looks at the environment on every request:
requests scans the proxy variables and looks for a netrc file, and aiohttp makes two thread-pool hops (netrc, then
proxies), which halves the async client's request rate. The environment is read once, when the client is created: if
it sets a proxy, a netrc file or (for requests) a CA bundle, nothing changes; otherwise the transport skips the
per-request lookups. So a proxy variable set after the client was created needs a new client.
"""

import os
import urllib.request
from typing import Any, Dict

__all__ = ["environment_settings_in_use", "skip_unused_environment_settings"]

_CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def environment_settings_in_use(*, ca_bundle: bool) -> bool:
    """Tell whether the environment holds anything azure-core's ``use_env_settings=True`` transports would use.

    That is a proxy (``HTTP_PROXY``, ``HTTPS_PROXY``, ``NO_PROXY``... or the system's proxy settings, as
    :func:`urllib.request.getproxies` reports them), a netrc file (``NETRC``, ``~/.netrc``, ``~/_netrc``) and, for the
    requests transport (``ca_bundle=True``), ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``.

    :keyword bool ca_bundle: Also look at the CA-bundle variables that requests reads.
    :return: True if any of them is set.
    :rtype: bool
    """
    if urllib.request.getproxies():
        return True
    if os.environ.get("NETRC"):
        return True
    if ca_bundle and any(os.environ.get(name) for name in _CA_BUNDLE_VARIABLES):
        return True
    for name in ("~/.netrc", "~/_netrc"):
        path = os.path.expanduser(name)
        if not path.startswith("~") and os.path.exists(path):
            return True
    return False


def skip_unused_environment_settings(rest: Dict[str, Any], *, ca_bundle: bool) -> None:
    """Build the client's own transport with ``use_env_settings=False`` when the environment sets nothing it reads.

    Nothing is changed when the caller passes ``transport``, ``session`` or ``use_env_settings``.

    :param rest: The keyword arguments for the generated client; ``use_env_settings`` may be added.
    :type rest: dict[str, any]
    :keyword bool ca_bundle: The transport is requests, which also reads ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``.
    """
    if rest.get("transport") is not None or rest.get("session") is not None or "use_env_settings" in rest:
        return
    if not environment_settings_in_use(ca_bundle=ca_bundle):
        rest["use_env_settings"] = False
