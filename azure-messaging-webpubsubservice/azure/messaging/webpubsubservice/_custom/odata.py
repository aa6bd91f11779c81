# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""Build OData filter expressions with safely quoted values.

The ``filter`` of ``send_to_all``, ``send_to_user``, ``send_to_group`` and of the batch group operations is an
OData expression. Pasting untrusted values into it with f-strings is an injection hazard: a user id such as
``x' or userId ne 'x`` would change which connections receive a message. :func:`odata` fills placeholders with
properly typed and escaped OData literals instead.
"""

import string
from enum import Enum
from typing import Any, List, Tuple

__all__ = ["odata"]

_FORMATTER = string.Formatter()


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum) and isinstance(value, str):
        value = value.value
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, int):
        return str(int(value))
    raise TypeError(
        f"Cannot use a value of type {type(value).__name__} in an OData filter; "
        "use str, int, bool, None, or a list/tuple of those"
    )


def _literal(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError("Cannot use an empty list in an OData filter: 'in' needs at least one value")
        return "(" + ",".join(_scalar(item) for item in value) + ")"
    return _scalar(value)


def odata(template: str, *args: Any, **kwargs: Any) -> str:
    """Build an OData filter expression, turning each placeholder into a safely quoted literal.

    Placeholders use :meth:`str.format` syntax: ``{}`` (taken in order from ``args``), ``{0}`` (by position) or
    ``{name}`` (from ``kwargs``). Write ``{{`` and ``}}`` for literal braces. Format specs and conversions
    (``{:>5}``, ``{!r}``) and attribute or index access (``{0.x}``) are not allowed. Values become OData literals:

    * ``str`` (and string enums) -> ``'...'`` with every ``'`` doubled, so the value can never end the literal early;
    * ``int`` -> the number as is; ``bool`` -> ``true``/``false``; ``None`` -> ``null``;
    * ``list`` or ``tuple`` -> ``('a','b')``, the operand of ``in``.

    Any other type raises :class:`TypeError`.

    .. code-block:: python

        client.send_to_all(
            {"text": "hi"},
            filter=odata("userId eq {} and {} in groups", user_id, "vip"),
        )
        odata("userId in {users}", users=["alice", "o'brien"])
        # -> "userId in ('alice','o''brien')"

    :param str template: The filter text with placeholders. It is trusted: it is used as written.
    :param args: The values for the positional placeholders.
    :type args: str or int or bool or None or list or tuple
    :return: The filter expression.
    :rtype: str
    :raises TypeError: If a value has an unsupported type.
    :raises ValueError: If the template is malformed, a placeholder has no value, a placeholder uses a format spec,
        conversion, attribute or index, more values than ``{}`` placeholders are given, or a list is empty.
    """
    parts: List[str] = []
    auto_index = 0
    mode = ""
    parsed: List[Tuple[str, Any, Any, Any]] = list(_FORMATTER.parse(template))
    for literal_text, field_name, format_spec, conversion in parsed:
        parts.append(literal_text)
        if field_name is None:
            continue
        if format_spec or conversion:
            raise ValueError("OData placeholders take no format spec or conversion; write {} or {name}")
        value: Any
        if field_name == "":
            if mode == "manual":
                raise ValueError("Cannot mix automatic '{}' and numbered '{0}' placeholders")
            mode = "auto"
            if auto_index >= len(args):
                raise ValueError(f"The filter template has more placeholders than the {len(args)} values given")
            value = args[auto_index]
            auto_index += 1
        elif field_name.isdigit():
            if mode == "auto":
                raise ValueError("Cannot mix automatic '{}' and numbered '{0}' placeholders")
            mode = "manual"
            index = int(field_name)
            if index >= len(args):
                raise ValueError(f"Placeholder {{{index}}} has no value: only {len(args)} values were given")
            value = args[index]
        elif field_name.isidentifier():
            if field_name not in kwargs:
                raise ValueError(f"Placeholder {{{field_name}}} has no keyword value")
            value = kwargs[field_name]
        else:
            raise ValueError("OData placeholders cannot use attribute or index access; pass the value itself")
        parts.append(_literal(value))
    if mode == "auto" and auto_index < len(args):
        raise ValueError(f"The filter template has {auto_index} placeholders but {len(args)} values were given")
    return "".join(parts)
