"""The app every adapter test serves: one chat handler, wired into each framework through its adapter.

:func:`build_handler` makes the handler (plain or ``async def`` callbacks) and a :class:`Recorder` of what it saw;
:func:`serve` serves it with the adapter of one kind on its real server (see ``eventhandler_servers``) and yields the
URL template to give the emulator; :func:`in_process` gives the emulator an ASGI kind's app itself (no server), and
:func:`wire` picks one or the other per kind.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

from azure.messaging.webpubsubservice.eventhandler import (
    ConnectRequest,
    ConnectResponse,
    DisconnectedRequest,
    UnauthorizedError,
    UserEventRequest,
    UserEventResponse,
    WebPubSubEventHandler,
)
from eventhandler_servers import serve_aiohttp, serve_asgi, serve_wsgi, wait_for
from webpubsub_emulator import DEFAULT_ACCESS_KEY, EventHandler

HUB = "chat"
#: Every adapter kind, with whether its handler uses ``async def`` callbacks.
KINDS: Dict[str, bool] = {
    "asgi": True,
    "starlette": False,
    "fastapi": True,
    "aiohttp": True,
    "wsgi": False,
    "flask": False,
    "django": False,
    "django-asgi": True,
}
ROOM_ROLES = ["webpubsub.sendToGroup.room", "webpubsub.joinLeaveGroup.room"]


class Recorder:
    """What the handler's callbacks saw, in order, safe to read from the test thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: List[Tuple[str, Any]] = []

    def add(self, name: str, request: Any) -> None:
        with self._lock:
            self.events.append((name, request))

    def of(self, name: str) -> List[Any]:
        with self._lock:
            return [request for kind, request in self.events if kind == name]

    def wait(self, name: str, predicate: Callable[[Any], bool] = lambda _r: True) -> Any:
        return wait_for(lambda: next((r for r in self.of(name) if predicate(r)), None), f"a {name} event")


def build_handler(
    *, async_callbacks: bool, access_key: str = DEFAULT_ACCESS_KEY
) -> Tuple[WebPubSubEventHandler, Recorder]:
    """The chat handler: connect names the user from ``?name=`` (mallory is refused), events answer in each form."""
    handler = WebPubSubEventHandler(HUB, access_key=access_key, allowed_endpoints=["http://127.0.0.1"])
    seen = Recorder()

    def register(decorator: Callable[[Any], Any], callback: Callable[[Any], Any]) -> None:
        if not async_callbacks:
            decorator(callback)
            return

        @functools.wraps(callback)
        async def as_coroutine(request: Any) -> Any:
            return callback(request)

        decorator(as_coroutine)

    def connect(request: ConnectRequest) -> Optional[ConnectResponse]:
        seen.add("connect", request)
        name = request.query.first("name")
        if name == "mallory":
            raise UnauthorizedError("mallory is not welcome")
        if name is None:
            return None
        request.context.state["count"] = 0
        request.context.state["name"] = name
        offered = [p for p in request.subprotocols if p.startswith("json.")]
        return ConnectResponse(
            user_id=name, groups=["room"], roles=ROOM_ROLES, subprotocol=offered[0] if offered else None
        )

    def count(request: UserEventRequest) -> Any:
        seen.add("count", request)
        request.context.state["count"] = request.context.state.get("count", 0) + 1
        return {"count": request.context.state["count"], "name": request.context.state.get("name")}

    def user_event(request: UserEventRequest) -> Any:
        seen.add("event", request)
        name = request.context.event_name
        if name == "text":
            return f"text:{request.text}"
        if name == "json":
            return {"echo": request.json()}
        if name == "binary":
            return bytes(reversed(request.data))
        if name == "explicit":
            return UserEventResponse("123", data_type="json")
        if name == "silent":
            return None
        if name == "message":  # raw clients: answer in the frame type they used
            return f"echo:{request.text}" if request.data_type == "text" else bytes(reversed(request.data))
        raise RuntimeError(f"unexpected event {name!r}")  # a 500: the service drops the client

    def disconnected(request: DisconnectedRequest) -> None:
        seen.add("disconnected", request)

    register(handler.on_connect, connect)
    register(handler.on_event("count"), count)
    register(handler.on_event(), user_event)
    register(handler.on_connected, lambda request: seen.add("connected", request))
    register(handler.on_disconnected, disconnected)
    return handler, seen


