# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""Log redaction: what the client's request logging never writes in clear, at any level.

Both of azure-core's logging policies in the client's pipeline are replaced by redacting ones (unless the caller
passes their own ``logging_policy`` / ``http_logging_policy``):

* the network trace (``logging_enable=True``, DEBUG on ``azure.core.pipeline.policies.http_logging_policy``'s
  sibling logger) writes request and response headers verbatim; here the headers in :data:`SECRET_HEADERS` read
  ``REDACTED``, user info in a URL (``https://user:password@host``, as a ``reverse_proxy_endpoint`` may carry) reads
  ``REDACTED@host``, and the body of a ``:generateToken`` response (a client access token) is never written;
* the HTTP log (INFO) already shows only allow-listed headers; here the :data:`SECRET_HEADERS` stay redacted even
  when a caller adds them to ``allowed_header_names``, and URL user info is redacted too.

The request sent is never changed: the loggers see a redacted view of it.
"""

import logging
from typing import Any, Dict, Iterator
from urllib.parse import urlsplit, urlunsplit

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import HttpLoggingPolicy, NetworkTraceLoggingPolicy

__all__ = [
    "REDACTED",
    "SECRET_HEADERS",
    "RedactingHttpLoggingPolicy",
    "RedactingNetworkTraceLoggingPolicy",
    "redact_url",
]

REDACTED = "REDACTED"
"""What a logged secret is replaced with."""

SECRET_HEADERS = frozenset(
    {
        "authorization",  # the REST JWT, or the Entra bearer token
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "ocp-apim-subscription-key",  # Azure API Management, the usual reverse proxy in front of the service
        "ocp-apim-trace-key",
        "api-key",
        "x-api-key",
        "x-functions-key",  # Azure Functions as a reverse proxy
        "x-ms-authorization-auxiliary",
    }
)
"""Header names (lowercase) whose values are secrets by convention: never logged, whatever the level or allow-list."""

_TRACE_LOGGER = logging.getLogger(NetworkTraceLoggingPolicy.__module__)


def redact_url(url: str) -> str:
    """Replace the user info of a URL (``user:password@``) with ``REDACTED@``.

    :param str url: The URL.
    :return: The URL without its user info; any other URL unchanged.
    :rtype: str
    """
    if "@" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{REDACTED}@{host}"))


def _redacted_headers(headers: Any) -> Dict[str, str]:
    return {name: REDACTED if name.lower() in SECRET_HEADERS else value for name, value in headers.items()}


class _RedactedView:
    """A request or response as the loggers see it: the same object, with redacted headers (and URL)."""

    def __init__(self, target: Any) -> None:
        self._target = target
        self.headers = _redacted_headers(target.headers)
        url = getattr(target, "url", None)
        if isinstance(url, str):
            self.url = redact_url(url)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


def _names_a_secret(headers: Any) -> bool:
    return any(name.lower() in SECRET_HEADERS for name in headers)


def _logged_request(request: PipelineRequest[Any]) -> PipelineRequest[Any]:
    http_request = request.http_request
    if "@" not in http_request.url and not _names_a_secret(http_request.headers):
        return request
    # The context is shared: the policies record per-call settings (logging_enable, logger) in it.
    return PipelineRequest(_RedactedView(http_request), request.context)


def _logged_response(response: PipelineResponse[Any, Any]) -> PipelineResponse[Any, Any]:
    http_response = response.http_response
    if not _names_a_secret(http_response.headers):
        return response
    return PipelineResponse(response.http_request, _RedactedView(http_response), response.context)


def _returns_token(url: str) -> bool:
    return urlsplit(url).path.endswith("/:generateToken")


def _header_lines(headers: Any) -> Iterator[str]:
    for name, value in _redacted_headers(headers).items():
        yield f"    '{name}': '{value}'"


class RedactingNetworkTraceLoggingPolicy(NetworkTraceLoggingPolicy):
    """azure-core's network trace logging (``logging_enable=True``), with secrets redacted (see the module).

    :keyword bool logging_enable: Log every request and response of the client. Default False; a per-call
        ``logging_enable`` overrides it.
    """

    def on_request(self, request: PipelineRequest[Any]) -> None:
        """Log the request (when enabled) with its secrets redacted.

        :param request: The pipeline request.
        :type request: ~azure.core.pipeline.PipelineRequest
        """
        options = request.context.options
        if not (options.get("logging_enable", self.enable_http_logger) and _TRACE_LOGGER.isEnabledFor(logging.DEBUG)):
            super().on_request(request)  # nothing is logged: nothing to hide
            return
        super().on_request(_logged_request(request))

    def on_response(self, request: PipelineRequest[Any], response: PipelineResponse[Any, Any]) -> None:
        """Log the response (when enabled) with its secrets redacted; a token response's body is never logged.

        :param request: The pipeline request.
        :type request: ~azure.core.pipeline.PipelineRequest
        :param response: The pipeline response.
        :type response: ~azure.core.pipeline.PipelineResponse
        """
        if not (response.context.get("logging_enable") and _TRACE_LOGGER.isEnabledFor(logging.DEBUG)):
            return
        if not _returns_token(request.http_request.url):
            super().on_response(request, _logged_response(response))
            return
        http_response = response.http_response
        lines = [f"Response status: '{http_response.status_code}'", "Response headers:"]
        lines.extend(_header_lines(http_response.headers))
        lines.extend(["Response content:", "REDACTED (the response holds a client access token)"])
        _TRACE_LOGGER.debug("\n".join(lines))


class RedactingHttpLoggingPolicy(HttpLoggingPolicy):
    """azure-core's HTTP logging policy (INFO), which never shows :data:`SECRET_HEADERS` or URL user info.

    It takes the keyword arguments of :class:`~azure.core.pipeline.policies.HttpLoggingPolicy`.
    """

    def on_request(self, request: PipelineRequest[Any]) -> None:
        """Log the request with its secrets redacted.

        :param request: The pipeline request.
        :type request: ~azure.core.pipeline.PipelineRequest
        """
        options = request.context.options
        logger = request.context.get("logger") or options.get("logger") or self.logger
        default_level = getattr(self, "http_logging_level", logging.INFO)  # azure-core < 1.32 logs at INFO only
        level = request.context.get("http_logging_level") or options.get("http_logging_level", default_level)
        if not logger.isEnabledFor(level):
            super().on_request(request)  # nothing is logged: nothing to hide
            return
        super().on_request(_logged_request(request))

    def _redact_header(self, key: str, value: str) -> str:
        if key.lower() in SECRET_HEADERS:
            return self.REDACTED_PLACEHOLDER
        redacted: str = super()._redact_header(key, value)
        return redacted
