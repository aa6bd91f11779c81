"""The trace hook over real sockets: REST calls, frames in and out (their text, masked), upstream calls, refusals,
sessions opening and changing state, group changes."""

from __future__ import annotations

import asyncio
import json
from typing import AsyncIterator, List, Tuple

import aiohttp
import pytest
from upstream_support import HandlerServer
from webpubsub_emulator import Emulator, FaultPlan, TraceEvent
from webpubsub_emulator.limits import TRACE_PREVIEW_CHARS as PREVIEW_CHARS
from webpubsub_emulator.trace import KINDS, SUMMARY_KINDS, Trace, preview
from ws_support import JSON, RELIABLE, Api, expect_handshake_status, recv, recv_json


@pytest.fixture
async def observed() -> AsyncIterator[Tuple[Emulator, Api, List[TraceEvent]]]:
    """An emulator, a REST and WebSocket client for it, and every trace event it emits."""
    events: List[TraceEvent] = []
    async with Emulator() as emu, aiohttp.ClientSession() as session:
        emu.trace.subscribe(events.append)
        yield emu, Api(session, emu), events


async def wait_for(events: List[TraceEvent], kind: str, **detail: object) -> TraceEvent:
    for _ in range(200):
        for event in events:
            if event.kind == kind and all(event.detail.get(k) == v for k, v in detail.items()):
                return event
        await asyncio.sleep(0.01)
    raise AssertionError(f"no {kind} event with {detail}; saw {[(e.kind, dict(e.detail)) for e in events]}")


async def test_an_upstream_event_names_the_handler_url_without_its_query(handler: HandlerServer) -> None:
    # a handler's ?code= is its key (Azure Functions): no observer (trace page, activity log, a test) ever sees it
    events: List[TraceEvent] = []
    async with Emulator(event_handlers={"hub1": handler.url + "?code=handler-secret"}) as emu:
        emu.trace.subscribe(events.append)
        async with aiohttp.ClientSession() as session:
            ws, _ = await Api(session, emu).connect(user="u")
            connect = await wait_for(events, "upstream", event="connect", status=204)
            await ws.close()
    assert connect.detail["url"].startswith("http://") and "?" not in connect.detail["url"]
    assert "handler-secret" not in repr([dict(e.detail) for e in events])


async def test_every_kind_of_event_is_observed(handler: HandlerServer) -> None:
    events: List[TraceEvent] = []
    async with Emulator(event_handlers={"hub1": handler.url}) as emu, aiohttp.ClientSession() as session:
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


async def test_sessions_opening_and_group_changes_are_observed(
    observed: Tuple[Emulator, Api, List[TraceEvent]],
) -> None:
    _emu, api, events = observed
    ws, cid = await api.connect(user="ann", roles=["webpubsub.joinLeaveGroup"], groups=["from-token"])
    opened = await wait_for(events, "session", event="open")
    assert (opened.hub, opened.connection_id, opened.detail["old"], opened.detail["new"]) == (
        "hub1",
        cid,
        None,
        "open",
    )
    assert (opened.detail["user"], opened.detail["protocol"]) == ("ann", JSON)
    token_join = await wait_for(events, "group", group="from-token")
    assert (token_join.connection_id, token_join.detail["event"]) == (cid, "join")
    assert events.index(opened) < events.index(token_join)  # the open comes first

    await ws.send_str(json.dumps({"type": "joinGroup", "group": "lobby", "ackId": 1}))
    assert (await recv_json(ws))["success"] is True
    await wait_for(events, "group", event="join", group="lobby")
    assert await api.remove_from_group("lobby", cid) == 204
    left = await wait_for(events, "group", event="leave", group="lobby")
    assert left.connection_id == cid
    joins_before = len([e for e in events if e.kind == "group"])
    await ws.send_str(json.dumps({"type": "joinGroup", "group": "from-token", "ackId": 2}))
    assert (await recv_json(ws))["success"] is True  # already a member: nothing changes, nothing is reported
    await ws.close()
    ended = await wait_for(events, "session", event="client-close")
    assert ended.detail["user"] == "ann"
    assert len([e for e in events if e.kind == "group"]) == joins_before  # ending is not a series of leaves


