"""A chat on Azure Web PubSub: a FastAPI app that serves the page, mints client URLs and handles the service's events.

Run it against your Web PubSub resource (its hub's event handler pointing at this app, see README.md)::

    WEBPUBSUB_CONNECTION_STRING="Endpoint=https://<name>.webpubsub.azure.com;AccessKey=<key>;Version=1.0;" \\
        uvicorn --factory app:create_app --app-dir samples/chat --port 8000

or on this machine with the local emulator: ``make chat``.

How a browser takes part:

1. **Sign in.** The page posts ``{"name", "session"}`` to ``/negotiate`` (``session`` is a random id the tab made).
   The app checks the name and mints a client URL with the SDK whose token carries the name as the user id.
2. **Connect.** The page opens a WebSocket to that URL with the ``json.webpubsub.azure.v1`` subprotocol. Before the
   service accepts it, it asks this app (``connect`` event): the app refuses an empty or taken name, or gives the
   connection its user and no roles at all.
3. **Act.** Everything the page does is a user event: ``join`` and ``leave`` a room, ``message`` a room. The app
   checks it, then uses the SDK: rooms are Web PubSub groups, and only the server puts connections in them or sends
   to them. A broken rule is answered with ``{"kind": "error"}``, which the page shows (an error status would make
   the service close the connection).
4. **Presence.** ``connected`` and ``disconnected`` tell the app who comes and goes; it tells the rooms and everyone.

Every message the app sends a page is JSON with a ``kind``: ``presence``, ``room``, ``joined``, ``left``,
``message`` or ``error`` (and ``announcement``, from ``announce.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, Optional
from urllib.parse import urlencode

from azure.core.exceptions import HttpResponseError
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient
from azure.messaging.webpubsubservice.eventhandler import (
    BadRequestError,
    ConnectedRequest,
    ConnectRequest,
    ConnectResponse,
    DisconnectedRequest,
    ForbiddenError,
    InvalidPayloadError,
    UserEventRequest,
    WebPubSubEventHandler,
)
from azure.messaging.webpubsubservice.eventhandler.starlette import add_routes
from chat import Chat, ChatError, Member, check_name, check_room, check_session, check_text
from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

__all__ = ["REPLACED", "SUBPROTOCOL", "ChatServer", "SignIn", "create_app"]

SUBPROTOCOL = "json.webpubsub.azure.v1"
#: The close reason for an older connection of a tab that connected again; the page does not reconnect after it.
REPLACED = "Replaced: this tab connected again."
#: The close reason for a connection the app does not know (it restarted): the page reconnects and starts afresh.
UNKNOWN = "Please reconnect: the chat server does not know this connection."
STATIC = Path(__file__).resolve().parent / "static"
log = logging.getLogger("chat")

Reply = Optional[Dict[str, Any]]
UserEvent = Callable[["ChatServer", Member, Dict[str, Any]], Awaitable[Reply]]
UserEventCallback = Callable[["ChatServer", UserEventRequest], Awaitable[Reply]]


def taken(name: str) -> str:
    return f'The name "{name}" is taken. Pick another one.'


class SignIn(BaseModel):
    """What the page posts to ``/negotiate``."""

    name: str = ""
    session: str = ""


def user_event(handler: UserEvent) -> UserEventCallback:
    """Make an event callback out of ``handler(server, sender, data)``.

    - The sender must be a connection the app knows. One it does not know (the app restarted since it connected) is
      closed, and the page reconnects: its new ``connect`` tells the app who it is again.
    - The payload must be a JSON object.
    - A broken rule is answered with an ``error`` message for the page, never with an error status: a failed user
      event makes the service close the client's connection.
    """

    @functools.wraps(handler)
    async def callback(server: ChatServer, request: UserEventRequest) -> Reply:
        context = request.context
        sender = server.chat.member(context.connection_id)
        try:
            if sender is None:
                await server.service.close_connection(context.connection_id, reason=UNKNOWN)
                return None
            return await handler(server, sender, event_data(request))
        except ChatError as exc:
            return {"kind": "error", "text": str(exc)}
        except HttpResponseError as exc:
            log.warning("%s of %s: the service refused: %s", context.event_name, context.user_id, exc)
            return {"kind": "error", "text": "The service did not accept that. Try again."}

    return callback


def event_data(request: UserEventRequest) -> Dict[str, Any]:
    """The event's payload, which must be a JSON object."""
    try:
        data = request.json()
    except InvalidPayloadError:
        data = None
    if not isinstance(data, dict):
        raise ChatError(f"The {request.context.event_name} event takes a JSON object.")
    return data


