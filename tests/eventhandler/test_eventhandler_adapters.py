"""Every adapter driven by the emulator's real upstream calls and real WebSocket clients.

One module-scoped stack per adapter kind: the chat handler (``eventhandler_support``) wired in by the adapter, an
emulator whose hub ``chat`` has it as its event handler, and an SDK client for the REST side. The WSGI and aiohttp
kinds run on their real servers; the ASGI kinds' apps are called by the emulator in-process (no server), and
:func:`test_an_asgi_kind_on_its_real_server` runs each of those on uvicorn as well.
"""

from __future__ import annotations

import base64
import json
import queue
import uuid
from dataclasses import dataclass
from typing import Any, Dict, Iterator, Optional, Tuple, Union

import pytest
import websocket
from azure.messaging.webpubsubclient import WebPubSubClient, WebPubSubClientCredential
from azure.messaging.webpubsubclient.models import CallbackType, WebPubSubDataType, WebPubSubProtocolType
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from eventhandler_support import ASGI_KINDS, HUB, KINDS, Recorder, build_handler, serve, wire
from webpubsub_emulator import EmulatorThread, EventHandler

JSON_P = "json.webpubsub.azure.v1"
TIMEOUT = 10


@dataclass
class Stack:
    kind: str
    handler: Union[str, EventHandler]  # what the emulator's event_handlers got: a URL template, or an in-process app
    emulator: EmulatorThread
    service: WebPubSubServiceClient
    seen: Recorder

    def client_url(self, name: Optional[str] = None) -> str:
        url = self.emulator.client_url(HUB, user_id="token-user")
        return f"{url}&name={name}" if name else url


@pytest.fixture(scope="module", params=list(KINDS))
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    kind = request.param
    handler, seen = build_handler(async_callbacks=KINDS[kind])
    with (
        wire(kind, handler) as spec,
        EmulatorThread(event_handlers={HUB: spec}) as emulator,
        WebPubSubServiceClient.from_connection_string(emulator.connection_string, hub=HUB) as service,
    ):
        yield Stack(kind, spec, emulator, service, seen)


def connect_json(stack: Stack, name: Optional[str] = None) -> Tuple[websocket.WebSocket, Dict[str, Any]]:
    ws = websocket.create_connection(stack.client_url(name), subprotocols=[JSON_P], timeout=TIMEOUT)
    hello = json.loads(ws.recv())
    assert hello["type"] == "system" and hello["event"] == "connected", hello
    return ws, hello


def recv_json(ws: websocket.WebSocket) -> Dict[str, Any]:
    message: Dict[str, Any] = json.loads(ws.recv())
    return message


def send_event(ws: websocket.WebSocket, event: str, data: Any, data_type: str, ack_id: int) -> None:
    frame = {"type": "event", "event": event, "dataType": data_type, "data": data, "ackId": ack_id}
    ws.send(json.dumps(frame))


def test_connect_sets_user_groups_and_roles(stack: Stack) -> None:
    ws, hello = connect_json(stack, "alice")
    try:
        assert hello["userId"] == "alice"  # from the handler, not the token's "token-user"
        connect = stack.seen.wait("connect", lambda r: r.context.connection_id == hello["connectionId"])
        assert connect.query.first("name") == "alice" and connect.claims["sub"] == ["token-user"]
        assert connect.subprotocols == [JSON_P] and connect.context.user_id == "token-user"
        stack.seen.wait("connected", lambda r: r.context.connection_id == hello["connectionId"])
        assert stack.service.user_exists("alice") and not stack.service.user_exists("token-user")
        stack.service.send_to_group("room", "hello room")  # the handler's group took effect
        assert recv_json(ws) == {
            "type": "message",
            "from": "group",
            "group": "room",
            "fromUserId": None,
            "dataType": "text",
            "data": "hello room",
        }
        ws.send(
            json.dumps(
                {"type": "sendToGroup", "group": "room", "data": "mine", "dataType": "text", "ackId": 1, "noEcho": True}
            )
        )
        assert recv_json(ws) == {"type": "ack", "ackId": 1, "success": True}  # the handler's role took effect
        ws.send(json.dumps({"type": "joinGroup", "group": "other", "ackId": 2}))
        ack = recv_json(ws)
        assert ack["ackId"] == 2 and ack["success"] is False and ack["error"]["name"] == "Forbidden"
    finally:
        ws.close()


