"""``make chat`` starts the emulator and the app wired together, prints the URL and stops both on Ctrl-C; the same
launcher runs the app against another service given ``WEBPUBSUB_CONNECTION_STRING``; ``announce.py`` talks to
the pages through the SDK.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from _common import JSON, WebSocketClient
from webpubsub_emulator import EmulatorThread

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "samples" / "chat" / "run.py"
ANNOUNCE = ROOT / "samples" / "chat" / "announce.py"
TIMEOUT = 60


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBPUBSUB_", "CHAT_"))}
    return {**env, **extra}


class Launched:
    """A process in its own process group (as in a terminal), its output read line by line."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self.errors: list[str] = []
        self.readers = [
            threading.Thread(target=self._read, daemon=True),
            threading.Thread(target=lambda: self.errors.extend(self.process.stderr or ()), daemon=True),
        ]
        for reader in self.readers:
            reader.start()

    def _read(self) -> None:
        for line in self.process.stdout or ():
            self.output.append(line)
            self.lines.put(line)

    def wait_for(self, prefix: str) -> str:
        while True:
            try:
                line = self.lines.get(timeout=TIMEOUT)
            except queue.Empty:
                raise AssertionError(f"no line starting with {prefix!r}; got {self.output}") from None
            if line.startswith(prefix):
                return line[len(prefix) :].strip()

    def ctrl_c(self) -> tuple[int, str]:
        """Ctrl-C in the terminal: SIGINT to the whole process group. Returns the exit status and stderr."""
        os.killpg(self.process.pid, signal.SIGINT)
        self.process.wait(timeout=TIMEOUT)
        for reader in self.readers:
            reader.join(TIMEOUT)
        with pytest.raises(ProcessLookupError):
            os.killpg(self.process.pid, 0)  # nothing of it is left running
        return self.process.returncode, "".join(self.errors)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def refuses_connections(url: str) -> bool:
    try:
        requests.get(url, timeout=5)
    except requests.ConnectionError:
        return True
    return False


def sign_in(page_url: str, name: str) -> WebSocketClient:
    response = requests.post(page_url + "negotiate", json={"name": name, "session": "s" * 32}, timeout=10)
    assert response.status_code == 200, response.text
    return WebSocketClient(response.json()["url"], protocol=JSON, name=name)


def test_make_chat_serves_the_page_and_the_emulator_until_ctrl_c() -> None:
    launched = Launched(["make", "-s", "chat"], clean_env(CHAT_PORT="0"))
    url = launched.wait_for("Chat running: open ")
    endpoint = launched.wait_for("Local Web PubSub emulator: ").split(";")[0].removeprefix("Endpoint=")
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and "<title>Web PubSub chat</title>" in page.text
    assert requests.get(url + "static/chat.js", timeout=10).status_code == 200
    with sign_in(url, "erin") as erin:
        assert erin.user_id == "erin"
        assert erin.url.startswith(endpoint.replace("http://", "ws://"))
    status, stderr = launched.ctrl_c()
    assert "Stopped." in "".join(launched.output), launched.output
    assert "Traceback" not in stderr, stderr
    assert status in (0, -signal.SIGINT)  # make re-raises the interrupt it got; the launcher itself ended cleanly
    assert refuses_connections(url) and refuses_connections(endpoint + "/api/health")


def test_with_a_connection_string_the_app_uses_that_service() -> None:
    port = free_port()
    handler = f"http://127.0.0.1:{port}/eventhandler/{{event}}"  # what the resource's hub settings would say
    with EmulatorThread(event_handlers={"chat": handler}) as service:
        env = clean_env(WEBPUBSUB_CONNECTION_STRING=service.connection_string)
        launched = Launched([sys.executable, str(RUN), "--port", str(port)], env)
        url = launched.wait_for("Chat running: open ")
        assert url == f"http://127.0.0.1:{port}/"
        with sign_in(url, "dana") as dana:
            assert dana.user_id == "dana"
            presence = dana.take(lambda f: f.is_message, what="who is online").data["data"]
            assert presence["online"] == ["dana"]  # the service sent connected to the app, which answered
        status, stderr = launched.ctrl_c()
        assert status == 0 and "Traceback" not in stderr, stderr
        assert any("Using the Web PubSub resource" in line for line in launched.output)


def test_a_busy_port_is_a_clear_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(RUN), "--port", str(port)],
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    assert result.returncode == 1
    assert f"The chat cannot start: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def listener() -> Iterator[tuple[EmulatorThread, WebSocketClient]]:
    with EmulatorThread() as emulator, WebSocketClient(emulator.client_url("chat"), protocol=JSON) as client:
        yield emulator, client


def test_announce_sends_through_the_sdk(listener: tuple[EmulatorThread, WebSocketClient]) -> None:
    emulator, client = listener
    env = clean_env(WEBPUBSUB_CONNECTION_STRING=emulator.connection_string)
    result = subprocess.run(
        [sys.executable, str(ANNOUNCE), "Back in five"], env=env, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert (result.returncode, result.stdout.strip()) == (0, "Announced to everyone."), result.stderr
    client.expect_message({"kind": "announcement", "text": "Back in five"}, data_type="json")

    missing = subprocess.run([sys.executable, str(ANNOUNCE), "x"], env=clean_env(), capture_output=True, text=True)
    assert missing.returncode == 2 and "Set WEBPUBSUB_CONNECTION_STRING" in missing.stderr