class ChatServer:
    """The chat's endpoints and event callbacks: decisions come from :class:`chat.Chat`, IO goes through the SDK.

    :param service: The SDK client for the chat's hub.
    """

    def __init__(self, service: WebPubSubServiceClient) -> None:
        self.service = service
        self.chat = Chat()
        self._names_lock: Optional[asyncio.Lock] = None

    @property
    def _names(self) -> asyncio.Lock:
        """One name decision at a time, as each may wait for the service. (Made on first use, in the server's event
        loop: Python 3.9 ties a lock to the loop current when it is created.)
        """
        if self._names_lock is None:
            self._names_lock = asyncio.Lock()
        return self._names_lock

    async def _taken(self, name: str, session: str) -> bool:
        """Whether another tab holds ``name``. The app's memory can be stale (a ``disconnected`` event is sent only
        once, and may be lost), so before calling a name taken the app asks the service whether the holder's
        connection still exists.
        """
        holder = self.chat.holder(name)
        if holder is None or holder.session == session:
            return False
        return bool(await self.service.connection_exists(holder.connection_id))

    # --- HTTP ------------------------------------------------------------------------------------------------------

    async def negotiate(self, sign_in: SignIn) -> Dict[str, str]:
        """``POST /negotiate``: the URL the page connects to, or 400/409 with the reason in ``detail``.

        The browser cannot read why a WebSocket handshake failed, so the page learns about a bad or taken name here.
        ``connect`` checks again: that is the check that counts.
        """
        try:
            name, session = check_name(sign_in.name), check_session(sign_in.session)
        except ChatError as exc:
            raise HTTPException(400, str(exc)) from None
        async with self._names:
            if await self._taken(name, session):
                raise HTTPException(409, taken(name))
        token = await self.service.get_client_access_token(user_id=name, minutes_to_expire=5)
        return {"url": f"{token['url']}&{urlencode({'session': session})}"}

    # --- system events ---------------------------------------------------------------------------------------------

    async def connect(self, request: ConnectRequest) -> ConnectResponse:
        """Decide who the connection is: the name its token carries, unless that is empty or another tab has it."""
        if SUBPROTOCOL not in request.subprotocols:
            raise BadRequestError(f"This chat speaks the {SUBPROTOCOL} subprotocol.")
        try:
            name = check_name(request.context.user_id)
            session = check_session(request.query.first("session"))
        except ChatError as exc:
            raise BadRequestError(str(exc)) from None
        async with self._names:
            if await self._taken(name, session):
                raise ForbiddenError(taken(name))
            previous = self.chat.claim(name, session, request.context.connection_id)
        if previous is not None:
            await self._tell_rooms_left(previous)
        # No roles: the client cannot join a group or send to one by itself; every room action goes through us.
        return ConnectResponse(user_id=name, roles=[], subprotocol=SUBPROTOCOL)

    async def connected(self, request: ConnectedRequest) -> None:
        connection_id = request.context.connection_id
        member = self.chat.connected(connection_id)
        if member is None:
            name = request.context.user_id or ""
            # another connection took the name while this one was connecting, or the app restarted meanwhile
            reason = taken(name) if self.chat.holder(name) else UNKNOWN
            await self.service.close_connection(connection_id, reason=reason)
            return
        for older in member.replaces:  # the same tab's previous connection, if the service still has it
            await self.service.close_connection(older, reason=REPLACED)
        member.replaces.clear()
        await self.service.send_to_all(self.chat.online())

    async def disconnected(self, request: DisconnectedRequest) -> None:
        member = self.chat.disconnected(request.context.connection_id)
        if member is not None:
            await self._tell_rooms_left(member)
            await self.service.send_to_all(self.chat.online())

    async def _tell_rooms_left(self, member: Member) -> None:
        for room in sorted(member.rooms):
            await self.service.send_to_group(room, self.chat.room(room, kind="left", user=member.name))

    # --- user events -----------------------------------------------------------------------------------------------

    @user_event
    async def join(self, sender: Member, data: Dict[str, Any]) -> Reply:
        """``join`` ``{"room"}``: into the room's group; the room hears who joined; the reply is the room's state."""
        room = check_room(data.get("room"))
        if room not in sender.rooms:
            await self.service.add_connection_to_group(room, sender.connection_id)
            self.chat.join(sender.connection_id, room)
            joined = self.chat.room(room, kind="joined", user=sender.name)
            await self.service.send_to_group(room, joined, excluded=[sender.connection_id])
        return self.chat.room(room, history=self.chat.history(room))

    @user_event
    async def leave(self, sender: Member, data: Dict[str, Any]) -> Reply:
        """``leave`` ``{"room"}``: out of the room's group; the room hears who left; the reply confirms it."""
        room = check_room(data.get("room"))
        if room in sender.rooms:
            await self.service.remove_connection_from_group(room, sender.connection_id)
            self.chat.leave(sender.connection_id, room)
            await self.service.send_to_group(room, self.chat.room(room, kind="left", user=sender.name))
        return self.chat.room(room, kind="left", user=sender.name)

    @user_event
    async def message(self, sender: Member, data: Dict[str, Any]) -> Reply:
        """``message`` ``{"room", "text"}``: checked, then sent to the room's group (the sender gets it there too)."""
        message = self.chat.post(sender.connection_id, check_room(data.get("room")), check_text(data.get("text")))
        await self.service.send_to_group(message.room, message.to_json())
        return None


