"""Every event-handler sample runs to completion against the emulator it starts with its handler wired in, and
``make demo`` (samples/quickstart.py) shows the handler's half: a connect decided, a refusal, an event answered and
its content broadcast through the SDK.
"""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
TIMEOUT = 90
FRAMEWORKS = {
    "asgi_app.py": "ASGI",
    "starlette_app.py": "Starlette",
    "fastapi_app.py": "FastAPI",
    "wsgi_app.py": "WSGI",
    "flask_app.py": "Flask",
    "django_app.py": "Django",
    "aiohttp_app.py": "aiohttp",
}
SAMPLE_LINES = [
    "connect: the handler named the users 'alice' and 'bob'",
    "connect: a forged ticket was refused with 401",
    "alice sent 'hello': bob got it from the lobby, alice got {'ok': True, 'sent': 1}",
    "alice got {'ok': True, 'sent': 2}",  # state kept across events
    "disconnected: alice left after sending 2 message(s)",
    "disconnected: bob left after sending 0 message(s)",
]
QUICKSTART_LINES = [
    "| handler connect bob (ticket)    | -",
    "connected as 'bob'",
    "text 'group set by the handler' (group from-handler)",
    "| handler refuses a forged ticket | -",
    "refused: 401",
    "text 'heard you, carol'",
    '| handler broadcasts it (SDK)     | text \'{"from": "carol", "text": "hi all"}\'',
    "All expected messages arrived. Done.",
]


def run_all() -> dict[str, subprocess.CompletedProcess[str]]:
    """Run every script at once (each in its own process with its own emulator); the slowest sets the pace."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBPUBSUB_")}  # always the local emulator
    scripts = [SAMPLES / "event_handlers" / name for name in FRAMEWORKS] + [SAMPLES / "quickstart.py"]

    def run_one(script: Path) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, str(script)]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(scripts)) as pool:
        return dict(zip([s.name for s in scripts], pool.map(run_one, scripts)))


@pytest.fixture(scope="module")
def results() -> dict[str, subprocess.CompletedProcess[str]]:
    return run_all()


def test_every_event_handler_sample_is_listed() -> None:
    assert sorted(p.name for p in (SAMPLES / "event_handlers").glob("*.py") if not p.name.startswith("_")) == sorted(
        FRAMEWORKS
    )


@pytest.mark.parametrize("name", sorted(FRAMEWORKS))
def test_event_handler_sample_runs(results: dict[str, subprocess.CompletedProcess[str]], name: str) -> None:
    result = results[name]
    assert result.returncode == 0, f"{name} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    for line in [*SAMPLE_LINES, f"{FRAMEWORKS[name]} event handler sample done."]:
        assert line in result.stdout, f"{name}: missing {line!r} in:\n{result.stdout}"
    assert "Traceback" not in result.stderr, result.stderr


def test_the_demo_shows_the_event_handler_half(results: dict[str, subprocess.CompletedProcess[str]]) -> None:
    result = results["quickstart.py"]
    assert result.returncode == 0, result.stdout + result.stderr
    for line in QUICKSTART_LINES:
        assert line in result.stdout, f"missing {line!r} in:\n{result.stdout}"
