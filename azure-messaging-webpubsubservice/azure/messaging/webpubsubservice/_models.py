# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""Hand-written value types: the group member returned by ``list_connections`` and the string enums.

The enums derive from ``str``, so every member can be passed wherever the SDK accepts a plain string, and a plain
string is accepted wherever an enum is documented.
"""

from enum import Enum
from typing import Any, Mapping, Optional

from azure.core import CaseInsensitiveEnumMeta

__all__ = [
    "GroupMember",
    "WebPubSubClientProtocol",
    "WebPubSubClientType",
    "WebPubSubPermission",
]


class _StrEnum(str, Enum, metaclass=CaseInsensitiveEnumMeta):
    """A string enum whose members compare equal to, and format as, their wire value.

    Member names are looked up case-insensitively (``WebPubSubClientType["mqtt"]``) through azure-core's
    :class:`~azure.core.CaseInsensitiveEnumMeta`, and calling the class with a value matches that value
    case-insensitively as well (``WebPubSubClientType("mqtt")``).
    """

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, str):
            folded = value.casefold()
            for member in cls:
                if member.value.casefold() == folded or member.name.casefold() == folded:
                    return member
        return None


class WebPubSubPermission(_StrEnum):
    """A permission that can be granted to, revoked from or checked on a connection."""

    SEND_TO_GROUP = "sendToGroup"
    """The connection may send messages to a group."""
    JOIN_LEAVE_GROUP = "joinLeaveGroup"
    """The connection may join and leave a group."""


class WebPubSubClientType(_StrEnum):
    """The client type sent as ``clientType`` when the service generates a client token."""

    DEFAULT = "Default"
    """A WebSocket client using the default client endpoint."""
    MQTT = "MQTT"
    """An MQTT client."""


class WebPubSubClientProtocol(_StrEnum):
    """The protocol a client connects with; it selects the client endpoint path of an access token."""

    DEFAULT = "Default"
    """WebSocket clients: ``/client/hubs/<hub>``."""
    MQTT = "MQTT"
    """MQTT clients: ``/clients/mqtt/hubs/<hub>``."""
    SOCKETIO = "SocketIO"
    """Socket.IO clients: ``/clients/socketio/hubs/<hub>``."""


class GroupMember:
    """A connection that belongs to a group, as returned by ``list_connections``.

    :keyword str connection_id: The id of the connection. Required.
    :keyword user_id: The user id of the connection, or None for an anonymous connection.
    :paramtype user_id: str or None
    """

    __slots__ = ("_connection_id", "_user_id")

    def __init__(self, *, connection_id: str, user_id: Optional[str] = None) -> None:
        self._connection_id = connection_id
        self._user_id = user_id

    @property
    def connection_id(self) -> str:
        """The id of the connection.

        :return: The connection id.
        :rtype: str
        """
        return self._connection_id

    @property
    def user_id(self) -> Optional[str]:
        """The user id of the connection, or None when the connection is anonymous.

        :return: The user id or None.
        :rtype: str or None
        """
        return self._user_id

    @classmethod
    def _from_json(cls, item: Mapping[str, Any]) -> "GroupMember":
        """Build a member from one ``value`` item of a ``GroupMemberPagedValues`` page.

        :param item: The JSON object, with ``connectionId`` and optionally ``userId``.
        :type item: ~collections.abc.Mapping
        :return: The member.
        :rtype: ~azure.messaging.webpubsubservice.GroupMember
        """
        return cls(connection_id=item["connectionId"], user_id=item.get("userId"))

    def __repr__(self) -> str:
        return f"GroupMember(connection_id={self._connection_id!r}, user_id={self._user_id!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GroupMember):
            return NotImplemented
        return (self._connection_id, self._user_id) == (other._connection_id, other._user_id)

    def __hash__(self) -> int:
        return hash((self._connection_id, self._user_id))