def create_app(connection_string: Optional[str] = None, hub: Optional[str] = None) -> FastAPI:
    """The chat as an ASGI app.

    :param connection_string: The Web PubSub resource's connection string; default ``WEBPUBSUB_CONNECTION_STRING``.
    :param hub: The hub; default ``WEBPUBSUB_HUB``, else ``chat``.
    :raises RuntimeError: If there is no connection string.
    """
    connection_string = connection_string or os.environ.get("WEBPUBSUB_CONNECTION_STRING")
    if not connection_string:
        raise RuntimeError(
            "Set WEBPUBSUB_CONNECTION_STRING to the connection string of your Web PubSub resource "
            "(or run `make chat` to use the local emulator)."
        )
    hub = hub or os.environ.get("WEBPUBSUB_HUB") or "chat"
    service = WebPubSubServiceClient.from_connection_string(connection_string, hub=hub)
    server = ChatServer(service)

    # The handler checks every event's signature with the connection string's key, and answers the service's
    # abuse-protection handshake for that endpoint's host. It serves /eventhandler and every path below it.
    handler = WebPubSubEventHandler(hub, connection_string=connection_string)
    handler.on_connect(server.connect)
    handler.on_connected(server.connected)
    handler.on_disconnected(server.disconnected)
    handler.on_event("join")(server.join)
    handler.on_event("leave")(server.leave)
    handler.on_event("message")(server.message)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service:  # closes the SDK client's connections when the server stops
            yield

    app = FastAPI(title="Web PubSub chat", lifespan=lifespan)
    app.state.chat_server = server
    app.post("/negotiate")(server.negotiate)
    add_routes(app, handler)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    return app
