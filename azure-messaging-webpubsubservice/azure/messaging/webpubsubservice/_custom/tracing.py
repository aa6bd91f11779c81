# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""Tracing of the public operations."""

from typing import Callable, TypeVar

__all__ = ["untraced"]

_T = TypeVar("_T")


def untraced(operation: Callable[..., _T]) -> Callable[..., _T]:
    """Return a generated operation without its ``distributed_trace`` wrapper.

    The hand-written operations are decorated themselves and call the generated one inside their span; going through
    the generated wrapper again would only re-check the tracing settings (or, with a tracing plugin, open a second
    span of the same name).

    :param operation: The generated operation (a function of the generated mixin class).
    :type operation: callable
    :return: The function the decorator wrapped, or ``operation`` if it is not wrapped.
    :rtype: callable
    """
    return getattr(operation, "__wrapped__", operation)
