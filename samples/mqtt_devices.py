"""MQTT devices and the app that runs them: devices connect with paho-mqtt, the app pushes to them with the SDK, and a
device's event is answered by the app's event handler (the event-handler library).

    python samples/mqtt_devices.py

In Web PubSub an MQTT topic is a group: a device that SUBSCRIBEs to ``lights`` joins the group ``lights``, and the app's
``send_to_group("lights", ...)`` reaches it on that topic. What the app sends to one user or connection (or to
everyone) arrives on the service's own topic ``$webpubsub/server/messages``, without a SUBSCRIBE. A device PUBLISHes
to ``$webpubsub/server/events/<name>`` to call the app; the app's answer comes back on ``.../<name>/succeeded`` (or
``/failed``), with the request's Correlation Data.

Without ``WEBPUBSUB_CONNECTION_STRING`` it starts the local emulator, with this app's event handler (an ASGI app)
called in-process. With it, it talks to your resource and skips the event step, which needs the hub's event handler
set to a public URL of the app.
"""

from __future__ import annotations

import json
import os
import queue
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import paho.mqtt.client as mqtt
from _common import TIMEOUT, SampleError, check, run, service_target
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice.eventhandler import ConnectResponse, WebPubSubEventHandler
from azure.messaging.webpubsubservice.eventhandler.asgi import WebPubSubASGIApp
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

HUB = "devices"


class Device:
    """One MQTT 5.0 device (paho-mqtt over WebSocket) that keeps what it receives in a queue."""

    def __init__(self, service: WebPubSubServiceClient, name: str) -> None:
        # the app mints the device's token: the MQTT endpoint, the device's user id and what it may do
        token = service.get_client_access_token(
            client_protocol="MQTT", user_id=name, roles=["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"]
        )
        url = urlsplit(token["url"])
        self.name = name
        self.inbox: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=name, transport="websockets", protocol=mqtt.MQTTv5
        )
        self.client.ws_set_options(path=f"{url.path}?{url.query}")
        self.client.username_pw_set(name)  # the event handler sees it in connect (request.mqtt.username)
        connected: queue.Queue[Any] = queue.Queue()
        self.client.on_connect = lambda _c, _u, _flags, reason, _props: connected.put(reason)
        self.client.on_message = lambda _c, _u, message: self.inbox.put(message)
        if url.scheme == "wss":  # pragma: no cover - a real resource
            self.client.tls_set()
        self.client.connect(url.hostname or "localhost", url.port or (443 if url.scheme == "wss" else 80))
        self.client.loop_start()
        reason = connected.get(timeout=TIMEOUT)
        check(not reason.is_failure, f"{name} could not connect: {reason}")
        print(f"{name} connected over MQTT 5.0")

    def subscribe(self, topic: str) -> None:
        done: queue.Queue[Any] = queue.Queue()
        self.client.on_subscribe = lambda _c, _u, _mid, codes, _props: done.put(codes)
        self.client.subscribe(topic, qos=1)
        codes = done.get(timeout=TIMEOUT)
        check(not codes[0].is_failure, f"{self.name} could not subscribe to {topic}: {codes[0]}")
        print(f"{self.name} subscribed to {topic!r} (joined the group)")

    def receive(self) -> mqtt.MQTTMessage:
        try:
            message = self.inbox.get(timeout=TIMEOUT)
        except queue.Empty:
            raise SampleError(f"{self.name} received nothing within {TIMEOUT} s") from None
        print(f"{self.name} <- {message.topic}: {message.payload.decode()}")
        return message

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def event_handler(access_key: str) -> WebPubSubEventHandler:
    """The app's side of the events: who connects, and the devices' ``telemetry`` event."""
    handler = WebPubSubEventHandler(HUB, access_key=access_key)

    @handler.on_connect
    def connect(request: Any) -> ConnectResponse:
        print(f"app: connect from MQTT {request.mqtt.protocol_version} client {request.context.connection_id!r}")
        return ConnectResponse(subprotocol="mqtt")

    @handler.on_event("telemetry")
    def telemetry(request: Any) -> dict[str, Any]:
        reading = request.json()
        print(f"app: telemetry from {request.context.user_id}: {reading}")
        return {"stored": True, "celsius": reading["celsius"]}

    return handler


def main() -> None:
    app = None
    if not os.environ.get("WEBPUBSUB_CONNECTION_STRING"):
        from webpubsub_emulator import DEFAULT_ACCESS_KEY  # only used with the local emulator

        # the app's event handler as an ASGI app, which the local emulator calls in-process (no web server needed)
        app = WebPubSubASGIApp(event_handler(DEFAULT_ACCESS_KEY))
    with service_target(HUB, event_handler=app) as target:
        print(f"Using the {target.where}, hub {target.hub!r}")
        with WebPubSubServiceClient.from_connection_string(target.connection_string, hub=target.hub) as service:
            lamp, sensor = Device(service, "lamp1"), Device(service, "sensor1")
            try:
                lamp.subscribe("lights")
                service.send_to_group("lights", {"on": True})
                message = lamp.receive()
                check(message.topic == "lights" and json.loads(message.payload) == {"on": True}, "lights message")

                service.send_to_user("sensor1", "calibrate", content_type="text/plain")
                message = sensor.receive()
                check(message.topic == "$webpubsub/server/messages", "a user's messages come on the server topic")

                if target.emulator is None:  # pragma: no cover - a real resource
                    print("skipping the event step: set the hub's event handler to a public URL of this app")
                    return
                props = Properties(PacketTypes.PUBLISH)
                props.ContentType = "application/json"
                props.CorrelationData = b"reading-1"
                sensor.client.publish(
                    "$webpubsub/server/events/telemetry", json.dumps({"celsius": 21.5}), qos=1, properties=props
                )
                reply = sensor.receive()
                check(reply.topic == "$webpubsub/server/events/telemetry/succeeded", "the app answers the event")
                check(reply.properties.CorrelationData == b"reading-1", "the reply keeps the correlation data")
                print("MQTT devices done.")
            finally:
                lamp.close()
                sensor.close()


if __name__ == "__main__":
    run(main)
