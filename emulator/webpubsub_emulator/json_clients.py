"""The ``json.webpubsub.azure.v1`` rules: a client's request in, an ack or an upstream event out.

The wire format (parsing frames, building messages) is :mod:`.protocol`; this module decides what a request does:

- a frame over the size limit, a binary frame that is not UTF-8, or a malformed message ends the connection
  (``disconnected``, then 1009 or 1007 with the reason);
- ``ping`` is answered with ``pong``; ``sequenceAck`` only means something on the reliable subprotocol; unknown message
  types are logged and ignored;
- ``joinGroup``, ``leaveGroup`` and ``sendToGroup`` are applied at once and acked (``Forbidden`` without the
  permission, ``BadRequest`` for invalid values, ``Duplicate`` for an ackId already processed successfully);
- ``event`` goes to the hub's handler (without one it is acked ``InternalServerError`` and the connection stays); the
  answer's 200 body comes back as a ``from:"server"`` message, then the ack. A failed handler closes the connection
  (error ack, ``disconnected``, 1011), or with ``close_on_event_failure`` off only acks the error.

An ack is returned as its frame for the adapter to send (it holds acks back a little: see ``ack_delay``), except the
ack before a close, which is queued at once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Optional, Union

from . import limits
from .clients import ClientContext, ClientProtocol, FrameOutcome, answer_ok
from .errors import BadRequest, EmulatorError, UpstreamError
from .limits import check_frame_size
from .protocol import (
    JSON_PROTOCOL,
    ClientRequest,
    MalformedMessage,
    ack_message,
    connected_message,
    disconnected_message,
    dumps,
    parse_client_message,
)
from .upstream_contract import UpstreamResponse, UserEvent, json_reply, user_event_of
from .validation import validate_group

if TYPE_CHECKING:
    from .outbox import Control, Delivery, Outbound
    from .session import Session

__all__ = ["JSON", "REQUEST_TYPES", "JsonClients", "duplicate_ack", "settle"]

log = logging.getLogger(__name__)

#: The requests that may carry an ackId (and are acked).
REQUEST_TYPES = frozenset({"joinGroup", "leaveGroup", "sendToGroup", "event"})
_PONG = dumps({"type": "pong"})
_EVENT_FAILED = "The upstream event handler failed."


def settle(session: Session, ack_id: Optional[int], error: Optional[EmulatorError] = None) -> Optional[str]:
    """Record a request's outcome (a success marks its ackId processed: the newest ``limits.MAX_REMEMBERED_ACK_IDS``
    are remembered) and return its ack frame.

    None when the request carried no ackId (fire-and-forget: errors are never reported).
    """
    if ack_id is None:
        return None
    if error is None:
        remembered = session.processed_ack_ids
        if remembered is None:
            remembered = session.processed_ack_ids = {}
        remembered[ack_id] = None
        if len(remembered) > limits.MAX_REMEMBERED_ACK_IDS:  # only the newest are remembered: memory stays bounded
            del remembered[next(iter(remembered))]
        return ack_message(ack_id)
    return ack_message(ack_id, (error.code, error.message))


def duplicate_ack(session: Session, ack_id: Optional[int]) -> Optional[str]:
    """The ``Duplicate`` ack frame when the ackId was already processed successfully on this session, else None."""
    if ack_id is None or session.processed_ack_ids is None or ack_id not in session.processed_ack_ids:
        return None
    return ack_message(ack_id, ("Duplicate", f"Message with ack-id: {ack_id} has been processed"))


class JsonClients(ClientProtocol):
    """The JSON client protocol: system messages, acks, messages as JSON text."""

    name = JSON_PROTOCOL

    def greeting(self, session: Session) -> Optional[Control]:
        """``connected`` (always with a ``userId`` key; the reconnection token on the reliable subprotocol)."""
        return connected_message(session.connection_id, session.user_id, session.reconnection_token)

    def farewell(self, reason: str) -> Optional[Control]:
        """``disconnected`` with the reason."""
        return disconnected_message(reason)

    def render(self, session: Session, delivery: Delivery) -> Outbound:
        """The message's JSON text, shared by every JSON recipient."""
        return delivery.json_text()

    def on_frame(self, ctx: ClientContext, session: Session, data: Union[str, bytes]) -> FrameOutcome:
        """Parse one frame and apply the request."""
        check_frame_size(data)
        if isinstance(data, bytes):
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError:
                raise MalformedMessage("A binary frame must hold UTF-8 JSON.") from None
        try:
            request = parse_client_message(data)
        except MalformedMessage as exc:
            raise MalformedMessage(f"Invalid message: {exc}.") from None
        return self.on_request(ctx, session, request)

    def sequence_ack(self, session: Session, sequence_id: int) -> None:
        """``sequenceAck`` outside the reliable subprotocol: ignored."""
        log.info("connection %s: sequenceAck ignored on a non-reliable connection", session.connection_id)

    def on_request(self, ctx: ClientContext, session: Session, request: ClientRequest) -> FrameOutcome:
        """Apply one parsed request."""
        kind = request.type
        if kind == "ping":
            ctx.core.send_control(session, _PONG)
            return None
        if kind == "sequenceAck":
            assert request.sequence_id is not None
            self.sequence_ack(session, request.sequence_id)
            return None
        if kind not in REQUEST_TYPES:
            log.info("connection %s: unknown message type %r ignored", session.connection_id, kind[:64])
            return None
        duplicate = duplicate_ack(session, request.ack_id)
        if duplicate is not None:
            return duplicate
        try:
            if request.bad_request is not None:
                raise BadRequest(request.bad_request)
            group = request.group
            if group is not None:
                validate_group(group)
            if kind == "joinGroup":
                assert group is not None
                ctx.core.client_join(session, group)
            elif kind == "leaveGroup":
                assert group is not None
                ctx.core.client_leave(session, group)
            elif kind == "sendToGroup":
                assert group is not None and request.payload is not None
                ctx.core.client_send_to_group(
                    session,
                    group,
                    request.payload,
                    no_echo=request.no_echo,
                    ttl_seconds=request.ttl_seconds,
                    metadata=request.metadata,
                )
            else:
                return self._event(ctx, session, request)
        except EmulatorError as exc:
            return settle(session, request.ack_id, exc)
        return settle(session, request.ack_id)

    @staticmethod
    def _event(ctx: ClientContext, session: Session, request: ClientRequest) -> FrameOutcome:
        event = request.event or ""
        if session.upstream is None or ctx.handlers.find(session.hub, user_event=event) is None:
            log.info("connection %s: event %r dropped, no event handler is configured", session.connection_id, event)
            raise UpstreamError(f"No event handler is configured for hub '{session.hub}'.")
        assert request.payload is not None
        return user_event_of(event, request.payload, request.metadata, request.ack_id)

    def after_event(
        self, ctx: ClientContext, session: Session, request: UserEvent, answer: Optional[UpstreamResponse]
    ) -> Optional[str]:
        """The answer's 200 body goes back as a server message, then the ack; a failure acks the error (and closes)."""
        if not answer_ok(session, request, answer):
            failure = UpstreamError(_EVENT_FAILED)
            if ctx.close_on_event_failure:
                ack = settle(session, request.ack_id, failure)
                if ack is not None:
                    ctx.core.send_control(session, ack)  # before the close: not held back
                raise failure
            return settle(session, request.ack_id, failure)
        assert answer is not None
        reply = json_reply(answer)
        if reply is not None:
            ctx.core.deliver([session], reply)
        return settle(session, request.ack_id)


#: The ``json.webpubsub.azure.v1`` client protocol.
JSON = JsonClients()
