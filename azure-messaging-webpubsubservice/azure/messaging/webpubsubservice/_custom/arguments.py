# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""Argument checks every operation shares: names that go into the URL path, and lists of connection ids.

* A group, user id or connection id is one segment of the request path. An empty one, or one that is ``.`` or
  ``..``, cannot address anything: RFC 3986 removes dot segments (``requests`` and ``yarl`` do so before sending, and
  a percent-encoded ``%2E`` is the same character), so ``send_to_group("..", ...)`` would reach
  ``/api/hubs/<hub>/:send``, every connection of the hub. Such names raise ``ValueError`` naming a way that works
  (an OData filter).
* ``excluded`` is a list of connection ids; one id given as a str is that one id (not its characters), and a tuple
  or set is accepted like a list.
"""

import inspect
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

__all__ = ["PATH_ARGUMENTS", "ArgumentChecks", "id_list", "path_segment"]

PATH_ARGUMENTS = ("group", "user_id", "connection_id")
"""The parameters of the operations whose value is a segment of the request path."""

_FILTERS = {
    "group": 'filter=odata("{} in groups", name)',
    "user_id": 'filter=odata("userId eq {}", name)',
    "connection_id": 'filter=odata("connectionId eq {}", name)',
}


def path_segment(name: str, value: Any) -> Any:
    """Check a value that becomes one segment of the request path, and return it.

    :param str name: The parameter name (``group``, ``user_id`` or ``connection_id``).
    :param value: The value.
    :type value: str
    :return: The value, unchanged.
    :rtype: str
    :raises ValueError: If the value is empty, ``.`` or ``..``.
    """
    if value == "":
        raise ValueError(f"{name} must not be empty")
    if value in (".", ".."):
        raise ValueError(
            f"{name} {value!r} cannot be addressed in a request path: URL normalisation removes '.' and '..' "
            f"segments, so the request would reach another resource. Select it with an OData filter instead, for "
            f"example send_to_all(message, {_FILTERS[name]}) or add_connections_to_groups(groups, filter=...)."
        )
    return value


def id_list(value: Optional[Union[str, Iterable[str]]]) -> Optional[List[str]]:
    """Normalise a list of connection ids: one str is one id; a tuple, set or other iterable becomes a list.

    :param value: The ids, one id, or None.
    :type value: list[str] or tuple[str, ...] or str or None
    :return: The ids as a list, or None.
    :rtype: list[str] or None
    """
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return list(value)


class ArgumentChecks:
    """The checks of one operation, found once from its signature and applied to each call.

    :param positions: ``(index, name)`` of each path parameter among the positional arguments (``self`` excluded).
    :type positions: tuple[tuple[int, str], ...]
    :param bool has_excluded: The operation takes ``excluded``.
    """

    __slots__ = ("_has_excluded", "_positions")

    def __init__(self, positions: Tuple[Tuple[int, str], ...], has_excluded: bool) -> None:
        self._positions = positions
        self._has_excluded = has_excluded

    @classmethod
    def of(cls, function: Callable[..., Any]) -> "ArgumentChecks":
        """Find the checks of an operation from its signature.

        :param function: The operation, a function taking ``self`` first.
        :type function: callable
        :return: Its checks.
        :rtype: ArgumentChecks
        """
        parameters = list(inspect.signature(function).parameters.values())[1:]
        positions = tuple(
            (index, parameter.name)
            for index, parameter in enumerate(parameters)
            if parameter.name in PATH_ARGUMENTS
            and parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)
        )
        keyword_only = {p.name for p in parameters if p.kind == p.KEYWORD_ONLY}
        extra = tuple((-1, name) for name in PATH_ARGUMENTS if name in keyword_only)
        return cls(positions + extra, "excluded" in keyword_only)

    def apply(self, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Tuple[Tuple[Any, ...], Dict[str, Any]]:
        """Check one call's arguments.

        :param args: The positional arguments (``self`` excluded).
        :type args: tuple
        :param kwargs: The keyword arguments; ``excluded`` is normalised in place.
        :type kwargs: dict[str, any]
        :return: The arguments to call the operation with.
        :rtype: tuple[tuple, dict[str, any]]
        :raises ValueError: If a path argument cannot be addressed.
        """
        for index, name in self._positions:
            if 0 <= index < len(args):
                path_segment(name, args[index])
            elif name in kwargs:
                path_segment(name, kwargs[name])
        if self._has_excluded and "excluded" in kwargs:
            kwargs["excluded"] = id_list(kwargs["excluded"])
        return args, kwargs
