"""Pure validation rules shared by the REST and WebSocket adapters.

Every function raises :class:`ValidationError` (a :class:`~.errors.BadRequest` and a ``ValueError``) with a message that
is safe to return to a caller.
"""

from __future__ import annotations

import re
from typing import Optional

from . import limits
from .errors import BadRequest
from .wellformed import has_control, is_text

__all__ = [
    "API_VERSIONS",
    "HUB_RE",
    "MAX_GROUP_LENGTH",
    "ValidationError",
    "parse_int",
    "validate_api_version",
    "validate_event_name",
    "validate_group",
    "validate_hub",
    "validate_id",
    "validate_user_id",
]

#: The api-versions the emulator accepts (the GA versions; features are never gated per version).
API_VERSIONS = ("2021-10-01", "2022-11-01", "2023-07-01", "2024-01-01", "2024-12-01")

#: Hub names: a letter first, then letters, digits and a few punctuation characters; 1-128 characters in total
#: (``limits.MAX_HUB_LENGTH``).
HUB_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_`,.\[\]]{0," + str(limits.MAX_HUB_LENGTH - 1) + r"}\Z")

#: see :data:`.limits.MAX_GROUP_LENGTH` (kept here for the callers that import it from this module)
MAX_GROUP_LENGTH = limits.MAX_GROUP_LENGTH


class ValidationError(BadRequest, ValueError):
    """Raised for input that breaks a service rule. The message is safe to show to the caller."""


def validate_hub(hub: str) -> str:
    """Return ``hub`` unchanged when it is a valid hub name; raise :class:`ValidationError` otherwise."""
    if not HUB_RE.match(hub):
        raise ValidationError(
            "Invalid hub name: it must start with a letter, contain only letters, digits and the characters "
            "_ ` , . [ ] and be at most 128 characters long."
        )
    return hub


def validate_group(group: str, *, what: str = "group") -> str:
    """Return ``group`` when it is a valid group name (1-1024 characters, not whitespace-only, no newline, valid
    Unicode)."""
    if not group:
        raise ValidationError(f"Invalid {what} name: it must not be empty.")
    if len(group) > limits.MAX_GROUP_LENGTH:
        raise ValidationError(f"Invalid {what} name: it must be at most {limits.MAX_GROUP_LENGTH} characters long.")
    if "\n" in group:
        raise ValidationError(f"Invalid {what} name: it must not contain a newline.")
    if group.isspace():
        raise ValidationError(f"Invalid {what} name: it must not be whitespace only.")
    if not is_text(group):
        raise ValidationError(f"Invalid {what} name: it is not valid Unicode text.")
    return group


def validate_id(value: str, *, what: str) -> str:
    """Return ``value`` when it is a valid connection id (at least one character)."""
    if not value:
        raise ValidationError(f"Invalid {what}: it must not be empty.")
    return value


def validate_user_id(value: str, *, what: str = "user id") -> str:
    """Return ``value`` when it is a valid user id: 1-1024 characters of valid Unicode without control characters
    (a user id travels in the ``ce-userId`` header and in every message the user sends)."""
    if not value:
        raise ValidationError(f"Invalid {what}: it must not be empty.")
    if len(value) > limits.MAX_USER_ID_LENGTH:
        raise ValidationError(f"Invalid {what}: it must be at most {limits.MAX_USER_ID_LENGTH} characters long.")
    if not is_text(value):
        raise ValidationError(f"Invalid {what}: it is not valid Unicode text.")
    if has_control(value):
        raise ValidationError(f"Invalid {what}: it must not contain control characters (such as CR, LF or NUL).")
    return value


def validate_event_name(name: str) -> str:
    """Return ``name`` when it is a valid user event name: 1-256 characters of valid Unicode without control
    characters, and not ``.`` or ``..`` (the name becomes one path segment of the handler URL and a header value)."""
    if not name:
        raise ValidationError("Invalid event name: it must not be empty.")
    if len(name) > limits.MAX_EVENT_NAME_LENGTH:
        raise ValidationError(f"Invalid event name: it must be at most {limits.MAX_EVENT_NAME_LENGTH} characters long.")
    if not is_text(name):
        raise ValidationError("Invalid event name: it is not valid Unicode text.")
    if has_control(name):
        raise ValidationError("Invalid event name: it must not contain control characters.")
    if name in (".", ".."):
        raise ValidationError("Invalid event name: '.' and '..' are not event names.")
    return name


def validate_api_version(value: Optional[str]) -> str:
    """Return the api-version when it is one the emulator supports."""
    if not value:
        raise ValidationError("The query parameter 'api-version' is required.")
    if value not in API_VERSIONS:
        raise ValidationError(f"Unsupported api-version '{value[:40]}'. Supported versions: {', '.join(API_VERSIONS)}.")
    return value


def parse_int(
    value: Optional[str], *, name: str, minimum: int, maximum: int, default: Optional[int] = None
) -> Optional[int]:
    """Parse an integer query parameter and check its range; ``None`` (absent) gives ``default``."""
    if value is None:
        return default
    text = value.strip()
    if not re.fullmatch(r"[+-]?[0-9]{1,10}", text):
        raise ValidationError(f"The query parameter '{name}' must be an integer.")
    number = int(text)
    if number < minimum or number > maximum:
        raise ValidationError(f"The query parameter '{name}' must be between {minimum} and {maximum}.")
    return number
