"""pytest plugin (entry point ``pytest11``): the ``webpubsub_emulator`` fixture, its marker and its factory.

* ``webpubsub_emulator``: a started :class:`~.server.EmulatorThread` on a free loopback port, stopped after the test.
  Configure it with the marker ``@pytest.mark.webpubsub_emulator(**options)`` on the test, its class or its module
  (``pytestmark``); the options are :class:`~.server.Emulator`'s keywords (``access_key``, ``event_handlers`` with URL
  templates or in-process ASGI applications, ``event_failure``, ``faults``, ``ack_delay``, ``public_hosts``,
  ``tls_self_signed``, ``accept_entra_tokens``, ...). Markers closer to the test win, option by option.
* ``webpubsub_emulator_factory``: a function starting as many emulators as a test needs, each with its own options
  (for options only known inside a fixture, such as an application object built there); all are stopped after the
  test.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

from .server import EmulatorThread

__all__ = ["MARKER", "webpubsub_emulator", "webpubsub_emulator_factory"]

MARKER = "webpubsub_emulator"


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker (so ``--strict-markers`` accepts it)."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**options): start the webpubsub_emulator fixture with these Emulator options "
        "(access_key, event_handlers, event_failure, faults, ack_delay, public_hosts, tls_self_signed, ...)",
    )


@pytest.fixture
def webpubsub_emulator_factory() -> Iterator[Callable[..., EmulatorThread]]:
    """``start(**options)``: a started emulator (loopback, a free port unless ``host``/``port`` say otherwise)."""
    started: list[EmulatorThread] = []

    def start(**options: Any) -> EmulatorThread:
        options.setdefault("host", "127.0.0.1")
        options.setdefault("port", 0)
        emulator = EmulatorThread(**options)
        emulator.start()
        started.append(emulator)
        return emulator

    yield start
    for emulator in reversed(started):
        emulator.stop()


def _marker_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    options: dict[str, Any] = {}
    # iter_markers yields the closest first (test, then class, then module): apply the farthest first
    for marker in reversed(list(request.node.iter_markers(MARKER))):
        if marker.args:
            raise pytest.UsageError(f"@pytest.mark.{MARKER} takes keyword options only, e.g. access_key=...")
        options.update(marker.kwargs)
    return options


@pytest.fixture
def webpubsub_emulator(
    request: pytest.FixtureRequest, webpubsub_emulator_factory: Callable[..., EmulatorThread]
) -> EmulatorThread:
    """A started emulator on a free loopback port (the default key unless a marker says otherwise)."""
    return webpubsub_emulator_factory(**_marker_options(request))
