"""Raw WebSocket clients (no supported subprotocol): every frame is a message, no system messages, no acks.

In the default ``sendEvent`` mode each frame becomes the upstream user event ``message`` (a text frame as
``text/plain``, a binary one as ``application/octet-stream``); a 200 reply body comes back as a text or binary frame.
With no handler for the hub, or when it fails, the connection is closed with 1011. In ``sendToGroup`` mode
(``webpubsub_mode=sendToGroup&group=<g>[&noEcho=true]``) every frame is published to the group when the connection
has the permission (checked per frame; a frame without it is dropped and logged). A raw client receives a message as
its raw frame: text as a text frame, JSON as its text, binary as a binary frame.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, NamedTuple, Optional, Union

from .clients import ClientContext, ClientProtocol, FrameOutcome, answer_ok
from .errors import Forbidden, UpstreamError
from .limits import check_frame_size
from .protocol import Payload
from .upstream_contract import UpstreamResponse, UserEvent, raw_reply

if TYPE_CHECKING:
    from .outbox import Delivery, Outbound
    from .session import Session

__all__ = ["RAW", "SEND_EVENT", "RawClients", "RawMode"]

log = logging.getLogger(__name__)


class RawMode(NamedTuple):
    """What a raw client's frames do: ``sendEvent`` (user events), or ``sendToGroup`` to ``group``."""

    mode: str
    group: Optional[str] = None
    no_echo: bool = False


#: The default mode.
SEND_EVENT = RawMode("sendEvent")


class RawClients(ClientProtocol):
    """The raw client protocol (:attr:`~.session.Session.kind_state` is its :class:`RawMode`)."""

    name = "raw"

    def on_open(self, session: Session) -> None:
        """A raw session starts in ``sendEvent`` mode unless the handshake chose another."""
        if session.kind_state is None:
            session.kind_state = SEND_EVENT

    def render(self, session: Session, delivery: Delivery) -> Outbound:
        """The raw frame, shared by every raw recipient."""
        return delivery.raw

    def on_frame(self, ctx: ClientContext, session: Session, data: Union[str, bytes]) -> FrameOutcome:
        """Publish the frame to the mode's group, or make it the user event ``message``."""
        check_frame_size(data)
        mode: RawMode = session.kind_state
        if mode.mode == "sendToGroup" and mode.group is not None:
            group = mode.group
            payload = Payload.text(data) if isinstance(data, str) else Payload.binary(data)
            try:
                ctx.core.client_send_to_group(session, group, payload, no_echo=mode.no_echo)
            except Forbidden:  # a raw client has no ack to carry the refusal
                log.info("connection %s has no permission to send to %r; frame dropped", session.connection_id, group)
            return None
        if session.upstream is None or ctx.handlers.find(session.hub, user_event="message") is None:
            log.info("connection %s: no event handler is configured for hub %s", session.connection_id, session.hub)
            raise UpstreamError("No event handler is configured for this hub.")
        if isinstance(data, str):
            return UserEvent("message", data.encode("utf-8"), "text/plain; charset=utf-8")
        return UserEvent("message", data, "application/octet-stream")

    def after_event(
        self, ctx: ClientContext, session: Session, request: UserEvent, answer: Optional[UpstreamResponse]
    ) -> Optional[str]:
        """A failed ``message`` event drops the connection (1011); a 200 body goes back to the client."""
        if not answer_ok(session, request, answer):
            raise UpstreamError("The upstream event handler failed.")
        assert answer is not None
        reply = raw_reply(answer)
        if reply is not None:
            ctx.core.deliver([session], reply)
        return None


#: The raw client protocol.
RAW = RawClients()
