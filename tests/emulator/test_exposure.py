"""Exposure (issue 8, item 3 and finding 12; the audience half of finding 11): who can reach the emulator and under
which names. Over real sockets (REST and WebSocket) and through the real command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any, AsyncIterator, Dict, Iterator

import aiohttp
import jwt
import pytest
import webpubsub_emulator
from webpubsub_emulator import DEFAULT_ACCESS_KEY, Emulator, EmulatorThread
from webpubsub_emulator.auth import AuthError, check_rest_audience
from webpubsub_emulator.exposure import ServerNames, bind_warning, is_loopback_host
from ws_support import JSON, Api, recv_json, run_cli

KEY = "an-exposure-test-key-0123456789-abcdefghij"
HUB = "exposed"


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    names = ["proxy.test", "alias.test:9"]
    async with Emulator(access_key=KEY, public_hosts=names) as emu, aiohttp.ClientSession() as session:
        yield Api(session, emu, hub=HUB)


def rest_token(aud: str) -> str:
    return jwt.encode({"aud": aud, "exp": int(time.time()) + 60}, KEY, algorithm="HS256")


async def send_with_host(api: Api, host: str, aud_host: str) -> tuple[int, Dict[str, str], bytes]:
    """POST :send to the emulator's socket with ``Host: host`` and a token whose ``aud`` names ``aud_host``."""
    path = f"/api/hubs/{HUB}/:send?api-version=2024-12-01"
    token = rest_token(f"http://{aud_host}{path}")
    url = f"http://127.0.0.1:{api.emu.port}{path}"
    headers = {"Host": host, "Authorization": f"Bearer {token}", "Content-Type": "text/plain"}
    async with api.session.post(url, data=b"x", headers=headers) as resp:
        return resp.status, dict(resp.headers), await resp.read()


# ---------------------------------------------------------------------------------------------------- Host header
async def test_rest_refuses_a_request_whose_host_names_another_server(api: Api) -> None:
    """DNS rebinding: a page on evil.test whose name now points at 127.0.0.1 sends Host: evil.test (and, had it a
    key, a token for that name). Today's main served it (202); now it is refused before anything else."""
    status, headers, body = await send_with_host(api, f"evil.test:{api.emu.port}", f"evil.test:{api.emu.port}")
    assert status == 400 and headers["x-ms-error-code"] == "BadRequest"
    assert b"Host header" in body and b"evil.test" in body and b"--public-host" in body


async def test_a_websocket_whose_host_names_another_server_is_refused(api: Api) -> None:
    url = api.emu.client_url(HUB)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await api.session.ws_connect(url, protocols=(JSON,), headers={"Host": "evil.test"})
    assert refused.value.status == 400
    # the same client with its own Host gets in
    async with api.session.ws_connect(url, protocols=(JSON,)) as ws:
        assert (await recv_json(ws))["event"] == "connected"


@pytest.mark.parametrize(
    "host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}", "LOCALHOST", "app.localhost", "proxy.test:443"]
)
async def test_own_names_pass_the_host_check(api: Api, host: str) -> None:
    url = f"http://127.0.0.1:{api.emu.port}/api/health"
    async with api.session.head(url, headers={"Host": host.format(port=api.emu.port)}) as resp:
        assert resp.status == 200


async def test_a_public_host_without_a_port_is_accepted_in_aud_with_any_port(api: Api) -> None:
    status, _headers, body = await send_with_host(api, "proxy.test", "proxy.test:443")
    assert status == 202, body


async def test_the_audience_is_checked_against_own_names_not_the_host_header(api: Api) -> None:
    """Finding 11: the Host header used to pick the audience host. alias.test passes the Host check (it is a public
    name) but only with port 9: a token for alias.test:1234 is refused even when the request says Host: alias.test:1234.
    """
    status, headers, body = await send_with_host(api, "alias.test:1234", "alias.test:1234")
    assert status == 401 and headers["x-ms-error-code"] == "Unauthorized" and b"another host" in body
    status, _headers, body = await send_with_host(api, "alias.test:1234", "alias.test:9")
    assert status == 202, body


async def test_a_generated_token_names_the_emulator_whatever_host_the_request_used(api: Api) -> None:
    url = api.url("/:generateToken")
    headers = {"Host": f"app.localhost:{api.emu.port}"}
    status, _headers, body = await api.request("POST", "", url=url, headers=headers)
    token = json.loads(body)["token"]
    assert status == 200
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == f"{api.emu.endpoint}/client/hubs/{HUB}"
    async with api.session.ws_connect(f"ws://127.0.0.1:{api.emu.port}/client/hubs/{HUB}?access_token={token}") as ws:
        assert not ws.closed


