"""End-to-end fixtures: our SDK (sync or aio) <-> the emulator <-> real WebSocket clients.

* ``service``: a :class:`Service` wrapping either the sync or the aio ``WebPubSubServiceClient`` behind one awaitable
  interface, so each test is written once and runs for both flavours (``flavour`` is parametrized).
* ``WsClient``: a real WebSocket client (the ``websockets`` library) speaking raw, ``json.webpubsub.azure.v1`` or
  ``json.reliable.webpubsub.azure.v1``. It records every frame; tests wait for frames with a timeout, never sleep.
* ``clients``: one client of each kind, connected with tokens from the SDK's ``get_client_access_token``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from e2e_support import Clients, Service, connect_trio, make_client


@pytest.fixture
def emulator(webpubsub_emulator: Any) -> Any:
    """The emulator from the plugin's ``webpubsub_emulator`` fixture (a started ``EmulatorThread``)."""
    return webpubsub_emulator


@pytest.fixture
def hub() -> str:
    return "e2e_" + uuid.uuid4().hex[:12]


@pytest.fixture(params=["sync", "aio"])
def flavour(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def service(flavour: str, emulator: Any, hub: str) -> AsyncIterator[Service]:
    client = make_client(flavour, emulator.connection_string, hub)
    try:
        yield Service(flavour, client, hub, emulator.connection_string)
    finally:
        if flavour == "aio":
            await client.close()
        else:
            client.close()


@pytest.fixture
async def clients(service: Service) -> AsyncIterator[Clients]:
    trio = await connect_trio(service)
    try:
        yield trio
    finally:
        for client in trio:
            await client.close()
