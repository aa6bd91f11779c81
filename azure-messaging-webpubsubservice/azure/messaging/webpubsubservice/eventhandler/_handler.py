# --------------------------------------------------------------------------
# Copyright (c) the azure-messaging-webpubsubservice reimplementation authors.
# Licensed under the MIT License; see the LICENSE file at the root of the repository.
# --------------------------------------------------------------------------
"""The handler object: configuration, callback registration and the sans-IO dispatch.

:meth:`WebPubSubEventHandler.handle` (sync) and :meth:`WebPubSubEventHandler.handle_async` share every decision
(:meth:`~WebPubSubEventHandler._prepare` and :class:`_Call`); they differ only in how the user's callback is run.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any, Callable, Dict, FrozenSet, Iterable, Optional, Sequence, TypeVar, Union, overload

from .._custom.endpoint import validate_hub
from ._errors import BadRequestError, EventRejectedError, SignatureError
from ._events import (
    ConnectedRequest,
    ConnectionContext,
    ConnectRequest,
    DisconnectedRequest,
    GroupJoinedRequest,
    GroupLeftRequest,
    UnknownEventRequest,
    UserEventRequest,
    check_single_valued,
    request_kind,
)
from ._handshake import allowed_hosts, handshake_response
from ._http import HandlerRequest, HandlerResponse
from ._keys import AccessKeys, KeySpec
from ._replies import connect_reply, error_reply, rejection_reply, user_event_reply
from ._signature import signature_matches

__all__ = ["WebPubSubEventHandler"]

log = logging.getLogger("azure.messaging.webpubsubservice.eventhandler")

F = TypeVar("F", bound=Callable[..., Any])
Callback = Callable[[Any], Any]

_CONNECT = "azure.webpubsub.sys.connect"
_CONNECTED = "azure.webpubsub.sys.connected"
_DISCONNECTED = "azure.webpubsub.sys.disconnected"
_JOINED = "azure.webpubsub.gp.joined"
_LEFT = "azure.webpubsub.gp.left"
_USER_PREFIX = "azure.webpubsub.user."
_ANY_EVENT = "*"


def is_coroutine_callback(callback: Any) -> bool:
    """True for ``async def`` functions (also wrapped in ``functools.partial`` or as an ``async __call__``)."""
    return inspect.iscoroutinefunction(callback) or inspect.iscoroutinefunction(type(callback).__call__)


class _Call:
    """A decided request waiting for its user callback: run it, then :meth:`complete` or :meth:`fail`."""

    __slots__ = ("callback", "event", "reply")

    def __init__(self, callback: Callback, event: Any, reply: Callable[[Any], HandlerResponse]) -> None:
        self.callback = callback
        self.event = event
        self.reply = reply

    def complete(self, result: Any) -> HandlerResponse:
        """The reply for the callback's result (a result that cannot be sent is a 500, logged)."""
        try:
            return self.reply(result)
        except Exception as exc:
            return self.fail(exc)

    def fail(self, exc: BaseException) -> HandlerResponse:
        """The reply for an exception raised by the callback (or by writing its result)."""
        context: ConnectionContext = self.event.context
        if isinstance(exc, EventRejectedError):
            log.info(
                "%s of connection %s (hub %s) rejected with %d: %s",
                context.event_name,
                context.connection_id,
                context.hub,
                exc.status,
                exc.message,
            )
        else:
            log.error(
                "%s callback for connection %s (hub %s) failed; answering 500",
                context.event_name,
                context.connection_id,
                context.hub,
                exc_info=exc,
            )
        return error_reply(exc, self.event)


def _idle_reply(status: int) -> Callable[[Any], HandlerResponse]:
    return lambda _result: HandlerResponse(status)


