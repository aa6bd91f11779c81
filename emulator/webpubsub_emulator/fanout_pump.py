"""The adapters' side of the core's parked fan-outs: a pump that carries them out slice by slice, between other work.

A fan-out to many connections (or one that comes while another is under way) is parked by
:meth:`Core.deliver <.core.Core.deliver>`. The pump carries out one slice (``limits.WORK_SLICE`` connections) per turn
of the event loop: each turn is scheduled with ``call_soon``, so the loop polls its sockets between two slices and
every other client and request is served meanwhile. :meth:`FanOutPump.drained` lets an adapter wait until what it
parked is done (a REST send answers once its message is queued for everyone; a client's next frame is read once its
fan-out is), which keeps what waits bounded.
"""

from __future__ import annotations

import asyncio
import logging

from .core import Core

__all__ = ["FanOutPump"]

log = logging.getLogger(__name__)


class FanOutPump:
    """Drives :meth:`Core.drain <.core.Core.drain>` from the event loop (one pump per core)."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self._scheduled = False
        self._waiters: list[asyncio.Future[None]] = []
        core.on_backlog = self._schedule

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._run)

    def _run(self) -> None:
        self._scheduled = False
        try:
            more = self.core.drain()
        except Exception:  # a broken slice must not stop every later fan-out
            log.exception("a fan-out failed")
            more = self.core.backlog > 0
        if more:
            self._schedule()
            return
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def drained(self) -> None:
        """Return once no fan-out is parked (at once when none is)."""
        if not self.core.backlog:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._schedule()
        await waiter
