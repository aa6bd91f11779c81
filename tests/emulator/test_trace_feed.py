"""The trace page's feed, without IO: subscribed only while watched, entries attributed to hubs, users and groups,
one bounded ring for every watcher, losses counted, each entry encoded once, snapshots."""

from __future__ import annotations

import json
import time
from typing import Any, List

import pytest
from core_support import FakeClock, open_session
from webpubsub_emulator import limits
from webpubsub_emulator.core import Core
from webpubsub_emulator.reliable_clients import RELIABLE
from webpubsub_emulator.roles import PermissionState
from webpubsub_emulator.trace import Trace
from webpubsub_emulator.trace_feed import TraceFeed, Watcher, rest_target


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


def make() -> tuple[Core, TraceFeed]:
    core = Core(FakeClock())
    return core, TraceFeed(core, core.trace, size=8, clock=Clock())


def entries(feed: TraceFeed, watcher: Watcher, limit: int = 1000) -> List[dict[str, Any]]:
    return [json.loads(e) for e in feed.take(watcher, limit).entries]


def test_the_feed_listens_only_while_someone_watches() -> None:
    core, feed = make()
    assert not core.trace.observers
    first = feed.attach(lambda: None)
    second = feed.attach(lambda: None)
    assert core.trace.observers == (feed.observe,)  # one subscription, whatever the number of watchers
    feed.detach(first)
    assert core.trace.observers
    feed.detach(second)
    assert not core.trace.observers
    open_session(core, user="u")  # nobody watches: nothing is recorded
    assert feed.next_seq == 0
    feed.detach(second)  # twice: harmless


def test_entries_name_the_hub_connection_user_and_groups_at_that_moment() -> None:
    core, feed = make()
    watcher = feed.attach(lambda: None)
    session = open_session(core, "Chat", user="alice", groups=("room",))
    core.leave_group(session, "room")
    core.close(session, reason="bye")
    got = entries(feed, watcher)
    assert [(e["kind"], e["detail"].get("event")) for e in got] == [
        ("session", "open"),
        ("group", "join"),
        ("group", "leave"),
        ("session", "close"),
    ]
    assert {(e["hub"], e["connection"], e["user"]) for e in got} == {("chat", session.connection_id, "alice")}
    assert [e["groups"] for e in got] == [[], ["room"], ["room"], []]  # a leave is about the group it left
    assert got[0]["detail"]["protocol"] == "json.webpubsub.azure.v1"
    assert got[3]["detail"]["reason"] == "bye"
    assert [e["seq"] for e in got] == [0, 1, 2, 3]
    assert got[0]["ts"] < got[3]["ts"]


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/api/hubs/Chat/:send", ("chat", "send_to_all", None, None, None)),
        ("POST", "/api/hubs/chat/users/alice/:send", ("chat", "send_to_user", "alice", None, None)),
        ("POST", "/api/hubs/chat/groups/room/:send", ("chat", "send_to_group", None, "room", None)),
        ("DELETE", "/api/hubs/chat/connections/c1", ("chat", "close_connection", None, None, "c1")),
        ("PUT", "/api/hubs/chat/users/bob/groups/g", ("chat", "add_user_to_group", "bob", "g", None)),
        ("GET", "/api/hubs/chat/nothing/here", ("chat", None, None, None, None)),  # unknown: the hub still counts
        ("HEAD", "/api/health", (None, None, None, None, None)),
    ],
)
def test_a_rest_call_is_attributed_from_its_path(method: str, path: str, expected: tuple[Any, ...]) -> None:
    assert tuple(rest_target(method, path)) == expected


def test_rest_upstream_and_refused_entries() -> None:
    core, feed = make()
    watcher = feed.attach(lambda: None)
    trace = core.trace
    trace.emit("rest", None, None, method="POST", path="/api/hubs/chat/groups/room/:send", status=202, ms=1.23456)
    trace.emit("upstream", "chat", "c9", event="connect", url="http://h/api/connect", status=200, ms=2.0)
    trace.emit("refused", None, None, status=401, code="Unauthorized", reason="no token", path="/client/hubs/Lobby")
    rest, upstream, refused = entries(feed, watcher)
    assert (rest["hub"], rest["groups"], rest["user"], rest["connection"]) == ("chat", ["room"], None, None)
    assert rest["detail"]["operation"] == "send_to_group" and rest["detail"]["ms"] == 1.23
    assert upstream["detail"]["url"] == "http://h/api/connect"
    assert (upstream["hub"], upstream["connection"], upstream["user"]) == ("chat", "c9", None)
    assert refused["hub"] == "lobby"


def test_one_ring_for_every_watcher_and_a_watcher_behind_it_loses_entries_counted() -> None:
    core, feed = make()
    wakes: List[str] = []
    fast = feed.attach(lambda: wakes.append("fast"))
    slow = feed.attach(lambda: wakes.append("slow"))
    for n in range(3):
        core.trace.emit("rest", None, None, method="GET", path=f"/api/hubs/h{n}/x", status=404, ms=0.1)
    assert wakes == ["fast", "slow"]  # woken once until it takes
    assert [e["hub"] for e in entries(feed, fast)] == ["h0", "h1", "h2"]
    for n in range(3, 20):
        core.trace.emit("rest", None, None, method="GET", path=f"/api/hubs/h{n}/x", status=404, ms=0.1)
    assert wakes == ["fast", "slow", "fast"]
    batch = feed.take(slow, 1000)
    assert batch.lost == 20 - feed.size and slow.lost == 12  # it never saw h0..h11: the ring holds 8
    assert [json.loads(e)["hub"] for e in batch.entries] == [f"h{n}" for n in range(12, 20)]
    assert batch.last_seq == 19
    again = feed.take(slow, 1000)
    assert (again.entries, again.lost, again.last_seq) == ([], 0, -1)
    assert feed.take(fast, 1000).lost == 20 - 3 - feed.size  # the fast one took nothing since: behind as well


