"""pytest plugin (entry point ``pytest11``): the ``webpubsub_emulator`` fixture."""

from __future__ import annotations

from typing import Iterator

import pytest

from .server import EmulatorThread

__all__ = ["webpubsub_emulator"]


@pytest.fixture
def webpubsub_emulator() -> Iterator[EmulatorThread]:
    """A started emulator on a free loopback port, with the default access key; stopped after the test."""
    with EmulatorThread(host="127.0.0.1", port=0) as emulator:
        yield emulator
