"""An in-process ASGI application as a hub's event handler (issue 7, item 5): no server, the same requests an HTTP
handler gets, its lifespan run, its own loop (a blocking callback stalls nobody), failures as a server would answer
them. The applications here are plain ASGI callables (the emulator never imports the SDK); the event-handler
library's adapters are driven the same way in tests/eventhandler."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

import aiohttp
import pytest
from webpubsub_emulator import DEFAULT_ACCESS_KEY, Emulator, EmulatorThread, EventHandler
from webpubsub_emulator.asgi_transport import AsgiTransport
from webpubsub_emulator.errors import UpstreamError
from webpubsub_emulator.upstream_contract import signature
from ws_support import JSON, Api, expect_handshake_status, recv_json

Scope = Dict[str, Any]
Receive = Callable[[], Awaitable[Dict[str, Any]]]
Send = Callable[[Dict[str, Any]], Awaitable[None]]


class RecordingApp:
    """A tiny ASGI event handler: allows the validation, names the user on connect, echoes events, sets a cookie."""

    def __init__(self, *, lifespan: bool = True) -> None:
        self.requests: List[Tuple[Scope, bytes]] = []
        self.lifespan_events: List[str] = []
        self.lifespan = lifespan
        self.loop_threads: set[str] = set()
        self.block_event: Optional[threading.Event] = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.loop_threads.add(threading.current_thread().name)
        if scope["type"] == "lifespan":
            if not self.lifespan:
                raise RuntimeError("no lifespan here")
            while True:
                message = await receive()
                self.lifespan_events.append(message["type"])
                if message["type"] == "lifespan.startup":
                    scope["state"]["greeting"] = "from startup"
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.requests.append((scope, body))
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        event = scope["path"].rsplit("/", 1)[-1]
        if scope["method"] == "OPTIONS":
            await self._answer(send, 200, b"", [(b"webhook-allowed-origin", b"*")])
        elif event == "connect":
            answer = {"userId": "from-app", "groups": ["g"]}
            await self._answer(send, 200, json.dumps(answer).encode(), [(b"content-type", b"application/json")])
        elif event == "echo":
            state = scope.get("state", {}).get("greeting", "no state")
            reply = f"{body.decode()}|{state}|cookie={headers.get('cookie', '')}"
            await self._answer(
                send, 200, reply.encode(), [(b"content-type", b"text/plain"), (b"set-cookie", b"seen=1; Path=/")]
            )
        elif event == "block":
            time.sleep(1.0)  # a blocking callback: stalls the app's own loop only
            await self._answer(send, 200, b"unblocked", [(b"content-type", b"text/plain")])
        elif event == "crash":
            raise RuntimeError("the app's own bug")
        else:
            await self._answer(send, 204, b"", [])

    @staticmethod
    async def _answer(send: Send, status: int, body: bytes, headers: List[Tuple[bytes, bytes]]) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def event(ws_frame: Dict[str, Any]) -> str:
    return json.dumps(ws_frame)


async def test_an_asgi_app_handles_a_hubs_events_in_process() -> None:
    app = RecordingApp()
    async with Emulator(event_handlers={"hub1": app}) as emu, aiohttp.ClientSession() as session:
        api = Api(session, emu)
        ws, cid = await api.connect(user="token-user")
        assert cid
        await ws.send_str(event({"type": "event", "event": "echo", "dataType": "text", "data": "a", "ackId": 1}))
        assert (await recv_json(ws))["data"] == "a|from startup|cookie="
        assert (await recv_json(ws))["ackId"] == 1
        await ws.send_str(event({"type": "event", "event": "echo", "dataType": "text", "data": "b", "ackId": 2}))
        assert (await recv_json(ws))["data"] == "b|from startup|cookie=seen=1"  # the app's cookie came back
        assert await api.status("HEAD", "/users/from-app") == 200  # the app's connect answer named the user
        await ws.close()
    assert app.lifespan_events == ["lifespan.startup", "lifespan.shutdown"]
    methods = [(scope["method"], scope["path"]) for scope, _ in app.requests]
    assert methods[:2] == [("OPTIONS", "/eventhandler/validate"), ("POST", "/eventhandler/connect")]
    assert ("POST", "/eventhandler/connected") in methods and ("POST", "/eventhandler/disconnected") in methods
    scope, body = next((s, b) for s, b in app.requests if s["path"] == "/eventhandler/connect")
    headers = dict((k.decode(), v.decode()) for k, v in scope["headers"])
    assert headers["host"] == "localhost" and headers["content-length"] == str(len(body))
    assert headers["ce-type"] == "azure.webpubsub.sys.connect" and headers["ce-hub"] == "hub1"
    assert headers["ce-signature"] == signature(DEFAULT_ACCESS_KEY, headers["ce-connectionid"])
    assert json.loads(body)["claims"]["sub"] == ["token-user"]
    assert app.loop_threads == {"webpubsub-emulator-asgi-app"}  # its own loop, not the emulator's


async def test_the_connect_answer_and_a_path_of_your_own() -> None:
    app = RecordingApp(lifespan=False)  # refuses lifespan scopes (as Django does): called without
    handler = EventHandler("http://app.test/hooks/{hub}/{event}", app=app)
    async with Emulator(event_handlers={"hub1": [handler]}) as emu, aiohttp.ClientSession() as session:
        api = Api(session, emu)
        ws, _cid = await api.connect(user="token-user")
        assert await api.status("HEAD", "/users/from-app") == 200 and await api.status("HEAD", "/groups/g") == 200
        await ws.send_str(event({"type": "event", "event": "echo", "dataType": "text", "data": "x", "ackId": 1}))
        assert (await recv_json(ws))["data"] == "x|no state|cookie="
        await ws.close()
    paths = {scope["path"] for scope, _ in app.requests}
    assert {"/hooks/hub1/validate", "/hooks/hub1/connect", "/hooks/hub1/echo"} <= paths
    hosts = {dict(scope["headers"])[b"host"] for scope, _ in app.requests}
    assert hosts == {b"app.test"}


async def test_an_app_that_raises_is_a_500_as_a_server_would_answer() -> None:
    app = RecordingApp()
    async with Emulator(event_handlers={"hub1": app}) as emu, aiohttp.ClientSession() as session:
        api = Api(session, emu)
        ws, _cid = await api.connect()
        await ws.send_str(event({"type": "event", "event": "crash", "dataType": "text", "data": "x", "ackId": 1}))
        ack = await recv_json(ws)
        assert ack["success"] is False and ack["error"]["name"] == "InternalServerError"
        assert (await recv_json(ws))["event"] == "disconnected"


async def test_a_blocking_callback_does_not_stall_the_emulator() -> None:
    app = RecordingApp()
    async with Emulator(event_handlers={"hub1": app}) as emu, aiohttp.ClientSession() as session:
        api = Api(session, emu)
        ws, _cid = await api.connect()
        other, _ = await api.connect()
        await ws.send_str(event({"type": "event", "event": "block", "dataType": "text", "data": "x", "ackId": 1}))
        await asyncio.sleep(0.1)  # the app is now asleep in its callback
        started = time.monotonic()
        assert await api.status("POST", "/:send", body=b"meanwhile", content_type="text/plain") == 202
        assert (await recv_json(other))["data"] == "meanwhile"
        assert time.monotonic() - started < 0.8  # answered while the app still blocks
        assert (await recv_json(ws))["data"] == "meanwhile"
        assert (await recv_json(ws))["data"] == "unblocked"


def test_the_thread_runner_and_a_sync_sdk_style_call_back_into_the_emulator() -> None:
    """A callback calling the emulator back synchronously (as a sync SDK client would) must not deadlock."""
    import urllib.request

    calls: List[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await receive()
        if scope["method"] == "OPTIONS":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"webhook-allowed-origin", b"*")]})
        else:
            request = urllib.request.Request(f"{emu.endpoint}/api/health", method="HEAD")
            calls.append(urllib.request.urlopen(request, timeout=5).status)  # blocking, on the app's loop
            await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    with EmulatorThread(event_handlers={"hub1": app}) as emu:
        import websocket

        ws = websocket.create_connection(emu.client_url("hub1"), subprotocols=[JSON], timeout=10)
        assert json.loads(ws.recv())["event"] == "connected"
        ws.close()
    assert calls and calls[0] == 200


async def test_a_refusing_connect_reaches_the_client() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await receive()
        allowed = [(b"webhook-allowed-origin", b"*")] if scope["method"] == "OPTIONS" else []
        status = 200 if scope["method"] == "OPTIONS" else 401
        await send({"type": "http.response.start", "status": status, "headers": allowed})
        await send({"type": "http.response.body", "body": b"" if status == 200 else b"no entry"})

    async with Emulator(event_handlers={"hub1": app}) as emu, aiohttp.ClientSession() as session:
        await expect_handshake_status(session, emu.client_url("hub1"), 401, protocols=(JSON,))


async def test_transport_limits_timeouts_and_broken_apps() -> None:
    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            raise RuntimeError("no lifespan")
        await asyncio.sleep(5)

    async def big(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            raise RuntimeError("no lifespan")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(3):
            await send({"type": "http.response.body", "body": b"x" * 1000, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def silent(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            raise RuntimeError("no lifespan")

    async def failing_startup(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    transport = AsgiTransport(slow)
    with pytest.raises(UpstreamError, match="did not answer in time"):
        await transport.request("POST", "http://localhost/x", [], b"", timeout=0.2)
    await transport.close()
    transport = AsgiTransport(big, max_answer_bytes=2500)
    with pytest.raises(UpstreamError, match="exceeds 2500 bytes"):
        await transport.request("POST", "http://localhost/x", [], b"", timeout=5)
    await transport.close()
    transport = AsgiTransport(silent)
    assert (await transport.request("GET", "http://localhost/x", [], b"", timeout=5)).status == 500
    await transport.close()
    transport = AsgiTransport(failing_startup)
    with pytest.raises(UpstreamError, match="failed to start: no database"):
        await transport.request("GET", "http://localhost/x", [], b"", timeout=5)
    await transport.close()


def test_an_app_must_be_callable() -> None:
    with pytest.raises(ValueError, match="ASGI application"):
        EventHandler("/eventhandler/{event}", app="not an app")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="absolute http"):
        EventHandler("/eventhandler/{event}")  # a bare path needs an app