async def test_frames_carry_their_text_and_closes_their_code_and_reason(
    observed: Tuple[Emulator, Api, List[TraceEvent]],
) -> None:
    _emu, api, events = observed
    ws, cid = await api.connect(user="bo", roles=["webpubsub.sendToGroup"], groups=["g"])
    request = json.dumps({"type": "sendToGroup", "group": "g", "data": "héllo", "ackId": 7})
    await ws.send_str(request)
    delivered = await recv(ws)
    frame_in = await wait_for(events, "frame-in", type="text")
    assert frame_in.detail["text"] == request
    out = await wait_for(events, "frame-out", text=delivered.data)  # exactly what the client got
    assert out.connection_id == cid
    await ws.send_bytes(b"\x00\x01")  # binary is not JSON: the service closes the connection
    binary = await wait_for(events, "frame-in", type="binary")
    assert binary.detail["size"] == 2 and "text" not in binary.detail  # binary content is never shown
    close_out = await wait_for(events, "frame-out", type="close")
    assert close_out.connection_id == cid
    assert (close_out.detail["code"], close_out.detail["reason"]) == (
        1007,
        "Invalid message: The frame is not valid JSON.",
    )
    await ws.close()

    ws2, cid2 = await api.connect(user="cy")
    await ws2.close(code=4001, message=b"done here")
    closed = await wait_for(events, "frame-in", type="close")
    assert (closed.connection_id, closed.detail["code"], closed.detail["reason"]) == (cid2, 4001, "done here")


async def test_a_reliable_clients_reconnection_token_never_reaches_the_trace(
    observed: Tuple[Emulator, Api, List[TraceEvent]],
) -> None:
    emu, api, events = observed
    ws = await api.session.ws_connect(emu.client_url("hub1", user_id="r"), protocols=(RELIABLE,))
    connected = await recv_json(ws)
    token = connected["reconnectionToken"]
    assert token
    out = await wait_for(events, "frame-out", type="text")
    assert '"reconnectionToken":"***"' in out.detail["text"] and token not in out.detail["text"]
    assert await api.send_to_all(b"numbered") == 202
    message = await recv_json(ws)
    sequenced = await wait_for(events, "frame-out", text=json.dumps(message, separators=(",", ":")))
    assert sequenced.detail["text"].startswith('{"sequenceId":1,')  # as written, sequence id included
    assert all(token not in repr(e) for e in events)
    await ws.close()


def test_a_preview_is_cut_and_masks_a_cut_token() -> None:
    assert preview("x" * (PREVIEW_CHARS + 50)) == "x" * PREVIEW_CHARS
    assert preview('{"reconnectionToken": "abc", "a": 1}') == '{"reconnectionToken": "***", "a": 1}'
    head = '{"a":"' + "y" * (PREVIEW_CHARS - 30) + '","reconnectionToken":"'
    cut = preview(head + "SECRETSECRETSECRETSECRET" + '"}')
    assert len(cut) <= PREVIEW_CHARS + len("***") and "SECRET" not in cut and cut.endswith('"reconnectionToken":"***')


def test_a_summary_observer_gets_only_the_summary_kinds() -> None:
    trace = Trace()
    everything: List[str] = []
    summary: List[str] = []
    unsubscribe = trace.subscribe(lambda e: summary.append(e.kind), summary_only=True)
    assert trace.listening and not trace.observers  # the per-frame emit points test observers: they stay idle
    for kind in sorted(KINDS):
        trace.emit(kind, None, None)
    assert sorted(summary) == sorted(SUMMARY_KINDS)
    stop_everything = trace.subscribe(lambda e: everything.append(e.kind))
    for kind in sorted(KINDS):
        trace.emit(kind, None, None)
    assert sorted(everything) == sorted(KINDS) and sorted(summary) == sorted([*SUMMARY_KINDS, *SUMMARY_KINDS])
    unsubscribe()
    stop_everything()
    assert not trace.listening and not trace.observers
