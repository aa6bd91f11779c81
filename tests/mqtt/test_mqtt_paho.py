"""What real paho-mqtt 2.2.0 sends, decoded by our buffer and answered by our session over a bare asyncio socket.

paho runs on its own network thread against a loopback TCP server that feeds every byte to a PacketBuffer and an
MqttSession (a one-session stand-in for Core loops group publishes back). MQTT framing is the same over TCP as in
WebSocket frames, so this is the real client's wire format, 3.1.1 and 5.0.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, List

import paho.mqtt.client as paho
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties as PahoProperties
from webpubsub_emulator.mqtt import (
    MQTT_5,
    MQTT_311,
    Connect,
    Disconnect,
    Packet,
    PacketBuffer,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Subscribe,
    Unsubscribe,
    encode,
)
from webpubsub_emulator.mqtt.session import (
    Attach,
    CloseTransport,
    Deliver,
    Ended,
    MqttSession,
    PacketIn,
    PublishToGroup,
    Send,
)
from webpubsub_emulator.roles import PermissionState

ROLES = ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"]


class RecordingServer:
    """Accepts one MQTT connection, records every decoded packet and lets an MqttSession answer."""

    def __init__(self) -> None:
        self.received: List[Packet] = []
        self.ended: List[dict] = []
        self.session: Any = None

    def _run(self, actions: List[Any], writer: asyncio.StreamWriter) -> None:
        for action in actions:
            if isinstance(action, Send):
                writer.write(encode(action.packet, self.session.version))
            elif isinstance(action, CloseTransport):
                writer.close()
            elif isinstance(action, PublishToGroup) and action.group in self.session.subscriptions:
                self._run(self.session.handle(Deliver(action.message)), writer)
            elif isinstance(action, Ended):
                self.ended.append(action.body)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buffer = PacketBuffer()
        while not writer.is_closing():
            data = await reader.read(65536)
            if not data:
                break
            for packet in buffer.feed(data):
                self.received.append(packet)
                if isinstance(packet, Connect):
                    self.session = MqttSession(packet.client_id, PermissionState(ROLES))
                    event: Any = Attach(writer, packet)
                else:
                    event = PacketIn(writer, packet)
                self._run(self.session.handle(event), writer)
        writer.close()


@pytest.mark.parametrize("version", [MQTT_311, MQTT_5], ids=["3.1.1", "5.0"])
async def test_paho_talks_to_our_codec_and_session(version: int) -> None:
    server = RecordingServer()
    tcp = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = tcp.sockets[0].getsockname()[1]
    messages: List[Any] = []
    done = threading.Event()

    client = paho.Client(
        paho.CallbackAPIVersion.VERSION2,
        client_id="paho1",
        protocol=paho.MQTTv5 if version == MQTT_5 else paho.MQTTv311,
    )

    def on_connect(c: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        c.subscribe("g", qos=2)

    def on_subscribe(c: Any, userdata: Any, mid: Any, reason_codes: Any, properties: Any) -> None:
        props = None
        if version == MQTT_5:
            props = PahoProperties(PacketTypes.PUBLISH)
            props.ContentType = "text/plain"
            props.UserProperty = [("k", "v")]
        for qos in (0, 1, 2):
            c.publish("g", f"q{qos}".encode(), qos=qos, properties=props)

    def on_message(c: Any, userdata: Any, message: Any) -> None:
        messages.append(message)
        if len(messages) == 3:
            c.unsubscribe("g")

    def on_unsubscribe(c: Any, userdata: Any, mid: Any, reason_codes: Any, properties: Any) -> None:
        c.disconnect()
        done.set()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.on_unsubscribe = on_unsubscribe
    if version == MQTT_5:
        client.connect_async("127.0.0.1", port, keepalive=30, clean_start=True)
    else:
        client.connect_async("127.0.0.1", port, keepalive=30)
    client.loop_start()
    try:
        assert await asyncio.to_thread(done.wait, 10)
        for _ in range(100):  # the DISCONNECT follows the UNSUBACK callback
            if server.ended:
                break
            await asyncio.sleep(0.02)
    finally:
        client.loop_stop()
        tcp.close()
        await tcp.wait_closed()

    connect = server.received[0]
    assert isinstance(connect, Connect)
    assert (connect.client_id, connect.protocol_level, connect.keep_alive, connect.clean_start) == (
        "paho1", version, 30, True,
    )  # fmt: skip
    kinds = [type(p) for p in server.received]
    for kind in (Subscribe, Puback, Pubrec, Pubrel, Pubcomp, Unsubscribe, Disconnect):
        assert kind in kinds, kind
    publishes = [p for p in server.received if isinstance(p, Publish)]
    assert [(p.topic, p.payload, p.qos) for p in publishes] == [("g", b"q0", 0), ("g", b"q1", 1), ("g", b"q2", 2)]
    assert sorted((m.payload, m.qos) for m in messages) == [(b"q0", 0), (b"q1", 1), (b"q2", 2)]
    if version == MQTT_5:
        assert all(p.properties.content_type == "text/plain" for p in publishes)
        assert all(p.properties.user_properties == [("k", "v")] for p in publishes)
        assert all(m.properties.ContentType == "text/plain" for m in messages)
    assert server.ended == [
        {"reason": None, "mqtt": {"initiatedByClient": True, "disconnectPacket": {"code": 0, "userProperties": None}}}
    ]
