"""Roles and group permissions of one connection: pure, IO-free logic.

A connection's group permissions come from three places:

* the roles in its access token (or the roles a ``connect`` handler returned, which replace them);
* REST ``GrantPermission`` calls;
* REST ``RevokePermission`` calls.

Recognised roles (anything not starting with ``webpubsub.`` is an application role and is ignored here):

==========================================  =======================================================
``webpubsub.joinLeaveGroup``                join or leave any group
``webpubsub.sendToGroup``                   publish to any group
``webpubsub.joinLeaveGroup.<group>``        join or leave exactly ``<group>``
``webpubsub.sendToGroup.<group>``           publish to exactly ``<group>``
``webpubsub.joinLeaveGroups.<pattern>``     join or leave every group matching the wildcard pattern
``webpubsub.sendToGroups.<pattern>``        publish to every group matching the wildcard pattern
==========================================  =======================================================

Wildcard patterns are case-sensitive: ``?`` matches one character other than ``.``, ``*`` zero or more characters other
than ``.``, ``**`` any run of characters (``.`` included) and ``\\`` escapes ``\\``, ``*`` or ``?``.  A pattern holds at
most five ``*``.  Matching runs in time proportional to ``len(pattern) * len(group)`` (no regex backtracking).

Effective permission on group ``g``: (an all-groups role or grant, or a ``.g`` role or grant, or a matching wildcard
role) and no explicit revocation of ``g``.  A grant or revoke without a target acts on the all-groups permission: the
grant gives it, the revoke removes every grant and role of that permission type.
"""

from __future__ import annotations

from typing import Dict, FrozenSet, Iterable, List, Optional, Set, Tuple

from . import limits
from .errors import BadRequest

__all__ = [
    "JOIN_LEAVE_GROUP",
    "MAX_WILDCARD_STARS",
    "PERMISSIONS",
    "SEND_TO_GROUP",
    "PermissionState",
    "RoleError",
    "WildcardPattern",
]

SEND_TO_GROUP = "sendToGroup"
"""Permission to publish to a group."""

JOIN_LEAVE_GROUP = "joinLeaveGroup"
"""Permission to join or leave a group."""

PERMISSIONS: FrozenSet[str] = frozenset({SEND_TO_GROUP, JOIN_LEAVE_GROUP})
"""Every permission name understood by :class:`PermissionState`."""

MAX_WILDCARD_STARS = limits.MAX_WILDCARD_STARS  # see limits.py
"""The most ``*`` characters a wildcard role pattern may contain."""

_ROLE_PREFIX = "webpubsub."
# role keyword (after "webpubsub.") -> (permission, is_wildcard)
_ROLE_KINDS: Dict[str, Tuple[str, bool]] = {
    "joinLeaveGroup": (JOIN_LEAVE_GROUP, False),
    "sendToGroup": (SEND_TO_GROUP, False),
    "joinLeaveGroups": (JOIN_LEAVE_GROUP, True),
    "sendToGroups": (SEND_TO_GROUP, True),
}


class RoleError(BadRequest, ValueError):
    """A malformed role (for example a bad wildcard pattern) or an unknown permission name."""


# Pattern elements: a literal character, or one of these markers.
_ONE = 0  # "?": one character other than "."
_STAR = 1  # "*": zero or more characters other than "."
_DSTAR = 2  # "**": zero or more characters of any kind


