"""Messages across protocols (mqtt.md §7): what Core hands an MQTT session, and the Web PubSub ↔ MQTT mappings.

* Into MQTT: a :class:`~webpubsub_emulator.protocol.Payload` (REST, JSON or raw sends) becomes a :class:`Message`
  with the 5.0 Content Type of its data type; a TTL becomes an expiry deadline, sent as the seconds left.
* Out of MQTT: a PUBLISH's Content Type picks the data type Web PubSub receivers get (:func:`payload_for`); its
  Message Expiry Interval is their TTL, 0 counting as 1 s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

from ..protocol import Payload
from .packets import Publish
from .properties import Properties

__all__ = ["CONTENT_TYPES", "Message", "expiry_interval", "payload_for", "ttl_seconds"]

CONTENT_TYPES: Dict[str, str] = {
    "text": "text/plain",
    "json": "application/json",
    "binary": "application/octet-stream",
}
"""Web PubSub data type -> the 5.0 Content Type its messages carry into MQTT (no charset)."""

# Content Type (media type, lowercased) -> the data type Web PubSub receivers get; anything else is binary.
_DATA_TYPES: Dict[str, str] = {"text/plain": "text", "application/json": "json"}


@dataclass(frozen=True)
class Message:
    """One message on its way to MQTT sessions.

    :ivar qos: the highest QoS it may be delivered at (the session lowers it to the subscription's).
    :ivar expires_at: clock time after which queued copies are dropped; None = never.
    :ivar sender: the client id of the MQTT session that published it (for No Local), else None.
    """

    topic: str
    payload: bytes
    qos: int = 1
    expires_at: Optional[float] = None
    content_type: Optional[str] = None
    payload_format_indicator: Optional[int] = None
    response_topic: Optional[str] = None
    correlation_data: Optional[bytes] = None
    user_properties: Tuple[Tuple[str, str], ...] = field(default=())
    sender: Optional[str] = None

    def web_payload(self) -> Payload:
        """The payload Web PubSub receivers get (:func:`payload_for`)."""
        return payload_for(self.payload, self.content_type)

    @classmethod
    def from_payload(
        cls, topic: str, payload: Payload, *, qos: int = 1, ttl: Optional[float] = None, now: float = 0.0
    ) -> Message:
        """A Web PubSub payload (REST or JSON/raw client send) for ``topic``; ``ttl`` in seconds, None = none."""
        raw = payload.raw.encode("utf-8") if isinstance(payload.raw, str) else payload.raw
        expires_at = now + ttl if ttl else None
        return cls(topic, raw, qos, expires_at, CONTENT_TYPES[payload.data_type])

    @classmethod
    def from_publish(cls, publish: Publish, *, sender: Optional[str], now: float) -> Message:
        """A client's PUBLISH (or will), all its message properties kept; the expiry becomes a deadline."""
        props = publish.properties
        interval = props.message_expiry_interval
        return cls(
            publish.topic,
            publish.payload,
            publish.qos,
            None if interval is None else now + interval,
            props.content_type,
            props.payload_format_indicator,
            props.response_topic,
            props.correlation_data,
            tuple(props.user_properties),
            sender,
        )

    def expired(self, now: float) -> bool:
        """True once the deadline has passed."""
        return self.expires_at is not None and now >= self.expires_at

    def to_publish(
        self, *, qos: int, packet_id: Optional[int], now: float, subscription_id: Optional[int] = None
    ) -> Publish:
        """The PUBLISH that carries it (unretained, DUP 0); the expiry is the time left, rounded up."""
        props = Properties(
            payload_format_indicator=self.payload_format_indicator,
            message_expiry_interval=expiry_interval(self.expires_at, now),
            content_type=self.content_type,
            response_topic=self.response_topic,
            correlation_data=self.correlation_data,
            user_properties=list(self.user_properties),
            subscription_identifiers=[] if subscription_id is None else [subscription_id],
        )
        return Publish(self.topic, self.payload, qos, packet_id=packet_id, properties=props)


def expiry_interval(expires_at: Optional[float], now: float) -> Optional[int]:
    """The 5.0 Message Expiry Interval for a deadline: seconds left rounded up (at least 1), None for none."""
    if expires_at is None:
        return None
    return max(1, math.ceil(expires_at - now))


def ttl_seconds(message: Message, now: float) -> Optional[int]:
    """The Web PubSub TTL of an MQTT message: the seconds left of its expiry (0 counting as 1 s); None for none."""
    return expiry_interval(message.expires_at, now)


def payload_for(payload: bytes, content_type: Optional[str]) -> Payload:
    """The payload Web PubSub (JSON and raw) receivers get, by the 5.0 Content Type's media type.

    ``text/plain`` → text and ``application/json`` → json when the bytes are valid UTF-8 / JSON; everything else
    (no Content Type, all of 3.1.1, other types, or bytes that do not fit) → binary, bytes intact.
    """
    media = content_type.split(";", 1)[0].strip().lower() if content_type else ""
    data_type = _DATA_TYPES.get(media)
    if data_type is not None:
        try:
            text = payload.decode("utf-8")
            return Payload.text(text) if data_type == "text" else Payload.json_text(text)
        except ValueError:  # UnicodeDecodeError and JSON errors alike
            pass
    return Payload.binary(payload)
