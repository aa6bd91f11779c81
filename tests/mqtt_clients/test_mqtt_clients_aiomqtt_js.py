"""aiomqtt 2.5 (asyncio, on paho) and MQTT.js 5.16 (Node) against the emulator: connect, subscribe, publish at each
QoS, REST sends, membership and close by REST, session resume, roles refused."""

from __future__ import annotations

import asyncio
from typing import Any, Iterator

import aiomqtt
import pytest
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from mqtt_clients_support import Broker, NodeMqtt, new_id, wait_until

AIOMQTT_VERSIONS = [
    pytest.param(aiomqtt.ProtocolVersion.V311, id="3.1.1"),
    pytest.param(aiomqtt.ProtocolVersion.V5, id="5.0"),
]
JS_VERSIONS = [pytest.param(4, id="3.1.1"), pytest.param(5, id="5.0")]


def _aiomqtt(broker: Broker, client_id: str, version: Any, **options: Any) -> aiomqtt.Client:
    token = options.pop("token", {})
    return aiomqtt.Client(
        "127.0.0.1",
        broker.port,
        identifier=client_id,
        transport="websockets",
        websocket_path=broker.path(**token),
        protocol=version,
        **options,
    )


async def _next(client: aiomqtt.Client, timeout: float = 5.0) -> aiomqtt.Message:
    return await asyncio.wait_for(client.messages.__anext__(), timeout)


@pytest.mark.parametrize("version", AIOMQTT_VERSIONS)
async def test_aiomqtt(broker: Broker, service: WebPubSubServiceClient, version: Any) -> None:
    client_id = new_id()
    async with _aiomqtt(broker, client_id, version) as sub, _aiomqtt(broker, new_id(), version) as pub:
        await sub.subscribe("room", qos=2)
        for qos in (0, 1, 2):
            await pub.publish("room", f"q{qos}", qos=qos)
            msg = await _next(sub)
            assert (msg.topic.value, msg.payload, msg.qos) == ("room", f"q{qos}".encode(), qos)
        await asyncio.to_thread(service.send_to_group, "room", "from rest", content_type="text/plain")
        assert (await _next(sub)).payload == b"from rest"
        await asyncio.to_thread(service.send_to_connection, client_id, "to me", content_type="text/plain")
        msg = await _next(sub)
        assert (msg.topic.value, msg.payload) == ("$webpubsub/server/messages", b"to me")
        await asyncio.to_thread(service.add_connection_to_group, "added", client_id)
        await asyncio.to_thread(service.send_to_group, "added", "by rest", content_type="text/plain")
        msg = await _next(sub)
        assert (msg.topic.value, msg.qos) == ("added", 0)
        await asyncio.to_thread(service.close_connection, client_id, reason="done")
        with pytest.raises(aiomqtt.MqttError):
            await _next(sub)


async def test_aiomqtt_resume_and_roles(broker: Broker, service: WebPubSubServiceClient) -> None:
    client_id = new_id()
    v5 = aiomqtt.ProtocolVersion.V311
    async with _aiomqtt(broker, client_id, v5, clean_session=False) as dev:
        await dev.subscribe("room", qos=1)
    # a 3.1.1 DISCONNECT with Clean Session 0 keeps the session for the keep window
    assert await asyncio.to_thread(service.connection_exists, client_id)
    await asyncio.to_thread(service.send_to_group, "room", "kept", content_type="text/plain")
    async with _aiomqtt(broker, client_id, v5, clean_session=False) as dev:
        assert (await _next(dev)).payload == b"kept"
    limited = {"roles": ["webpubsub.joinLeaveGroup.only"]}
    async with _aiomqtt(broker, new_id(), aiomqtt.ProtocolVersion.V5, token=limited) as dev:
        granted = await dev.subscribe("other", qos=1)
        assert [int(getattr(g, "value", g)) for g in granted] == [0x87]


@pytest.fixture
def js() -> Iterator[NodeMqtt]:
    client = NodeMqtt()
    try:
        yield client
    finally:
        client.close()


@pytest.mark.parametrize("version", JS_VERSIONS)
def test_mqtt_js(broker: Broker, service: WebPubSubServiceClient, js: NodeMqtt, version: int) -> None:
    client_id = new_id()
    connack = js.connect(broker.url(), clientId=client_id, protocolVersion=version, clean=False, **_expiry(version))
    assert connack["sessionPresent"] is False
    assert js.subscribe("room", qos=2) == [{"topic": "room", "qos": 2}]
    for qos in (0, 1, 2):
        js.publish("room", b"js%d" % qos, qos=qos)
        msg = js.message()
        assert (msg["topic"], msg["payload"], msg["qos"]) == ("room", b"js%d" % qos, qos)
    service.send_to_group("room", "rest", content_type="text/plain")
    assert js.message()["payload"] == b"rest"
    service.send_to_all({"x": 1})
    msg = js.message()
    assert (msg["topic"], msg["payload"]) == ("$webpubsub/server/messages", b'{"x": 1}')
    if version == 5:
        assert msg["properties"]["contentType"] == "application/json"
    service.add_connection_to_group("g2", client_id)
    service.send_to_group("g2", "g2", content_type="text/plain")
    assert js.message()["qos"] == 0
    js.send("subscribe", topic="$share/a/room", options={"qos": 1})
    assert js.next("suback-error")["granted"] == [0x9E if version == 5 else 0x80]
    service.close_connection(client_id, reason="js bye")
    if version == 5:
        disconnect = js.next("disconnect")
        assert disconnect["reasonCode"] == 0x98
        assert disconnect["properties"]["reasonString"] == "js bye"
    js.next("close")
    wait_until(lambda: not service.connection_exists(client_id), what="the session to end")


@pytest.mark.parametrize("version", JS_VERSIONS)
def test_mqtt_js_resume_and_refused_token(broker: Broker, service: WebPubSubServiceClient, version: int) -> None:
    client_id = new_id()
    first = NodeMqtt()
    try:
        first.connect(broker.url(), clientId=client_id, protocolVersion=version, clean=False, **_expiry(version))
        first.subscribe("room", qos=1)
    finally:
        first.close()  # the process ends: the socket drops without DISCONNECT
    wait_until(lambda: service.connection_exists(client_id), what="the held session")
    service.send_to_group("room", "while away", content_type="text/plain")
    back = NodeMqtt()
    try:
        connack = back.connect(
            broker.url(), clientId=client_id, protocolVersion=version, clean=False, **_expiry(version)
        )
        assert connack["sessionPresent"] is True
        assert back.message()["payload"] == b"while away"
    finally:
        back.close()
    refused = NodeMqtt()
    try:
        refused.send(
            "connect",
            url=f"ws://127.0.0.1:{broker.port}/clients/mqtt/hubs/{broker.hub}",
            options={"clientId": new_id(), "protocolVersion": version},
        )
        error = refused.next("error")
        assert error["code"] == (0x87 if version == 5 else 5)
    finally:
        refused.close()


def _expiry(version: int) -> dict[str, Any]:
    return {"properties": {"sessionExpiryInterval": 60}} if version == 5 else {}