def test_user_event_replies_reach_the_client_in_the_right_form(stack: Stack) -> None:
    ws, _hello = connect_json(stack, "bob")
    try:
        cases = [
            ("text", "hi", "text", {"dataType": "text", "data": "text:hi"}),
            ("json", {"a": [1, 2]}, "json", {"dataType": "json", "data": {"echo": {"a": [1, 2]}}}),
            (
                "binary",
                base64.b64encode(b"\x01\x02\x03").decode(),
                "binary",
                {"dataType": "binary", "data": base64.b64encode(b"\x03\x02\x01").decode()},
            ),
            ("explicit", "x", "text", {"dataType": "json", "data": "123"}),  # a JSON string, not text
        ]
        for ack_id, (event, data, data_type, expected) in enumerate(cases, start=1):
            send_event(ws, event, data, data_type, ack_id)
            assert recv_json(ws) == {"type": "message", "from": "server", **expected}, event
            assert recv_json(ws) == {"type": "ack", "ackId": ack_id, "success": True}
        send_event(ws, "silent", "x", "text", 9)  # None → 204: only the ack
        assert recv_json(ws) == {"type": "ack", "ackId": 9, "success": True}
        binary = stack.seen.wait("event", lambda r: r.context.event_name == "binary")
        assert binary.data == b"\x01\x02\x03" and binary.data_type == "binary"
    finally:
        ws.close()


def test_raw_client_gets_text_and_binary_frames(stack: Stack) -> None:
    ws = websocket.create_connection(stack.client_url("raw-user"), timeout=TIMEOUT)
    try:
        ws.send("ping")
        assert ws.recv() == "echo:ping"
        ws.send_binary(b"\x01\x02")
        opcode, data = ws.recv_data()
        assert (opcode, data) == (websocket.ABNF.OPCODE_BINARY, b"\x02\x01")
    finally:
        ws.close()


def test_state_set_in_one_event_is_seen_in_the_next(stack: Stack) -> None:
    ws, hello = connect_json(stack, "carol")
    connection_id = hello["connectionId"]
    for ack_id in (1, 2, 3):
        send_event(ws, "count", "tick", "text", ack_id)
        assert recv_json(ws)["data"] == {"count": ack_id, "name": "carol"}
        assert recv_json(ws)["ackId"] == ack_id
    ws.close()
    gone = stack.seen.wait("disconnected", lambda r: r.context.connection_id == connection_id)
    assert gone.context.state.to_dict() == {"count": 3, "name": "carol"}
    assert gone.context.user_id == "carol"


def test_disconnected_fires_with_the_reason(stack: Stack) -> None:
    ws, hello = connect_json(stack, "dave")
    stack.service.close_connection(hello["connectionId"], reason="server says bye")
    assert recv_json(ws)["event"] == "disconnected"
    gone = stack.seen.wait("disconnected", lambda r: r.context.connection_id == hello["connectionId"])
    assert gone.reason == "server says bye"
    ws.close()


def test_a_refused_connect_reaches_the_client(stack: Stack) -> None:
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(stack.client_url("mallory"), subprotocols=[JSON_P], timeout=TIMEOUT)
    assert refused.value.status_code == 401
    assert b"mallory is not welcome" in (refused.value.resp_body or b"")