class WebPubSubEventHandler:
    """Receives the events Azure Web PubSub sends to an app (CloudEvents over HTTP) for one hub or several.

    Register callbacks with the decorators (:meth:`on_connect`, :meth:`on_event`, :meth:`on_connected`,
    :meth:`on_disconnected`, :meth:`on_group_joined`, :meth:`on_group_left`, :meth:`on_unknown_event`); plain
    functions and ``async def`` coroutines both work (sync adapters refuse coroutines, see :meth:`handle`). Then serve
    the handler with an adapter (``eventhandler.asgi``, ``.wsgi``, ``.starlette``, ``.flask``, ``.django``,
    ``.aiohttp``) or call :meth:`handle` yourself.

    Every event must carry a valid ``ce-signature`` for one of the configured keys; otherwise it is answered 401 and no
    callback runs. Configuring no key is an error unless ``allow_unsigned=True`` says so on purpose.

    :param hub: The hub name, or several; compared case-insensitively. Events for other hubs are refused with 400
        (middleware adapters pass them on to the next app).
    :keyword connection_string: One connection string or several (primary and secondary resource keys, several
        resources): each gives an access key to accept and its ``Endpoint`` as an allowed handshake origin.
    :keyword access_key: One access key or several, objects with a ``key`` attribute (``AzureKeyCredential``: its
        ``update()`` rotates the key), or a callable returning the current keys (called on every event).
    :keyword allowed_endpoints: Service endpoints (URLs or host names) whose handshakes are accepted; ``"*"`` allows
        any. Default: the endpoints of the connection strings, or any origin when none was given.
    :keyword str path: The mount path; every path under it is served (default ``/eventhandler``).
    :keyword bool allow_unsigned: Accept unsigned events on purpose (no key configured, e.g. a resource with local
        authentication disabled); logged as a warning.
    :raises ValueError: For an invalid hub, connection string, endpoint or path, or when no key is configured and
        ``allow_unsigned`` is not set.
    """

    def __init__(
        self,
        hub: Union[str, Iterable[str]],
        *,
        connection_string: Union[str, Sequence[str], None] = None,
        access_key: Optional[KeySpec] = None,
        allowed_endpoints: Optional[Iterable[str]] = None,
        path: str = "/eventhandler",
        allow_unsigned: bool = False,
    ) -> None:
        hubs = [hub] if isinstance(hub, str) else list(hub)
        if not hubs or not all(isinstance(h, str) and h.strip() for h in hubs):
            raise ValueError("hub must be a non-empty str or a list of them")
        self.hubs: FrozenSet[str] = frozenset(validate_hub(h.strip()).lower() for h in hubs)
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError("path must start with '/'")
        self.path = path.rstrip("/") or "/"
        self._keys = AccessKeys(connection_string, access_key)
        if self._keys.configured and allow_unsigned:
            raise ValueError("allow_unsigned=True contradicts the access keys given: choose one")
        if not self._keys.configured and not allow_unsigned:
            raise ValueError(
                "no access key configured: pass connection_string= or access_key= so that events are verified, "
                "or allow_unsigned=True to accept unsigned events on purpose"
            )
        if allow_unsigned:
            log.warning("event handler for hub(s) %s accepts unsigned events (allow_unsigned=True)", sorted(self.hubs))
        self.allow_unsigned = allow_unsigned
        endpoints = list(allowed_endpoints) if allowed_endpoints is not None else list(self._keys.endpoints)
        self._allowed = allowed_hosts(endpoints) if endpoints else None
        self._connect: Optional[Callback] = None
        self._events: Dict[str, Callback] = {}
        self._connected: Optional[Callback] = None
        self._disconnected: Optional[Callback] = None
        self._joined: Optional[Callback] = None
        self._left: Optional[Callback] = None
        self._unknown: Optional[Callback] = None

    @classmethod
    def from_connection_string(
        cls, connection_string: Union[str, Sequence[str]], hub: Union[str, Iterable[str]], **kwargs: Any
    ) -> WebPubSubEventHandler:
        """A handler verifying with the connection string's key and allowing its endpoint's handshakes.

        :param connection_string: One connection string or several.
        :param hub: The hub name, or several.
        :keyword kwargs: The other keyword options of the constructor.
        :rtype: WebPubSubEventHandler
        """
        return cls(hub, connection_string=connection_string, **kwargs)

    @property
    def allowed_origins(self) -> Optional[FrozenSet[str]]:
        """The host names whose handshakes are accepted, or None for any."""
        return self._allowed

    # ------------------------------------------------------------------------------------------ registration
    def on_connect(self, callback: F) -> F:
        """Decorator: ``callback(request: ConnectRequest) -> ConnectResponse | None`` decides every ``connect``."""
        self._connect = callback
        return callback

    @overload
    def on_event(self, name: F) -> F: ...

    @overload
    def on_event(self, name: Optional[str] = None) -> Callable[[F], F]: ...

    def on_event(self, name: Union[str, F, None] = None) -> Union[F, Callable[[F], F]]:
        """Decorator: ``callback(request: UserEventRequest) -> reply | None`` for user event ``name``.

        Names match case-insensitively. ``@handler.on_event()`` (no name) or ``@handler.on_event`` registers the
        fallback for every user event without a callback of its own.
        """
        if callable(name):
            self._events[_ANY_EVENT] = name
            return name
        key = _ANY_EVENT if name is None else name.lower()

        def register(callback: F) -> F:
            self._events[key] = callback
            return callback

        return register

    def on_connected(self, callback: F) -> F:
        """Decorator: ``callback(request: ConnectedRequest)`` after a connection opened."""
        self._connected = callback
        return callback

    def on_disconnected(self, callback: F) -> F:
        """Decorator: ``callback(request: DisconnectedRequest)`` after a connection ended."""
        self._disconnected = callback
        return callback

    def on_group_joined(self, callback: F) -> F:
        """Decorator: ``callback(request: GroupJoinedRequest)`` (group presence events)."""
        self._joined = callback
        return callback

    def on_group_left(self, callback: F) -> F:
        """Decorator: ``callback(request: GroupLeftRequest)`` (group presence events)."""
        self._left = callback
        return callback

    def on_unknown_event(self, callback: F) -> F:
        """Decorator: ``callback(request: UnknownEventRequest) -> reply | None`` for ``azure.webpubsub.*`` types this
        library does not know (without it they get 204, logged at debug level)."""
        self._unknown = callback
        return callback

    def callbacks(self) -> Dict[str, Callback]:
        """Every registered callback by event (``connect``, ``connected``, ``user:<name>``, ...)."""
        found = {
            "connect": self._connect,
            "connected": self._connected,
            "disconnected": self._disconnected,
            "group_joined": self._joined,
            "group_left": self._left,
            "unknown": self._unknown,
        }
        found.update({f"user:{name}": cb for name, cb in self._events.items()})
        return {name: cb for name, cb in found.items() if cb is not None}

    def require_sync_callbacks(self, adapter: str) -> None:
        """Raise TypeError if a coroutine callback is registered (sync adapters call this when they are created).

        :raises TypeError: Naming the callback and the adapters that run coroutines.
        """
        for name, callback in self.callbacks().items():
            if is_coroutine_callback(callback):
                raise TypeError(_coroutine_refused(adapter, name))

    # ------------------------------------------------------------------------------------------ routing
    def serves_path(self, path: str) -> bool:
        """True when ``path`` is the mount path or below it."""
        return self.path == "/" or path == self.path or path.startswith(self.path + "/")

    def accepts(self, request: HandlerRequest) -> bool:
        """True when the request is for this handler: under the mount, a handshake or an event of a served hub.

        Middleware adapters pass every other request on to the next application.
        """
        if not self.serves_path(request.path):
            return False
        kind = request_kind(request)
        if kind == "handshake":
            return True
        if kind != "event":
            return False
        hubs = request.headers.get_all("ce-hub")
        return len(hubs) != 1 or hubs[0].lower() in self.hubs  # a repeated hub header is ours to refuse

    # ------------------------------------------------------------------------------------------ dispatch
    def handle(self, request: HandlerRequest) -> HandlerResponse:
        """Answer one request synchronously (what the WSGI, Flask and Django adapters call).

        Coroutine callbacks are refused here: the request is answered 500 and the log says to use an async adapter
        (``handle_async``). Running them on a private event loop per request would break async clients and locks
        bound to the application's loop.
        """
        step = self._prepare(request)
        if isinstance(step, HandlerResponse):
            return step
        if is_coroutine_callback(step.callback):
            return step.fail(TypeError(_coroutine_refused("a sync adapter", step.event.context.event_name)))
        try:
            result = step.callback(step.event)
            if inspect.isawaitable(result):
                if inspect.iscoroutine(result):
                    result.close()
                raise TypeError(_coroutine_refused("a sync adapter", step.event.context.event_name))
        except Exception as exc:
            return step.fail(exc)
        return step.complete(result)

    async def handle_async(self, request: HandlerRequest) -> HandlerResponse:
        """Answer one request in an event loop (what the ASGI, Starlette and aiohttp adapters call).

        Coroutine callbacks are awaited; plain callbacks run in a worker thread (``asyncio.to_thread``), so a
        blocking call in them does not stall the loop.
        """
        step = self._prepare(request)
        if isinstance(step, HandlerResponse):
            return step
        try:
            if is_coroutine_callback(step.callback):
                result = await step.callback(step.event)
            else:
                result = await asyncio.to_thread(step.callback, step.event)
                if inspect.isawaitable(result):
                    result = await result
        except Exception as exc:
            return step.fail(exc)
        return step.complete(result)

    def _prepare(self, request: HandlerRequest) -> Union[HandlerResponse, _Call]:
        """Every decision before user code runs: a final reply, or the callback to run and how to answer."""
        if not self.serves_path(request.path):
            return rejection_reply(404, "Not found.")
        kind = request_kind(request)
        if kind == "handshake":
            return handshake_response(request.headers.get("WebHook-Request-Origin"), self._allowed)
        if kind != "event":
            return rejection_reply(404, "Not found.")
        headers = request.headers
        try:
            check_single_valued(headers)
            if not headers.get("ce-connectionId"):
                raise BadRequestError("ce-connectionId is missing")
            hub = headers.get("ce-hub")
            if not hub or hub.lower() not in self.hubs:
                log.warning("event for hub %r refused with 400: this handler serves %s", hub, sorted(self.hubs))
                raise BadRequestError("This hub is not served here.")
        except BadRequestError as exc:
            return error_reply(exc)
        try:
            self._check_signature(request)
        except SignatureError as exc:
            return error_reply(exc)
        try:
            return self._route(request)
        except BadRequestError as exc:
            log.warning("malformed %s event refused with 400: %s", headers.get("ce-type"), exc.message)
            return error_reply(exc)

    def _check_signature(self, request: HandlerRequest) -> None:
        """Raise :class:`SignatureError` unless the request is signed with a configured key (or unsigned is allowed)."""
        if self.allow_unsigned:
            return
        headers = request.headers
        connection_id = headers.get("ce-connectionId") or ""
        ce_type = headers.get("ce-type")
        keys = self._keys.current()
        signature = ",".join(headers.get_all("ce-signature"))
        if not keys:
            log.error("no access key available (the key source returned none): %s event refused with 401", ce_type)
        elif not signature:
            log.warning("unsigned %s event for connection %r refused with 401", ce_type, connection_id)
        elif signature_matches(signature, connection_id, keys):
            return
        else:
            log.warning("%s event for connection %r: bad signature, refused with 401", ce_type, connection_id)
        raise SignatureError("Signature verification failed.")

    def _route(self, request: HandlerRequest) -> Union[HandlerResponse, _Call]:
        ce_type = request.headers.get("ce-type") or ""
        blocking = ce_type == _CONNECT or ce_type.startswith(_USER_PREFIX)
        context = ConnectionContext(request.headers, writable_state=blocking)
        log.debug(
            "%s event %r for connection %s (hub %s)", ce_type, context.event_name, context.connection_id, context.hub
        )
        body = request.body
        if ce_type == _CONNECT:
            connect = ConnectRequest(context, body)
            if self._connect is None:
                return connect_reply(None, connect)
            return _Call(self._connect, connect, lambda result: connect_reply(result, connect))
        if ce_type.startswith(_USER_PREFIX):
            event = UserEventRequest(context, body)
            callback = self._events.get(context.event_name.lower()) or self._events.get(_ANY_EVENT)
            if callback is None:
                log.warning("no callback for user event %r (hub %s): answered 204", context.event_name, context.hub)
                return HandlerResponse(204)
            return _Call(callback, event, lambda result: user_event_reply(result, context))
        simple: Dict[str, Any] = {
            _CONNECTED: (self._connected, ConnectedRequest),
            _DISCONNECTED: (self._disconnected, DisconnectedRequest),
            _JOINED: (self._joined, GroupJoinedRequest),
            _LEFT: (self._left, GroupLeftRequest),
        }
        if ce_type in simple:
            callback, kind = simple[ce_type]
            built = kind(context) if kind is ConnectedRequest else kind(context, body)
            if callback is None:
                return HandlerResponse(200)
            return _Call(callback, built, _idle_reply(200))
        unknown = UnknownEventRequest(context, body)
        if self._unknown is None:
            log.debug("unknown event type %r answered 204", ce_type)
            return HandlerResponse(204)
        return _Call(self._unknown, unknown, lambda result: user_event_reply(result, context))

    def __repr__(self) -> str:
        return f"WebPubSubEventHandler(hubs={sorted(self.hubs)!r}, path={self.path!r}, keys={self._keys!r})"


def _coroutine_refused(adapter: str, name: str) -> str:
    return (
        f"the {name!r} callback is a coroutine function, which {adapter} cannot run: serve the handler with an async "
        "adapter (asgi, starlette, aiohttp, or Django's async view) or make the callback a plain function"
    )