def test_a_batch_is_capped_and_the_rest_stays_pending() -> None:
    core, feed = make()
    watcher = feed.attach(lambda: None)
    for _ in range(5):
        core.trace.emit("rest", None, None, method="GET", path="/api/health", status=200, ms=0.1)
    batch = feed.take(watcher, 2)
    assert len(batch.entries) == 2 and batch.last_seq == 1 and watcher.pending
    assert len(feed.take(watcher, 10).entries) == 3 and not watcher.pending


def test_an_entry_is_encoded_once_whoever_takes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import webpubsub_emulator.trace_feed as module

    calls: List[int] = []
    real = module.dumps
    monkeypatch.setattr(module, "dumps", lambda value: calls.append(1) or real(value))
    core, feed = make()
    a, b = feed.attach(lambda: None), feed.attach(lambda: None)
    core.trace.emit("rest", None, None, method="GET", path="/api/health", status=200, ms=0.1)
    assert calls == []  # nothing encoded while nobody takes it
    assert feed.take(a).entries == feed.take(b).entries
    assert calls == [1]


def test_a_returning_watcher_continues_where_it_was_when_the_feed_still_holds_it() -> None:
    core, feed = make()
    keep = feed.attach(lambda: None)  # keeps the feed subscribed
    for _ in range(3):
        core.trace.emit("rest", None, None, method="GET", path="/api/health", status=200, ms=0.1)
    back = feed.attach(lambda: None, after=0)
    assert back.pending  # the adapter takes what it missed without waiting for news
    assert [json.loads(e)["seq"] for e in feed.take(back).entries] == [1, 2]
    for _ in range(20):
        core.trace.emit("rest", None, None, method="GET", path="/api/health", status=200, ms=0.1)
    late = feed.attach(lambda: None, after=1)  # part of what followed 1 is gone: counted as lost
    batch = feed.take(late)
    assert batch.lost == feed.next_seq - feed.size - 2 and len(batch.entries) == feed.size
    future = feed.attach(lambda: None, after=10_000)  # a number this feed never gave: starts now
    assert future.cursor == feed.next_seq
    for w in (keep, back, late, future):
        feed.detach(w)
    fresh = feed.attach(lambda: None, after=5)  # a new subscription holds nothing from before
    assert fresh.cursor == feed.next_seq and feed.start_seq == feed.next_seq


def test_the_snapshot_lists_hubs_and_live_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    core, feed = make()
    alice = open_session(core, "chat", user="alice", groups=("b", "a"))
    held = open_session(core, "chat", kind=RELIABLE)
    core.transport_lost(held)
    gone = open_session(core, "chat", user="zed")
    core.close(gone)
    core.hub("quiet")  # used by REST only
    snapshot = feed.snapshot()
    assert snapshot["seq"] == 0 and snapshot["now"] > 1_700_000_000
    chat, quiet = snapshot["hubs"]
    assert (quiet["name"], quiet["connections"], quiet["hidden"]) == ("quiet", [], 0)
    assert chat["name"] == "chat" and chat["groups"] == 2 and chat["hidden"] == 0
    by_id = {c["connection"]: c for c in chat["connections"]}
    assert set(by_id) == {alice.connection_id, held.connection_id}
    assert by_id[alice.connection_id] == {
        "hub": "chat",
        "connection": alice.connection_id,
        "user": "alice",
        "protocol": "json.webpubsub.azure.v1",
        "groups": ["a", "b"],
        "since": round(alice.opened_at, 3),
        "state": "open",
    }
    assert by_id[held.connection_id]["state"] == "held" and by_id[held.connection_id]["user"] is None
    assert abs(alice.opened_at - time.time()) < 60  # wall-clock time

    monkeypatch.setattr(limits, "TRACE_SNAPSHOT_CONNECTIONS", 1)
    chat = feed.snapshot()["hubs"][0]
    assert len(chat["connections"]) == 1 and chat["hidden"] == 1


def test_any_protocol_is_shown_by_its_name() -> None:
    core, feed = make()
    watcher = feed.attach(lambda: None)

    session = core.open_session(
        "iot",
        user_id="dev",
        kind=RELIABLE,
        permissions=PermissionState(()),
        subprotocol="mqtt",
    )
    assert session.protocol == "mqtt"
    opened = entries(feed, watcher)[0]
    assert opened["detail"]["protocol"] == "mqtt"
    assert feed.snapshot()["hubs"][0]["connections"][0]["protocol"] == "mqtt"


def test_a_feed_holds_at_least_one_entry() -> None:
    with pytest.raises(ValueError):
        TraceFeed(Core(FakeClock()), Trace(), size=0)
