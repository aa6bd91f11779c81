"""The chat app's event handler, the same for every framework: only the wiring differs between the samples.

- ``connect``: clients show a ticket in the URL (``?ticket=...``); the handler looks it up, names the user and puts
  them in the ``lobby`` group with the right to send there. An unknown ticket is refused with 401.
- ``chat`` (a user event): the handler counts the user's messages in the connection state, broadcasts the text to
  the lobby with the server SDK, and answers the sender with its count.
- ``disconnected``: the handler reports how many messages the user sent (the state came back with the event).
"""

from __future__ import annotations

import queue
from typing import Any, Optional

from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice.eventhandler import (
    ConnectRequest,
    ConnectResponse,
    DisconnectedRequest,
    UnauthorizedError,
    UserEventRequest,
    WebPubSubEventHandler,
)

HUB = "chat"
TICKETS = {"t-alice": "alice", "t-bob": "bob"}  # in a real app: your session store or identity provider


class ChatApp:
    """Holds the handler and the SDK client it broadcasts with (set once the service is known)."""

    def __init__(self, access_key: str) -> None:
        self.service: Optional[WebPubSubServiceClient] = None
        self.goodbyes: queue.Queue[str] = queue.Queue()  # what disconnected reported, for the demo to print
        # allowed_endpoints: the service host that may send us events (ports are ignored).
        handler = WebPubSubEventHandler(HUB, access_key=access_key, allowed_endpoints=["http://127.0.0.1"])
        handler.on_connect(self.connect)
        handler.on_event("chat")(self.chat)
        handler.on_disconnected(self.disconnected)
        self.handler = handler

    def connect(self, request: ConnectRequest) -> ConnectResponse:
        user = TICKETS.get(request.query.first("ticket") or "")
        if user is None:
            raise UnauthorizedError("unknown ticket")  # the client's handshake fails with 401 and this text
        request.context.state["sent"] = 0
        offered = [p for p in request.subprotocols if p.startswith("json.")]
        return ConnectResponse(
            user_id=user,
            groups=["lobby"],
            roles=["webpubsub.sendToGroup.lobby"],
            subprotocol=offered[0] if offered else None,
        )

    def chat(self, request: UserEventRequest) -> Any:
        state = request.context.state
        state["sent"] += 1
        assert self.service is not None
        self.service.send_to_group("lobby", {"from": request.context.user_id, "text": request.text})
        return {"ok": True, "sent": state["sent"]}  # a dict goes back to the sender as JSON

    def disconnected(self, request: DisconnectedRequest) -> None:
        sent = request.context.state.get("sent", 0)
        self.goodbyes.put(f"{request.context.user_id} left after sending {sent} message(s)")
