# --------------------------------------------------------------------------
# Copyright (c) the azure-messaging-webpubsubservice reimplementation authors.
# Licensed under the MIT License; see the LICENSE file at the root of the repository.
# --------------------------------------------------------------------------
"""Flask: a blueprint serving the mount path and everything under it.

OPTIONS is registered explicitly (Flask's automatic OPTIONS answer would lack ``WebHook-Allowed-Origin``). Callbacks
must be plain functions (a Flask view is synchronous)::

    from azure.messaging.webpubsubservice.eventhandler.flask import blueprint

    app.register_blueprint(blueprint(handler))

Needs ``pip install 'azure-messaging-webpubsubservice[flask]'``.
"""

from __future__ import annotations

from typing import Callable

from ._handler import WebPubSubEventHandler
from ._http import HandlerRequest
from ._translate import METHODS, framework_missing, missing_framework

try:
    import flask
except ImportError as exc:  # pragma: no cover - exercised in subprocesses (missing and broken framework)
    if not framework_missing(exc, "flask"):
        raise  # installed but failing to import: its own error says why
    raise missing_framework("Flask", "flask") from exc

__all__ = ["blueprint", "view"]


def view(handler: WebPubSubEventHandler) -> Callable[..., flask.Response]:
    """A Flask view function answering through ``handler`` (for rules of your own; register GET, POST, OPTIONS).

    :raises TypeError: If a coroutine callback is registered already.
    """
    handler.require_sync_callbacks("the Flask adapter")

    def webpubsub_events(**_path_parts: str) -> flask.Response:
        request = flask.request
        incoming = HandlerRequest(
            request.method,
            request.path,
            request.headers.items(),
            request.get_data(cache=True),
            query_string=request.query_string.decode("latin-1"),
        )
        reply = handler.handle(incoming)
        response = flask.Response(reply.body, status=reply.status)
        del response.headers["Content-Type"]  # Flask's text/html default; the handler sets its own when it has one
        for name, value in reply.headers:
            response.headers.add(name, value)
        return response

    return webpubsub_events


def blueprint(handler: WebPubSubEventHandler, name: str = "webpubsub_events") -> flask.Blueprint:
    """A blueprint with the mount path and ``<mount>/<path:rest>`` routed to :func:`view`.

    :raises TypeError: If a coroutine callback is registered already.
    """
    events = flask.Blueprint(name, __name__)
    endpoint = view(handler)
    base = "" if handler.path == "/" else handler.path
    for rule, name in ((base or "/", "events"), (base + "/<path:rest>", "events_under")):
        events.add_url_rule(
            rule, endpoint=name, view_func=endpoint, methods=list(METHODS), provide_automatic_options=False
        )
    return events
