# --------------------------------------------------------------------------
# Copyright (c) the azure-messaging-webpubsubservice reimplementation authors.
# Licensed under the MIT License; see the LICENSE file at the root of the repository.
# --------------------------------------------------------------------------
"""The event handler's one error model.

User callbacks raise :class:`BadRequestError`, :class:`UnauthorizedError` or :class:`ForbiddenError` (or the general
:class:`EventRejectedError` with another status) to reject an event; the library answers with that status and the
message as a short text body. Any other exception from a callback becomes a 500 with a generic body, its details only
in the log. The library itself raises :class:`SignatureError` (a 401) and :class:`BadRequestError` for malformed
requests, before any user code runs.
"""

from __future__ import annotations

from typing import Iterable, List, Optional, Tuple

__all__ = [
    "BadRequestError",
    "EventHandlerError",
    "EventRejectedError",
    "ForbiddenError",
    "SignatureError",
    "UnauthorizedError",
]

#: The longest message sent back in a rejection body (the body reaches the connecting client on ``connect``).
MAX_MESSAGE_LENGTH = 512


class EventHandlerError(Exception):
    """The base class of every error of the event-handler library."""


class EventRejectedError(EventHandlerError):
    """Reject the event with an HTTP status and a short message.

    On ``connect`` the status and message reach the connecting client; on a user event any rejection makes the
    service drop the client's connection. Keep the message short and free of secrets.

    :param str message: A short, plain-text reason.
    :keyword int status: The HTTP status, 400 to 599 (default 400).
    :keyword int mqtt_code: For MQTT ``connect``: the CONNACK return/reason code to send (by default it is derived
        from the status and the client's MQTT version).
    :keyword mqtt_user_properties: For MQTT 5 ``connect``: user properties for the CONNACK, ``(name, value)`` pairs.
    """

    status: int = 400

    def __init__(
        self,
        message: str = "",
        *,
        status: Optional[int] = None,
        mqtt_code: Optional[int] = None,
        mqtt_user_properties: Optional[Iterable[Tuple[str, str]]] = None,
    ) -> None:
        chosen = type(self).status if status is None else status
        if not isinstance(chosen, int) or not 400 <= chosen <= 599:
            raise ValueError("a rejection status must be an int from 400 to 599")
        if mqtt_code is not None and (not isinstance(mqtt_code, int) or not 0 <= mqtt_code <= 255):
            raise ValueError("an MQTT code must be an int from 0 to 255")
        super().__init__(message)
        self.status = chosen
        self.message = str(message)[:MAX_MESSAGE_LENGTH]
        self.mqtt_code = mqtt_code
        self.mqtt_user_properties: List[Tuple[str, str]] = [(str(n), str(v)) for n, v in mqtt_user_properties or ()]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status})"


class BadRequestError(EventRejectedError):
    """Reject with 400: the request (or what the client asked for) is invalid."""

    status = 400


class UnauthorizedError(EventRejectedError):
    """Reject with 401: the client (or the caller) is not authenticated."""

    status = 401


class ForbiddenError(EventRejectedError):
    """Reject with 403: the client is authenticated but not allowed."""

    status = 403


class SignatureError(UnauthorizedError):
    """The request's ``ce-signature`` is missing or matches none of the configured access keys (401)."""
