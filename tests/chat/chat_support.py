"""What the chat sample's tests share (tests/chat and tests/browser): the sample's modules (app, chat, run, announce)
and the samples' WebSocket client on ``sys.path``, and the fixtures ``chat`` (the app and an emulator wired together,
as ``make chat`` runs them, on free ports) and ``service`` (an SDK client for its hub).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
sys.path[:0] = [str(SAMPLES / "chat"), str(SAMPLES)]

from azure.messaging.webpubsubservice import WebPubSubServiceClient  # noqa: E402
from run import RunningChat, run_chat  # noqa: E402

__all__ = ["chat", "service"]


@pytest.fixture
def chat() -> Iterator[RunningChat]:
    with run_chat(port=0) as running:
        yield running


@pytest.fixture
def service(chat: RunningChat) -> Iterator[WebPubSubServiceClient]:
    with WebPubSubServiceClient.from_connection_string(chat.connection_string, hub=chat.hub) as client:
        yield client