class WildcardPattern:
    """A compiled wildcard group pattern (see the module docstring for the syntax)."""

    __slots__ = ("_elements", "pattern")

    def __init__(self, pattern: str) -> None:
        if not pattern:
            raise RoleError("wildcard role pattern is empty")
        elements: List[object] = []
        stars = 0
        i = 0
        n = len(pattern)
        while i < n:
            ch = pattern[i]
            if ch == "\\":
                if i + 1 >= n or pattern[i + 1] not in "\\*?":
                    raise RoleError("wildcard role pattern has a '\\' that does not escape '\\', '*' or '?'")
                elements.append(pattern[i + 1])
                i += 2
                continue
            if ch == "*":
                if i + 1 < n and pattern[i + 1] == "*":
                    elements.append(_DSTAR)
                    stars += 2
                    i += 2
                else:
                    elements.append(_STAR)
                    stars += 1
                    i += 1
                continue
            elements.append(_ONE if ch == "?" else ch)
            i += 1
        if stars > limits.MAX_WILDCARD_STARS:
            raise RoleError(f"wildcard role pattern has more than {limits.MAX_WILDCARD_STARS} '*'")
        self.pattern = pattern
        self._elements: Tuple[object, ...] = tuple(elements)

    def matches(self, group: str) -> bool:
        """Return True when ``group`` matches the whole pattern (case-sensitive)."""
        elements = self._elements
        count = len(elements)
        states = self._closure({0})
        for ch in group:
            nxt: Set[int] = set()
            for s in states:
                if s == count:
                    continue
                el = elements[s]
                if el == _STAR:
                    if ch != ".":
                        nxt.add(s)
                elif el == _DSTAR:
                    nxt.add(s)
                elif el == _ONE:
                    if ch != ".":
                        nxt.add(s + 1)
                elif el == ch:
                    nxt.add(s + 1)
            if not nxt:
                return False
            states = self._closure(nxt)
        return count in states

    def _closure(self, states: Set[int]) -> Set[int]:
        # A star element may match nothing: its state also stands for the state after it.
        result = set(states)
        elements = self._elements
        stack = list(states)
        while stack:
            s = stack.pop()
            if s < len(elements) and elements[s] in (_STAR, _DSTAR) and s + 1 not in result:
                result.add(s + 1)
                stack.append(s + 1)
        return result

    def __repr__(self) -> str:
        return f"WildcardPattern({self.pattern!r})"


def _check_permission(permission: str) -> str:
    if permission not in PERMISSIONS:
        raise RoleError(f"unknown permission {permission[:64]!r}; expected {SEND_TO_GROUP!r} or {JOIN_LEAVE_GROUP!r}")
    return permission


class _Grants:
    """The grants of one permission type from one source (roles or REST)."""

    __slots__ = ("all_groups", "groups", "patterns")

    def __init__(self) -> None:
        self.all_groups = False
        self.groups: Set[str] = set()
        self.patterns: List[WildcardPattern] = []

    def allows(self, group: str) -> bool:
        return self.all_groups or group in self.groups or any(p.matches(group) for p in self.patterns)

    def clear(self) -> None:
        self.all_groups = False
        self.groups.clear()
        self.patterns.clear()


def _parse_roles(roles: Iterable[str]) -> Optional[Dict[str, _Grants]]:
    """The grants the roles give, per permission; None when no role grants anything (the common case)."""
    grants: Optional[Dict[str, _Grants]] = None
    for role in roles:
        if not isinstance(role, str) or not role.startswith(_ROLE_PREFIX):
            continue  # an application role: legal, but it grants nothing here
        rest = role[len(_ROLE_PREFIX) :]
        keyword, dot, target = rest.partition(".")
        kind = _ROLE_KINDS.get(keyword)
        if kind is None:
            continue  # an unknown webpubsub.* role: ignored for forward compatibility
        permission, wildcard = kind
        if grants is None:
            grants = _new_grants()
        if wildcard:
            if not dot:
                raise RoleError(f"role {role[:80]!r} needs a pattern after '{_ROLE_PREFIX}{keyword}.'")
            grants[permission].patterns.append(WildcardPattern(target))
        elif not dot:
            grants[permission].all_groups = True
        elif not target:
            raise RoleError(f"role {role[:80]!r} names an empty group")
        else:
            grants[permission].groups.add(target)
    return grants


def _new_grants() -> Dict[str, _Grants]:
    return {p: _Grants() for p in PERMISSIONS}


