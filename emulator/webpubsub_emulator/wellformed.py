"""What every recipient's encoder needs of a value, checked once, where the value enters the emulator.

A message leaves the emulator through several encoders: UTF-8 for WebSocket text frames, the JSON encoder for JSON
clients, HTTP headers for the event handlers. A value one of them cannot encode must be refused where it enters (a REST
body or header, a client frame, a token's claims, a handler's answer) with an error that names the problem: found
later, while the message is being written to someone else, it would cut that recipient's connection. So:

- text must be valid Unicode: Python strings may hold lone surrogates (JSON's ``"\\ud800"``, a header byte that is not
  UTF-8, a charset such as UTF-7), which no UTF-8 encoder accepts;
- JSON must not nest deeper than :data:`~.limits.MAX_JSON_DEPTH`;
- what becomes an HTTP header (metadata, event names, user ids) must hold no control characters, and a metadata key
  must be a header-name token.

Every refusal is a :class:`NotEncodable`, a :class:`~.errors.BadRequest` whose message never repeats the value.
The checks cost one pass in C over the text (``str.encode``, ``str.count``, a regular expression); the depth of JSON is
measured on its text, before it is parsed, and only when the text holds more brackets than the limit.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any, Mapping, Optional

from . import limits
from .errors import BadRequest

__all__ = [
    "NotEncodable",
    "check_json_depth",
    "check_json_strings",
    "check_line",
    "check_metadata",
    "check_text",
    "has_control",
    "is_text",
    "json_depth",
    "utf8_size",
]

_SURROGATE = re.compile("[\ud800-\udfff]")
#: a ``\uXXXX`` escape of a surrogate in JSON text (a pair is fine; only these can make a lone one)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
#: C0 controls, DEL and C1 controls: nothing a header (or a log line) should carry
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
#: a JSON string literal, and everything that is not a bracket (what :func:`json_depth` cuts out)
_STRING_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
#: an HTTP header-name token (RFC 9110 section 5.6.2)
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")


class NotEncodable(BadRequest, ValueError):
    """A value some recipient could not be sent: not valid Unicode, JSON nested too deep, or not fit for a header."""


def is_text(text: str) -> bool:
    """True when ``text`` is valid Unicode (no lone surrogate), i.e. it can be encoded as UTF-8."""
    return _SURROGATE.search(text) is None


def has_control(text: str) -> bool:
    """True when ``text`` holds a control character (C0, DEL or C1: CR, LF, NUL, ...)."""
    return _CONTROL.search(text) is not None


def check_text(text: str, what: str) -> str:
    """``text`` when it is valid Unicode; :class:`NotEncodable` naming ``what`` otherwise."""
    if _SURROGATE.search(text) is not None:
        raise NotEncodable(f"{what} is not valid Unicode text (it holds a lone surrogate).")
    return text


def utf8_size(text: str, what: str) -> int:
    """The UTF-8 size of ``text``; :class:`NotEncodable` naming ``what`` when it is not valid Unicode."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise NotEncodable(f"{what} is not valid Unicode text (it holds a lone surrogate).") from None


def check_line(text: str, what: str) -> str:
    """``text`` when it is valid Unicode without control characters (fit for an HTTP header value)."""
    check_text(text, what)
    if _CONTROL.search(text) is not None:
        raise NotEncodable(f"{what} must not contain control characters (such as CR, LF or NUL).")
    return text


def json_depth(text: str) -> int:
    """How deep the JSON ``text`` nests (``1`` is ``[1]``), without parsing it: string literals are cut out and the
    brackets left are counted, all in C (``re``, ``itertools``), so that even a megabyte takes milliseconds."""
    brackets = _NOT_BRACKET.sub("", _STRING_LITERAL.sub("", text))
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0)


def check_json_depth(text: str, what: str, limit: Optional[int] = None) -> None:
    """:class:`NotEncodable` when the JSON ``text`` nests deeper than ``limit`` (default
    :data:`~.limits.MAX_JSON_DEPTH`); free when the text holds fewer brackets than that."""
    if limit is None:
        limit = limits.MAX_JSON_DEPTH
    if text.count("[") + text.count("{") > limit and json_depth(text) > limit:
        raise NotEncodable(f"{what} is nested deeper than {limit} levels.")


def check_json_strings(value: Any, text: str, what: str) -> None:
    """:class:`NotEncodable` when the value parsed from the JSON ``text`` holds a lone surrogate, which only a
    ``\\uXXXX`` escape in ``text`` can make (the text itself was checked by :func:`utf8_size`)."""
    if _SURROGATE_ESCAPE.search(text) is not None:
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise NotEncodable(f"{what} is not valid Unicode text (it holds a lone surrogate).") from None


def check_metadata(metadata: Optional[Mapping[str, str]]) -> Optional[dict[str, str]]:
    """Message metadata fit for every recipient: JSON clients get it as an object, event handlers as
    ``x-webpubsub-metadata-<key>`` headers. Keys must be header-name tokens, values valid Unicode without control
    characters. Returns a copy (None when there is none)."""
    if not metadata:
        return None
    out: dict[str, str] = {}
    for key, value in metadata.items():
        if not _TOKEN.match(key):
            raise NotEncodable(
                "A metadata key must be a non-empty header-name token (letters, digits and !#$%&'*+-.^_`|~)."
            )
        check_line(value, f"The value of metadata '{key}'")
        out[key] = value
    return out
