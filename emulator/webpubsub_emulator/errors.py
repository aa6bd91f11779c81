"""The emulator's one error model: every refusal is an :class:`EmulatorError` that knows how it is answered.

An error kind is one subclass. Its class decides, once, the HTTP status and the error code (the ``x-ms-error-code``
header and the ``code`` of the ``{"code","message"}`` body; for JSON clients also the ``error.name`` of a failed ack)
and the WebSocket close code used when the error ends a client connection. The message is always safe to show to the
caller: it never holds a key, a token or a secret, and it names the problem.

Adapters only render: the REST and WebSocket handshakes turn an error into an HTTP answer with
:meth:`EmulatorError.http`, JSON clients get ``code``/``message`` in an ack, and a connection that must end is closed
with ``close_code``. Nobody re-wraps an error to pick another status.

============================  ======  =========================  =====
class                         status  code                       close
============================  ======  =========================  =====
:class:`EmulatorError`        500     ``InternalServerError``    1011
:class:`BadRequest`           400     ``BadRequest``             1007
:class:`MethodNotAllowed`     405     ``BadRequest``             1007
:class:`Unauthorized`         401     ``Unauthorized``           1008
:class:`Forbidden`            403     ``Forbidden``              1008
:class:`NotFound`             404     ``NotFound``               1008
:class:`RequestTimeout`       408     ``RequestTimeout``         1008
:class:`PayloadTooLarge`      413     ``PayloadTooLarge``        1009
:class:`UnsupportedMediaType` 415     ``UnsupportedMediaType``   1003
:class:`TooManyRequests`      429     ``TooManyRequests``        1008
:class:`InternalError`        500     ``InternalServerError``    1011
:class:`UpstreamError`        500     ``InternalServerError``    1011
:class:`ServiceUnavailable`   503     ``ServiceUnavailable``     1011
:class:`HandlerRefused`       4xx     the handler's answer       1008
============================  ======  =========================  =====

The pure modules raise their own kinds, each a subclass of one of these (``validation.ValidationError``,
``odata.FilterError``, ``roles.RoleError`` and ``protocol.MalformedMessage`` are :class:`BadRequest`;
``auth.AuthError`` is :class:`Unauthorized`; ``limits.FrameTooLarge`` is :class:`PayloadTooLarge`).
"""

from __future__ import annotations

import json
from typing import Mapping, NamedTuple, Optional

__all__ = [
    "BadRequest",
    "EmulatorError",
    "Forbidden",
    "HandlerRefused",
    "HttpAnswer",
    "InternalError",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "RequestTimeout",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "UnsupportedMediaType",
    "UpstreamError",
]


class HttpAnswer(NamedTuple):
    """An HTTP answer an adapter sends as it is: status, headers and body (None for HEAD)."""

    status: int
    headers: Mapping[str, str]
    body: Optional[bytes]


class EmulatorError(Exception):
    """The base of every error the emulator answers. The message is safe to return to the caller.

    :param message: what went wrong, in words fit for the caller (never a secret).
    :param close_reason: the WebSocket close reason when the error ends a connection (default: ``message``).
    """

    #: the HTTP status of the answer
    status: int = 500
    #: ``x-ms-error-code``, the body's ``code`` and a failed ack's ``error.name``
    code: str = "InternalServerError"
    #: the WebSocket close code when the error ends a client connection
    close_code: int = 1011

    def __init__(self, message: str, *, close_reason: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.close_reason = message if close_reason is None else close_reason

    @property
    def headers(self) -> Mapping[str, str]:
        """Extra HTTP headers of the answer (e.g. ``Retry-After``); none by default."""
        return {}

    def http(self, *, head: bool = False) -> HttpAnswer:
        """The HTTP answer: the status, ``x-ms-error-code`` and a flat ``{"code","message"}`` JSON body.

        :param head: answer a HEAD request (the headers only, no body).
        """
        headers = {"x-ms-error-code": self.code, **self.headers}
        if head:
            return HttpAnswer(self.status, headers, None)
        headers["Content-Type"] = "application/json"
        body = json.dumps({"code": self.code, "message": self.message}, separators=(",", ":"), ensure_ascii=False)
        return HttpAnswer(self.status, headers, body.encode("utf-8"))


class BadRequest(EmulatorError):
    """The request (or a client frame) breaks a rule of the service."""

    status = 400
    code = "BadRequest"
    close_code = 1007


class MethodNotAllowed(BadRequest):
    """The resource exists, the method does not."""

    status = 405


class Unauthorized(EmulatorError):
    """A token is missing, invalid, expired or meant for someone else."""

    status = 401
    code = "Unauthorized"
    close_code = 1008


class Forbidden(EmulatorError):
    """The connection lacks the permission for what it asked."""

    status = 403
    code = "Forbidden"
    close_code = 1008


class NotFound(EmulatorError):
    """No such operation, connection or user."""

    status = 404
    code = "NotFound"
    close_code = 1008


class RequestTimeout(EmulatorError):
    """A request (its headers or its body) did not arrive in time."""

    status = 408
    code = "RequestTimeout"
    close_code = 1008


class PayloadTooLarge(EmulatorError):
    """A body or a frame is larger than the service accepts."""

    status = 413
    code = "PayloadTooLarge"
    close_code = 1009


class UnsupportedMediaType(EmulatorError):
    """A Content-Type (or charset) the service does not take."""

    status = 415
    code = "UnsupportedMediaType"
    close_code = 1003


class TooManyRequests(EmulatorError):
    """Throttled (only ever injected by a fault plan). ``retry_after`` goes into ``Retry-After``."""

    status = 429
    code = "TooManyRequests"
    close_code = 1008

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def headers(self) -> Mapping[str, str]:
        """``Retry-After`` in whole seconds."""
        return {"Retry-After": str(self.retry_after)}


class InternalError(EmulatorError):
    """An unexpected failure inside the emulator. The message never carries internals."""


class UpstreamError(EmulatorError):
    """The event handler could not be reached, timed out, failed validation, failed or answered nonsense."""


class ServiceUnavailable(EmulatorError):
    """The service is unavailable (only ever injected by a fault plan)."""

    status = 503
    code = "ServiceUnavailable"


class HandlerRefused(EmulatorError):
    """The ``connect`` handler refused the client with a 4xx: its status, body and Content-Type are passed on.

    :param status: the handler's status (400-499).
    :param body: the handler's body, forwarded as it is.
    :param content_type: the handler's Content-Type, forwarded when there was one.
    """

    code = "Unauthorized"
    close_code = 1008

    def __init__(self, status: int, body: bytes, content_type: Optional[str]) -> None:
        super().__init__(f"The connect event handler refused the connection (HTTP {status}).")
        self.status = status
        self.body = body
        self.content_type = content_type

    def http(self, *, head: bool = False) -> HttpAnswer:
        """The handler's own answer (status, body, Content-Type), not the emulator's error document."""
        headers = {"Content-Type": self.content_type} if self.content_type else {}
        return HttpAnswer(self.status, headers, None if head else self.body)
