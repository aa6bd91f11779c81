# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""Construction of the sync and async clients: argument checks, the SDK's policies, ``from_connection_string``."""

import importlib.util
from typing import Any, Dict, Mapping, Optional, Tuple

from azure.core.credentials import AzureKeyCredential
from typing_extensions import Self

from .connection_string import connection_string_settings
from .endpoint import apply_port, is_http_url, validate_hub
from .environment import skip_unused_environment_settings
from .log_redaction import RedactingHttpLoggingPolicy, RedactingNetworkTraceLoggingPolicy
from .policies import JwtCredentialPolicy, ReverseProxyPolicy
from .tracing import tracing_settings

__all__ = ["AIO_EXTRA_HINT", "ConnectionStringConstructor", "client_settings"]

AIO_EXTRA_HINT = (
    "The async client needs an async HTTP transport. Install one with "
    "`pip install azure-messaging-webpubsubservice[aio]` (it adds aiohttp), or pass transport=<an AsyncHttpTransport>."
)


def client_settings(
    endpoint: Any, hub: Any, credential: Any, kwargs: Mapping[str, Any], *, asynchronous: bool
) -> Tuple[str, Dict[str, Any]]:
    """Validate the constructor arguments and install the SDK's policies; shared by the sync and async client.

    * The hub must match the service's naming rule.
    * ``port`` is applied to the endpoint (and removed); trailing ``/`` are removed.
    * With an :class:`~azure.core.credentials.AzureKeyCredential`, the :class:`~.policies.JwtCredentialPolicy`
      becomes the authentication policy. The key credential owns authentication, so also passing
      ``authentication_policy`` is an error rather than being silently ignored. With a token credential, the
      generated configuration installs azure-core's bearer-token policy (or uses the caller's
      ``authentication_policy``).
    * ``reverse_proxy_endpoint`` installs the :class:`~.policies.ReverseProxyPolicy` as ``proxy_policy``, unless the
      caller supplies ``proxy_policy`` themselves.
    * The two logging policies redact secrets (:mod:`~.log_redaction`), unless the caller supplies
      ``logging_policy`` / ``http_logging_policy``.
    * The HTTP spans of the pipeline carry ``az.namespace`` (:func:`~.tracing.tracing_settings`).
    * The default transport skips the per-request environment lookups the environment does not need
      (:mod:`~.environment`).
    * The async client needs an async transport: without ``transport`` and without aiohttp, ImportError names the
      ``aio`` extra.

    :param str endpoint: The service endpoint.
    :param str hub: The hub.
    :param credential: The credential.
    :type credential: ~azure.core.credentials.AzureKeyCredential or ~azure.core.credentials.TokenCredential
    :param kwargs: The constructor's keyword arguments; not modified.
    :type kwargs: ~collections.abc.Mapping
    :keyword bool asynchronous: The client is the ``aio`` one.
    :return: The endpoint to use and the keyword arguments for the generated client.
    :rtype: tuple[str, dict[str, any]]
    :raises ValueError: If the hub, endpoint or port is invalid, or ``authentication_policy`` is combined with a key.
    :raises TypeError: If the credential is of an unsupported type.
    :raises ImportError: If the async client has no transport and aiohttp is not installed.
    """
    validate_hub(hub)
    if not isinstance(endpoint, str) or not is_http_url(endpoint.strip()):
        raise ValueError(
            "The endpoint must be an absolute http:// or https:// URL such as https://<name>.webpubsub.azure.com"
        )
    rest = dict(kwargs)
    origin = apply_port(endpoint.strip(), rest.pop("port", None))
    proxy: Optional[str] = rest.pop("reverse_proxy_endpoint", None)
    if proxy:
        if not isinstance(proxy, str) or not is_http_url(proxy.strip()):
            raise ValueError("reverse_proxy_endpoint must be an absolute http:// or https:// URL")
        proxy = proxy.strip().rstrip("/")
    user: Optional[str] = rest.pop("user", None)
    if credential is None:
        raise ValueError("A credential is required: an AzureKeyCredential or a token credential")
    if isinstance(credential, AzureKeyCredential):
        if rest.get("authentication_policy") is not None:
            raise ValueError(
                "authentication_policy cannot be combined with an AzureKeyCredential: the key credential signs "
                "every request itself. Pass a token credential to use a custom authentication policy."
            )
        rest["authentication_policy"] = JwtCredentialPolicy(
            credential, user=user, origin_endpoint=origin, reverse_proxy_endpoint=proxy
        )
    elif not (hasattr(credential, "get_token") or hasattr(credential, "get_token_info")):
        raise TypeError(
            f"Unsupported credential type {type(credential).__name__}: use an AzureKeyCredential or a token credential"
        )
    if rest.get("logging_policy") is None:
        rest["logging_policy"] = RedactingNetworkTraceLoggingPolicy(logging_enable=bool(rest.get("logging_enable")))
    if rest.get("http_logging_policy") is None:
        rest["http_logging_policy"] = RedactingHttpLoggingPolicy(**rest)
    if proxy and rest.get("proxy_policy") is None:
        rest["proxy_policy"] = ReverseProxyPolicy(origin, proxy, proxies=rest.get("proxies"))
    skip_unused_environment_settings(rest, ca_bundle=not asynchronous)
    tracing_settings(rest)
    if asynchronous and rest.get("transport") is None and importlib.util.find_spec("aiohttp") is None:
        raise ImportError(AIO_EXTRA_HINT)
    return origin, rest


class ConnectionStringConstructor:
    """``from_connection_string`` for the sync and the async client (a mixin placed before the generated client)."""

    @classmethod
    def from_connection_string(cls, connection_string: str, hub: str, **kwargs: Any) -> Self:
        """Create a client from a connection string such as ``Endpoint=https://...;AccessKey=...;Version=1.0;``.

        A plain (not async) classmethod on both clients. Keys are case-insensitive; ``Endpoint`` and ``AccessKey``
        are required, ``Port`` is applied to the endpoint, ``Version`` and unknown keys are ignored. ``endpoint=`` and
        ``port=`` keyword arguments take precedence over the connection string.

        :param str connection_string: The connection string.
        :param str hub: The hub.
        :return: A client of this class, signing its requests with the access key.
        :rtype: ~azure.messaging.webpubsubservice.WebPubSubServiceClient or
            ~azure.messaging.webpubsubservice.aio.WebPubSubServiceClient
        :raises ValueError: If the connection string is malformed. The message never contains its values.
        """
        endpoint, access_key, rest = connection_string_settings(connection_string, kwargs)
        return cls(endpoint, hub, AzureKeyCredential(access_key), **rest)  # type: ignore[call-arg]
