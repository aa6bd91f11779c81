"""Fixtures for every test directory."""

from __future__ import annotations

import threading
import time
from typing import Iterator

import pytest

#: azure-messaging-webpubsubclient 1.1.0 acks sequence ids from a daemon thread that sleeps a second between rounds
#: and may outlive ``close()`` by that second; its last send then fails on the closed socket.
_OFFICIAL_CLIENT_THREAD = "(sequence_id_ack_periodically)"


@pytest.fixture(autouse=True)
def _official_client_threads_end_with_their_test() -> Iterator[None]:
    """Wait for the official client's ack threads a test started, so their noise is reported within that test."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 3.0
    for thread in set(threading.enumerate()) - before:
        if thread.name.endswith(_OFFICIAL_CLIENT_THREAD):
            while True:
                try:
                    thread.join(max(0.0, deadline - time.monotonic()))
                    break
                except RuntimeError:  # listed while it was still starting: join() refuses it until it has started
                    if time.monotonic() >= deadline:
                        break
                    time.sleep(0.01)
