# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""The send memo: the arguments of one ``send_to_*`` call, and the per-client memo of the requests they build.

The generated ``send_to_*`` operations build the request one parameter at a time through the generated
``Serializer`` (path and query quoting), then ``HttpRequest`` parses and re-joins the query and ``format_url`` joins
the endpoint: ~25 us per call, more than all the SDK's own policies together. For a given operation, client
configuration and set of URL-shaping arguments the result is always the same, so each client keeps a small memo of
what the generated builder produced (method, absolute URL, headers) and builds later requests from it. The generated
builder stays the only place that knows how the URL is formed; a call with options the memo does not cover (caller
``headers`` or ``params``, ``error_map``, ``cls``) goes through the generated operation unchanged.
"""

from typing import Any, Callable, Dict, Mapping, NamedTuple, Optional, Tuple

from azure.core.rest import HttpRequest

from .content_type import encode_message, pop_content_type
from .tracing import untraced

__all__ = ["SendArguments", "SendMemo", "SendOperation", "send_operations"]

_MEMO_SIZE = 256
_NOT_MEMOISED = ("params", "error_map", "cls")


class SendArguments(NamedTuple):
    """One ``send_to_*`` call, with its message encoded and its options sorted out."""

    body: Any
    """The encoded message: bytes, or a binary stream."""
    content_type: str
    """The Content-Type header value."""
    message_ttl_seconds: Optional[int]
    """The ``messageTtlSeconds`` query value, or None."""
    headers: Dict[str, str]
    """The caller's extra headers (a copy, without Content-Type)."""
    options: Dict[str, Any]
    """Every other keyword argument: azure-core per-call options, ``params``, ``error_map``, ``cls``."""

    @classmethod
    def prepare(
        cls, message: Any, content_type: Optional[str], message_ttl_seconds: Optional[int], kwargs: Mapping[str, Any]
    ) -> "SendArguments":
        """Encode the message and split the caller's keyword arguments.

        :param message: The message.
        :type message: any
        :param content_type: The explicit content type, or None.
        :type content_type: str or None
        :param message_ttl_seconds: The message TTL, or None.
        :type message_ttl_seconds: int or None
        :param kwargs: The caller's other keyword arguments (``headers`` is copied, never modified).
        :type kwargs: ~collections.abc.Mapping
        :return: The prepared call.
        :rtype: SendArguments
        :raises ValueError: If the content type is not supported, or the message does not fit it.
        """
        options = dict(kwargs)
        headers: Dict[str, str] = dict(options.pop("headers", None) or {})
        chosen, body = encode_message(message, pop_content_type(content_type, headers))
        return cls(body, chosen, message_ttl_seconds, headers, options)

    @property
    def memoisable(self) -> bool:
        """Whether the request can come from the memo: no caller headers, ``params``, ``error_map`` or ``cls``.

        :rtype: bool
        """
        return not self.headers and not any(name in self.options for name in _NOT_MEMOISED)

    def generated_kwargs(self) -> Dict[str, Any]:
        """The keyword arguments of the generated ``send_to_*`` operation, besides the message and the targets.

        :return: The keyword arguments.
        :rtype: dict[str, any]
        """
        return {
            **self.options,
            "headers": self.headers,
            "content_type": self.content_type,
            "message_ttl_seconds": self.message_ttl_seconds,
        }


def _key_part(value: Any) -> Any:
    # The type is part of the key: 1, 1.0 and True are equal as dict keys but are serialised differently.
    if isinstance(value, list):
        return (list, tuple((type(item), item) for item in value))
    return (type(value), value)


class SendMemo:
    """What the generated request builders produced for one client (at most 256 entries, then it starts over)."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: Dict[Any, Tuple[str, str, Dict[str, str]]] = {}

    def request(
        self, client: Any, builder: Callable[..., HttpRequest], call: SendArguments, targets: Dict[str, Any]
    ) -> Optional[HttpRequest]:
        """Build the request of a ``send_to_*`` call as the generated operation would.

        :param client: The client (it has the generated ``_config``, ``_client`` and ``_serialize``).
        :type client: any
        :param builder: The generated request builder of the operation, such as
            ``build_web_pub_sub_service_send_to_all_request``.
        :type builder: callable
        :param call: The prepared call; it must be :attr:`~SendArguments.memoisable`.
        :type call: SendArguments
        :param targets: The operation's path and query arguments (``user_id``, ``group``, ``excluded``, ``filter``...).
        :type targets: dict[str, any]
        :return: The request; None when an argument cannot be memoised (the generated operation must build it).
        :rtype: ~azure.core.rest.HttpRequest or None
        """
        config = client._config
        arguments = dict(targets, message_ttl_seconds=call.message_ttl_seconds)
        try:
            key = (
                builder,
                _key_part(config.endpoint),
                _key_part(config.hub),
                _key_part(config.api_version),
                _key_part(call.content_type),
                *((name, _key_part(value)) for name, value in arguments.items()),  # each call site passes one order
            )
            entry = self._entries.get(key)
        except TypeError:  # an unhashable argument: let the generated operation handle it
            return None
        if entry is None:
            # Exactly what the generated operation does, without the content (the body is added per request below).
            built = builder(
                hub=config.hub,
                content_type=call.content_type,
                api_version=config.api_version,
                content=None,
                headers={},
                params={},
                **arguments,
            )
            endpoint = client._serialize.url("self._config.endpoint", config.endpoint, "str", skip_quote=True)
            entry = (built.method, client._client.format_url(built.url, endpoint=endpoint), dict(built.headers.items()))
            if len(self._entries) >= _MEMO_SIZE:
                self._entries.clear()
            self._entries[key] = entry
        method, url, headers = entry
        return HttpRequest(method, url, headers=headers, content=call.body)


class SendOperation(NamedTuple):
    """A generated ``send_to_*`` operation and its request builder, resolved once when the package is imported."""

    generated: Callable[..., Any]
    """The generated operation, without its tracing wrapper."""
    builder: Callable[..., HttpRequest]
    """The generated request builder, such as ``build_web_pub_sub_service_send_to_all_request``."""


def send_operations(generated: type, builders: Mapping[str, Callable[..., HttpRequest]]) -> Dict[str, SendOperation]:
    """Pair each generated ``send_to_*`` operation (without its tracing wrapper) with its request builder.

    Called once when the package is imported, so a generated operation that is missing fails the import.

    :param generated: The generated operations mixin (sync or async).
    :type generated: type
    :param builders: The generated request builders by operation name (``send_to_all``, ...).
    :type builders: ~collections.abc.Mapping[str, callable]
    :return: The operations by name.
    :rtype: dict[str, SendOperation]
    """
    return {name: SendOperation(untraced(getattr(generated, name)), builder) for name, builder in builders.items()}
