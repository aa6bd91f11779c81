# --------------------------------------------------------------------------
# Copyright (c) the azure-messaging-webpubsubservice reimplementation authors.
# Licensed under the MIT License; see the LICENSE file at the root of the repository.
# --------------------------------------------------------------------------
"""Starlette and FastAPI: routes for the mount path and everything under it (POST, OPTIONS and GET).

::

    from azure.messaging.webpubsubservice.eventhandler.starlette import add_routes, routes

    app = Starlette(routes=[*routes(handler), ...])
    add_routes(fastapi_app, handler)  # FastAPI (or any Starlette app) built elsewhere

Needs ``pip install 'azure-messaging-webpubsubservice[starlette]'`` (or ``[fastapi]``).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, List

from ._handler import WebPubSubEventHandler
from ._http import HandlerRequest
from ._translate import METHODS, asgi_path, framework_missing, missing_framework

try:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute, Route
except ImportError as exc:  # pragma: no cover - exercised in subprocesses (missing and broken framework)
    if not framework_missing(exc, "starlette"):
        raise  # installed but failing to import: its own error says why
    raise missing_framework("starlette", "starlette") from exc

__all__ = ["add_routes", "endpoint", "routes"]


def endpoint(handler: WebPubSubEventHandler) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint answering through ``handler`` (for routes of your own)."""

    async def webpubsub_events(request: Request) -> Response:
        body = await request.body()  # Starlette caches the body, so middleware that read it first does no harm
        incoming = HandlerRequest(
            request.method,
            asgi_path(request.scope),
            request.headers.items(),
            body,
            query_string=request.url.query,
        )
        reply = await handler.handle_async(incoming)
        response = Response(content=reply.body, status_code=reply.status)
        for name, value in reply.headers:
            response.headers.append(name, value)
        return response

    return webpubsub_events


def routes(handler: WebPubSubEventHandler) -> List[BaseRoute]:
    """Two routes: the mount path itself and every path below it."""
    view = endpoint(handler)
    base = "" if handler.path == "/" else handler.path
    return [
        Route(base or "/", view, methods=list(METHODS), name="webpubsub_events"),
        Route(base + "/{rest:path}", view, methods=list(METHODS), name="webpubsub_events_under"),
    ]


def add_routes(app: Any, handler: WebPubSubEventHandler) -> None:
    """Add :func:`routes` to a Starlette or FastAPI application (or a router)."""
    router = getattr(app, "router", app)
    router.routes.extend(routes(handler))
