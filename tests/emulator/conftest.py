"""Fixtures shared by the emulator tests. A test module may set ``HUB`` (the hub of ``rest`` and ``clients``) and
``Clients`` (a :class:`ws_support.ClientPool` subclass that ``clients`` yields)."""

from __future__ import annotations

from typing import AsyncIterator

import aiohttp
import pytest
from upstream_support import HandlerServer, handler_server
from webpubsub_emulator import Emulator
from ws_support import ClientPool, Rest


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(host="127.0.0.1", port=0) as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def hub(request: pytest.FixtureRequest) -> str:
    return str(getattr(request.module, "HUB", "hub1"))


@pytest.fixture
def rest(emu: Emulator, session: aiohttp.ClientSession, hub: str) -> Rest:
    return Rest(session, emu.endpoint, emu.access_key, hub)


@pytest.fixture
async def clients(
    emu: Emulator, session: aiohttp.ClientSession, hub: str, request: pytest.FixtureRequest
) -> AsyncIterator[ClientPool]:
    pool: ClientPool = getattr(request.module, "Clients", ClientPool)(emu, session, hub)
    yield pool
    await pool.close()


@pytest.fixture
async def handler() -> AsyncIterator[HandlerServer]:
    """A started event-handler stand-in (see ``upstream_support``)."""
    async with handler_server() as server:
        yield server
