"""The chat's rules and memory, with no network code: who holds which name, who is online, who is in which room,
and each room's recent messages.

``app.py`` asks this module what a request means and then does the talking (the SDK calls and the replies). Keeping
the decisions here makes them easy to read and to unit-test, and the same rules serve the negotiate endpoint and the
``connect`` event.

Everything lives in this process's memory, so run the app as one worker. With several workers or servers, keep the
same records in a shared store (Redis, a database) instead; the service itself stays the source of truth for which
connections exist (``app.py`` asks it with ``connection_exists`` before it calls a name taken).
"""

from __future__ import annotations

import itertools
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, Dict, List, Optional, Set

__all__ = [
    "MAX_NAME",
    "MAX_ROOM",
    "MAX_TEXT",
    "Chat",
    "ChatError",
    "Member",
    "Message",
    "check_name",
    "check_room",
    "check_session",
    "check_text",
]

MAX_NAME = 24
MAX_ROOM = 24
MAX_TEXT = 1000
HISTORY = 50  # messages kept per room, sent to whoever joins (also after a reconnect)

_NAME_PUNCTUATION = " .'-_"
_ROOM_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_SESSION_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")


class ChatError(ValueError):
    """A request broke a chat rule. The message is meant for the user: the page shows it as it is."""


# ----------------------------------------------------------------------------------------------------------------
# What is valid
# ----------------------------------------------------------------------------------------------------------------


def check_name(value: Any) -> str:
    """A display name: 1 to 24 letters, digits, spaces or ``.'-_``, with a letter or digit in it. Returns it
    without surrounding spaces.

    :raises ChatError: If it is not a valid name; the message says what is wrong.
    """
    name = value.strip() if isinstance(value, str) else ""
    if not name:
        raise ChatError("Enter a name to sign in.")
    if len(name) > MAX_NAME:
        raise ChatError(f"Names are at most {MAX_NAME} characters long.")
    if not all(c.isalnum() or c in _NAME_PUNCTUATION for c in name) or not any(c.isalnum() for c in name):
        raise ChatError("Names may hold letters, digits, spaces and . ' - _ only.")
    return name


def check_room(value: Any) -> str:
    """A room name: 1 to 24 lowercase letters, digits and inner dashes (``general``, ``team-3``). Upper case is
    folded to lower case.

    :raises ChatError: If it is not a valid room name.
    """
    room = value.strip().lower() if isinstance(value, str) else ""
    if not room or len(room) > MAX_ROOM or not _ROOM_RE.fullmatch(room):
        raise ChatError(f"Room names are 1 to {MAX_ROOM} letters, digits and dashes, such as 'general'.")
    return room


def check_text(value: Any) -> str:
    """A message's text: not blank, at most 1000 characters. Returns it without surrounding whitespace.

    :raises ChatError: If it is blank or too long.
    """
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise ChatError("A message needs some text.")
    if len(text) > MAX_TEXT:
        raise ChatError(f"Messages are at most {MAX_TEXT} characters long.")
    return text


def check_session(value: Any) -> str:
    """The random id a browser tab makes when it signs in (16 to 64 URL-safe characters).

    :raises ChatError: If it is missing or malformed.
    """
    if not isinstance(value, str) or not _SESSION_RE.fullmatch(value):
        raise ChatError("The page sent no valid session id; reload it.")
    return value


# ----------------------------------------------------------------------------------------------------------------
# What the chat remembers
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class Member:
    """One connection the chat knows, and the name it holds."""

    connection_id: str
    name: str
    session: str  # the signed-in tab it belongs to: a reconnect from the same tab may take the name back
    online: bool = False  # the service reported it ``connected``
    rooms: Set[str] = field(default_factory=set)
    replaces: List[str] = field(default_factory=list)  # older connections of the same tab, to be closed


@dataclass(frozen=True)
class Message:
    """A chat message as the pages receive it."""

    id: str
    room: str
    user: str
    text: str
    time: float  # seconds since the epoch

    def to_json(self) -> Dict[str, Any]:
        return {
            "kind": "message",
            "id": self.id,
            "room": self.room,
            "user": self.user,
            "text": self.text,
            "time": self.time,
        }


@dataclass
class _Room:
    members: Dict[str, str] = field(default_factory=dict)  # connection id -> name
    history: Deque[Message] = field(default_factory=lambda: deque(maxlen=HISTORY))


