"""MQTT 3.1.1 and 5.0 for the emulator, free of IO: the codec, the reassembly buffer, the protocol decisions and the
session state machine. The WebSocket adapter feeds frames in and carries packets out.
"""

from __future__ import annotations

from .codec import decode, decode_packet, encode
from .codes import MQTT_5, MQTT_311, ConnackReturnCode, PacketType, ReasonCode
from .errors import MqttError
from .framing import MAX_PACKET_SIZE, PacketBuffer
from .packets import (
    Auth,
    Connack,
    Connect,
    Disconnect,
    Packet,
    Pingreq,
    Pingresp,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    Subscription,
    Unsuback,
    Unsubscribe,
    Will,
)
from .properties import Properties

__all__ = [
    "MAX_PACKET_SIZE",
    "MQTT_5",
    "MQTT_311",
    "Auth",
    "Connack",
    "ConnackReturnCode",
    "Connect",
    "Disconnect",
    "MqttError",
    "Packet",
    "PacketBuffer",
    "PacketType",
    "Pingreq",
    "Pingresp",
    "Properties",
    "Puback",
    "Pubcomp",
    "Publish",
    "Pubrec",
    "Pubrel",
    "ReasonCode",
    "Suback",
    "Subscribe",
    "Subscription",
    "Unsuback",
    "Unsubscribe",
    "Will",
    "decode",
    "decode_packet",
    "encode",
]