class PermissionState:
    """The mutable group permissions of one connection.

    ``roles`` are the token (or ``connect`` response) roles; :class:`RoleError` is raised when one is malformed.
    The three tables are created on first use: most connections never hold a role, a grant or a revocation, and
    there may be many thousands of them.
    """

    __slots__ = ("_granted", "_revoked", "_roles")

    def __init__(self, roles: Iterable[str] = ()) -> None:
        self._roles = _parse_roles(roles)
        self._granted: Optional[Dict[str, _Grants]] = None
        self._revoked: Optional[Dict[str, Set[str]]] = None

    def replace_roles(self, roles: Iterable[str]) -> None:
        """Replace the role-derived permissions (REST grants and revocations are kept).

        Used when a ``connect`` handler returns ``roles``.  On a :class:`RoleError` the state is unchanged.
        """
        self._roles = _parse_roles(roles)

    def _grants(self) -> Dict[str, _Grants]:
        if self._granted is None:
            self._granted = _new_grants()
        return self._granted

    def _revocations(self) -> Dict[str, Set[str]]:
        if self._revoked is None:
            self._revoked = {p: set() for p in PERMISSIONS}
        return self._revoked

    def grant(self, permission: str, target: Optional[str]) -> None:
        """Grant ``permission`` on group ``target``, or on every group when ``target`` is None."""
        _check_permission(permission)
        if target is None:
            self._grants()[permission].all_groups = True
            if self._revoked is not None:
                self._revoked[permission].clear()
        else:
            self._grants()[permission].groups.add(target)
            if self._revoked is not None:
                self._revoked[permission].discard(target)

    def revoke(self, permission: str, target: Optional[str]) -> None:
        """Revoke ``permission`` on group ``target``; with ``target`` None remove every grant and role of that type.

        Revoking a single group overrides an all-groups or wildcard permission for that group.  Existing group
        memberships are not touched (that is the caller's business).
        """
        _check_permission(permission)
        if target is None:
            if self._granted is not None:
                self._granted[permission].clear()
            if self._roles is not None:
                self._roles[permission].clear()
            if self._revoked is not None:
                self._revoked[permission].clear()
        else:
            if self._granted is not None:
                self._granted[permission].groups.discard(target)
            self._revocations()[permission].add(target)

    def allows(self, permission: str, group: str) -> bool:
        """Return True when the connection may perform ``permission`` on ``group``."""
        _check_permission(permission)
        if self._revoked is not None and group in self._revoked[permission]:
            return False
        return (self._granted is not None and self._granted[permission].allows(group)) or (
            self._roles is not None and self._roles[permission].allows(group)
        )

    def check(self, permission: str, target: Optional[str]) -> bool:
        """REST ``CheckPermission``: like :meth:`allows` for a group; without a target, True only when the
        all-groups permission is held and no single group has been revoked."""
        _check_permission(permission)
        if target is not None:
            return self.allows(permission, target)
        held = (self._granted is not None and self._granted[permission].all_groups) or (
            self._roles is not None and self._roles[permission].all_groups
        )
        return held and not (self._revoked is not None and self._revoked[permission])

    def __repr__(self) -> str:
        parts = []
        empty = _Grants()
        for permission in sorted(PERMISSIONS):
            for source, table in (("role", self._roles), ("grant", self._granted)):
                grants = table[permission] if table is not None else empty
                if grants.all_groups:
                    parts.append(f"{source}:{permission}:*all*")
                parts.extend(f"{source}:{permission}:{g!r}" for g in sorted(grants.groups))
                parts.extend(f"{source}:{permission}:{p.pattern!r}" for p in grants.patterns)
            revoked = self._revoked[permission] if self._revoked is not None else set()
            parts.extend(f"revoked:{permission}:{g!r}" for g in sorted(revoked))
        return f"PermissionState({', '.join(parts)})"
