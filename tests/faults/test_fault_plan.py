"""The fault plan itself: parsing (``--faults``), validation, determinism, and each fault over real sockets."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any, AsyncIterator, List

import aiohttp
import jwt
import pytest
from faults_support import RELIABLE, NumberSender
from webpubsub_emulator import Emulator, FaultPlan
from webpubsub_emulator.cli import parse_args
from webpubsub_emulator.faults import FaultInjector, parse_faults

HUB = "faults"


# ---------------------------------------------------------------------------------------------------- parsing
def test_parse_the_documented_example() -> None:
    plan = parse_faults("rest-fail=0.3:503,rest-delay=0.05,ws-drop-every=2500")
    assert plan == FaultPlan(rest_failure_rate=0.3, rest_failure_status=503, rest_delay=0.05, ws_drop_every=2500)


def test_parse_every_key() -> None:
    plan = FaultPlan.parse(" rest-fail=0.5:429 , retry-after=2, rest-delay=0.01:0.02, ws-drop-rate=0.001, seed=42 ")
    assert plan == FaultPlan(
        rest_failure_rate=0.5,
        rest_failure_status=429,
        rest_retry_after=2,
        rest_delay=(0.01, 0.02),
        ws_drop_rate=0.001,
        seed=42,
    )
    assert plan.delay_range == (0.01, 0.02)
    assert plan.active
    assert parse_faults("rest-fail=1").rest_failure_status == 503
    assert parse_faults("") == FaultPlan()
    assert not FaultPlan().active


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("rest-fail=2", "between 0 and 1"),
        ("rest-fail=0.1:500", "503 or 429"),
        ("rest-fail=x", "not a number"),
        ("rest-delay=0.2:0.1", "low <= high"),
        ("rest-delay=-1", "rest_delay"),
        ("ws-drop-every=1.5", "whole number"),
        ("ws-drop-every=-1", "negative"),
        ("ws-drop-rate=1.5", "between 0 and 1"),
        ("retry-after=-1", "rest_retry_after"),
        ("seed=1,seed=2", "twice"),
        ("boom=1", "unknown fault"),
        ("rest-fail", "KEY=VALUE"),
    ],
)
def test_parse_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_faults(spec)


def test_cli_faults_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_args(["--faults", "ws-drop-every=10,seed=1"]).fault_plan == FaultPlan(ws_drop_every=10, seed=1)
    assert parse_args([]).fault_plan == FaultPlan()
    with pytest.raises(SystemExit) as exited:
        parse_args(["--faults", "rest-fail=3"])
    assert exited.value.code == 2
    assert "--faults" in capsys.readouterr().err


def test_same_seed_same_drops() -> None:
    def decisions(plan: FaultPlan) -> List[int]:
        injector = FaultInjector(plan)
        return [n for n in range(1, 5001) if injector.should_drop(n)]

    plan = FaultPlan(ws_drop_rate=0.002, seed=5)
    first = decisions(plan)
    assert first == decisions(plan)
    assert first != decisions(FaultPlan(ws_drop_rate=0.002, seed=6))
    assert decisions(FaultPlan(ws_drop_every=1000)) == [1000, 2000, 3000, 4000, 5000]


# ---------------------------------------------------------------------------------------------------- REST faults
@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def call(session: aiohttp.ClientSession, emu: Emulator, method: str, path: str) -> aiohttp.ClientResponse:
    url = f"{emu.endpoint}/api/hubs/{HUB}{path}?api-version=2024-12-01"
    token = jwt.encode({"aud": url, "exp": int(time.time()) + 60}, emu.access_key, algorithm="HS256")
    async with session.request(method, url, headers={"Authorization": f"Bearer {token}"}, data=b"x") as resp:
        await resp.read()
        return resp


async def test_health_is_never_faulted_nor_logged(emu: Emulator, session: aiohttp.ClientSession) -> None:
    emu.set_faults(FaultPlan(rest_failure_rate=1.0, rest_delay=0.5))
    started = time.monotonic()
    for method in ("HEAD", "GET"):
        async with session.request(method, f"{emu.endpoint}/api/health") as resp:
            assert resp.status == 200
    assert time.monotonic() - started < 0.5
    assert emu.rest_log == []


async def test_websocket_clients_are_never_faulted_nor_logged(emu: Emulator, session: aiohttp.ClientSession) -> None:
    emu.set_faults(FaultPlan(rest_failure_rate=1.0, rest_delay=0.5))
    started = time.monotonic()
    ws = await session.ws_connect(emu.client_url(HUB), protocols=("json.webpubsub.azure.v1",))
    assert json.loads((await ws.receive()).data)["event"] == "connected"
    await ws.send_json({"type": "ping"})
    assert json.loads((await ws.receive()).data) == {"type": "pong"}
    assert time.monotonic() - started < 0.5
    assert emu.rest_log == []
    await ws.close()


async def test_injected_statuses_and_headers(emu: Emulator, session: aiohttp.ClientSession) -> None:
    emu.set_faults(FaultPlan(rest_failure_rate=1.0, rest_failure_status=429, rest_retry_after=7))
    resp = await call(session, emu, "POST", "/:send")
    assert resp.status == 429
    assert resp.headers["Retry-After"] == "7"
    assert resp.headers["x-ms-error-code"] == "TooManyRequests"
    head = await call(session, emu, "HEAD", "/groups/g")
    assert (head.status, head.headers["Retry-After"], head.content_length or 0) == (429, "7", 0)

    emu.set_faults(FaultPlan(rest_failure_rate=1.0))
    resp = await call(session, emu, "POST", "/:send")
    assert resp.status == 503
    assert "Retry-After" not in resp.headers
    assert resp.headers["x-ms-error-code"] == "ServiceUnavailable"
    assert [(r.method, r.status, r.fault) for r in emu.rest_log] == [
        ("POST", 429, "rest-fail:429"),
        ("HEAD", 429, "rest-fail:429"),
        ("POST", 503, "rest-fail:503"),
    ]


async def test_a_faulted_call_has_no_effect(emu: Emulator, session: aiohttp.ClientSession) -> None:
    ws = await session.ws_connect(emu.client_url(HUB), protocols=("json.webpubsub.azure.v1",))
    assert json.loads((await ws.receive()).data)["event"] == "connected"
    emu.set_faults(FaultPlan(rest_failure_rate=1.0))
    assert (await call(session, emu, "POST", "/:send")).status == 503
    emu.set_faults(None)
    assert (await call(session, emu, "POST", "/:send")).status == 202
    message = json.loads((await ws.receive()).data)
    assert message["data"] == "eA=="  # the one message that went through (binary "x")
    await ws.close()


async def test_seeded_failures_repeat(emu: Emulator, session: aiohttp.ClientSession) -> None:
    async def statuses() -> List[int]:
        emu.set_faults(FaultPlan(rest_failure_rate=0.5, seed=9))
        return [(await call(session, emu, "HEAD", "/groups/g")).status for _ in range(20)]

    first = await statuses()
    assert first == await statuses()
    assert set(first) == {404, 503}


async def test_rest_delay(emu: Emulator, session: aiohttp.ClientSession) -> None:
    emu.set_faults(FaultPlan(rest_delay=(0.1, 0.15), seed=1))
    started = time.monotonic()
    assert (await call(session, emu, "HEAD", "/groups/g")).status == 404
    assert time.monotonic() - started >= 0.1
    assert 0.1 <= emu.rest_log[-1].delay <= 0.15


# ---------------------------------------------------------------------------------------------------- WebSocket drops
async def test_a_drop_ends_a_json_client_but_holds_a_reliable_one(
    emu: Emulator, session: aiohttp.ClientSession
) -> None:
    emu.set_faults(FaultPlan(ws_drop_every=3))
    plain = await session.ws_connect(emu.client_url(HUB), protocols=("json.webpubsub.azure.v1",))
    reliable = await session.ws_connect(emu.client_url(HUB), protocols=(RELIABLE,))
    ids = [json.loads((await ws.receive()).data)["connectionId"] for ws in (plain, reliable)]
    sender = NumberSender(session, emu.endpoint, emu.access_key, HUB, "/:send")
    await sender.send_range(0, 3)
    for ws in (plain, reliable):
        frames: List[Any] = []
        while True:
            msg = await ws.receive(timeout=5)
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            frames.append(json.loads(msg.data)["data"])
        # no close frame: the TCP connection was cut (the last message may or may not have made it)
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR), msg
        assert frames in (["0", "1"], ["0", "1", "2"])
    assert emu.fault_injector.drops == 2
    for _ in range(500):  # the emulator's reader notices the cut on its next loop iterations
        if not emu.core.connection_exists(HUB, ids[0]):
            break
        await asyncio.sleep(0.01)
    assert not emu.core.connection_exists(HUB, ids[0])  # gone for good
    assert emu.core.connection_exists(HUB, ids[1])  # held for recovery


def test_cli_with_faults_serves_health_and_fails_rest() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "webpubsub_emulator", "--port", "0", "--faults", "rest-fail=1:429,retry-after=0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("Endpoint=http://127.0.0.1:") and line.endswith(";Version=1.0;"), line
        endpoint = line.split(";")[0].removeprefix("Endpoint=")
        with urllib.request.urlopen(f"{endpoint}/api/health", timeout=5) as resp:
            assert resp.status == 200
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(f"{endpoint}/api/hubs/h/:send?api-version=2024-12-01", data=b"x", timeout=5)
        assert failed.value.code == 429
        assert failed.value.headers["Retry-After"] == "0"
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
