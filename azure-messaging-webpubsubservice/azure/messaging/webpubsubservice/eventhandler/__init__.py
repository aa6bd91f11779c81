# --------------------------------------------------------------------------
# Copyright (c) the azure-messaging-webpubsubservice reimplementation authors.
# Licensed under the MIT License; see the LICENSE file at the root of the repository.
# --------------------------------------------------------------------------
"""Receive Azure Web PubSub's events in a Python web app: connect, user events, connected, disconnected.

The core is sans-IO and uses only the standard library: :meth:`WebPubSubEventHandler.handle` takes a
:class:`HandlerRequest` and returns a :class:`HandlerResponse`. Adapters translate for a server or framework and
import it only when used: ``eventhandler.asgi``, ``eventhandler.wsgi``, ``eventhandler.starlette`` (also FastAPI),
``eventhandler.flask``, ``eventhandler.django`` and ``eventhandler.aiohttp``. ``eventhandler.testing`` signs and
builds requests for unit tests.

.. code-block:: python

    from azure.messaging.webpubsubservice.eventhandler import ConnectResponse, WebPubSubEventHandler

    handler = WebPubSubEventHandler("chat", connection_string=CONNECTION_STRING)


    @handler.on_connect
    def connect(request):
        return ConnectResponse(user_id=request.query.first("name"), groups=["lobby"])


    @handler.on_event("message")
    def message(request):
        return f"you said {request.text}"
"""

from ._errors import (
    BadRequestError,
    EventHandlerError,
    EventRejectedError,
    ForbiddenError,
    SignatureError,
    UnauthorizedError,
)
from ._events import (
    ClientCertificate,
    ConnectedRequest,
    ConnectionContext,
    ConnectRequest,
    DisconnectedRequest,
    GroupJoinedRequest,
    GroupLeftRequest,
    InvalidPayloadError,
    Query,
    UnknownEventRequest,
    UserEventRequest,
)
from ._handler import WebPubSubEventHandler
from ._handshake import ANY_ORIGIN
from ._http import HandlerRequest, HandlerResponse, Headers
from ._mqtt import MqttConnectProperties, MqttDisconnectPacket, MqttDisconnectProperties, MqttUserProperty
from ._replies import ConnectResponse, UserEventResponse
from ._signature import compute_signature
from ._state import ConnectionState

__all__ = [
    "ANY_ORIGIN",
    "BadRequestError",
    "ClientCertificate",
    "ConnectRequest",
    "ConnectResponse",
    "ConnectedRequest",
    "ConnectionContext",
    "ConnectionState",
    "DisconnectedRequest",
    "EventHandlerError",
    "EventRejectedError",
    "ForbiddenError",
    "GroupJoinedRequest",
    "GroupLeftRequest",
    "HandlerRequest",
    "HandlerResponse",
    "Headers",
    "InvalidPayloadError",
    "MqttConnectProperties",
    "MqttDisconnectPacket",
    "MqttDisconnectProperties",
    "MqttUserProperty",
    "Query",
    "SignatureError",
    "UnauthorizedError",
    "UnknownEventRequest",
    "UserEventRequest",
    "UserEventResponse",
    "WebPubSubEventHandler",
    "compute_signature",
]
