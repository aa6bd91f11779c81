# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""Content dispatch of the ``send_to_*`` operations: which Content-Type a message goes out with, and its body.

Without an explicit content type the message's type decides (a str goes out as ``text/plain``, bytes as
``application/octet-stream``, a dict as ``application/json``); with one, its media type decides how the message is
encoded, and a ``charset`` parameter is honoured: text is encoded in that charset (UTF-8 otherwise), and a charset
Python does not know, or text it cannot encode, raises ``ValueError`` instead of sending UTF-8 under another name.
"""

import codecs
import io
import json
from typing import IO, Any, List, Mapping, MutableMapping, Optional, Tuple, Union

from azure.core.serialization import AzureJSONEncoder

__all__ = ["CONTENT_TYPES", "Message", "charset_of", "encode_message", "pop_content_type"]

JSON = "application/json"
TEXT = "text/plain"
OCTET_STREAM = "application/octet-stream"
CONTENT_TYPES = (JSON, TEXT, OCTET_STREAM)
"""The media types the ``send_to_*`` operations accept, compared case-insensitively."""

Message = Union[
    IO[bytes],
    IO[str],
    str,
    bytes,
    bytearray,
    memoryview,
    Mapping[str, Any],
    List[Any],
    Tuple[Any, ...],
    int,
    float,
    bool,
    None,
]
"""What ``send_to_*`` accept: JSON values, text, bytes-like objects or a file-like object."""


def pop_content_type(content_type: Optional[str], headers: MutableMapping[str, str]) -> Optional[str]:
    """Choose the explicit content type of a send: the ``content_type`` argument, else a Content-Type header.

    Any Content-Type entry (in any letter case) is removed from ``headers``, so the content type is set exactly once.

    :param content_type: The ``content_type`` keyword, or None.
    :type content_type: str or None
    :param headers: The per-call headers; modified in place.
    :type headers: ~collections.abc.MutableMapping[str, str]
    :return: The explicit content type, or None when the message decides.
    :rtype: str or None
    """
    from_headers: Optional[str] = None
    for name in [name for name in headers if name.lower() == "content-type"]:
        from_headers = headers.pop(name)
    return content_type if content_type is not None else from_headers


def _is_text_stream(message: Any) -> bool:
    return isinstance(message, io.TextIOBase)


def _is_binary_stream(message: Any) -> bool:
    if isinstance(message, (io.RawIOBase, io.BufferedIOBase)):
        return True
    return not isinstance(message, (str, bytes, bytearray, memoryview, io.TextIOBase)) and callable(
        getattr(message, "read", None)
    )


def _accepted() -> str:
    return (
        "the content type must be one of application/json, text/plain, application/octet-stream (optionally with "
        "parameters); without a content type the message must be a dict, list, str, int, float, bool, None, bytes, "
        "bytearray, memoryview or a file-like object"
    )


def charset_of(content_type: str) -> Optional[str]:
    """The ``charset`` parameter of a content type, as Python's codec name, or None.

    :param str content_type: The content type, such as ``text/plain; charset=ISO-8859-1``.
    :return: The codec name (``iso8859-1``), or None when no charset is declared.
    :rtype: str or None
    :raises ValueError: If the charset is not one Python can encode.
    """
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            declared = value.strip().strip('"').strip()
            try:
                return codecs.lookup(declared).name
            except LookupError:
                raise ValueError(f"Unsupported charset {declared!r} in the content type") from None
    return None


def _encode_text(text: str, charset: Optional[str]) -> bytes:
    try:
        return text.encode(charset or "utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"The message cannot be encoded in the declared charset {charset}") from None


def _text_body(message: Any, charset: Optional[str]) -> Union[bytes, Any]:
    if isinstance(message, str):
        return _encode_text(message, charset)
    if isinstance(message, (bytes, bytearray, memoryview)):
        return bytes(message)
    if _is_text_stream(message):
        return _encode_text(message.read(), charset)
    if _is_binary_stream(message):
        return message
    kind = type(message).__name__
    raise ValueError(f"Cannot send a {kind} as text/plain or application/octet-stream: " + _accepted())


class _MessageEncoder(AzureJSONEncoder):
    """azure-core's JSON encoder, plus any mapping (such as a model of this package) as a JSON object."""

    def default(self, o: Any) -> Any:
        if isinstance(o, Mapping):
            return dict(o)
        return super().default(o)


def _json_body(message: Any, charset: Optional[str] = None) -> bytes:
    try:
        text = json.dumps(message, cls=_MessageEncoder, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"The message cannot be serialised as JSON ({type(message).__name__})") from exc
    return _encode_text(text, charset)


def encode_message(message: Any, content_type: Optional[str]) -> Tuple[str, Any]:
    """Choose the Content-Type of a send and encode the message into the request body.

    With an explicit ``content_type`` its media type (compared case-insensitively) decides and the string is sent
    verbatim, parameters included:

    * ``application/json``: the message is JSON-serialised (``"hello"`` for a str, base64 for bytes); NaN and
      infinities are rejected, since they have no JSON spelling;
    * ``text/plain`` and ``application/octet-stream``: a str or text stream is encoded, bytes-like objects are
      sent as they are and a binary stream is streamed.

    Text is encoded in the ``charset`` the content type declares (``text/plain; charset=latin-1``), UTF-8 otherwise.

    Without one, the message type decides: dict, list, tuple, int, float, bool and None are sent as
    ``application/json``; str and text streams as ``text/plain`` (UTF-8); bytes, bytearray, memoryview and binary
    streams as ``application/octet-stream``.

    :param message: The message to send.
    :type message: any
    :param content_type: The explicit content type, or None.
    :type content_type: str or None
    :return: The Content-Type header value and the body.
    :rtype: tuple[str, any]
    :raises ValueError: If the content type or its charset is not supported, or the message does not fit it.
    """
    if content_type is not None:
        content_type = str(content_type)  # a MessageContentType member is sent as its value
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type == JSON:
            return content_type, _json_body(message, charset_of(content_type))
        if media_type in (TEXT, OCTET_STREAM):
            return content_type, _text_body(message, charset_of(content_type))
        raise ValueError("Unsupported content type: " + _accepted())
    if message is None or isinstance(message, (Mapping, list, tuple, int, float, bool)):
        return JSON, _json_body(message)
    if isinstance(message, str) or _is_text_stream(message):
        return TEXT, _text_body(message, None)
    if isinstance(message, (bytes, bytearray, memoryview)) or _is_binary_stream(message):
        return OCTET_STREAM, _text_body(message, None)
    raise ValueError(f"Unsupported message type {type(message).__name__}: " + _accepted())