def test_audience_rules_take_no_host_header() -> None:
    names = ServerNames("127.0.0.1", 8080)
    claims = {"aud": "http://evil.test:8080/api/hubs/h/:send"}
    with pytest.raises(AuthError, match="another host"):
        check_rest_audience(claims, raw_path="/api/hubs/h/:send", names=names)
    for aud in ("http://localhost:8080", "https://127.0.0.1:8080", "http://[::1]:8080"):
        check_rest_audience({"aud": f"{aud}/api/hubs/h/:send"}, raw_path="/api/hubs/h/:send", names=names)


def test_names_of_a_wildcard_bind() -> None:
    names = ServerNames("0.0.0.0", 8080)
    assert names.allows_host_header("192.0.2.7:8080") and names.allows_host_header("localhost")
    assert not names.allows_host_header("attacker.example") and not names.allows_host_header("bad host")
    assert names.is_own_authority(("192.0.2.7", 8080)) and not names.is_own_authority(("192.0.2.7", 8081))
    assert not names.is_own_authority(("attacker.example", 8080))
    assert is_loopback_host("127.0.0.5") and not is_loopback_host("0.0.0.0") and bind_warning("::1") is None


# ---------------------------------------------------------------------------------------------------- binding
def test_listening_beyond_loopback_with_the_default_key_is_refused() -> None:
    for host in ("0.0.0.0", "::", "192.0.2.1"):
        with pytest.raises(ValueError, match="default access key"):
            Emulator(host=host)
        proc = run_cli("--host", host, "--port", "0")
        assert proc.returncode == 2 and proc.stdout == "" and "--allow-default-key" in proc.stderr
        assert "Traceback" not in proc.stderr
    Emulator(host="0.0.0.0", allow_default_key=True)  # explicit: allowed (nothing is bound until start)
    Emulator(host="0.0.0.0", access_key=KEY)


@pytest.fixture
def cli_on_every_interface() -> Iterator[subprocess.Popen[str]]:
    exe = os.path.join(os.path.dirname(sys.executable), "webpubsub-emulator")
    cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "webpubsub_emulator"]
    proc = subprocess.Popen(
        [*cmd, "--host", "0.0.0.0", "--port", "0", "--access-key", KEY],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)


def test_listening_beyond_loopback_prints_a_loud_warning(cli_on_every_interface: subprocess.Popen[str]) -> None:
    proc = cli_on_every_interface
    assert proc.stdout is not None and proc.stderr is not None
    line = proc.stdout.readline().strip()
    assert line.startswith("Endpoint=http://0.0.0.0:") and line.endswith(f";AccessKey={KEY};Version=1.0;")
    banner = [proc.stderr.readline() for _ in range(3)]
    assert banner[0].startswith("!!!!!") and "beyond this machine's loopback" in banner[1], banner
    port = int(line.split(";")[0].rsplit(":", 1)[1])
    import urllib.request

    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/health", method="HEAD")
    assert urllib.request.urlopen(request, timeout=10).status == 200  # reached over loopback only
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0


# ---------------------------------------------------------------------------------------------------- usage errors
@pytest.mark.parametrize(
    "key",
    [
        "abcdefghijklmnop;qrstuvwxyz0123456789ABCD",  # would end the AccessKey= part of the connection string
        "abcdefghijklmnop qrstuvwxyz0123456789ABCD",
        "abcdefghijklmnopqrstuvwxyz0123456789ABCD ",  # parsers strip it
        "abcdefghijklmnop\tqrstuvwxyz0123456789ABCD",
        "abcdefghijklmnop\x00qrstuvwxyz0123456789ABCD",
    ],
)
def test_a_key_that_cannot_live_in_a_connection_string_is_a_usage_error(key: str) -> None:
    with pytest.raises(ValueError) as refused:
        Emulator(access_key=key)
    assert key not in str(refused.value)
    if "\x00" in key:
        return  # a command-line argument cannot hold NUL
    proc = run_cli("--port", "0", "--access-key", key)
    assert proc.returncode == 2 and proc.stdout == "" and "--access-key" in proc.stderr
    assert key not in proc.stderr and "Traceback" not in proc.stderr


def test_a_bad_log_level_is_a_usage_error() -> None:
    proc = run_cli("--port", "0", "--log-level", "foo")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "--log-level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_version() -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"webpubsub-emulator {webpubsub_emulator.__version__}"


def test_a_bad_public_host_is_a_usage_error() -> None:
    proc = run_cli("--port", "0", "--public-host", "name:notaport")
    assert proc.returncode == 2 and "--public-host" in proc.stderr and "Traceback" not in proc.stderr
    with pytest.raises(ValueError):
        EmulatorThread(public_hosts=["[::1"])


def test_the_default_key_on_loopback_needs_no_flag(webpubsub_emulator: Any) -> None:
    assert webpubsub_emulator.access_key == DEFAULT_ACCESS_KEY and webpubsub_emulator.host == "127.0.0.1"
