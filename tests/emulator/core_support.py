"""Helpers for the pure tests of the emulator's core and sessions: a fake clock, opening sessions, draining frames."""

from __future__ import annotations

import json
from typing import Any, List, Optional

from webpubsub_emulator.clients import ClientContext, ClientProtocol
from webpubsub_emulator.core import Core
from webpubsub_emulator.json_clients import JSON
from webpubsub_emulator.outbox import Sequenced
from webpubsub_emulator.raw_clients import RAW
from webpubsub_emulator.reliable_clients import RELIABLE
from webpubsub_emulator.roles import PermissionState
from webpubsub_emulator.session import Session
from webpubsub_emulator.upstream_contract import HandlerTable

__all__ = ["FakeClock", "context", "frames", "messages", "open_session"]

_SUBPROTOCOLS = {RAW: None, JSON: JSON.name, RELIABLE: RELIABLE.name}


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def open_session(
    core: Core,
    hub: str = "hub",
    *,
    user: Optional[str] = None,
    kind: ClientProtocol = JSON,
    roles: tuple[str, ...] = (),
    groups: tuple[str, ...] = (),
    drain: bool = True,
) -> Session:
    """Open a session as the WebSocket adapter would (``drain``: drop its greeting)."""
    session = core.open_session(
        hub, user_id=user, kind=kind, permissions=PermissionState(roles), subprotocol=_SUBPROTOCOLS[kind], groups=groups
    )
    if drain:
        frames(core, session)
    return session


def context(core: Core, *, close_on_event_failure: bool = True) -> ClientContext:
    """The client protocols' context over ``core``, with no event handlers."""
    return ClientContext(core, HandlerTable({}), close_on_event_failure=close_on_event_failure)


def frames(core: Core, session: Session) -> List[Any]:
    """Every frame ready for the session now, as its client would read them (a reliable message with its sequence id
    first, as the frame writer splices it)."""
    out: List[Any] = []
    while True:
        frame = session.take(core.clock)
        if frame is None:
            return out
        if isinstance(frame, Sequenced):
            frame = '{"sequenceId":' + str(frame.sequence_id) + "," + frame.text[1:]
        out.append(frame)


def messages(core: Core, session: Session) -> List[Any]:
    """:func:`frames`, with JSON text parsed."""
    return [json.loads(f) if isinstance(f, str) else f for f in frames(core, session)]
