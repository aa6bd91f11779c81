# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""Hand-written value types: the JSON models of the REST API, the group member and the string enums.

The models (:class:`AddToGroupsRequest`, :class:`RemoveFromGroupsRequest`, :class:`ClientTokenResponse`,
:class:`ErrorDetail`, :class:`InnerError`) are mutable mappings over the JSON object as it travels on the wire (keys
are the wire names, such as ``connectionId``), with typed attributes named in snake case. Code that builds or reads
plain dicts keeps working, and a dict is accepted wherever a model is.

The enums derive from ``str``, so every member can be passed wherever the SDK accepts a plain string, and a plain
string is accepted wherever an enum is documented.
"""

import copy
from enum import Enum
from typing import Any, Dict, Generic, Iterator, List, Mapping, MutableMapping, Optional, Type, TypeVar, overload

from azure.core import CaseInsensitiveEnumMeta

__all__ = [
    "AddToGroupsRequest",
    "ClientTokenResponse",
    "ErrorDetail",
    "GroupMember",
    "InnerError",
    "MessageContentType",
    "RemoveFromGroupsRequest",
    "ResponseContentType",
    "WebPubSubClientProtocol",
    "WebPubSubClientType",
    "WebPubSubPermission",
]

_T = TypeVar("_T")
_ModelT = TypeVar("_ModelT", bound="_Model")


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


class MessageContentType(_StrEnum):
    """A media type the ``send_to_*`` operations accept as ``content_type``."""

    APPLICATION_JSON = "application/json"
    """A JSON value."""
    APPLICATION_OCTET_STREAM = "application/octet-stream"
    """Binary data."""
    TEXT_PLAIN = "text/plain"
    """UTF-8 text."""


class ResponseContentType(_StrEnum):
    """A media type the service answers a client-token request with."""

    APPLICATION_JSON = "application/json"
    """JSON."""
    TEXT_JSON = "text/json"
    """JSON, labelled ``text/json``."""
    TEXT_PLAIN = "text/plain"
    """Plain text."""


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


# ---------------------------------------------------------------------------------------------------- JSON models


class _Field(Generic[_T]):
    """A typed attribute of a model, stored under its wire name in the model's JSON object.

    Setting None removes the key, so an unset field is never sent as ``null``. A field holding a model (or a list of
    models) hands out model views that share the underlying JSON, and stores plain JSON when assigned.
    """

    def __init__(self, wire_name: str, model: Optional[Type["_Model"]] = None) -> None:
        self.wire_name = wire_name
        self.model = model

    @overload
    def __get__(self, obj: None, owner: Any) -> "_Field[_T]": ...

    @overload
    def __get__(self, obj: "_Model", owner: Any) -> _T: ...

    def __get__(self, obj: Optional["_Model"], owner: Any) -> Any:
        if obj is None:
            return self
        value = obj._data.get(self.wire_name)
        if self.model is not None:
            if isinstance(value, list):
                return [self.model._view(item) if isinstance(item, dict) else item for item in value]
            if isinstance(value, dict):
                return self.model._view(value)
        return value

    def __set__(self, obj: "_Model", value: _T) -> None:
        if value is None:
            obj._data.pop(self.wire_name, None)
        else:
            obj._data[self.wire_name] = _to_json(value)


def _to_json(value: Any) -> Any:
    if isinstance(value, _Model):
        return value.as_dict()
    if isinstance(value, (list, tuple)):
        return [_to_json(item) for item in value]
    return value


class _Model(MutableMapping[str, Any]):
    """A JSON object of the REST API with typed attributes.

    Build one from the wire JSON (``Model({"wireName": ...})``) or from attributes (``Model(snake_name=...)``).
    As a mapping it reads and writes the wire JSON; :meth:`as_dict` returns a deep copy of it.
    """

    _data: Dict[str, Any]

    def __init__(self, mapping: Optional[Mapping[str, Any]] = None, /, **fields: Any) -> None:
        if mapping is not None and fields:
            raise TypeError(f"{type(self).__name__}() takes either a mapping or keyword arguments, not both")
        self._data = {} if mapping is None else dict(mapping)
        for name, value in fields.items():
            if not isinstance(getattr(type(self), name, None), _Field):
                raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument '{name}'")
            setattr(self, name, value)

    @classmethod
    def _view(cls: Type[_ModelT], data: Dict[str, Any]) -> _ModelT:
        """Wrap a JSON object without copying it, so changes through the model reach the enclosing object."""
        model = cls.__new__(cls)
        model._data = data
        return model

    def as_dict(self) -> Dict[str, Any]:
        """Return the JSON object, with the wire names as keys.

        :return: A deep copy of the JSON object.
        :rtype: dict[str, Any]
        """
        return copy.deepcopy(self._data)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._data[key] = _to_json(value)

    def __delitem__(self, key: str) -> None:
        del self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._data!r})"


class _GroupsRequest(_Model):
    groups: _Field[Optional[List[str]]] = _Field("groups")
    """The names of the groups."""
    filter: _Field[Optional[str]] = _Field("filter")
    """The OData filter selecting the connections; None selects every connection of the hub."""

    def __init__(
        self,
        mapping: Optional[Mapping[str, Any]] = None,
        /,
        *,
        groups: Optional[List[str]] = None,
        filter: Optional[str] = None,
    ) -> None:
        super().__init__(mapping)
        if mapping is not None and (groups is not None or filter is not None):
            raise TypeError(f"{type(self).__name__}() takes either a mapping or keyword arguments, not both")
        if groups is not None:
            self.groups = groups
        if filter is not None:
            self.filter = filter


class AddToGroupsRequest(_GroupsRequest):
    """The body of ``add_connections_to_groups``: the groups, and a filter selecting the connections.

    ``AddToGroupsRequest(groups=["a", "b"], filter="userId eq 'x'")`` is the same as
    ``{"groups": ["a", "b"], "filter": "userId eq 'x'"}``.

    :keyword groups: The names of the groups.
    :paramtype groups: list[str] or None
    :keyword filter: An OData filter selecting the connections; None selects every connection of the hub.
    :paramtype filter: str or None
    """


class RemoveFromGroupsRequest(_GroupsRequest):
    """The body of ``remove_connections_from_groups``; it has the fields of :class:`AddToGroupsRequest`.

    :keyword groups: The names of the groups.
    :paramtype groups: list[str] or None
    :keyword filter: An OData filter selecting the connections; None selects every connection of the hub.
    :paramtype filter: str or None
    """


class ClientTokenResponse(_Model):
    """The answer of ``generate_client_token``: ``{"token": "<jwt>"}``."""

    token: _Field[Optional[str]] = _Field("token")
    """The client access token (a JWT)."""


class InnerError(_Model):
    """A more specific error inside an :class:`ErrorDetail`."""

    code: _Field[Optional[str]] = _Field("code")
    """The more specific error code."""
    inner: "_Field[Optional[InnerError]]" = _Field("inner")
    """A still more specific error, or None."""


class ErrorDetail(_Model):
    """An error returned by the service, as ``HttpResponseError.model`` exposes it."""

    code: _Field[Optional[str]] = _Field("code")
    """The machine-readable error code."""
    message: _Field[Optional[str]] = _Field("message")
    """The human-readable message."""
    target: _Field[Optional[str]] = _Field("target")
    """What the error is about."""
    details: "_Field[Optional[List[ErrorDetail]]]" = _Field("details")
    """Nested errors."""
    inner: _Field[Optional[InnerError]] = _Field("inner", InnerError)
    """A more specific error, or None."""


InnerError.inner.model = InnerError
ErrorDetail.details.model = ErrorDetail
