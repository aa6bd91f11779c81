"""Every sample script runs to completion (exit 0) against an emulator it starts itself, and says what it did.

The scripts are started together (each in its own process, each with its own emulator) and then checked one by one,
so the whole module takes about as long as the slowest sample.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
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
    "entra_id.py": [
        "ServiceRequestError",
        "minted by :generateToken: wss://",
        "entra-user received json",
        "https://webpubsub.azure.com/.default",
        "Entra ID sample done",
    ],
    "reverse_proxy.py": ["proxy saw POST", "every token's aud names the origin service"],
    "send_request.py": ["-> 202", "-> 404 (no exception", "send_request done."],
    "async_client.py": ["send_to_user(bytes) -> binary", "'disconnected'", "Async client done."],
    "mqtt_devices.py": [
        "app: connect from MQTT 5 client 'lamp1'",
        'lamp1 <- lights: {"on": true}',
        "sensor1 <- $webpubsub/server/messages: calibrate",
        "sensor1 <- $webpubsub/server/events/telemetry/succeeded",
        "MQTT devices done.",
    ],
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


@pytest.fixture
def cli_emulator() -> Iterator[str]:
    """The emulator's command line, ``webpubsub-emulator --port 0``; yields the connection string it prints."""
    script = Path(sys.executable).with_name("webpubsub-emulator")  # the console script installed with the package
    command = [str(script)] if script.exists() else [sys.executable, "-m", "webpubsub_emulator"]
    process = subprocess.Popen([*command, "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("Endpoint=http://127.0.0.1:") and ";AccessKey=" in line, line
        yield line
    finally:
        process.terminate()
        assert process.wait(timeout=TIMEOUT) == 0


def test_quickstart_uses_the_given_connection_string_and_hub(cli_emulator: str) -> None:
    env = {**os.environ, "WEBPUBSUB_CONNECTION_STRING": cli_emulator, "WEBPUBSUB_HUB": "GivenHub"}
    result = subprocess.run(
        [sys.executable, str(SAMPLES / "quickstart.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    endpoint = cli_emulator.split(";")[0].removeprefix("Endpoint=")
    assert f"Using the service at {endpoint}, hub 'GivenHub'" in result.stdout
    assert "All expected messages arrived. Done." in result.stdout


def test_a_missing_delivery_fails_loudly(webpubsub_emulator: object) -> None:
    """The samples' helper turns a message that never arrives into exit code 1 and a message saying what was missing."""
    script = textwrap.dedent(
        """
        from _common import JSON, WebSocketClient, run, service_target
        from azure.messaging.webpubsubservice import WebPubSubServiceClient

        def main():
            with service_target("fails") as target:
                service = WebPubSubServiceClient.from_connection_string(target.connection_string, hub=target.hub)
                with WebSocketClient(service.get_client_access_token()["url"], protocol=JSON, name="lonely") as c:
                    service.send_to_all("something else")
                    c.expect_message("the message nobody sends", timeout=0.5)

        run(main)
        """
    )
    env = {**os.environ, "WEBPUBSUB_CONNECTION_STRING": webpubsub_emulator.connection_string}  # type: ignore[attr-defined]
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=SAMPLES,
        env={**env, "PYTHONPATH": str(SAMPLES)},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED: lonely client: expected 'the message nobody sends', got text 'something else'" in result.stderr
    assert "Traceback" not in result.stderr
