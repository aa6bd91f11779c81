# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""Log redaction: what the client's request logging never writes in clear.

azure-core's network trace logging (``logging_enable=True``) writes request headers verbatim, which would put the
REST JWT or the Entra token into the logs. The policy here shows credential headers as ``REDACTED`` (the request sent
is unchanged) and never logs the body of a ``:generateToken`` response, which holds a client access token.
"""

import logging
from typing import Any
from urllib.parse import urlsplit

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import NetworkTraceLoggingPolicy

__all__ = ["SECRET_HEADERS", "RedactingNetworkTraceLoggingPolicy"]

SECRET_HEADERS = frozenset({"authorization", "proxy-authorization"})
"""Request headers (lowercase) whose values are never logged."""

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
        saved = {name: headers[name] for name in list(headers.keys()) if name.lower() in SECRET_HEADERS}
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
