"""The pytest plugin (issue 7, item 5): the ``webpubsub_emulator`` fixture configured by a marker, and the factory
fixture. These tests use the plugin exactly as a user's test suite would (it is registered by the package's entry
point)."""

from __future__ import annotations

import json
import ssl
import urllib.request
from typing import Any, Callable, Dict, List

import pytest
import websocket
from webpubsub_emulator import DEFAULT_ACCESS_KEY, EmulatorThread, FaultPlan

KEY = "a-pytest-plugin-key-0123456789-abcdefghijk"
JSON_P = "json.webpubsub.azure.v1"
STARTED: List[EmulatorThread] = []


def health(emu: EmulatorThread, **kwargs: Any) -> int:
    request = urllib.request.Request(f"{emu.endpoint}/api/health", method="HEAD")
    return int(urllib.request.urlopen(request, timeout=10, **kwargs).status)


def test_the_plain_fixture(webpubsub_emulator: EmulatorThread) -> None:
    assert webpubsub_emulator.access_key == DEFAULT_ACCESS_KEY and webpubsub_emulator.port > 0
    assert health(webpubsub_emulator) == 200


@pytest.mark.webpubsub_emulator(access_key=KEY, faults=FaultPlan(rest_failure_rate=1.0), event_failure="ack")
def test_a_marker_sets_the_options(webpubsub_emulator: EmulatorThread) -> None:
    assert webpubsub_emulator.access_key == KEY and webpubsub_emulator.emulator.event_failure == "ack"
    assert webpubsub_emulator.faults.rest_failure_rate == 1.0


async def _app(scope: Dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    """A minimal ASGI event handler: validation allowed, every connect named ``asgi-user``."""
    if scope["type"] != "http":
        raise RuntimeError("no lifespan")
    await receive()
    if scope["method"] == "OPTIONS":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"webhook-allowed-origin", b"*")]})
        await send({"type": "http.response.body", "body": b""})
        return
    if scope["path"].endswith("/connect"):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"userId": "asgi-user"}'})
        return
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


@pytest.mark.webpubsub_emulator(event_handlers={"chat": _app})
def test_a_marker_with_an_in_process_app(webpubsub_emulator: EmulatorThread) -> None:
    ws = websocket.create_connection(webpubsub_emulator.client_url("chat"), subprotocols=[JSON_P], timeout=10)
    try:
        assert json.loads(ws.recv())["userId"] == "asgi-user"
    finally:
        ws.close()


@pytest.mark.webpubsub_emulator(access_key=KEY, ack_delay=0.5)
class TestMarkersCloserToTheTestWin:
    def test_the_class_marker(self, webpubsub_emulator: EmulatorThread) -> None:
        assert webpubsub_emulator.access_key == KEY and webpubsub_emulator.emulator.ack_delay == 0.5

    @pytest.mark.webpubsub_emulator(ack_delay=0)
    def test_the_test_marker_overrides_one_option(self, webpubsub_emulator: EmulatorThread) -> None:
        assert webpubsub_emulator.access_key == KEY and webpubsub_emulator.emulator.ack_delay == 0


@pytest.mark.webpubsub_emulator(tls_self_signed=True)
def test_a_marker_for_tls(webpubsub_emulator: EmulatorThread) -> None:
    assert webpubsub_emulator.endpoint.startswith("https://")
    context = ssl.create_default_context(cafile=webpubsub_emulator.tls_cert_file)
    assert health(webpubsub_emulator, context=context) == 200


def test_the_factory_starts_as_many_as_needed(webpubsub_emulator_factory: Callable[..., EmulatorThread]) -> None:
    first = webpubsub_emulator_factory()
    second = webpubsub_emulator_factory(access_key=KEY, event_handlers={"chat": _app})
    assert first.port != second.port and (first.access_key, second.access_key) == (DEFAULT_ACCESS_KEY, KEY)
    assert health(first) == 200 and health(second) == 200
    STARTED.extend((first, second))


def test_the_factory_stopped_them_after_the_previous_test() -> None:
    assert len(STARTED) == 2, "runs after test_the_factory_starts_as_many_as_needed (file order)"
    for emu in STARTED:
        with pytest.raises(OSError):
            health(emu)
