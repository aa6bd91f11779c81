"""The trace hook over real sockets: REST calls, frames in and out, upstream calls, refusals and session changes."""

from __future__ import annotations

import asyncio
import json
from typing import AsyncIterator, List

import aiohttp
import pytest
from aiohttp import web
from webpubsub_emulator import Emulator, FaultPlan, TraceEvent
from webpubsub_emulator.trace import KINDS, Trace
from ws_support import JSON, Api, expect_handshake_status, recv_json


@pytest.fixture
async def handler_url() -> AsyncIterator[str]:
    async def handle(request: web.Request) -> web.Response:
        if request.method == "OPTIONS":
            return web.Response(headers={"WebHook-Allowed-Origin": "*"})
        return web.Response(status=204)

    app = web.Application()
    app.router.add_route("*", "/events/{event}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/events/{{event}}"
    await runner.cleanup()


async def wait_for(events: List[TraceEvent], kind: str, **detail: object) -> TraceEvent:
    for _ in range(200):
        for event in events:
            if event.kind == kind and all(event.detail.get(k) == v for k, v in detail.items()):
                return event
        await asyncio.sleep(0.01)
    raise AssertionError(f"no {kind} event with {detail}; saw {[(e.kind, dict(e.detail)) for e in events]}")


async def test_every_kind_of_event_is_observed(handler_url: str) -> None:
    events: List[TraceEvent] = []
    async with Emulator(event_handlers={"hub1": handler_url}) as emu, aiohttp.ClientSession() as session:
        unsubscribe = emu.trace.subscribe(events.append)
        api = Api(session, emu)
        ws, cid = await api.connect(user="u", roles=["webpubsub.joinLeaveGroup"])
        await wait_for(events, "upstream", event="connect", status=204)
        out = await wait_for(events, "frame-out", type="text")
        assert (out.hub, out.connection_id) == ("hub1", cid) and out.detail["size"] > 0

        await ws.send_str(json.dumps({"type": "joinGroup", "group": "g", "ackId": 1}))
        assert (await recv_json(ws))["success"] is True
        frame_in = await wait_for(events, "frame-in", type="text")
        assert frame_in.connection_id == cid and frame_in.detail["size"] > 10

        assert await api.status("POST", "/:send", body=b"hello", content_type="text/plain") == 202
        rest = await wait_for(events, "rest", method="POST", status=202)
        assert rest.detail["path"] == "/api/hubs/hub1/:send" and rest.detail["ms"] >= 0
        assert "?" not in rest.detail["path"]  # no query: nothing secret

        await expect_handshake_status(session, emu.client_url("hub1").split("?")[0], 401, protocols=(JSON,))
        refused = await wait_for(events, "refused", status=401)
        assert refused.detail["code"] == "Unauthorized"

        assert await api.status("DELETE", f"/connections/{cid}", [("reason", "done")]) == 204
        change = await wait_for(events, "session", event="close")
        assert (change.connection_id, change.detail["old"], change.detail["new"]) == (cid, "open", "closing")
        assert change.detail["reason"] == "done"
        await wait_for(events, "frame-out", type="close", code=1000)
        await wait_for(events, "session", event="closed", new="gone")
        await wait_for(events, "upstream", event="disconnected", status=204)
        await ws.close()

        emu.set_faults(FaultPlan(rest_failure_rate=1.0, ws_drop_every=1))
        assert await api.status("POST", "/:send", body=b"x", content_type="text/plain") == 503
        failed = await wait_for(events, "rest", method="POST", status=503)
        assert failed.detail["fault"] == "rest-fail:503"
        emu.set_faults(FaultPlan(ws_drop_every=1))
        raw, _ = await api.connect(user="r", protocol=None)
        assert await api.status("POST", "/:send", body=b"y", content_type="text/plain") == 202
        drop = await wait_for(events, "fault", fault="ws-drop")
        assert drop.detail["effect"] == "transport dropped after message 1"
        await raw.close()
        emu.set_faults(None)
        assert {e.kind for e in events} == KINDS

        unsubscribe()
        seen = len(events)
        assert await api.status("POST", "/:send", body=b"x", content_type="text/plain") == 202
        assert len(events) == seen and not emu.trace.observers


async def test_a_failing_observer_is_logged_and_kept() -> None:
    trace = Trace()
    calls: List[str] = []

    def broken(event: TraceEvent) -> None:
        calls.append(event.kind)
        raise RuntimeError("observer bug")

    trace.subscribe(broken)
    trace.subscribe(lambda e: calls.append("second"))
    trace.emit("rest", None, None, status=200)
    trace.emit("rest", None, None, status=200)
    assert calls == ["rest", "second", "rest", "second"]


def test_the_readme_example_on_the_thread_runner() -> None:
    import urllib.request

    from webpubsub_emulator import EmulatorThread

    seen: List[TraceEvent] = []
    with EmulatorThread(port=0) as emu:
        unsubscribe = emu.trace.subscribe(seen.append)
        urllib.request.urlopen(urllib.request.Request(f"{emu.endpoint}/api/health", method="HEAD"), timeout=10)
        unsubscribe()
    assert [(e.kind, e.detail["status"]) for e in seen] == [("rest", 200)]
    assert seen[0].detail["path"] == "/api/health" and seen[0].detail["method"] == "HEAD"
