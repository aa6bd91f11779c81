"""Tests for roles, wildcard role patterns and REST grant/revoke/check (service-behaviour.md §4)."""

from __future__ import annotations

import time

import pytest
from webpubsub_emulator.roles import (
    JOIN_LEAVE_GROUP,
    SEND_TO_GROUP,
    PermissionState,
    RoleError,
    WildcardPattern,
)

J = JOIN_LEAVE_GROUP
S = SEND_TO_GROUP


def test_constants() -> None:
    assert SEND_TO_GROUP == "sendToGroup"
    assert JOIN_LEAVE_GROUP == "joinLeaveGroup"
    assert issubclass(RoleError, ValueError)


def test_no_roles_allow_nothing() -> None:
    state = PermissionState([])
    assert not state.allows(J, "g")
    assert not state.allows(S, "g")
    assert not state.check(J, None)
    assert not state.check(S, "g")


@pytest.mark.parametrize(
    ("roles", "permission", "group", "expected"),
    [
        (["webpubsub.joinLeaveGroup"], J, "any", True),
        (["webpubsub.joinLeaveGroup"], S, "any", False),
        (["webpubsub.sendToGroup"], S, "a.b.c", True),
        (["webpubsub.sendToGroup"], J, "any", False),
        (["webpubsub.joinLeaveGroup.g1"], J, "g1", True),
        (["webpubsub.joinLeaveGroup.g1"], J, "g2", False),
        (["webpubsub.joinLeaveGroup.g1"], J, "G1", False),
        (["webpubsub.joinLeaveGroup.g1"], S, "g1", False),
        (["webpubsub.sendToGroup.g1"], S, "g1", True),
        (["webpubsub.sendToGroup.a.b"], S, "a.b", True),  # the group name may contain dots
        (["webpubsub.sendToGroup.a.b"], S, "a", False),
        (["webpubsub.sendToGroup.*"], S, "*", True),  # the singular form is literal
        (["webpubsub.sendToGroup.*"], S, "x", False),
        (["webpubsub.sendToGroup.with space"], S, "with space", True),
        (["webpubsub.sendToGroups.chat-*"], S, "chat-1", True),
        (["webpubsub.sendToGroups.chat-*"], J, "chat-1", False),
        (["webpubsub.joinLeaveGroups.chat-*"], J, "chat-1", True),
        (["webpubsub.joinLeaveGroups.chat-*"], S, "chat-1", False),
        # unknown and application roles grant nothing but are legal
        (["admin", "webpubsub.somethingNew", "WEBPUBSUB.SENDTOGROUP"], S, "g", False),
        (["admin", "webpubsub.sendToGroup.g"], S, "g", True),
    ],
)
def test_role_grants(roles: list[str], permission: str, group: str, expected: bool) -> None:
    assert PermissionState(roles).allows(permission, group) is expected
    assert PermissionState(roles).check(permission, group) is expected


@pytest.mark.parametrize(
    ("pattern", "group", "expected"),
    [
        ("chat", "chat", True),
        ("chat", "Chat", False),  # case-sensitive
        ("chat", "chats", False),
        ("?", "a", True),
        ("?", "", False),
        ("?", "ab", False),
        ("?", ".", False),  # ? never matches a dot
        ("a?c", "abc", True),
        ("a?c", "a.c", False),
        ("*", "", True),
        ("*", "anything", True),
        ("*", "a.b", False),  # * stops at dots
        ("a.*", "a.b", True),
        ("a.*", "a.", True),
        ("a.*", "a.b.c", False),
        ("a.*.c", "a.b.c", True),
        ("a.*.c", "a..c", True),
        ("a.*.c", "a.b.x.c", False),
        ("**", "", True),
        ("**", "a.b.c", True),
        ("a.**", "a.b.c", True),
        ("a.**", "a.", True),
        ("a.**", "b.c", False),
        ("**.c", "a.b.c", True),
        ("**.c", "a.b.d", False),
        ("*-*", "x-y", True),
        ("*-*", "-", True),
        ("*-*", "x.y-z", False),
        ("a**b", "a.x.b", True),
        (r"a\*b", "a*b", True),
        (r"a\*b", "axb", False),
        (r"a\?b", "a?b", True),
        (r"a\?b", "axb", False),
        (r"a\\b", "a\\b", True),
        (r"\**", "*abc", True),
        (r"\**", "abc", False),
        ("*.*.*.*.*", "a.b.c.d.e", True),
        ("*.*.*.*.*", "a.b.c.d", False),
        ("ü*", "über", True),
    ],
)
def test_wildcard_patterns(pattern: str, group: str, expected: bool) -> None:
    assert WildcardPattern(pattern).matches(group) is expected
    state = PermissionState([f"webpubsub.sendToGroups.{pattern}"])
    assert state.allows(S, group) is expected


@pytest.mark.parametrize(
    "role",
    [
        "webpubsub.sendToGroups.",  # empty pattern
        "webpubsub.sendToGroups",  # no pattern at all
        "webpubsub.joinLeaveGroups.a\\",  # dangling escape
        "webpubsub.joinLeaveGroups.a\\b",  # escape of an ordinary character
        "webpubsub.sendToGroups.*.*.*.*.*.*",  # six stars
        "webpubsub.sendToGroups.***.***",  # six stars counted as ** + * twice
        "webpubsub.sendToGroup.",  # empty literal group
        "webpubsub.joinLeaveGroup.",
    ],
)
def test_malformed_roles(role: str) -> None:
    with pytest.raises(RoleError):
        PermissionState(["admin", role])


