# --------------------------------------------------------------------------
# Copyright (c) the azure-messaging-webpubsubservice reimplementation authors.
# Licensed under the MIT License; see the LICENSE file at the root of the repository.
# --------------------------------------------------------------------------
"""A plain ASGI application serving a :class:`~.WebPubSubEventHandler` (no framework needed; any ASGI server).

Standalone it answers everything (404 outside the mount path); with ``app=`` it is middleware and passes every
request that is not for the handler to that application::

    from azure.messaging.webpubsubservice.eventhandler.asgi import WebPubSubASGIApp

    app = WebPubSubASGIApp(handler)  # uvicorn module:app
    app = WebPubSubASGIApp(handler, app=other_asgi_app)  # in front of another app
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, List, MutableMapping, Optional

from ._handler import WebPubSubEventHandler
from ._http import HandlerRequest
from ._replies import rejection_reply
from ._translate import DEFAULT_MAX_BODY_SIZE, asgi_path

__all__ = ["WebPubSubASGIApp"]

Scope = MutableMapping[str, Any]
Message = Dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class WebPubSubASGIApp:
    """The handler as an ASGI 3 application.

    :param handler: The event handler.
    :keyword app: The ASGI application to pass other requests (and lifespan and WebSocket scopes) to.
    :keyword int max_body_size: Larger request bodies are refused with 413 (default 2 MiB).
    """

    def __init__(
        self,
        handler: WebPubSubEventHandler,
        *,
        app: Optional[ASGIApp] = None,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    ) -> None:
        self.handler = handler
        self.app = app
        self.max_body_size = max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point."""
        if scope["type"] != "http":
            if self.app is not None:
                await self.app(scope, receive, send)
            elif scope["type"] == "lifespan":
                await _lifespan(receive, send)
            return
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", [])]
        query = bytes(scope.get("query_string", b"")).decode("latin-1")
        request = HandlerRequest(scope["method"], asgi_path(scope), headers, query_string=query)
        if self.app is not None and not self.handler.accepts(request):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive, self.max_body_size)
        if body is None:
            response = rejection_reply(413, "Payload too large.")
        else:
            request.body = body
            response = await self.handler.handle_async(request)
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers],
            }
        )
        await send({"type": "http.response.body", "body": response.body})


async def _read_body(receive: Receive, limit: int) -> Optional[bytes]:
    chunks: List[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