def test_a_failing_callback_drops_the_client(stack: Stack) -> None:
    ws, _hello = connect_json(stack, "erin")
    send_event(ws, "unexpected", "x", "text", 1)
    ack = recv_json(ws)
    assert ack["success"] is False and ack["error"]["name"] == "InternalServerError"
    assert recv_json(ws)["event"] == "disconnected"
    opcode, frame = ws.recv_data_frame(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE and int.from_bytes(frame.data[:2], "big") == 1011
    ws.close()


def test_a_handler_with_the_wrong_key_refuses_every_connect(stack: Stack) -> None:
    before = len(stack.seen.of("connect"))
    other_key = "Z" * 44
    with (
        EmulatorThread(access_key=other_key, event_handlers={HUB: stack.handler}) as emulator,
        pytest.raises(websocket.WebSocketBadStatusException) as refused,
    ):
        websocket.create_connection(emulator.client_url(HUB) + "&name=zed", subprotocols=[JSON_P], timeout=TIMEOUT)
    assert refused.value.status_code == 401
    assert b"Signature verification failed" in (refused.value.resp_body or b"")
    assert len(stack.seen.of("connect")) == before  # no user code ran


def test_the_official_client_works_through_the_handler(stack: Stack) -> None:
    credential = WebPubSubClientCredential(lambda: stack.client_url("official"))
    client = WebPubSubClient(
        credential,
        protocol_type=WebPubSubProtocolType.JSON_RELIABLE,
        reconnect_retry_total=0,
        ack_timeout=1.0,
        start_timeout=TIMEOUT,
    )
    received: queue.Queue[Any] = queue.Queue()
    connected: queue.Queue[Any] = queue.Queue()
    client.subscribe(CallbackType.SERVER_MESSAGE, received.put)
    client.subscribe(CallbackType.CONNECTED, connected.put)
    client.open()
    try:
        assert connected.get(timeout=TIMEOUT).user_id == "official"
        client.send_event("json", {"n": uuid.uuid4().hex}, WebPubSubDataType.JSON)
        message = received.get(timeout=TIMEOUT)
        assert message.data_type == WebPubSubDataType.JSON and set(message.data["echo"]) == {"n"}
        client.send_event("count", "tick", WebPubSubDataType.TEXT)
        assert received.get(timeout=TIMEOUT).data == {"count": 1, "name": "official"}
    finally:
        client.close()


async def test_an_asyncio_client_through_the_handler(stack: Stack) -> None:
    from websockets.asyncio.client import connect

    async with connect(stack.client_url("frank"), subprotocols=[JSON_P], open_timeout=TIMEOUT) as ws:
        hello = json.loads(await ws.recv())
        assert hello["event"] == "connected" and hello["userId"] == "frank"
        await ws.send(json.dumps({"type": "event", "event": "count", "dataType": "text", "data": "t", "ackId": 1}))
        assert json.loads(await ws.recv())["data"] == {"count": 1, "name": "frank"}
        assert json.loads(await ws.recv()) == {"type": "ack", "ackId": 1, "success": True}


@pytest.mark.parametrize("kind", ASGI_KINDS)
def test_an_asgi_kind_on_its_real_server(kind: str) -> None:
    """The ASGI kinds' apps, called in-process above, also on uvicorn: connect names the user, an event's reply and
    the state it keeps come back, a refused connect is refused, disconnected fires."""
    handler, seen = build_handler(async_callbacks=KINDS[kind])
    with serve(kind, handler) as url, EmulatorThread(event_handlers={HUB: url}) as emulator:
        stack = Stack(kind, url, emulator, None, seen)  # type: ignore[arg-type]
        ws, hello = connect_json(stack, "grace")
        assert hello["userId"] == "grace"
        send_event(ws, "count", "tick", "text", 1)
        assert recv_json(ws)["data"] == {"count": 1, "name": "grace"}
        assert recv_json(ws) == {"type": "ack", "ackId": 1, "success": True}
        ws.close()
        gone = seen.wait("disconnected", lambda r: r.context.connection_id == hello["connectionId"])
        assert gone.context.state.to_dict() == {"count": 1, "name": "grace"}
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(stack.client_url("mallory"), subprotocols=[JSON_P], timeout=TIMEOUT)
        assert refused.value.status_code == 401
