"""The chat sample's rules and memory (samples/chat/chat.py), without any network."""

from __future__ import annotations

import pytest
from chat import MAX_NAME, MAX_TEXT, Chat, ChatError, check_name, check_room, check_session, check_text

TAB_A = "a" * 32
TAB_B = "b" * 32


@pytest.mark.parametrize("value", ["alice", "  Bob Smith ", "o'brien", "jean-luc.p_2", "Zoë", "李"])
def test_valid_names_come_back_trimmed(value: str) -> None:
    assert check_name(value) == value.strip()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "Enter a name"),
        ("   ", "Enter a name"),
        (None, "Enter a name"),
        (42, "Enter a name"),
        ("x" * (MAX_NAME + 1), "at most 24"),
        ("<script>", "letters, digits"),
        ("a\nb", "letters, digits"),
        ("...", "letters, digits"),
    ],
)
def test_invalid_names_are_refused_with_a_reason(value: object, reason: str) -> None:
    with pytest.raises(ChatError, match=reason):
        check_name(value)


def test_rooms_are_lowercase_slugs() -> None:
    assert check_room(" General ") == "general"
    assert check_room("team-3") == "team-3"
    for bad in ["", "-x", "x-", "a b", "a/b", "x" * 25, None]:
        with pytest.raises(ChatError, match="Room names"):
            check_room(bad)


def test_texts_are_trimmed_and_bounded() -> None:
    assert check_text("  hi \n") == "hi"
    assert len(check_text("x" * MAX_TEXT)) == MAX_TEXT
    for bad, reason in [(" \t", "needs some text"), ("x" * (MAX_TEXT + 1), "at most 1000"), ({"a": 1}, "needs")]:
        with pytest.raises(ChatError, match=reason):
            check_text(bad)


def test_sessions_are_random_url_safe_ids() -> None:
    assert check_session(TAB_A) == TAB_A
    for bad in ["short", "x" * 65, "a" * 31 + "!", None]:
        with pytest.raises(ChatError, match="session"):
            check_session(bad)


def test_a_claimed_name_is_online_after_connected_and_names_compare_case_insensitively() -> None:
    chat = Chat()
    assert chat.claim("Alice", TAB_A, "c1") is None
    assert chat.holder("alice") is chat.holder("ALICE") is chat.member("c1")
    assert chat.online()["online"] == []  # not connected yet
    member = chat.connected("c1")
    assert member is not None and member.online
    presence = chat.online()
    assert presence["online"] == ["Alice"] and presence["rev"] > 0


def test_a_reconnect_from_the_same_tab_replaces_the_older_connection() -> None:
    chat = Chat()
    chat.claim("alice", TAB_A, "c1")
    chat.connected("c1")
    chat.join("c1", "general")
    previous = chat.claim("alice", TAB_A, "c2")
    assert previous is not None and previous.connection_id == "c1" and previous.rooms == {"general"}
    assert chat.member("c1") is None and chat.room("general")["members"] == []
    new = chat.connected("c2")
    assert new is not None and new.replaces == ["c1"]
    assert chat.disconnected("c1") is None  # the old connection's late disconnected changes nothing
    assert chat.online()["online"] == ["alice"]


def test_a_connection_that_lost_its_name_while_connecting_is_not_connected() -> None:
    chat = Chat()
    chat.claim("alice", TAB_A, "c1")
    previous = chat.claim("alice", TAB_B, "c2")  # the app found c1 gone from the service
    assert previous is not None and previous.session == TAB_A
    assert chat.connected("c1") is None
    new = chat.connected("c2")
    assert new is not None and new.replaces == []  # another tab's connection is not "replaced"


def test_disconnected_reports_the_rooms_and_frees_the_name() -> None:
    chat = Chat()
    chat.claim("bob", TAB_B, "c1")
    chat.connected("c1")
    chat.join("c1", "general")
    chat.join("c1", "random")
    gone = chat.disconnected("c1")
    assert gone is not None and gone.rooms == {"general", "random"}
    assert chat.holder("bob") is None and chat.online()["online"] == []
    assert chat.disconnected("c1") is None
    assert chat.disconnected("never-seen") is None


def test_rooms_list_members_by_name_and_keep_recent_messages() -> None:
    chat = Chat(clock=lambda: 1234.5)
    for connection_id, name in [("c2", "bob"), ("c1", "alice")]:
        chat.claim(name, TAB_A if name == "alice" else TAB_B, connection_id)
        chat.connected(connection_id)
        assert chat.join(connection_id, "general")
    assert not chat.join("c1", "general")  # already there
    before = chat.rev
    snapshot = chat.room("general", kind="joined", user="bob")
    assert snapshot == {"kind": "joined", "room": "general", "members": ["alice", "bob"], "rev": before, "user": "bob"}
    message = chat.post("c2", "general", "hi")
    assert message.to_json() == {
        "kind": "message",
        "id": message.id,
        "room": "general",
        "user": "bob",
        "text": "hi",
        "time": 1234.5,
    }
    assert chat.history("general") == [message.to_json()]
    assert chat.leave("c2", "general") and not chat.leave("c2", "general")
    assert chat.rev > before
    assert chat.room("general")["members"] == ["alice"]


def test_history_is_bounded_and_forgotten_with_an_empty_room() -> None:
    chat = Chat()
    chat.claim("alice", TAB_A, "c1")
    chat.join("c1", "general")
    ids = [chat.post("c1", "general", f"n{i}").id for i in range(60)]
    assert [m["id"] for m in chat.history("general")] == ids[-50:]
    assert len(set(ids)) == 60
    chat.leave("c1", "general")
    assert chat.history("general") == [] and chat.room("general")["members"] == []


def test_posting_needs_a_name_and_the_room() -> None:
    chat = Chat()
    with pytest.raises(ChatError, match="not signed in"):
        chat.post("nobody", "general", "hi")
    with pytest.raises(ChatError, match="not signed in"):
        chat.join("nobody", "general")
    chat.claim("alice", TAB_A, "c1")
    with pytest.raises(ChatError, match="Join #general"):
        chat.post("c1", "general", "hi")


def test_revisions_only_grow() -> None:
    chat = Chat()
    seen = [chat.rev]
    chat.claim("alice", TAB_A, "c1")
    for step in (
        lambda: chat.connected("c1"),
        lambda: chat.join("c1", "x"),
        lambda: chat.leave("c1", "x"),
        lambda: chat.disconnected("c1"),
    ):
        step()
        seen.append(chat.rev)
    assert seen == sorted(set(seen))
