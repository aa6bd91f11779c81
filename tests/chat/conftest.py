"""The chat sample's tests import its modules (app, chat, run, announce) and the samples' WebSocket client."""

from __future__ import annotations

import sys
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
sys.path[:0] = [str(SAMPLES / "chat"), str(SAMPLES)]
