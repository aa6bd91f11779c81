"""Generic MQTT semantics, the same test against the emulator and against Mosquitto (Debian's, WebSocket listener).

QoS flows, session present and resume, keep-alive: where Web PubSub says nothing different, the emulator behaves as
a mature broker does. (Web PubSub's own rules, roles, refusals and REST are in test_mqtt_clients_paho.py.)
"""

from __future__ import annotations

from typing import Callable

import pytest
from mqtt_clients_support import Broker, Paho, emulator_broker, new_id

VERSIONS = [pytest.param(4, id="3.1.1"), pytest.param(5, id="5.0")]
Make = Callable[..., Paho]


@pytest.fixture(params=["emulator", "mosquitto"])
def any_broker(request: pytest.FixtureRequest) -> Broker:
    if request.param == "mosquitto":
        return request.getfixturevalue("mosquitto_broker")  # type: ignore[no-any-return]
    return emulator_broker(request.getfixturevalue("webpubsub_emulator"))


def topic() -> str:
    return "t" + new_id()


@pytest.mark.parametrize("version", VERSIONS)
def test_qos_flows(any_broker: Broker, paho_clients: Make, version: int) -> None:
    t = topic()
    sub = paho_clients(any_broker, new_id(), version=version)
    pub = paho_clients(any_broker, new_id(), version=version)
    assert sub.connect()[:2] == (0, False)
    pub.connect()
    assert [int(c.value) for c in sub.subscribe(t, qos=2)] == [2]
    received = []
    for qos in (0, 1, 2):
        pub.publish(t, b"m%d" % qos, qos)
        msg = sub.message()
        received.append((msg.payload, msg.qos, msg.dup, msg.retain))
    assert received == [(b"m0", 0, False, False), (b"m1", 1, False, False), (b"m2", 2, False, False)]
    sub.subscribe(t, qos=1)  # the subscription is replaced: delivery at min(publish QoS, granted QoS)
    pub.publish(t, b"down", 2)
    assert sub.message().qos == 1
    assert [int(c.value) for c in sub.unsubscribe(t)] == ([0] if version == 5 else [])
    pub.publish(t, b"after", 1)
    sub.no_message()


@pytest.mark.parametrize("version", VERSIONS)
def test_session_present_and_resume(any_broker: Broker, paho_clients: Make, version: int) -> None:
    t, client_id = topic(), new_id()
    first = paho_clients(any_broker, client_id, version=version, clean=False, session_expiry=60)
    assert first.connect()[1] is False
    first.subscribe(t, qos=1)
    first.drop()
    pub = paho_clients(any_broker, new_id(), version=version)
    pub.connect()
    # QoS 0 first: the PUBACK of the QoS 1 message after it, on the same connection, proves the broker has handled
    # both before the session comes back (a QoS 0 publish is not acknowledged; sent last it could reach the broker
    # after the reconnect and be delivered, rightly, to the online session)
    pub.publish(t, b"qos0 while away", 0)
    pub.publish(t, b"while away", 1)
    back = paho_clients(any_broker, client_id, version=version, clean=False, session_expiry=60)
    assert back.connect()[:2] == (0, True)
    msg = back.message()
    assert (msg.payload, msg.qos) == (b"while away", 1)
    back.no_message()  # QoS 0 is not kept for an offline session
    back.stop()
    clean = paho_clients(any_broker, client_id, version=version, clean=True)
    assert clean.connect()[1] is False
    pub.publish(t, b"nobody", 1)
    clean.no_message()  # the clean start dropped the subscription


@pytest.mark.parametrize("version", VERSIONS)
def test_keep_alive(any_broker: Broker, paho_clients: Make, version: int) -> None:
    pinging = paho_clients(any_broker, new_id(), version=version, keepalive=1)
    pinging.connect()
    silent = paho_clients(any_broker, new_id(), version=version, keepalive=1)
    silent.connect()
    silent.client._keepalive = 3600  # stop paho's PINGREQs
    silent.disconnected(timeout=15)  # closed after 1.5 x keep-alive of silence (Mosquitto checks about once a second)
    assert pinging.queues["disconnect"].empty()  # PINGREQ / PINGRESP kept the other one alive
    pinging.subscribe(topic(), qos=0)
