# --------------------------------------------------------------------------
# Copyright (c) the azure-messaging-webpubsubservice reimplementation authors.
# Licensed under the MIT License; see the LICENSE file at the root of the repository.
# --------------------------------------------------------------------------
"""aiohttp: routes for the mount path and everything under it.

::

    from azure.messaging.webpubsubservice.eventhandler.aiohttp import add_routes

    app = web.Application()
    add_routes(app, handler)

aiohttp refuses bodies over ``client_max_size`` (1 MiB by default), which is also the service's largest client
message. Needs ``pip install 'azure-messaging-webpubsubservice[aiohttp]'``.
"""

from __future__ import annotations

from typing import Awaitable, Callable

from ._handler import WebPubSubEventHandler
from ._http import HandlerRequest
from ._translate import METHODS, framework_missing, missing_framework

try:
    from aiohttp import web
    from multidict import CIMultiDict
except ImportError as exc:  # pragma: no cover - exercised in subprocesses (missing and broken framework)
    if not framework_missing(exc, "aiohttp", "multidict"):
        raise  # installed but failing to import: its own error says why
    raise missing_framework("aiohttp", "aiohttp") from exc

__all__ = ["add_routes", "endpoint"]


def endpoint(handler: WebPubSubEventHandler) -> Callable[[web.Request], Awaitable[web.Response]]:
    """An aiohttp handler answering through ``handler`` (for routes of your own)."""

    async def webpubsub_events(request: web.Request) -> web.Response:
        body = await request.read()  # aiohttp caches the body, so middleware that read it first does no harm
        incoming = HandlerRequest(
            request.method, request.path, request.headers.items(), body, query_string=request.query_string
        )
        reply = await handler.handle_async(incoming)
        return web.Response(status=reply.status, body=reply.body or None, headers=CIMultiDict(reply.headers))

    return webpubsub_events


def add_routes(app: web.Application, handler: WebPubSubEventHandler) -> None:
    """Route the mount path and every path below it (GET, POST, OPTIONS) to :func:`endpoint`."""
    view = endpoint(handler)
    base = "" if handler.path == "/" else handler.path
    for method in METHODS:
        app.router.add_route(method, base or "/", view)
        app.router.add_route(method, base + "/{rest:.*}", view)
