"""The session state machine: every allowed transition of the table, every refused one, and what each step does."""

from __future__ import annotations

import itertools
import json
from typing import List, Optional

import pytest
from core_support import FakeClock, frames, open_session
from webpubsub_emulator.core import Core
from webpubsub_emulator.json_clients import JSON
from webpubsub_emulator.outbox import CloseFrame, Outbox, Sequenced
from webpubsub_emulator.protocol import Payload
from webpubsub_emulator.raw_clients import RAW
from webpubsub_emulator.reliable_clients import RELIABLE
from webpubsub_emulator.roles import PermissionState
from webpubsub_emulator.session import TRANSITIONS, Session, SessionEvent, SessionKind, SessionState

S, E = SessionState, SessionEvent

#: The table of the module docstring, written out again here: (state, event) -> (next when resumable, otherwise).
EXPECTED = {
    (S.OPEN, E.DROP): (S.HELD, S.GONE),
    (S.OPEN, E.CLIENT_CLOSE): (S.GONE, S.GONE),
    (S.OPEN, E.CLOSE): (S.CLOSING, S.CLOSING),
    (S.OPEN, E.RESUME): (S.OPEN, S.OPEN),
    (S.HELD, E.RESUME): (S.OPEN, S.OPEN),
    (S.HELD, E.CLOSE): (S.GONE, S.GONE),
    (S.HELD, E.EXPIRE): (S.GONE, S.GONE),
    (S.CLOSING, E.CLOSED): (S.GONE, S.GONE),
    (S.CLOSING, E.DROP): (S.GONE, S.GONE),
    (S.CLOSING, E.CLIENT_CLOSE): (S.GONE, S.GONE),
}
ALL_PAIRS = list(itertools.product(SessionState, SessionEvent))
REFUSED = [pair for pair in ALL_PAIRS if pair not in EXPECTED]
ALIVE = (S.OPEN, S.HELD)


def session_in(state: SessionState, kind: SessionKind) -> Session:
    session = Session("c1", "hub", "u", kind, PermissionState(), kind.name)
    kind.on_open(session)
    session.state = state
    return session


def test_the_table_is_the_documented_one() -> None:
    assert set(TRANSITIONS) == set(EXPECTED)
    assert len(REFUSED) == len(ALL_PAIRS) - len(EXPECTED) == 14


@pytest.mark.parametrize("kind", [RELIABLE, JSON, RAW], ids=["resumable", "json", "raw"])
@pytest.mark.parametrize(("state", "event"), list(EXPECTED), ids=lambda v: v.value)
def test_every_allowed_transition(state: SessionState, event: SessionEvent, kind: SessionKind) -> None:
    session = session_in(state, kind)
    step = session.transition(event)
    expected = EXPECTED[(state, event)][0 if kind.resumable else 1]
    assert step.allowed and (step.event, step.old, step.new) == (event, state, expected)
    assert session.state is expected
    assert step.ended == (state in ALIVE and expected not in ALIVE)


@pytest.mark.parametrize("kind", [RELIABLE, RAW], ids=["resumable", "raw"])
@pytest.mark.parametrize(("state", "event"), REFUSED, ids=lambda v: v.value)
def test_every_refused_transition_changes_nothing(state: SessionState, event: SessionEvent, kind: SessionKind) -> None:
    session = session_in(state, kind)
    session.close_reason = "kept"
    wakeup = session.wakeup = lambda: None
    step = session.transition(event)
    assert not step.allowed and not step.ended
    assert (step.old, step.new) == (state, state) and session.state is state
    assert session.close_reason == "kept" and session.wakeup is wakeup


def test_ending_sets_a_default_reason_and_forgets_the_counts() -> None:
    session = session_in(S.OPEN, JSON)
    session.outbox = Outbox()
    assert session.outbox.admit(10, 5, 100)
    session.transition(E.CLOSE)
    assert session.close_reason == "The connection ended."
    assert session.outbox is not None and (session.outbox.messages, session.outbox.bytes) == (0, 0)
    session.transition(E.CLOSED)
    assert session.outbox is None and session.wakeup is None


def test_a_hold_detaches_the_transport_and_a_resume_replays_the_unacked() -> None:
    core = Core(FakeClock())
    session = open_session(core, kind=RELIABLE)
    core.deliver([session], Payload.text("a"))
    core.deliver([session], Payload.text("b"))
    assert [json.loads(f)["sequenceId"] for f in frames(core, session)] == [1, 2]
    session.wakeup = lambda: None
    assert session.transition(E.DROP).new is S.HELD
    assert session.wakeup is None and session.take(core.clock) is None  # no transport: nothing to take
    assert session.transition(E.RESUME).new is S.OPEN
    assert session.take(core.clock) == Sequenced(1, session.kind_state.unacked[0][1])
    assert isinstance(session.take(core.clock), Sequenced)
    assert session.take(core.clock) is None


def test_a_takeover_from_open_detaches_the_old_transport() -> None:
    session = session_in(S.OPEN, RELIABLE)
    session.wakeup = lambda: None
    assert session.transition(E.RESUME).new is S.OPEN
    assert session.wakeup is None  # the old transport writes no more; the new one attaches


def test_core_reacts_once_per_end() -> None:
    clock = FakeClock()
    core = Core(clock)
    ended: List[tuple[str, Optional[str]]] = []
    core.on_ended = lambda s: ended.append((s.connection_id, s.close_reason))
    events: List[tuple[str, Optional[str], str]] = []
    core.trace.subscribe(
        lambda e: events.append((e.detail["event"], e.detail["old"], e.detail["new"])) if e.kind == "session" else None
    )
    session = open_session(core, kind=RELIABLE, user="u", groups=("g",))
    assert core.transport_lost(session) is True and session.held_until == clock.now + core.recovery_window
    assert core.user_exists("hub", "u") and core.group_exists("hub", "g")  # held: still there
    core.close(session, reason="bye")
    core.close(session, reason="again")  # refused: nothing happens
    assert core.transport_lost(session) is False  # refused: nothing happens
    assert ended == [(session.connection_id, "bye")]
    assert not core.user_exists("hub", "u") and not core.group_exists("hub", "g")
    assert events == [("open", None, "open"), ("drop", "open", "held"), ("close", "held", "gone")]


def test_a_close_queues_the_farewell_then_the_close_frame() -> None:
    core = Core(FakeClock())
    json_session = open_session(core)
    raw_session = open_session(core, kind=RAW)
    for session in (json_session, raw_session):
        core.close(session, code=4000, reason="why", close_reason="short")
    out = frames(core, json_session)
    assert json.loads(out[0]) == {"type": "system", "event": "disconnected", "message": "why"}
    assert out[1] == CloseFrame(4000, "short")
    assert frames(core, raw_session) == [CloseFrame(4000, "short")]
