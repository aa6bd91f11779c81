# --------------------------------------------------------------------------
# Copyright (c) the azure-messaging-webpubsubservice reimplementation authors.
# Licensed under the MIT License; see the LICENSE file at the root of the repository.
# --------------------------------------------------------------------------
"""Django: a CSRF-exempt view (sync, or async for coroutine callbacks) and URL patterns for the mount path.

::

    from azure.messaging.webpubsubservice.eventhandler.django import urlpatterns as webpubsub_urls

    urlpatterns = [*webpubsub_urls(handler), ...]  # urls.py

The view is exempt from ``CsrfViewMiddleware`` (the service sends no CSRF token; requests are authenticated by their
signature instead). Needs ``pip install 'azure-messaging-webpubsubservice[django]'``.
"""

from __future__ import annotations

import re
from typing import Any, Awaitable, Callable, List

from ._handler import WebPubSubEventHandler
from ._http import HandlerRequest, HandlerResponse
from ._translate import framework_missing, missing_framework

try:
    from django.http import HttpRequest, HttpResponse  # type: ignore[import-untyped]
    from django.urls import URLPattern, re_path  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - exercised in subprocesses (missing and broken framework)
    if not framework_missing(exc, "django"):
        raise  # installed but failing to import: its own error says why
    raise missing_framework("Django", "django") from exc

__all__ = ["async_view", "urlpatterns", "view"]


def _incoming(request: HttpRequest) -> HandlerRequest:
    return HandlerRequest(
        request.method or "GET",
        request.path_info,
        request.headers.items(),
        request.body,  # Django caches the body: reading it again after middleware is fine
        query_string=request.META.get("QUERY_STRING", ""),
    )


def _outgoing(reply: HandlerResponse) -> HttpResponse:
    response = HttpResponse(reply.body, status=reply.status)
    del response["Content-Type"]  # Django's text/html default; the handler sets its own when it has one
    for name, value in reply.headers:
        response[name] = value
    return response


def view(handler: WebPubSubEventHandler) -> Callable[..., HttpResponse]:
    """A synchronous, CSRF-exempt view; callbacks must be plain functions.

    :raises TypeError: If a coroutine callback is registered already.
    """
    handler.require_sync_callbacks("the Django sync view")

    def webpubsub_events(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return _outgoing(handler.handle(_incoming(request)))

    webpubsub_events.csrf_exempt = True  # type: ignore[attr-defined]
    return webpubsub_events


def async_view(handler: WebPubSubEventHandler) -> Callable[..., Awaitable[HttpResponse]]:
    """An async, CSRF-exempt view: coroutine callbacks are awaited, plain ones run in a worker thread."""

    async def webpubsub_events(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return _outgoing(await handler.handle_async(_incoming(request)))

    webpubsub_events.csrf_exempt = True  # type: ignore[attr-defined]
    return webpubsub_events


def urlpatterns(handler: WebPubSubEventHandler, *, asynchronous: bool = False) -> List[URLPattern]:
    """One pattern matching the mount path and everything under it, routed to :func:`view` or :func:`async_view`."""
    chosen = async_view(handler) if asynchronous else view(handler)
    base = handler.path.strip("/")
    pattern = r"^.*$" if not base else rf"^{re.escape(base)}(?:/.*)?$"
    return [re_path(pattern, chosen, name="webpubsub_events")]
