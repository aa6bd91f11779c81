# --------------------------------------------------------------------------
# Copyright (c) the azure-messaging-webpubsubservice reimplementation authors.
# Licensed under the MIT License; see the LICENSE file at the root of the repository.
# --------------------------------------------------------------------------
"""MQTT specifics of the events: the ``mqtt`` fields of connect and disconnected, and the CONNACK code of a refusal.

A request is an MQTT one when it carries ``ce-physicalConnectionId``. Protocol version 4 is MQTT 3.1.1, 5 is MQTT 5.0.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from ._errors import BadRequestError

__all__ = [
    "MqttConnectProperties",
    "MqttDisconnectPacket",
    "MqttDisconnectProperties",
    "MqttUserProperty",
    "mqtt_failure_code",
]

log = logging.getLogger("azure.messaging.webpubsubservice.eventhandler")

MQTT_311 = 4
MQTT_5 = 5


@dataclass(frozen=True)
class MqttUserProperty:
    """One MQTT 5 user property."""

    name: str
    value: str


def user_properties(value: Any, where: str) -> List[MqttUserProperty]:
    """Parse ``[{"name", "value"}, ...]`` (None → empty); raise :class:`BadRequestError` on anything else."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequestError(f"{where} must be a list")
    found = []
    for item in value:
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("name"), str)
            or not isinstance(item.get("value"), str)
        ):
            raise BadRequestError(f"{where} entries must have a string name and value")
        found.append(MqttUserProperty(item["name"], item["value"]))
    return found


def user_properties_json(pairs: List[Tuple[str, str]]) -> List[Dict[str, str]]:
    """``[{"name": ..., "value": ...}]`` for a reply."""
    return [{"name": name, "value": value} for name, value in pairs]


@dataclass(frozen=True)
class MqttConnectProperties:
    """The ``mqtt`` part of an MQTT client's ``connect`` (the CONNECT packet).

    :ivar protocol_version: 4 (MQTT 3.1.1) or 5 (MQTT 5.0).
    :ivar username: The user name, or None.
    :ivar password: The password bytes, or None (never shown by ``repr``).
    :ivar user_properties: The CONNECT user properties (MQTT 5).
    """

    protocol_version: int
    username: Optional[str] = None
    password: Optional[bytes] = field(default=None, repr=False)
    user_properties: List[MqttUserProperty] = field(default_factory=list)

    @classmethod
    def from_json(cls, value: Any) -> MqttConnectProperties:
        """Parse the ``mqtt`` object of a connect body."""
        if not isinstance(value, dict):
            raise BadRequestError("connect 'mqtt' must be an object")
        version = value.get("protocolVersion")
        if not isinstance(version, int) or isinstance(version, bool):
            raise BadRequestError("connect 'mqtt.protocolVersion' must be an integer")
        username = value.get("username")
        if username is not None and not isinstance(username, str):
            raise BadRequestError("connect 'mqtt.username' must be a string")
        password = value.get("password")
        decoded: Optional[bytes] = None
        if password is not None:
            if not isinstance(password, str):
                raise BadRequestError("connect 'mqtt.password' must be a base64 string")
            try:
                decoded = base64.b64decode(password, validate=True)
            except (binascii.Error, ValueError):
                raise BadRequestError("connect 'mqtt.password' is not valid base64") from None
        return cls(version, username, decoded, user_properties(value.get("userProperties"), "mqtt.userProperties"))


@dataclass(frozen=True)
class MqttDisconnectPacket:
    """The DISCONNECT packet a client sent: its reason ``code`` (0 for MQTT 3.1.1) and user properties."""

    code: int
    user_properties: List[MqttUserProperty] = field(default_factory=list)


@dataclass(frozen=True)
class MqttDisconnectProperties:
    """The ``mqtt`` part of ``disconnected``.

    :ivar initiated_by_client: True when the client ended the session.
    :ivar disconnect_packet: The client's DISCONNECT packet, or None when the link just dropped.
    """

    initiated_by_client: bool
    disconnect_packet: Optional[MqttDisconnectPacket] = None

    @classmethod
    def from_json(cls, value: Any) -> MqttDisconnectProperties:
        """Parse the ``mqtt`` object of a disconnected body (leniently: it is only informative)."""
        if not isinstance(value, dict):
            return cls(False)
        packet = value.get("disconnectPacket")
        parsed = None
        if isinstance(packet, dict) and isinstance(packet.get("code"), int):
            try:
                props = user_properties(packet.get("userProperties"), "disconnectPacket.userProperties")
            except BadRequestError:
                props = []
            parsed = MqttDisconnectPacket(packet["code"], props)
        return cls(bool(value.get("initiatedByClient")), parsed)


def mqtt_failure_code(status: int, protocol_version: Optional[int]) -> int:
    """The CONNACK code for a refusal with ``status`` when the app gave none.

    MQTT 3.1.1: 400 → 4, 401 → 5, anything else → 3. MQTT 5.0: 400 → 134, 401 → 135, anything else → 128. Another
    protocol version → 1 (unacceptable protocol version), with a warning.
    """
    if protocol_version == MQTT_311:
        return {400: 4, 401: 5}.get(status, 3)
    if protocol_version == MQTT_5:
        return {400: 134, 401: 135}.get(status, 128)
    log.warning("unknown MQTT protocol version %r: refusing with code 1", protocol_version)
    return 1
