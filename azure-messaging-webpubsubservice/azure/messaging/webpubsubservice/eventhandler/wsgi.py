# --------------------------------------------------------------------------
# Copyright (c) the azure-messaging-webpubsubservice reimplementation authors.
# Licensed under the MIT License; see the LICENSE file at the root of the repository.
# --------------------------------------------------------------------------
"""A plain WSGI application serving a :class:`~.WebPubSubEventHandler` (no framework needed; any WSGI server).

Standalone it answers everything (404 outside the mount path); with ``app=`` it is middleware in front of another
WSGI application. Callbacks must be plain functions: a coroutine callback is refused (see
:meth:`~.WebPubSubEventHandler.handle`)::

    from azure.messaging.webpubsubservice.eventhandler.wsgi import WebPubSubWSGIApp

    application = WebPubSubWSGIApp(handler)  # gunicorn module:application, waitress, ...
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from ._handler import WebPubSubEventHandler
from ._http import HandlerRequest
from ._replies import rejection_reply
from ._translate import DEFAULT_MAX_BODY_SIZE, status_line, wsgi_headers, wsgi_path

__all__ = ["WebPubSubWSGIApp"]

StartResponse = Callable[..., Any]
WSGIApp = Callable[[Dict[str, Any], StartResponse], Iterable[bytes]]


class WebPubSubWSGIApp:
    """The handler as a WSGI application.

    :param handler: The event handler (its callbacks must be plain functions).
    :keyword app: The WSGI application to pass other requests to.
    :keyword int max_body_size: Larger request bodies are refused with 413 (default 2 MiB).
    :raises TypeError: If a coroutine callback is registered already.
    """

    def __init__(
        self,
        handler: WebPubSubEventHandler,
        *,
        app: Optional[WSGIApp] = None,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    ) -> None:
        handler.require_sync_callbacks("the WSGI adapter")
        self.handler = handler
        self.app = app
        self.max_body_size = max_body_size

    def __call__(self, environ: Dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """The WSGI entry point."""
        request = HandlerRequest(
            str(environ.get("REQUEST_METHOD", "GET")),
            wsgi_path(environ),
            wsgi_headers(environ),
            query_string=str(environ.get("QUERY_STRING", "")),
        )
        if self.app is not None and not self.handler.accepts(request):
            return self.app(environ, start_response)
        body = _read_body(environ, self.max_body_size)
        if body is None:
            response = rejection_reply(413, "Payload too large.")
        else:
            request.body = body
            response = self.handler.handle(request)
        headers: List[Tuple[str, str]] = list(response.headers)
        if response.status not in (204, 304):
            headers.append(("Content-Length", str(len(response.body))))
        start_response(status_line(response.status), headers)
        return [response.body]


def _read_body(environ: Dict[str, Any], limit: int) -> Optional[bytes]:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        return None
    if length:
        return bytes(stream.read(length))
    if environ.get("wsgi.input_terminated"):  # chunked bodies on servers that say the stream ends by itself
        data = bytes(stream.read(limit + 1))
        return None if len(data) > limit else data
    return b""
