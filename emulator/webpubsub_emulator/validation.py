"""Pure validation rules shared by the REST and WebSocket adapters.

Every function raises :class:`ValidationError` (a :class:`~.errors.BadRequest` and a ``ValueError``) with a message that
is safe to return to a caller.
"""

from __future__ import annotations

import re
from typing import Optional

from .errors import BadRequest

__all__ = [
    "API_VERSIONS",
    "HUB_RE",
    "MAX_GROUP_LENGTH",
    "ValidationError",
    "parse_int",
    "validate_api_version",
    "validate_group",
    "validate_hub",
    "validate_id",
]

#: The api-versions the emulator accepts (the GA versions; features are never gated per version).
API_VERSIONS = ("2021-10-01", "2022-11-01", "2023-07-01", "2024-01-01", "2024-12-01")

#: Hub names: a letter first, then letters, digits and a few punctuation characters; 1-128 characters in total.
HUB_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_`,.\[\]]{0,127}\Z")

MAX_GROUP_LENGTH = 1024


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
    """Return ``group`` when it is a valid group name (1-1024 characters, not whitespace-only, no newline)."""
    if not group:
        raise ValidationError(f"Invalid {what} name: it must not be empty.")
    if len(group) > MAX_GROUP_LENGTH:
        raise ValidationError(f"Invalid {what} name: it must be at most {MAX_GROUP_LENGTH} characters long.")
    if "\n" in group:
        raise ValidationError(f"Invalid {what} name: it must not contain a newline.")
    if group.isspace():
        raise ValidationError(f"Invalid {what} name: it must not be whitespace only.")
    return group


def validate_id(value: str, *, what: str) -> str:
    """Return ``value`` when it is a valid connection id or user id (at least one character)."""
    if not value:
        raise ValidationError(f"Invalid {what}: it must not be empty.")
    return value


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
