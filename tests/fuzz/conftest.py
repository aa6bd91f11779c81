"""Fixtures for the fuzz tests: one emulator (own access key) shared by a module."""

from __future__ import annotations

from typing import Iterator

import pytest
from fuzz_support import ACCESS_KEY
from webpubsub_emulator import EmulatorThread


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(host="127.0.0.1", port=0, access_key=ACCESS_KEY) as emulator:
        yield emulator
