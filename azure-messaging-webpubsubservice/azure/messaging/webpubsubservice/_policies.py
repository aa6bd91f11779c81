# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""Pipeline policies of the Web PubSub clients.

Both are :class:`~azure.core.pipeline.policies.SansIOHTTPPolicy` subclasses, so the same class serves the sync and
the async pipeline.
"""

import logging
import os
import urllib.request
from typing import Any, Dict, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from azure.core.credentials import AzureKeyCredential
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import NetworkTraceLoggingPolicy, ProxyPolicy, SansIOHTTPPolicy

from ._sansio import (
    apply_port,
    current_second,
    is_http_url,
    origin_to_proxy,
    proxy_to_origin,
    sign_rest_token,
    validate_hub,
)

__all__ = [
    "JwtCredentialPolicy",
    "RedactingNetworkTraceLoggingPolicy",
    "ReverseProxyPolicy",
    "client_settings",
    "environment_settings_in_use",
    "skip_unused_environment_settings",
]


class JwtCredentialPolicy(SansIOHTTPPolicy[Any, Any]):
    """Authenticate each request with a JWT signed by the access key.

    The token's ``aud`` is the full request URL (query included) as it is sent, mapped back to the service endpoint
    when a reverse proxy is configured; ``exp`` is 60 seconds ahead. The policy sits after the retry policy, so every
    attempt gets a token for its own time (``exp`` has one-second resolution, so a request to the same URL in the same
    second as the previous one reuses that token: the bytes would be identical), and it reads the key on every
    request, so :meth:`~azure.core.credentials.AzureKeyCredential.update` takes effect immediately.

    :param credential: The access key.
    :type credential: ~azure.core.credentials.AzureKeyCredential
    :keyword user: When given, the token carries it as the name claim.
    :paramtype user: str or None
    :keyword origin_endpoint: The service endpoint; needed with ``reverse_proxy_endpoint``.
    :paramtype origin_endpoint: str or None
    :keyword reverse_proxy_endpoint: The reverse-proxy endpoint the requests are sent to, if any.
    :paramtype reverse_proxy_endpoint: str or None
    """

    def __init__(
        self,
        credential: AzureKeyCredential,
        *,
        user: Optional[str] = None,
        origin_endpoint: Optional[str] = None,
        reverse_proxy_endpoint: Optional[str] = None,
    ) -> None:
        super().__init__()
        self._credential = credential
        self._user = user
        self._origin_endpoint = origin_endpoint
        self._reverse_proxy_endpoint = reverse_proxy_endpoint
        # The last token signed: (audience, key, second it was signed in, token). The token depends only on these
        # (``exp`` has one-second resolution), so a request in the same second to the same URL reuses it.
        self._last: Optional[Tuple[str, str, int, str]] = None

    def audience(self, url: str) -> str:
        """Return the ``aud`` claim for a request URL.

        :param str url: The URL the request is sent to.
        :return: The URL naming the service.
        :rtype: str
        """
        if self._origin_endpoint and self._reverse_proxy_endpoint:
            return proxy_to_origin(url, self._origin_endpoint, self._reverse_proxy_endpoint)
        return url

    def on_request(self, request: PipelineRequest[Any]) -> None:
        """Sign the request and set its ``Authorization`` header.

        :param request: The pipeline request.
        :type request: ~azure.core.pipeline.PipelineRequest
        """
        http_request = request.http_request
        audience = self.audience(http_request.url)
        key = self._credential.key
        now = current_second()
        last = self._last
        if last is not None and last[2] == now and last[0] == audience and last[1] == key:
            token = last[3]
        else:
            token = sign_rest_token(audience, key, user=self._user, now=now)
            self._last = (audience, key, now, token)
        http_request.headers["Authorization"] = "Bearer " + token

    def __repr__(self) -> str:
        return f"{type(self).__name__}(user={self._user!r})"


class ReverseProxyPolicy(ProxyPolicy):
    """Send requests to a reverse proxy (such as Azure API Management) that fronts the service.

    It keeps azure-core's :class:`~azure.core.pipeline.policies.ProxyPolicy` behaviour (the ``proxies`` option) and
    then replaces the service endpoint at the start of the request URL with the proxy endpoint. The rest of the path
    and the query are left untouched.

    :param str origin_endpoint: The service endpoint.
    :param str reverse_proxy_endpoint: The reverse-proxy endpoint.
    :keyword proxies: Forwarded to :class:`~azure.core.pipeline.policies.ProxyPolicy`.
    :paramtype proxies: dict[str, str] or None
    """

    def __init__(self, origin_endpoint: str, reverse_proxy_endpoint: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._origin_endpoint = origin_endpoint
        self._reverse_proxy_endpoint = reverse_proxy_endpoint

    def on_request(self, request: PipelineRequest[Any]) -> None:
        """Apply azure-core's proxy settings, then rewrite the URL prefix to the proxy.

        :param request: The pipeline request.
        :type request: ~azure.core.pipeline.PipelineRequest
        """
        super().on_request(request)
        http_request = request.http_request
        http_request.url = origin_to_proxy(http_request.url, self._origin_endpoint, self._reverse_proxy_endpoint)


_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization"})
_TRACE_LOGGER = logging.getLogger(NetworkTraceLoggingPolicy.__module__)


def _returns_token(url: str) -> bool:
    return urlsplit(url).path.endswith("/:generateToken")


class RedactingNetworkTraceLoggingPolicy(NetworkTraceLoggingPolicy):
    """azure-core's network trace logging (``logging_enable=True``), with credentials redacted.

    The plain policy logs request headers verbatim, which would put the REST JWT or the Entra token into the logs.
    This one shows ``Authorization`` and ``Proxy-Authorization`` as ``REDACTED`` (the request sent is unchanged),
    and never logs the body of a ``:generateToken`` response, which holds a client access token.

    :keyword bool logging_enable: Log every request and response of the client. Default False; a per-call
        ``logging_enable`` overrides it.
    """

    def on_request(self, request: PipelineRequest[Any]) -> None:
        """Log the request (when enabled) with its credential headers redacted.

        :param request: The pipeline request.
        :type request: ~azure.core.pipeline.PipelineRequest
        """
        options = request.context.options
        if not (options.get("logging_enable", self.enable_http_logger) and _TRACE_LOGGER.isEnabledFor(logging.DEBUG)):
            super().on_request(request)  # nothing is logged: no header to hide
            return
        headers = request.http_request.headers
        saved = {name: headers[name] for name in list(headers.keys()) if name.lower() in _SECRET_HEADERS}
        for name in saved:
            headers[name] = "REDACTED"
        try:
            super().on_request(request)
        finally:
            for name, value in saved.items():
                headers[name] = value

    def on_response(self, request: PipelineRequest[Any], response: PipelineResponse[Any, Any]) -> None:
        """Log the response (when enabled); the body of a token response is redacted.

        :param request: The pipeline request.
        :type request: ~azure.core.pipeline.PipelineRequest
        :param response: The pipeline response.
        :type response: ~azure.core.pipeline.PipelineResponse
        """
        if not response.context.get("logging_enable") or not _returns_token(request.http_request.url):
            super().on_response(request, response)
            return
        if response.context.get("logging_enable") and _TRACE_LOGGER.isEnabledFor(logging.DEBUG):
            http_response = response.http_response
            lines = [f"Response status: '{http_response.status_code}'", "Response headers:"]
            lines.extend(f"    '{name}': '{value}'" for name, value in http_response.headers.items())
            lines.extend(["Response content:", "REDACTED (the response holds a client access token)"])
            _TRACE_LOGGER.debug("\n".join(lines))


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

    With ``use_env_settings=True`` (azure-core's default) the transport looks at the environment on every request:
    requests scans the proxy variables and looks for a netrc file, and aiohttp makes two thread-pool hops (netrc, then
    proxies), which halves the async client's request rate. The environment is read here once, when the client is
    created: if it sets a proxy, a netrc file or (for requests) a CA bundle, nothing changes; otherwise the transport
    skips the per-request lookups. So a proxy variable set after the client was created needs a new client. Nothing
    is changed when the caller passes ``transport``, ``session`` or ``use_env_settings``.

    :param rest: The keyword arguments for the generated client; ``use_env_settings`` may be added.
    :type rest: dict[str, any]
    :keyword bool ca_bundle: The transport is requests, which also reads ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``.
    """
    if rest.get("transport") is not None or rest.get("session") is not None or "use_env_settings" in rest:
        return
    if not environment_settings_in_use(ca_bundle=ca_bundle):
        rest["use_env_settings"] = False


