"""The official JS packages against the emulator (issue 8, finding 13), run by Node from tests/e2e/node.

- ``@azure/web-pubsub`` follows ListConnectionsInGroup's ``nextLink`` as given: it must carry ``api-version``.
- ``@azure/web-pubsub-express`` answers the abuse-protection request with ``WebHook-Allowed-Origin: host:port`` (the
  host of its configured endpoint, port kept), one header line per allowed endpoint.
- ``@azure/web-pubsub-client`` (reliable protocol by default), after a REST close, must report the reason the service
  gave and not try to recover the session.

``make venv`` installs the packages with ``npm ci`` from tests/e2e/node/package-lock.json.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import shutil
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from webpubsub_emulator import EmulatorThread
from websockets.sync.client import connect

NODE_DIR = Path(__file__).resolve().parent / "node"
JSON_PROTOCOL = "json.webpubsub.azure.v1"
TIMEOUT = 20.0


class NodeScript:
    """``node official.js COMMAND ARGS...``; its JSON lines on stdout are read as they come."""

    def __init__(self, *args: str) -> None:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not on PATH: the official JS package tests need Node.js 20")
        if not (NODE_DIR / "node_modules" / "@azure" / "web-pubsub-client").is_dir():
            raise RuntimeError(f"{NODE_DIR}/node_modules is missing: run `make venv` (it runs npm ci there)")
        self.proc = subprocess.Popen(
            [node, str(NODE_DIR / "official.js"), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=NODE_DIR,
        )
        self.lines: queue.Queue[Dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))

    def next(self) -> Dict[str, Any]:
        try:
            return self.lines.get(timeout=TIMEOUT)
        except queue.Empty:
            stderr = self.proc.stderr.read() if self.proc.poll() is not None and self.proc.stderr else ""
            raise AssertionError(f"node printed nothing within {TIMEOUT} s {stderr}") from None

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.fixture
def hub() -> str:
    return "js_" + uuid.uuid4().hex[:8]


@pytest.fixture
def node_scripts() -> Iterator[List[NodeScript]]:
    """The Node processes a test starts (stopped at the end)."""
    started: List[NodeScript] = []
    yield started
    for script in started:
        script.stop()


def json_clients(stack: contextlib.ExitStack, emu: EmulatorThread, hub: str, count: int) -> List[str]:
    """Open ``count`` JSON clients in group ``g`` (closed with ``stack``); their connection ids, in join order."""
    ids = []
    for _ in range(count):
        ws = stack.enter_context(
            connect(emu.client_url(hub, groups=["g"]), subprotocols=[JSON_PROTOCOL], open_timeout=TIMEOUT)
        )
        ids.append(json.loads(ws.recv(timeout=TIMEOUT))["connectionId"])
    return ids


def test_js_server_sdk_follows_next_link_as_given(
    webpubsub_emulator: EmulatorThread, hub: str, node_scripts: List[NodeScript]
) -> None:
    with contextlib.ExitStack() as stack:
        ids = json_clients(stack, webpubsub_emulator, hub, 5)
        script = NodeScript("list", webpubsub_emulator.connection_string, hub, "g", "2")
        node_scripts.append(script)
        result = script.next()
        assert "error" not in result, result
        assert result["ids"] == ids  # every member once, in join order
        assert result["pages"] == 3


def test_js_express_handler_answers_validation_with_its_port(hub: str, node_scripts: List[NodeScript]) -> None:
    script = NodeScript("handler", hub)
    node_scripts.append(script)
    port = script.next()["port"]
    handler = f"http://127.0.0.1:{port}/eventhandler/{{event}}"
    with EmulatorThread(port=0, event_handlers={hub: handler}) as emu:
        script.send(emu.endpoint)  # the middleware's allowedEndpoints: this emulator, port included
        url = emu.client_url(hub, user_id="token-user")
        with connect(url, subprotocols=[JSON_PROTOCOL], open_timeout=TIMEOUT) as ws:
            connected = json.loads(ws.recv(timeout=TIMEOUT))
            assert connected["userId"] == "js-user"  # the JS connect handler's answer was used
            assert script.next() == {"event": "connect", "connectionId": connected["connectionId"]}


def test_js_client_reports_the_rest_close_reason_and_does_not_recover(
    webpubsub_emulator: EmulatorThread, hub: str, node_scripts: List[NodeScript], caplog: pytest.LogCaptureFixture
) -> None:
    script = NodeScript("client", webpubsub_emulator.client_url(hub, user_id="js"))
    node_scripts.append(script)
    connected = script.next()
    assert connected["event"] == "connected", connected
    service = WebPubSubServiceClient.from_connection_string(webpubsub_emulator.connection_string, hub=hub)
    with caplog.at_level(logging.INFO, logger="webpubsub_emulator"), service:
        service.close_connection(connected["connectionId"], reason="the server says bye")
        assert script.next() == {"event": "disconnected", "message": "the server says bye"}
        assert script.next() == {"event": "stopped"}
    attempts = [r for r in caplog.records if r.name.startswith("webpubsub_emulator") and "recover" in r.getMessage()]
    assert not attempts, "the client tried to recover the session"