class Chat:
    """The chat's state: names, presence, rooms and recent messages.

    Every method answers at once and does no IO. Snapshots carry ``rev``, a number that grows with every change:
    the app's messages to the pages can arrive out of order, and a page keeps a list only when its ``rev`` is newer
    than the one it shows.

    :param clock: Seconds since the epoch, for message times (tests pass a fixed clock).
    """

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._members: Dict[str, Member] = {}  # connection id -> the connection holding a name
        self._holders: Dict[str, str] = {}  # name (case-folded) -> connection id
        self._rooms: Dict[str, _Room] = {}
        self._revisions = itertools.count(1)
        self._message_ids = itertools.count(1)
        self.rev = 0

    def _changed(self) -> None:
        self.rev = next(self._revisions)

    # --- names and presence -------------------------------------------------------------------------------------

    def holder(self, name: str) -> Optional[Member]:
        """The connection holding ``name`` (names compare case-insensitively), or None."""
        connection_id = self._holders.get(name.casefold())
        return self._members[connection_id] if connection_id else None

    def member(self, connection_id: str) -> Optional[Member]:
        """The connection's record while it holds its name; None when it is unknown, gone or replaced."""
        return self._members.get(connection_id)

    def claim(self, name: str, session: str, connection_id: str) -> Optional[Member]:
        """Give ``name`` to a connecting client. The caller has decided that the current holder, if any, may lose
        it: the same tab reconnecting, or a holder whose connection the service no longer has.

        :return: The previous holder (its ``rooms`` still list where it was, for the app to tell), or None.
        """
        previous = self.holder(name)
        member = Member(connection_id, name, session)
        if previous is not None:
            self._drop(previous)
            if previous.session == session:
                member.replaces.append(previous.connection_id)
        self._members[connection_id] = member
        self._holders[name.casefold()] = connection_id
        return previous

    def connected(self, connection_id: str) -> Optional[Member]:
        """The service reports the connection open. Returns its record, or None when it holds no name (it lost
        the name to a newer connection in the meantime, or the app never saw its ``connect``).
        """
        member = self.member(connection_id)
        if member is not None and not member.online:
            member.online = True
            self._changed()
        return member

    def disconnected(self, connection_id: str) -> Optional[Member]:
        """The service reports the connection closed. Returns its record (``rooms`` lists where it was) when it
        held a name, so that the app can tell those rooms and everyone else; otherwise None.
        """
        member = self.member(connection_id)
        if member is not None:
            self._drop(member)
        return member

    def online(self) -> Dict[str, Any]:
        """Who is online: ``{"kind": "presence", "online": [names, sorted], "rev": n}``."""
        names = sorted((m.name for m in self._members.values() if m.online), key=str.casefold)
        return {"kind": "presence", "online": names, "rev": self.rev}

    # --- rooms ----------------------------------------------------------------------------------------------------

    def join(self, connection_id: str, room: str) -> bool:
        """Put the connection in ``room``. Returns False when it was there already.

        :raises ChatError: If the connection holds no name.
        """
        member = self._signed_in(connection_id)
        if room in member.rooms:
            return False
        member.rooms.add(room)
        self._rooms.setdefault(room, _Room()).members[connection_id] = member.name
        self._changed()
        return True

    def leave(self, connection_id: str, room: str) -> bool:
        """Take the connection out of ``room``. Returns False when it was not there.

        :raises ChatError: If the connection holds no name.
        """
        member = self._signed_in(connection_id)
        if room not in member.rooms:
            return False
        member.rooms.discard(room)
        self._forget(member, room)
        self._changed()
        return True

    def post(self, connection_id: str, room: str, text: str) -> Message:
        """A message from the connection to ``room``, kept in the room's history.

        :raises ChatError: If the connection is not in the room.
        """
        member = self._signed_in(connection_id)
        if room not in member.rooms:
            raise ChatError(f"Join #{room} before you write there.")
        message = Message(f"m{next(self._message_ids)}", room, member.name, text, self._clock())
        self._rooms[room].history.append(message)
        return message

    def room(self, room: str, *, kind: str = "room", **extra: Any) -> Dict[str, Any]:
        """A room's snapshot: ``{"kind", "room", "members": [names, sorted], "rev", **extra}``."""
        state = self._rooms.get(room)
        members = sorted(state.members.values(), key=str.casefold) if state else []
        return {"kind": kind, "room": room, "members": members, "rev": self.rev, **extra}

    def history(self, room: str) -> List[Dict[str, Any]]:
        """The room's recent messages, oldest first."""
        state = self._rooms.get(room)
        return [m.to_json() for m in state.history] if state else []

    def _signed_in(self, connection_id: str) -> Member:
        member = self.member(connection_id)
        if member is None:
            raise ChatError("This connection is not signed in.")
        return member

    def _drop(self, member: Member) -> None:
        """Forget a connection: its name and its place in each room (``member.rooms`` is left as it was)."""
        del self._members[member.connection_id]
        del self._holders[member.name.casefold()]
        for room in member.rooms:
            self._forget(member, room)
        self._changed()

    def _forget(self, member: Member, room: str) -> None:
        state = self._rooms[room]
        del state.members[member.connection_id]
        if not state.members:
            del self._rooms[room]  # an empty room is forgotten, with its history