def _django_app(handler: WebPubSubEventHandler, *, asynchronous: bool) -> Any:
    import django
    from azure.messaging.webpubsubservice.eventhandler.django import urlpatterns
    from django.conf import settings
    from django.urls import clear_url_caches

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="event-handler-tests",
            ALLOWED_HOSTS=["127.0.0.1", "localhost"],
            ROOT_URLCONF=_DJANGO_URLS,
            INSTALLED_APPS=[],
            # CsrfViewMiddleware answers 403 to POSTs without a token: the view must be exempt from it.
            MIDDLEWARE=["django.middleware.common.CommonMiddleware", "django.middleware.csrf.CsrfViewMiddleware"],
        )
        django.setup()
    _DJANGO_URLS.urlpatterns = urlpatterns(handler, asynchronous=asynchronous)
    clear_url_caches()
    if asynchronous:
        from django.core.handlers.asgi import ASGIHandler

        return ASGIHandler()
    from django.core.handlers.wsgi import WSGIHandler

    return WSGIHandler()


class _UrlConf:
    urlpatterns: List[Any] = []


_DJANGO_URLS = _UrlConf()


#: The kinds whose app is an ASGI application: the emulator can call them in-process, with no server.
ASGI_KINDS = ("asgi", "starlette", "fastapi", "django-asgi")


def asgi_app(kind: str, handler: WebPubSubEventHandler) -> Any:
    """The ASGI application of an ASGI kind."""
    if kind == "asgi":
        from azure.messaging.webpubsubservice.eventhandler.asgi import WebPubSubASGIApp

        return WebPubSubASGIApp(handler)
    if kind == "starlette":
        from azure.messaging.webpubsubservice.eventhandler.starlette import routes
        from starlette.applications import Starlette

        return Starlette(routes=routes(handler))
    if kind == "fastapi":
        from azure.messaging.webpubsubservice.eventhandler.starlette import add_routes
        from fastapi import FastAPI

        fastapi_app = FastAPI()
        add_routes(fastapi_app, handler)
        return fastapi_app
    if kind == "django-asgi":
        return _django_app(handler, asynchronous=True)
    raise ValueError(kind)


def in_process(kind: str, handler: WebPubSubEventHandler) -> EventHandler:
    """The emulator's handler for an ASGI kind's app called in-process (no server; ``Host: localhost``)."""
    return EventHandler(f"{handler.path}/{{event}}", app=asgi_app(kind, handler))


@contextlib.contextmanager
def serve(kind: str, handler: WebPubSubEventHandler) -> Iterator[str]:
    """Serve ``handler`` with the adapter ``kind`` on its real server; yield the emulator's URL template."""
    if kind in ASGI_KINDS:
        server = serve_asgi(asgi_app(kind, handler))
    elif kind == "aiohttp":
        from aiohttp import web
        from azure.messaging.webpubsubservice.eventhandler.aiohttp import add_routes as add_aiohttp_routes

        def make_app() -> web.Application:
            app = web.Application()
            add_aiohttp_routes(app, handler)
            return app

        server = serve_aiohttp(make_app)
    elif kind == "wsgi":
        from azure.messaging.webpubsubservice.eventhandler.wsgi import WebPubSubWSGIApp

        server = serve_wsgi(WebPubSubWSGIApp(handler))
    elif kind == "flask":
        import flask
        from azure.messaging.webpubsubservice.eventhandler.flask import blueprint

        flask_app = flask.Flask("event_handler_test")
        flask_app.register_blueprint(blueprint(handler))
        server = serve_wsgi(flask_app)
    elif kind == "django":
        server = serve_wsgi(_django_app(handler, asynchronous=False))
    else:
        raise ValueError(kind)
    with server as base_url:
        yield f"{base_url}{handler.path}/{{event}}"


@contextlib.contextmanager
def wire(kind: str, handler: WebPubSubEventHandler) -> Iterator[Union[str, EventHandler]]:
    """What the emulator's ``event_handlers`` gets for ``kind``: the ASGI kinds' app in-process, the others' URL on
    their real server."""
    if kind in ASGI_KINDS:
        yield in_process(kind, handler)
        return
    with serve(kind, handler) as url:
        yield url
