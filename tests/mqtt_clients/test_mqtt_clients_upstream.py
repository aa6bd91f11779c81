"""The MQTT upstream events over real HTTP: ``connect`` with the ``mqtt`` body and its answers as CONNACKs,
``connected`` only for a new session, ``disconnected`` with the MQTT details, user events and their replies; then the
whole chain emulator → our event-handler library → MQTT client."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
from typing import Any, Callable, Iterator, Tuple
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice.eventhandler import (
    ConnectResponse,
    UnauthorizedError,
    UserEventResponse,
    WebPubSubEventHandler,
)
from azure.messaging.webpubsubservice.eventhandler.wsgi import WebPubSubWSGIApp
from mqtt_clients_support import Broker, Paho, RecordingHandler, new_hub, new_id, props, user_props, wait_until
from paho.mqtt.packettypes import PacketTypes
from webpubsub_emulator import EmulatorThread

Make = Callable[..., Paho]
VERSIONS = [pytest.param(4, id="3.1.1"), pytest.param(5, id="5.0")]
CONNECT = "azure.webpubsub.sys.connect"
CONNECTED = "azure.webpubsub.sys.connected"
DISCONNECTED = "azure.webpubsub.sys.disconnected"


@pytest.fixture
def recorder() -> Iterator[RecordingHandler]:
    handler = RecordingHandler()
    try:
        yield handler
    finally:
        handler.close()


@pytest.fixture
def upstream(recorder: RecordingHandler) -> Iterator[Tuple[Broker, RecordingHandler, WebPubSubServiceClient]]:
    hub = new_hub()
    with EmulatorThread(port=0, event_handlers={hub: recorder.url}) as emu:
        broker = Broker("emulator", emu.port, emu.endpoint, emu.access_key, hub)
        with WebPubSubServiceClient.from_connection_string(emu.connection_string, hub=hub) as service:
            yield broker, recorder, service


def test_connect_body_and_headers_then_connected(upstream: Any, paho_clients: Make) -> None:
    broker, recorder, service = upstream
    recorder.answer = lambda r: (
        (200, [("Content-Type", "application/json")], json.dumps(_accepting()).encode())
        if r.ce_type == CONNECT
        else (200, [], b"")
    )
    client_id = new_id()
    dev = paho_clients(
        broker,
        client_id,
        version=5,
        username="device",
        password="secret",
        user_properties=[("model", "x1")],
        user="token-user",
    )
    rc, _present, connack_props = dev.connect()
    assert rc == 0
    assert user_props_of(connack_props) == [("welcome", "yes")]
    connect = recorder.next(CONNECT)
    h = connect.headers
    physical = h["ce-physicalconnectionid"]
    assert h["ce-connectionid"] == client_id and h["ce-subprotocol"] == "mqtt" and "ce-sessionid" not in h
    assert h["ce-source"] == f"/hubs/{broker.hub}/client/{client_id}/{physical}"
    assert h["ce-userid"] == "token-user" and h["ce-signature"].startswith("sha256=")
    body = connect.json()
    assert body["subprotocols"] == ["mqtt"] and "access_token" not in body["query"]
    assert body["mqtt"] == {
        "protocolVersion": 5,
        "username": "device",
        "password": base64.b64encode(b"secret").decode(),
        "userProperties": [{"name": "model", "value": "x1"}],
        "cleanStart": True,
    }
    connected = recorder.next(CONNECTED)
    assert connected.headers["ce-sessionid"] and connected.headers["ce-physicalconnectionid"] == physical
    assert connected.headers["ce-userid"] == "handler-user"  # the connect answer's user, groups and roles apply
    assert service.user_exists("handler-user")
    assert [m.connection_id for m in service.list_connections_in_group("from-handler")] == [client_id]


def _accepting() -> dict[str, Any]:
    return {
        "userId": "handler-user",
        "groups": ["from-handler"],
        "roles": ["webpubsub.sendToGroup"],
        "mqtt": {"userProperties": [{"name": "welcome", "value": "yes"}]},
    }


def user_props_of(properties: Any) -> list[Tuple[str, str]]:
    return list(getattr(properties, "UserProperty", None) or [])


@pytest.mark.parametrize("version", VERSIONS)
def test_resume_sends_connect_but_no_connected_or_disconnected(upstream: Any, paho_clients: Make, version: int) -> None:
    broker, recorder, _service = upstream
    client_id = new_id()
    first = paho_clients(broker, client_id, version=version, clean=False, session_expiry=60)
    first.connect()
    recorder.next(CONNECT)
    session_id = recorder.next(CONNECTED).headers["ce-sessionid"]
    first.drop()
    back = paho_clients(broker, client_id, version=version, clean=False, session_expiry=60)
    assert back.connect()[1] is True
    assert recorder.next(CONNECT).json()["mqtt"]["cleanStart"] is False
    recorder.none(CONNECTED)
    back.disconnect()  # a DISCONNECT with expiry > 0 keeps the session: no disconnected yet
    recorder.none(DISCONNECTED)
    again = paho_clients(broker, client_id, version=version, clean=True)
    again.connect()  # a clean start ends the held session
    ended = recorder.next(DISCONNECTED)
    assert ended.headers["ce-sessionid"] == session_id
    packet = {"code": 0x8E, "userProperties": None} if version == 5 else None  # Session taken over
    assert ended.json()["mqtt"] == {"initiatedByClient": False, "disconnectPacket": packet}


def test_disconnected_tells_the_mqtt_details(upstream: Any, paho_clients: Make) -> None:
    broker, recorder, service = upstream
    dev = paho_clients(broker, new_id(), version=5)
    dev.connect()
    dev.disconnect(0x04, props(PacketTypes.DISCONNECT, ReasonString="bye now", UserProperty=[("k", "v")]))
    body = recorder.next(DISCONNECTED).json()
    assert body == {
        "reason": "bye now",
        "mqtt": {
            "initiatedByClient": True,
            "disconnectPacket": {"code": 4, "userProperties": [{"name": "k", "value": "v"}]},
        },
    }
    closed_id = new_id()
    closed = paho_clients(broker, closed_id, version=5)
    closed.connect()
    service.close_connection(closed_id, reason="by rest")
    body = recorder.next(DISCONNECTED).json()
    assert body == {
        "reason": "by rest",
        "mqtt": {"initiatedByClient": False, "disconnectPacket": {"code": 0x98, "userProperties": None}},
    }
    old = paho_clients(broker, new_id(), version=4)
    old.connect()
    old.disconnect()
    body = recorder.next(DISCONNECTED).json()
    assert body["mqtt"] == {"initiatedByClient": True, "disconnectPacket": {"code": 0, "userProperties": None}}


@pytest.mark.parametrize(
    ("version", "status", "body", "code", "reason"),
    [
        (5, 401, {"mqtt": {"code": 0x86, "reason": "bad login"}}, 0x86, "bad login"),
        (5, 403, None, 0x87, None),
        (5, 500, None, 0x80, None),
        (5, 400, {"mqtt": {"code": 0x00}}, 0x80, None),  # not a failure code: unspecified error
        (4, 401, {"mqtt": {"code": 4}}, 0x86, None),  # 3.1.1 return code 4 (paho's 5.0 name: bad user name)
        (4, 403, None, 0x87, None),  # return code 5
        (4, 503, None, 0x88, None),  # return code 3 (paho: server unavailable)
    ],
)
def test_connect_refusals_become_connack_codes(
    upstream: Any, paho_clients: Make, version: int, status: int, body: Any, code: int, reason: Any
) -> None:
    broker, recorder, service = upstream
    recorder.answer = lambda r: (status, [("Content-Type", "application/json")], json.dumps(body).encode())
    client_id = new_id()
    dev = paho_clients(broker, client_id, version=version)
    rc, connack_props = dev.refused()
    assert int(rc.value) == code
    if reason is not None:
        assert connack_props.ReasonString == reason
    assert not service.connection_exists(client_id)
    recorder.none(CONNECTED)


@pytest.mark.parametrize("version", VERSIONS)
def test_user_events_and_replies(upstream: Any, paho_clients: Make, version: int) -> None:
    broker, recorder, _service = upstream

    def answer(r: Any) -> Tuple[int, list[Tuple[str, str]], bytes]:
        if r.ce_type == "azure.webpubsub.user.echo":
            return 200, [("Content-Type", "text/plain"), ("mqtt-served-by", "recorder")], b"echo: " + r.body
        if r.ce_type == "azure.webpubsub.user.deny":
            return 403, [("Content-Type", "text/plain")], b"no"
        return 200, [], b""

    recorder.answer = answer
    client_id = new_id()
    dev = paho_clients(broker, client_id, version=version)
    dev.connect()
    request_props = None
    if version == 5:
        request_props = props(ContentType="text/plain", UserProperty=[("k", "v")], CorrelationData=b"\x07")
    dev.publish("$webpubsub/server/events/echo", b"hi", 1, properties=request_props)
    event = recorder.next("azure.webpubsub.user.echo")
    assert event.body == b"hi" and event.headers["ce-eventname"] == "echo"
    assert event.headers["ce-connectionid"] == client_id and event.headers["ce-sessionid"]
    if version == 5:
        assert event.headers["content-type"] == "text/plain" and event.headers["mqtt-k"] == "v"
    else:
        assert event.headers["content-type"] == "application/octet-stream"
    reply = dev.message()
    assert (reply.topic, reply.payload, reply.qos) == ("$webpubsub/server/events/echo/succeeded", b"echo: hi", 1)
    if version == 5:
        assert reply.properties.CorrelationData == b"\x07"
        assert reply.properties.ContentType == "text/plain"
        assert user_props(reply) == [("served-by", "recorder"), ("azure-status-code", "200")]
    dev.publish("$webpubsub/server/events/deny", b"x", 0)
    failed = dev.message()
    assert (failed.topic, failed.payload) == ("$webpubsub/server/events/deny/failed", b"no")
    if version == 5:
        assert ("azure-status-code", "403") in user_props(failed)
    assert dev.queues["disconnect"].empty()  # a failed event keeps the connection


def test_only_a_2xx_answer_to_a_user_event_sets_the_connection_state(upstream: Any, paho_clients: Make) -> None:
    broker, recorder, _ = upstream

    def state(value: str) -> str:
        return base64.b64encode(json.dumps({"step": value}).encode()).decode()

    answers = {
        "/events/keep": (200, [("ce-connectionState", state("kept"))], b""),
        "/events/refuse": (400, [("ce-connectionState", state("refused"))], b"no"),
    }
    recorder.answer = lambda recorded: answers.get(recorded.path, (200, [], b""))
    dev = paho_clients(broker, new_id(), version=5)
    dev.connect()
    recorder.next("azure.webpubsub.sys.connect")
    for name in ("keep", "refuse", "look"):
        dev.publish(f"$webpubsub/server/events/{name}", b"x", 1)
        dev.message()
    looked = recorder.next("azure.webpubsub.user.look")
    assert looked.headers.get("ce-connectionstate") == state("kept")  # the 400's state was not applied


def test_events_without_a_handler_fail_and_keep_the_connection(broker: Broker, paho_clients: Make) -> None:
    dev = paho_clients(broker, new_id(), version=5)
    dev.connect()
    dev.publish("$webpubsub/server/events/anything", b"x", 1)
    reply = dev.message()
    assert reply.topic == "$webpubsub/server/events/anything/failed"
    assert ("azure-status-code", "500") in user_props(reply)
    dev.publish("$webpubsub/server/events/anything", b"again", 2)
    assert dev.message().topic.endswith("/failed")


# ---------------------------------------------------------------------------------------------------- the library
@contextlib.contextmanager
def serve_wsgi(app: Any) -> Iterator[str]:
    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("version", VERSIONS)
def test_emulator_to_the_event_handler_library_to_the_mqtt_client(paho_clients: Make, version: int) -> None:
    hub = new_hub()
    seen: dict[str, Any] = {}
    from webpubsub_emulator import DEFAULT_ACCESS_KEY

    handler = WebPubSubEventHandler(hub, access_key=DEFAULT_ACCESS_KEY)

    @handler.on_connect
    def connect(request: Any) -> ConnectResponse:
        assert request.context.is_mqtt
        if request.mqtt.username == "intruder":
            raise UnauthorizedError("not you", mqtt_code=0x86 if version == 5 else 4)
        seen["connect"] = request.mqtt
        return ConnectResponse(user_id="device-7", subprotocol="mqtt", mqtt_user_properties=[("hello", "dev")])

    @handler.on_event("telemetry")
    def telemetry(request: Any) -> UserEventResponse:
        seen["session_id"] = request.context.session_id
        reading = request.json() if version == 5 else json.loads(request.data)
        return UserEventResponse({"stored": reading["t"]}, mqtt_user_properties=[("unit", "C")])

    @handler.on_disconnected
    def disconnected(request: Any) -> None:
        seen["disconnected"] = request.mqtt

    with serve_wsgi(WebPubSubWSGIApp(handler)) as base:  # noqa: SIM117 - one with per line reads on Python 3.9
        with EmulatorThread(port=0, event_handlers={hub: f"{base}/eventhandler/{{event}}"}) as emu:
            broker = Broker("emulator", emu.port, emu.endpoint, emu.access_key, hub)
            intruder = paho_clients(broker, new_id(), version=version, username="intruder")
            assert int(intruder.refused()[0].value) == 0x86  # 3.1.1 return code 4, named as in 5.0 by paho
            dev = paho_clients(broker, new_id(), version=version, username="device", password="pw")
            rc, _present, connack_props = dev.connect()
            assert rc == 0
            if version == 5:
                assert user_props_of(connack_props) == [("hello", "dev")]
            assert seen["connect"].protocol_version == version and seen["connect"].password == b"pw"
            request_props = props(ContentType="application/json") if version == 5 else None
            dev.publish("$webpubsub/server/events/telemetry", b'{"t": 21.5}', 1, properties=request_props)
            reply = dev.message()
            assert reply.topic == "$webpubsub/server/events/telemetry/succeeded"
            assert json.loads(reply.payload) == {"stored": 21.5}
            if version == 5:
                assert user_props(reply) == [("unit", "C"), ("azure-status-code", "200")]
            assert seen["session_id"]
            dev.disconnect()
            wait_until(lambda: "disconnected" in seen, what="the disconnected event")
            assert seen["disconnected"].initiated_by_client is True
