# --------------------------------------------------------------------------
# Copyright (c) the azure-messaging-webpubsubservice reimplementation authors.
# Licensed under the MIT License; see the LICENSE file at the root of the repository.
# --------------------------------------------------------------------------
"""Where the access keys that verify ``ce-signature`` come from.

Keys may be given as connection strings, as plain keys, as credential objects with a ``key`` attribute (such as
``azure.core.credentials.AzureKeyCredential``, whose ``update()`` rotates the key), or as a callable that returns the
current keys. Credentials and callables are read on every request, so a rotated key takes effect without a restart.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, List, Optional, Sequence, Tuple, Union

from .._custom.connection_string import parse_connection_string

__all__ = ["AccessKeys", "KeySpec"]

#: One key: a string or an object with a ``key`` attribute (read on every request).
KeyLike = Any
KeySpec = Union[str, KeyLike, Iterable[Union[str, KeyLike]], Callable[[], Iterable[str]]]


def _one_or_many(value: Any) -> List[Any]:
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or hasattr(value, "key"):
        return [value]
    return list(value)


class AccessKeys:
    """The configured key sources; :meth:`current` returns the keys in force now.

    :param connection_string: One connection string or several; each gives its ``AccessKey`` and ``Endpoint``.
    :param access_key: One key, several, credential objects with ``.key``, or a callable returning the keys.
    :raises ValueError: If a connection string is malformed (the message never contains a value) or a key is empty.
    """

    def __init__(
        self,
        connection_string: Union[str, Sequence[str], None] = None,
        access_key: Optional[KeySpec] = None,
    ) -> None:
        self._static: List[str] = []
        self._dynamic: List[Any] = []
        self._callable: Optional[Callable[[], Iterable[str]]] = None
        endpoints: List[str] = []
        for text in _one_or_many(connection_string):
            parts = parse_connection_string(text)
            self._static.append(parts.access_key)
            endpoints.append(parts.endpoint)
        if callable(access_key) and not hasattr(access_key, "key"):
            self._callable = access_key
        else:
            for item in _one_or_many(access_key):
                if isinstance(item, str):
                    if not item.strip():
                        raise ValueError("an access key must not be empty")
                    self._static.append(item)
                elif hasattr(item, "key"):
                    self._dynamic.append(item)
                else:
                    raise TypeError("an access key must be a str or an object with a 'key' attribute")
        self.endpoints: Tuple[str, ...] = tuple(endpoints)

    @property
    def configured(self) -> bool:
        """True when any key source was given (then every event must be signed)."""
        return bool(self._static or self._dynamic or self._callable)

    def current(self) -> List[str]:
        """The keys in force now (credentials and the callable are read afresh)."""
        keys = list(self._static)
        keys.extend(str(item.key) for item in self._dynamic)
        if self._callable is not None:
            fresh = self._callable()
            keys.extend([fresh] if isinstance(fresh, str) else list(fresh))
        return [key for key in keys if key]

    def __repr__(self) -> str:
        return (
            f"AccessKeys({len(self._static)} static, {len(self._dynamic)} credentials, callable={bool(self._callable)})"
        )
