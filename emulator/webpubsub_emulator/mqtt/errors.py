"""The MQTT layer's one error: input that ends the connection it came from.

A :class:`MqttError` is a kind of the emulator's :class:`~webpubsub_emulator.errors.BadRequest` (one error model for
the whole emulator); it adds ``reason_code``, the MQTT 5.0 reason code that names the problem (sent in a 5.0 CONNACK
or DISCONNECT, and mapped to 3.1.1 by the caller), and sets ``close_code``, the WebSocket close code the adapter
closes with, per error.
"""

from __future__ import annotations

from typing import Optional

from ..errors import BadRequest
from .codes import ReasonCode

__all__ = [
    "CLOSE_MESSAGE_TOO_BIG",
    "CLOSE_NORMAL",
    "CLOSE_POLICY",
    "CLOSE_PROTOCOL_ERROR",
    "CLOSE_UNSUPPORTED_DATA",
    "MqttError",
]

CLOSE_NORMAL = 1000
"""WebSocket close code after an orderly end (client DISCONNECT, REST close)."""
CLOSE_PROTOCOL_ERROR = 1002
"""WebSocket close code for malformed packets and protocol errors."""
CLOSE_UNSUPPORTED_DATA = 1003
"""WebSocket close code for a text frame (MQTT travels in binary frames only)."""
CLOSE_POLICY = 1008
"""WebSocket close code for a policy problem (a refused QoS 0 PUBLISH, a client that will not let us read)."""
CLOSE_MESSAGE_TOO_BIG = 1009
"""WebSocket close code for a packet over the size limit."""


class MqttError(BadRequest):
    """Input that breaks the MQTT contract; it closes that one connection and nothing else.

    :ivar reason_code: the MQTT 5.0 reason code (:class:`ReasonCode`): 0x81 malformed, 0x82 protocol error, 0x95 too
        large…
    :ivar close_code: the WebSocket close code the adapter closes with.
    :ivar version: the protocol level in force when it was raised (4 or 5), None before a CONNECT gave one.
    :ivar message: a short text, safe to log or put in a Reason String (it never echoes packet content).
    """

    def __init__(
        self,
        reason_code: int,
        message: str,
        *,
        close_code: int = CLOSE_PROTOCOL_ERROR,
        version: Optional[int] = None,
    ) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.close_code = close_code
        self.version = version

    @classmethod
    def malformed(cls, message: str, *, version: Optional[int] = None) -> MqttError:
        """A packet that cannot be parsed or breaks an encoding rule (5.0 reason code 0x81)."""
        return cls(ReasonCode.MALFORMED_PACKET, message, version=version)

    @classmethod
    def protocol_error(cls, message: str, *, version: Optional[int] = None) -> MqttError:
        """A well-formed packet that is not allowed here (5.0 reason code 0x82)."""
        return cls(ReasonCode.PROTOCOL_ERROR, message, version=version)

    @classmethod
    def too_large(cls, size: int, limit: int, *, version: Optional[int] = None) -> MqttError:
        """A packet over ``limit`` bytes (5.0 reason code 0x95, WebSocket 1009)."""
        return cls(
            ReasonCode.PACKET_TOO_LARGE,
            f"packet of {size} bytes exceeds the {limit}-byte limit",
            close_code=CLOSE_MESSAGE_TOO_BIG,
            version=version,
        )

    @property
    def is_malformed(self) -> bool:
        """True for a malformed packet (0x81), False for the other kinds."""
        return self.reason_code == ReasonCode.MALFORMED_PACKET

    def __repr__(self) -> str:
        return f"MqttError(0x{self.reason_code:02X}, {self.message!r}, close_code={self.close_code})"
