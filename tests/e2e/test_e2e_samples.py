"""Every sample script runs to completion (exit 0) against an emulator it starts itself, and says what it did.

The scripts are started together (each in its own process, each with its own emulator) and then checked one by one,
so the whole module takes about as long as the slowest sample.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
TIMEOUT = 90

# Lines (substrings) each sample must print. Every sample in samples/ must be listed here.
KEY_LINES: dict[str, list[str]] = {
    "quickstart.py": [
        "| step",
        "| send_to_all JSON",
        "| send_to_all binary",
        "| bob sendToGroup (revoked)",
        "| close_connection bob",
        "disconnected 'demo finished'",
        "All expected messages arrived. Done.",
    ],
    "broadcast.py": ["send_to_all JSON", "send_to_all binary", "Broadcast done."],
    "users_and_groups.py": ["list_connections page 2", "user_exists: {'alice': True, 'zoe': False}", "done."],
    "permissions.py": ["has_permission: True", "has_permission: False", "Forbidden", "Permissions done."],
    "client_tokens.py": ["/clients/mqtt/hubs/", "/clients/socketio/hubs/", "header kid: key-1", "Client tokens done."],
    "close_connections.py": ["disconnected: 'kicked'", "'maintenance'", "Closing connections done."],
    "entra_id.py": ["ServiceRequestError", "https://webpubsub.azure.com/.default", "Entra ID sample done"],
    "reverse_proxy.py": ["proxy saw POST", "every token's aud names the origin service"],
    "send_request.py": ["-> 202", "-> 404 (no exception", "send_request done."],
    "async_client.py": ["send_to_user(bytes) -> binary", "'disconnected'", "Async client done."],
}


def sample_scripts() -> list[str]:
    return sorted(p.name for p in SAMPLES.glob("*.py") if not p.name.startswith("_"))


@pytest.fixture(scope="module")
def results() -> dict[str, subprocess.CompletedProcess[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBPUBSUB_")}  # always the local emulator
    env["PYTHONUNBUFFERED"] = "1"
    running = {
        name: subprocess.Popen(
            [sys.executable, str(SAMPLES / name)],
            cwd=SAMPLES.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in sample_scripts()
    }
    done = {}
    for name, process in running.items():
        try:
            stdout, stderr = process.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            stderr += f"\n[killed after {TIMEOUT} s]"
        done[name] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    return done


def test_every_sample_has_expectations() -> None:
    assert sample_scripts() == sorted(KEY_LINES)


@pytest.mark.parametrize("name", sorted(KEY_LINES))
def test_sample_runs(results: dict[str, subprocess.CompletedProcess[str]], name: str) -> None:
    result = results[name]
    assert result.returncode == 0, f"{name} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    for line in KEY_LINES[name]:
        assert line in result.stdout, f"{name}: missing {line!r} in output:\n{result.stdout}"
    assert "Traceback" not in result.stderr, result.stderr
