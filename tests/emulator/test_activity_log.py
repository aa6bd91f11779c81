"""The activity log (issue 8, item 5): at INFO one line per REST call, refused handshake and injected fault; at DEBUG
also every frame in and out and every event-handler call; never a key or a token. Over real sockets, read from the
log records (caplog) and from the real command line's stderr."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
import subprocess
import sys
import time
from typing import AsyncIterator, List

import aiohttp
import jwt
import pytest
from aiohttp import web
from webpubsub_emulator import Emulator, FaultPlan
from webpubsub_emulator.activity_log import LOGGER_NAME
from ws_support import JSON, Api, expect_handshake_status, recv, recv_json, sign

KEY = "an-activity-log-key-0123456789-abcdefghijkl"
HANDLER_SECRET = "handler-code-s3cr3t"


@pytest.fixture
async def handler_url() -> AsyncIterator[str]:
    async def handle(request: web.Request) -> web.Response:
        if request.method == "OPTIONS":
            return web.Response(headers={"WebHook-Allowed-Origin": "*"})
        if request.match_info["event"] == "echo":
            return web.Response(text="echoed")
        return web.Response(status=204)

    app = web.Application()
    app.router.add_route("*", "/events/{event}", handle)
    runner = web.AppRunner(app, access_log=None)  # this test server's own access log would show the ?code=
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/events/{{event}}?code={HANDLER_SECRET}"
    await runner.cleanup()


def lines(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER_NAME]


async def wait_for_line(caplog: pytest.LogCaptureFixture, pattern: str) -> str:
    for _ in range(300):
        for line in lines(caplog):
            if re.search(pattern, line):
                return line
        await asyncio.sleep(0.01)
    raise AssertionError(f"no log line matching {pattern!r} in {lines(caplog)}")


async def test_info_lines_for_rest_calls_refusals_and_faults(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="webpubsub_emulator")
    async with Emulator(access_key=KEY) as emu, aiohttp.ClientSession() as session:
        api = Api(session, emu)
        ws, cid = await api.connect(user="alice")
        assert await api.status("POST", "/:send", body=b"hello", content_type="text/plain") == 202
        line = await wait_for_line(caplog, r"^REST POST /api/hubs/hub1/:send -> 202 \(\d+\.\d ms\)$")
        assert "api-version" not in line  # no query

        bad = jwt.encode({"aud": f"{emu.endpoint}/client/hubs/hub1", "exp": int(time.time()) + 60}, "x" * 40)
        await expect_handshake_status(session, f"{emu.client_url('hub1').split('?')[0]}?access_token={bad}", 401)
        await wait_for_line(
            caplog, r"^handshake refused /client/hubs/hub1: 401 Unauthorized: The access token signature is invalid\.$"
        )

        emu.set_faults(FaultPlan(rest_failure_rate=1.0, rest_failure_status=429, rest_delay=0.01))
        assert await api.status("DELETE", f"/connections/{cid}") == 429
        await wait_for_line(
            caplog,
            rf"^REST DELETE /api/hubs/hub1/connections/{cid} -> 429 \(\d+\.\d ms, fault rest-delay:0\.010s,"
            r"rest-fail:429\)$",
        )
        emu.set_faults(FaultPlan(ws_drop_every=1))
        assert await api.status("POST", "/:send", body=b"again", content_type="text/plain") == 202
        await wait_for_line(caplog, rf"^fault ws-drop: hub1/{cid} transport dropped after message 2$")
        await recv(ws)
        await ws.close()
        assert not [r for r in caplog.records if r.name == LOGGER_NAME and r.levelno < logging.INFO]
        assert not any(line.startswith("frame ") for line in lines(caplog))  # frames are DEBUG


async def test_debug_lines_for_frames_and_event_handler_calls(
    caplog: pytest.LogCaptureFixture, handler_url: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="webpubsub_emulator")
    async with (
        Emulator(access_key=KEY, event_handlers={"hub1": handler_url}) as emu,
        aiohttp.ClientSession() as session,
    ):
        api = Api(session, emu)
        ws, cid = await api.connect(user="bob", groups=["room"])
        await wait_for_line(caplog, rf"^event handler connect hub1/{cid} http://127\.0\.0\.1:\d+/events/connect -> 204")
        await wait_for_line(caplog, rf"^session hub1/{cid} opened \(user bob, {JSON}\)$")
        await wait_for_line(caplog, rf"^group hub1/{cid} join room$")
        await wait_for_line(caplog, rf"^frame out hub1/{cid} text \d+ B$")  # the connected message
        await ws.send_str(json.dumps({"type": "event", "event": "echo", "dataType": "text", "data": "hi", "ackId": 1}))
        assert (await recv_json(ws))["data"] == "echoed"
        assert (await recv_json(ws))["ackId"] == 1
        size = len(json.dumps({"type": "event", "event": "echo", "dataType": "text", "data": "hi", "ackId": 1}))
        await wait_for_line(caplog, rf"^frame in  hub1/{cid} text {size} B$")
        await wait_for_line(caplog, rf"^event handler echo hub1/{cid} http://127\.0\.0\.1:\d+/events/echo -> 200 \(")
        await ws.close()
        await wait_for_line(caplog, rf"^session hub1/{cid} open -> gone \(client-close\)")
        await wait_for_line(caplog, rf"^event handler disconnected hub1/{cid} ")
    assert all(HANDLER_SECRET not in line for line in lines(caplog))


async def test_a_client_supplied_name_cannot_forge_a_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="webpubsub_emulator")
    async with Emulator(access_key=KEY) as emu, aiohttp.ClientSession() as session:
        api = Api(session, emu)
        assert await api.status("HEAD", "/users/eve%0AREST%20GET%20/forged%20-%3E%20200") == 404
        line = await wait_for_line(caplog, r"^REST HEAD /api/hubs/hub1/users/eve")
        assert "\n" not in line and "\\n" in line


async def test_nothing_listens_when_logging_is_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="webpubsub_emulator")
    async with Emulator(access_key=KEY) as emu:
        assert not emu.trace.observers and not emu.trace.listening  # the trace hook stays free


async def test_at_info_the_per_frame_emit_points_stay_idle(caplog: pytest.LogCaptureFixture) -> None:
    # INFO logs REST calls, refusals and faults only: frames, upstream calls, sessions and groups build no event
    caplog.set_level(logging.INFO, logger="webpubsub_emulator")
    async with Emulator(access_key=KEY) as emu:
        assert emu.trace.listening and not emu.trace.observers
    caplog.set_level(logging.DEBUG, logger="webpubsub_emulator")
    async with Emulator(access_key=KEY) as emu:
        assert emu.trace.observers  # DEBUG logs every kind


def _secrets_in(text: str, secrets: List[str]) -> List[str]:
    return [s[:12] + "..." for s in secrets if s and s in text]


async def test_no_key_or_token_in_any_log_record(caplog: pytest.LogCaptureFixture, handler_url: str) -> None:
    """Everything that carries a secret, at DEBUG on every logger: the access key, client tokens (query and bearer),
    REST tokens (good and bad), a :generateToken answer, the handler URL's ?code=."""
    caplog.set_level(logging.DEBUG)
    secrets = [KEY, HANDLER_SECRET]
    async with (
        Emulator(access_key=KEY, event_handlers={"hub1": handler_url}) as emu,
        aiohttp.ClientSession() as session,
    ):
        api = Api(session, emu)
        url = emu.client_url("hub1", user_id="carol")
        secrets.append(url.split("access_token=")[1])
        async with session.ws_connect(url, protocols=(JSON,)) as ws:
            await recv_json(ws)
        token = emu.client_url("hub1").split("access_token=")[1]
        secrets.append(token)
        async with session.ws_connect(
            f"ws://127.0.0.1:{emu.port}/client/hubs/hub1",
            protocols=(JSON,),
            headers={"Authorization": f"Bearer {token}"},
        ) as ws:
            await recv_json(ws)
        rest_url = api.url("/:generateToken", [("userId", "dave")])
        rest_token = sign(rest_url, KEY)
        secrets.append(rest_token)
        status, _headers, body = await api.request("POST", "", url=rest_url, token=rest_token)
        assert status == 200
        secrets.append(json.loads(body)["token"])
        forged = sign(rest_url, "y" * 40)
        secrets.append(forged)
        assert (await api.request("POST", "", url=rest_url, token=forged))[0] == 401
        await expect_handshake_status(session, f"ws://127.0.0.1:{emu.port}/client/hubs/hub1?access_token={forged}", 401)
        await wait_for_line(caplog, r"^handshake refused")
    text = "\n".join(caplog.text.splitlines() + [r.getMessage() for r in caplog.records])
    assert _secrets_in(text, secrets) == []
    assert lines(caplog)  # and it did log


def test_no_key_or_token_on_the_command_lines_stderr() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "webpubsub_emulator", "--port", "0", "--access-key", KEY, "--log-level", "debug"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    secrets = [KEY]
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        endpoint = line.split(";")[0].split("=", 1)[1]

        async def traffic() -> None:
            from webpubsub_emulator import auth

            async with aiohttp.ClientSession() as session:
                url = f"{endpoint}/api/hubs/h/:send?api-version=2024-12-01"
                for key in (KEY, "z" * 40):
                    token = sign(url, key)
                    secrets.append(token)
                    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/plain"}
                    async with session.post(url, data=b"x", headers=headers) as resp:
                        await resp.read()
                client = auth.mint_client_token(KEY, audience=f"{endpoint}/client/hubs/h")
                secrets.append(client)
                ws_url = f"{endpoint.replace('http', 'ws', 1)}/client/hubs/h?access_token={client}"
                async with session.ws_connect(ws_url, protocols=(JSON,)) as ws:
                    await recv_json(ws)

        asyncio.run(traffic())
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    assert "REST POST /api/hubs/h/:send -> 202" in stderr and "REST POST /api/hubs/h/:send -> 401" in stderr
    assert "frame out h/" in stderr
    assert _secrets_in(stderr, secrets) == []
