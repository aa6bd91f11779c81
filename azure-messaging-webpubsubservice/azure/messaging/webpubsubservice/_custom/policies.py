# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""The pipeline policies of the key credential and the reverse proxy.

Both are :class:`~azure.core.pipeline.policies.SansIOHTTPPolicy` subclasses, so the same class serves the sync and
the async pipeline.
"""

from typing import Any, Optional, Tuple

from azure.core.credentials import AzureKeyCredential
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import ProxyPolicy, SansIOHTTPPolicy

from . import jwt_signing
from .endpoint import origin_to_proxy, proxy_to_origin

__all__ = ["JwtCredentialPolicy", "ReverseProxyPolicy"]


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
        now = jwt_signing.current_second()
        last = self._last
        if last is not None and last[2] == now and last[0] == audience and last[1] == key:
            token = last[3]
        else:
            token = jwt_signing.sign_rest_token(audience, key, user=self._user, now=now)
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