def test_star_limit_counts_escaped_stars_as_literals() -> None:
    state = PermissionState([r"webpubsub.sendToGroups.\*\*\*\*\*\*" + "*****"])
    assert state.allows(S, "******x")
    assert not state.allows(S, "*****x")


def test_wildcard_matching_is_linear() -> None:
    pattern = WildcardPattern("*a*a*a*a*b")
    group = "a" * 1024
    start = time.perf_counter()
    assert not pattern.matches(group)
    assert pattern.matches(group + "b")
    assert time.perf_counter() - start < 1.0


def test_replace_roles_replaces_token_roles() -> None:
    state = PermissionState(["webpubsub.sendToGroup", "webpubsub.joinLeaveGroup.g"])
    state.replace_roles(["webpubsub.joinLeaveGroup.h"])
    assert not state.allows(S, "x")
    assert not state.allows(J, "g")
    assert state.allows(J, "h")
    state.replace_roles([])
    assert not state.allows(J, "h")


def test_replace_roles_failure_keeps_state() -> None:
    state = PermissionState(["webpubsub.sendToGroup"])
    with pytest.raises(RoleError):
        state.replace_roles(["webpubsub.sendToGroups.******"])
    assert state.allows(S, "x")


def test_replace_roles_keeps_rest_grants() -> None:
    state = PermissionState([])
    state.grant(S, "g")
    state.replace_roles(["webpubsub.joinLeaveGroup"])
    assert state.allows(S, "g")
    assert state.allows(J, "anything")


def test_grant_single_group() -> None:
    state = PermissionState([])
    state.grant(J, "g1")
    assert state.allows(J, "g1")
    assert state.check(J, "g1")
    assert not state.allows(J, "g2")
    assert not state.allows(S, "g1")
    assert not state.check(J, None)


def test_grant_is_literal() -> None:
    state = PermissionState([])
    state.grant(S, "*")
    assert state.allows(S, "*")
    assert not state.allows(S, "x")


def test_grant_without_target_is_all_groups() -> None:
    state = PermissionState([])
    state.grant(S, None)
    assert state.allows(S, "anything")
    assert state.check(S, None)
    assert state.check(S, "x")
    assert not state.check(J, None)


def test_check_without_target_needs_all_groups() -> None:
    assert PermissionState(["webpubsub.joinLeaveGroup"]).check(J, None)
    assert not PermissionState(["webpubsub.joinLeaveGroup.g"]).check(J, None)
    assert not PermissionState(["webpubsub.joinLeaveGroups.**"]).check(J, None)


def test_revoke_single_group_overrides_all_groups_role() -> None:
    state = PermissionState(["webpubsub.sendToGroup"])
    state.revoke(S, "g1")
    assert not state.allows(S, "g1")
    assert not state.check(S, "g1")
    assert state.allows(S, "g2")
    assert not state.check(S, None)  # the all-groups permission is no longer whole


def test_revoke_single_group_overrides_wildcard_role() -> None:
    state = PermissionState(["webpubsub.joinLeaveGroups.chat-*"])
    state.revoke(J, "chat-1")
    assert not state.allows(J, "chat-1")
    assert state.allows(J, "chat-2")


def test_revoke_single_group_overrides_literal_role_and_grant() -> None:
    state = PermissionState(["webpubsub.joinLeaveGroup.g"])
    state.grant(J, "h")
    state.revoke(J, "g")
    state.revoke(J, "h")
    assert not state.allows(J, "g")
    assert not state.allows(J, "h")


def test_grant_after_revoke_restores() -> None:
    state = PermissionState(["webpubsub.sendToGroup"])
    state.revoke(S, "g")
    state.grant(S, "g")
    assert state.allows(S, "g")
    state.revoke(S, "g")
    state.grant(S, None)
    assert state.allows(S, "g")
    assert state.check(S, None)


def test_revoke_without_target_removes_everything_of_that_type() -> None:
    state = PermissionState(
        [
            "webpubsub.sendToGroup",
            "webpubsub.sendToGroup.g",
            "webpubsub.sendToGroups.**",
            "webpubsub.joinLeaveGroup",
        ]
    )
    state.grant(S, "h")
    state.grant(S, None)
    state.revoke(S, None)
    for group in ("g", "h", "x.y"):
        assert not state.allows(S, group)
    assert not state.check(S, None)
    assert state.allows(J, "g")  # the other type is untouched
    state.grant(S, "g")
    assert state.allows(S, "g")


def test_revoke_of_unheld_permission_is_harmless() -> None:
    state = PermissionState([])
    state.revoke(J, "g")
    state.revoke(J, None)
    assert not state.allows(J, "g")


@pytest.mark.parametrize("method", ["grant", "revoke", "check"])
def test_unknown_permission(method: str) -> None:
    state = PermissionState([])
    with pytest.raises(RoleError):
        getattr(state, method)("sendToGroups", "g")
    with pytest.raises(RoleError):
        state.allows("SendToGroup", "g")


def test_roles_can_be_any_iterable() -> None:
    state = PermissionState(r for r in ("webpubsub.sendToGroup.g",))
    assert state.allows(S, "g")
    assert "sendToGroup" in repr(state)