def client_settings(endpoint: Any, hub: Any, credential: Any, kwargs: Mapping[str, Any]) -> Tuple[str, Dict[str, Any]]:
    """Validate the constructor arguments and install the SDK's policies; shared by the sync and async client.

    * The hub must match the service's naming rule.
    * ``port`` is applied to the endpoint (and removed); trailing ``/`` are removed.
    * With an :class:`~azure.core.credentials.AzureKeyCredential`, the :class:`JwtCredentialPolicy` becomes the
      authentication policy. The key credential owns authentication, so also passing ``authentication_policy`` is an
      error rather than being silently ignored. With a token credential, the generated configuration installs
      azure-core's bearer-token policy (or uses the caller's ``authentication_policy``).
    * ``reverse_proxy_endpoint`` installs the :class:`ReverseProxyPolicy` as ``proxy_policy``, unless the caller
      supplies ``proxy_policy`` themselves.
    * The network trace logging policy (``logging_enable``) redacts credential headers, unless the caller supplies
      ``logging_policy``.

    :param str endpoint: The service endpoint.
    :param str hub: The hub.
    :param credential: The credential.
    :type credential: ~azure.core.credentials.AzureKeyCredential or ~azure.core.credentials.TokenCredential
    :param kwargs: The constructor's keyword arguments; not modified.
    :type kwargs: ~collections.abc.Mapping
    :return: The endpoint to use and the keyword arguments for the generated client.
    :rtype: tuple[str, dict[str, any]]
    :raises ValueError: If the hub, endpoint or port is invalid, or ``authentication_policy`` is combined with a key.
    :raises TypeError: If the credential is of an unsupported type.
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
    if proxy and rest.get("proxy_policy") is None:
        rest["proxy_policy"] = ReverseProxyPolicy(origin, proxy, proxies=rest.get("proxies"))
    return origin, rest
