# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""Tracing of the public operations: one span per call, named ``WebPubSubServiceClient.<method>``.

Every public method of the sync and the async client runs in a span named for the client class (the Azure SDK
convention), whichever class defines the method: the hand-written operations are decorated with :func:`traced` /
:func:`traced_async`, and :func:`trace_generated_operations` gives every generated operation the hand-written layer
does not replace a traced twin. Each span, and each HTTP span under it, carries ``az.namespace`` =
``Microsoft.WebPubSub``. ``list_connections`` traces each page it fetches (the call itself does no IO).
"""

import functools
import inspect
from typing import Any, Callable, Dict, Mapping, TypeVar

from azure.core.tracing.decorator import distributed_trace
from azure.core.tracing.decorator_async import distributed_trace_async

from .arguments import ArgumentChecks

__all__ = [
    "CLIENT_NAME",
    "NAMESPACE",
    "TRACING_ATTRIBUTES",
    "span_name",
    "trace_generated_operations",
    "traced",
    "traced_as",
    "traced_async",
    "tracing_settings",
    "untraced",
]

CLIENT_NAME = "WebPubSubServiceClient"
"""The class name the spans are named after, for the sync and the async client alike."""

NAMESPACE = "Microsoft.WebPubSub"
"""The ``az.namespace`` of every span (the resource provider's namespace, as the other Azure SDKs set it)."""

TRACING_ATTRIBUTES: Mapping[str, str] = {"az.namespace": NAMESPACE}
"""The attributes every span of the SDK carries."""

_T = TypeVar("_T")
_F = TypeVar("_F", bound=Callable[..., Any])


def span_name(method: str) -> str:
    """The span name of a public method.

    :param str method: The method name, such as ``send_to_all``.
    :return: ``WebPubSubServiceClient.<method>``.
    :rtype: str
    """
    return f"{CLIENT_NAME}.{method}"


def traced_as(method: str, *, asynchronous: bool = False) -> Callable[[_F], _F]:
    """A decorator tracing a function under :func:`span_name` of ``method``, with :data:`TRACING_ATTRIBUTES`.

    :param str method: The public method name the span is named after.
    :keyword bool asynchronous: The function is a coroutine function.
    :return: The decorator.
    :rtype: callable
    """
    trace: Any = distributed_trace_async if asynchronous else distributed_trace
    decorator: Callable[[_F], _F] = trace(name_of_span=span_name(method), tracing_attributes=dict(TRACING_ATTRIBUTES))
    return decorator


def traced(function: _F) -> _F:
    """Trace a sync public method under :func:`span_name` of its name.

    :param function: The method.
    :type function: callable
    :return: The traced method.
    :rtype: callable
    """
    return traced_as(function.__name__)(function)


def traced_async(function: _F) -> _F:
    """Trace an async public method under :func:`span_name` of its name.

    :param function: The coroutine function.
    :type function: callable
    :return: The traced coroutine function.
    :rtype: callable
    """
    return traced_as(function.__name__, asynchronous=True)(function)


def untraced(operation: Callable[..., _T]) -> Callable[..., _T]:
    """Return a generated operation without its ``distributed_trace`` wrapper.

    The hand-written operations are decorated themselves and call the generated one inside their span; going through
    the generated wrapper again would only re-check the tracing settings (or, with a tracing plugin, open a second
    span, named after the generated mixin).

    :param operation: The generated operation (a function of the generated mixin class).
    :type operation: callable
    :return: The function the decorator wrapped, or ``operation`` if it is not wrapped.
    :rtype: callable
    """
    return getattr(operation, "__wrapped__", operation)


def _twin(generated: Callable[..., Any], asynchronous: bool) -> Callable[..., Any]:
    inner = untraced(generated)
    checks = ArgumentChecks.of(inner)
    if asynchronous:

        @functools.wraps(inner)
        async def operation_async(self: Any, *args: Any, **kwargs: Any) -> Any:
            args, kwargs = checks.apply(args, kwargs)
            return await inner(self, *args, **kwargs)

        return traced_async(operation_async)

    @functools.wraps(inner)
    def operation(self: Any, *args: Any, **kwargs: Any) -> Any:
        args, kwargs = checks.apply(args, kwargs)
        return inner(self, *args, **kwargs)

    return traced(operation)


def trace_generated_operations(operations: type, generated: type, *, asynchronous: bool) -> None:
    """Give ``operations`` a traced twin of every public generated operation it does not define itself.

    The twin runs the generated function (without its own span, which would be named after the generated mixin) in
    a span named ``WebPubSubServiceClient.<method>``, after the argument checks every operation shares
    (:class:`~.arguments.ArgumentChecks`). Its signature and docstring are the generated ones.

    :param operations: The hand-written operations mixin.
    :type operations: type
    :param generated: The generated operations mixin it derives from.
    :type generated: type
    :keyword bool asynchronous: The operations are coroutines.
    """
    for name, member in vars(generated).items():
        if name.startswith("_") or name in vars(operations) or not inspect.isfunction(member):
            continue
        setattr(operations, name, _twin(member, asynchronous))


def tracing_settings(kwargs: Dict[str, Any]) -> None:
    """Give the HTTP spans of the client's pipeline the SDK's attributes (``az.namespace``).

    azure-core's ``DistributedTracingPolicy`` takes them from the client's ``tracing_attributes`` option; a caller's
    own ``tracing_attributes`` are kept and win on a conflict.

    :param kwargs: The keyword arguments for the generated client; ``tracing_attributes`` is set.
    :type kwargs: dict[str, any]
    """
    kwargs["tracing_attributes"] = {**TRACING_ATTRIBUTES, **(kwargs.get("tracing_attributes") or {})}
