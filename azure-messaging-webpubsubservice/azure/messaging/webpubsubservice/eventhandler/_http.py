# --------------------------------------------------------------------------
# Copyright (c) the azure-messaging-webpubsubservice reimplementation authors.
# Licensed under the MIT License; see the LICENSE file at the root of the repository.
# --------------------------------------------------------------------------
"""The sans-IO request and response: what an adapter hands to the handler and what it writes back.

Nothing here knows a web framework. :class:`Headers` is a case-insensitive view of header lines that keeps repeated
lines apart (ASGI and aiohttp do; WSGI joins them with ``", "`` before we see them).
"""

from __future__ import annotations

from typing import Iterable, Iterator, List, Mapping, Optional, Tuple, Union

__all__ = ["HandlerRequest", "HandlerResponse", "Headers"]

HeaderItems = Union["Headers", Mapping[str, str], Iterable[Tuple[str, str]]]


class Headers:
    """Request or response header lines, looked up case-insensitively; repeated names keep every value.

    :param items: ``(name, value)`` pairs, a mapping, or another :class:`Headers`.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Optional[HeaderItems] = None) -> None:
        pairs: Iterable[Tuple[str, str]]
        if items is None:
            pairs = ()
        elif isinstance(items, (Headers, Mapping)):
            pairs = items.items()
        else:
            pairs = items
        self._items: List[Tuple[str, str]] = [(str(name), str(value)) for name, value in pairs]

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """The first value of ``name``, or ``default``."""
        wanted = name.lower()
        for key, value in self._items:
            if key.lower() == wanted:
                return value
        return default

    def get_all(self, name: str) -> List[str]:
        """Every value of ``name``, in order (empty when absent)."""
        wanted = name.lower()
        return [value for key, value in self._items if key.lower() == wanted]

    def items(self) -> List[Tuple[str, str]]:
        """All ``(name, value)`` lines in order, names as received."""
        return list(self._items)

    def add(self, name: str, value: str) -> None:
        """Append one line."""
        self._items.append((name, value))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(key.lower() == name.lower() for key, _ in self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(key.lower() for key, _ in self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return [(k.lower(), v) for k, v in self._items] == [(k.lower(), v) for k, v in other._items]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        # Header values may hold a signature, cookies or a bearer token: show the names only.
        return f"Headers({sorted(self)!r})"


class HandlerRequest:
    """One HTTP request as the handler sees it.

    :param str method: The HTTP method (any case).
    :param str path: The request path, without the query string and relative to the application's root.
    :param headers: The header lines (see :class:`Headers`).
    :param bytes body: The whole request body.
    :param str query_string: The raw query string, without ``?`` (for ``?code=`` style checks in user code).
    """

    __slots__ = ("body", "headers", "method", "path", "query_string")

    def __init__(
        self,
        method: str,
        path: str,
        headers: Optional[HeaderItems] = None,
        body: bytes = b"",
        *,
        query_string: str = "",
    ) -> None:
        self.method = method.upper()
        self.path = path or "/"
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        self.body = bytes(body)
        self.query_string = query_string

    def __repr__(self) -> str:
        return f"HandlerRequest({self.method} {self.path}, {len(self.body)} bytes)"


class HandlerResponse:
    """What the adapter writes back: a status, header lines and the body bytes."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: Optional[Iterable[Tuple[str, str]]] = None, body: bytes = b"") -> None:
        self.status = status
        self.headers: List[Tuple[str, str]] = list(headers or ())
        self.body = body

    def header(self, name: str) -> Optional[str]:
        """The first value of a response header, or None."""
        return Headers(self.headers).get(name)

    @property
    def content_type(self) -> Optional[str]:
        """The ``Content-Type`` header, if any."""
        return self.header("Content-Type")

    def __repr__(self) -> str:
        return f"HandlerResponse({self.status}, {len(self.body)} bytes)"
