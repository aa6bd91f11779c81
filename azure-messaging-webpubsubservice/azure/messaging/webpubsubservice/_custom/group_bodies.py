# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""The bodies of ``add_connections_to_groups`` / ``remove_connections_from_groups`` (``:addToGroups``,
``:removeFromGroups``): ``{"groups": [...], "filter": "..."}``, from whatever form the caller gave."""

import io
from typing import IO, AbstractSet, Any, Mapping, MutableMapping, Optional, Sequence, Union

from .models import AddToGroupsRequest, RemoveFromGroupsRequest

__all__ = ["GroupsRequest", "batch_groups_body", "groups_request_body"]

GroupsRequest = Union[
    Sequence[str],
    AbstractSet[str],
    AddToGroupsRequest,
    RemoveFromGroupsRequest,
    Mapping[str, Any],
    IO[bytes],
    bytes,
    bytearray,
]
"""What the batch group operations accept: group names (a list, tuple or set, with ``filter=``), the body as a model
or dict, or serialised JSON."""


def groups_request_body(request: Any, filter: Optional[str], name: str) -> Any:
    """Build the JSON body of ``:addToGroups`` / ``:removeFromGroups``.

    :param request: A list (or tuple or set) of group names, a mapping ``{"groups": [...], "filter": "..."}``, an
        object with ``as_dict()`` (a model), or bytes / a binary stream holding the JSON.
    :type request: list[str] or dict or IO[bytes]
    :param filter: The OData filter selecting the connections, when ``request`` is a list of groups.
    :type filter: str or None
    :param str name: The parameter name to use in error messages.
    :return: A dict, or the bytes/stream as given.
    :rtype: dict or bytes or IO[bytes]
    :raises ValueError: If ``filter`` is given with a mapping that has one, or ``request`` has another type.
    """
    if isinstance(request, (bytes, bytearray, io.IOBase)):
        if filter is not None:
            raise ValueError(f"Pass the filter inside '{name}' when it is already-serialised JSON")
        return bytes(request) if isinstance(request, bytearray) else request
    if not isinstance(request, Mapping) and callable(getattr(request, "as_dict", None)):
        request = request.as_dict()
    if isinstance(request, Mapping):
        body = dict(request)
        if filter is not None:
            if body.get("filter") is not None:
                raise ValueError(f"The filter is given twice: in '{name}' and as the 'filter' keyword")
            body["filter"] = filter
        if "groups" in body and isinstance(body["groups"], (tuple, set, frozenset)):
            body["groups"] = list(body["groups"])
        return body
    if isinstance(request, str):
        request = [request]
    if isinstance(request, (list, tuple, set, frozenset)):
        body = {"groups": list(request)}
        if filter is not None:
            body["filter"] = filter
        return body
    raise ValueError(
        f"'{name}' must be a list of group names, a dict {{'groups': [...], 'filter': '...'}}, or JSON bytes"
    )


def batch_groups_body(
    groups: Any, filter: Optional[str], kwargs: MutableMapping[str, Any], keyword: str, operation: str
) -> Any:
    """Resolve the request of ``add_connections_to_groups`` / ``remove_connections_from_groups`` into its body.

    :param groups: The positional argument: group names, a dict or model, serialised JSON, or None.
    :type groups: any
    :param filter: The ``filter`` keyword.
    :type filter: str or None
    :param kwargs: The other keyword arguments; the upstream keyword name (``keyword``) is removed.
    :type kwargs: ~collections.abc.MutableMapping
    :param str keyword: ``groups_to_add`` or ``groups_to_remove``, accepted instead of the positional argument.
    :param str operation: The method name, for the error message.
    :return: The body for the generated operation.
    :rtype: dict or bytes or IO[bytes]
    :raises TypeError: If no request is given.
    :raises ValueError: If the request is malformed.
    """
    request = groups if groups is not None else kwargs.pop(keyword, None)
    if request is None:
        raise TypeError(f"{operation}() missing the 'groups' argument")
    return groups_request_body(request, filter, "groups")
