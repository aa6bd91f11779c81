"""A fan-out to many connections is carried out slice by slice, in order (issue 8, finding 9).

The core parks a fan-out to more than ``limits.WORK_SLICE`` connections (or one that comes while another is under
way) and carries it out one slice per call of ``Core.drain``, which the adapters call between other work
(``fanout_pump``). Over real sockets, with a batch membership request: ``tests/security/test_security_long_work``.
"""

from __future__ import annotations

from typing import Any, List

from core_support import messages, open_session
from webpubsub_emulator import limits
from webpubsub_emulator.core import Core
from webpubsub_emulator.protocol import Payload
from webpubsub_emulator.session import Session


def _targets(core: Core, count: int) -> List[Session]:
    return [open_session(core, user=f"u{i}") for i in range(count)]


def _data(core: Core, session: Session) -> List[Any]:
    return [m["data"] for m in messages(core, session)]


def test_a_large_fan_out_is_carried_out_in_slices_and_in_order() -> None:
    core = Core()
    size = limits.WORK_SLICE
    targets = _targets(core, 3 * size)
    assert core.deliver(targets, Payload.text("first")) == 0  # too many for one go: parked
    last = targets[-1]
    assert core.deliver([last], Payload.text("second")) == 0  # parked behind the first, so that order is kept
    assert core.backlog == 2
    assert core.drain() is True  # one slice, then the loop is free again
    assert all(_data(core, s) == ["first"] for s in targets[:size])
    assert _data(core, targets[size]) == []  # not yet
    while core.drain():
        pass
    assert core.backlog == 0
    assert all(_data(core, s) == ["first"] for s in targets[size:-1])
    assert _data(core, last) == ["first", "second"]


def test_a_small_fan_out_is_delivered_at_once() -> None:
    core = Core()
    targets = _targets(core, 3)
    assert core.deliver(targets, Payload.text("now")) == 3
    assert core.backlog == 0
    assert all(_data(core, s) == ["now"] for s in targets)
