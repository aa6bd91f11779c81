"""paho-mqtt 2.x (MQTT 3.1.1 and 5.0) against the emulator's MQTT endpoint over real WebSockets, with the SDK for REST.

Each test runs for both protocol versions where the behaviour is shared; the refusal codes differ per version as
mqtt.md §3 and §5 decide.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any, Callable

import pytest
import websocket
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from mqtt_clients_support import Broker, Paho, mqtt_token, new_id, props, user_props, wait_until
from paho.mqtt.packettypes import PacketTypes

VERSIONS = [pytest.param(4, id="3.1.1"), pytest.param(5, id="5.0")]
Make = Callable[..., Paho]


@pytest.mark.parametrize("version", VERSIONS)
def test_connect_subscribe_publish_at_each_qos(broker: Broker, paho_clients: Make, version: int) -> None:
    sub = paho_clients(broker, new_id(), version=version)
    pub = paho_clients(broker, new_id(), version=version)
    rc, present, _ = sub.connect()
    assert rc == 0 and present is False
    assert pub.connect()[0] == 0
    assert [int(c.value) for c in sub.subscribe("room", qos=2)] == [2]
    for qos in (0, 1, 2):
        pub.publish("room", f"q{qos}".encode(), qos)
        msg = sub.message()
        assert (msg.topic, msg.payload, msg.qos, msg.retain) == ("room", f"q{qos}".encode(), qos, False)
    sub.no_message()


@pytest.mark.parametrize("version", VERSIONS)
def test_delivery_qos_is_the_lower_of_publish_and_subscription(
    broker: Broker, paho_clients: Make, version: int
) -> None:
    sub = paho_clients(broker, new_id(), version=version)
    pub = paho_clients(broker, new_id(), version=version)
    sub.connect()
    pub.connect()
    sub.subscribe("room", qos=1)
    pub.publish("room", b"two", 2)
    assert sub.message().qos == 1
    sub.subscribe("room", qos=0)  # a second SUBSCRIBE replaces the options
    pub.publish("room", b"one", 1)
    assert sub.message().qos == 0


@pytest.mark.parametrize("version", VERSIONS)
def test_rest_sends_reach_mqtt_topics(
    broker: Broker, paho_clients: Make, service: WebPubSubServiceClient, version: int
) -> None:
    client_id = new_id()
    dev = paho_clients(broker, client_id, version=version, user="alice")
    dev.connect()
    dev.subscribe("room", qos=1)
    service.send_to_group("room", "text", content_type="text/plain")
    msg = dev.message()
    assert (msg.topic, msg.payload, msg.qos) == ("room", b"text", 1)
    if version == 5:
        assert msg.properties.ContentType == "text/plain"
    service.send_to_all({"hello": "all"})
    service.send_to_user("alice", b"\x00\x01", content_type="application/octet-stream")
    service.send_to_connection(client_id, "Hello", content_type="application/json")  # JSON: the quotes stay
    got = dev.messages(3)
    assert {m.topic for m in got} == {"$webpubsub/server/messages"}  # no SUBSCRIBE needed
    assert [m.payload for m in got] == [b'{"hello": "all"}', b"\x00\x01", b'"Hello"']
    if version == 5:
        assert [m.properties.ContentType for m in got] == [
            "application/json",
            "application/octet-stream",
            "application/json",
        ]
    dev.no_message()


@pytest.mark.parametrize("version", VERSIONS)
def test_group_membership_by_rest(
    broker: Broker, paho_clients: Make, service: WebPubSubServiceClient, version: int
) -> None:
    client_id = new_id()
    dev = paho_clients(broker, client_id, version=version, user="bob")
    dev.connect()
    assert not service.group_exists("g")
    service.add_connection_to_group("g", client_id)
    assert service.group_exists("g")
    assert [m.connection_id for m in service.list_connections_in_group("g")] == [client_id]
    service.send_to_group("g", "x", content_type="text/plain")
    msg = dev.message()
    assert (msg.topic, msg.qos) == ("g", 0)  # a REST add is a subscription with default options (QoS 0)
    service.remove_connection_from_group("g", client_id)
    service.send_to_group("g", "y", content_type="text/plain")
    dev.no_message()
    service.add_user_to_group("g2", "bob")
    service.send_to_group("g2", "z", content_type="text/plain")
    assert dev.message().payload == b"z"
    service.remove_user_from_all_groups("bob")
    assert not service.group_exists("g2")


def test_odata_filter_and_connections_to_groups_see_mqtt_connections(
    broker: Broker, paho_clients: Make, service: WebPubSubServiceClient
) -> None:
    a, b = new_id(), new_id()
    ca = paho_clients(broker, a, user="ann")
    cb = paho_clients(broker, b, user="ben")
    ca.connect()
    cb.connect()
    ca.subscribe("lobby")
    service.send_to_all("only ann", content_type="text/plain", filter="'lobby' in groups and userId eq 'ann'")
    assert ca.message().payload == b"only ann"
    cb.no_message()
    service.add_connections_to_groups(groups=["vip"], filter=f"connectionId eq '{b}'")
    service.send_to_group("vip", "vip", content_type="text/plain")
    assert cb.message().payload == b"vip"
    ca.no_message()
    service.send_to_all("not ann", content_type="text/plain", excluded=[a])
    assert cb.message().payload == b"not ann"
    ca.no_message()


@pytest.mark.parametrize("version", VERSIONS)
def test_close_by_rest(broker: Broker, paho_clients: Make, service: WebPubSubServiceClient, version: int) -> None:
    client_id = new_id()
    dev = paho_clients(broker, client_id, version=version, session_expiry=30, clean=False)
    dev.connect()
    assert service.connection_exists(client_id)
    service.close_connection(client_id, reason="maintenance")
    rc, properties = dev.disconnected()
    if version == 5:
        assert rc.value == 0x98  # Administrative action
        assert properties.ReasonString == "maintenance"
    else:
        assert rc.is_failure  # 3.1.1 has no DISCONNECT from the server: a plain close
    wait_until(lambda: not service.connection_exists(client_id), what="the session to end")
    again = paho_clients(broker, client_id, version=version, clean=False, session_expiry=30)
    assert again.connect()[1] is False  # a REST close ends the session: nothing to resume


@pytest.mark.parametrize("version", VERSIONS)
def test_session_resume_gets_queued_and_in_flight_messages(
    broker: Broker, paho_clients: Make, service: WebPubSubServiceClient, version: int
) -> None:
    client_id = new_id()
    dev = paho_clients(broker, client_id, version=version, clean=False, session_expiry=60)
    assert dev.connect()[1] is False
    dev.subscribe("room", qos=1)
    dev.drop()
    # offline: the session still exists (exists checks, groups), QoS 1 is queued, QoS 0 is dropped
    assert service.connection_exists(client_id)
    assert [m.connection_id for m in service.list_connections_in_group("room")] == [client_id]
    service.send_to_group("room", "queued", content_type="text/plain")
    pub = paho_clients(broker, new_id(), version=version)
    pub.connect()
    pub.publish("room", b"qos0 while offline", 0)
    pub.publish("room", b"qos1 while offline", 1)
    back = paho_clients(broker, client_id, version=version, clean=False, session_expiry=60)
    rc, present, _ = back.connect()
    assert rc == 0 and present is True
    assert [m.payload for m in back.messages(2)] == [b"queued", b"qos1 while offline"]
    back.no_message()
    # a clean start ends the held session
    back.stop()
    fresh = paho_clients(broker, client_id, version=version, clean=True)
    assert fresh.connect()[1] is False
    service.send_to_group("room", "gone", content_type="text/plain")
    fresh.no_message()


def test_session_expiry_zero_ends_with_the_connection(
    broker: Broker, paho_clients: Make, service: WebPubSubServiceClient
) -> None:
    client_id = new_id()
    dev = paho_clients(broker, client_id, version=5, clean=False)  # 5.0 default Session Expiry Interval: 0
    dev.connect()
    dev.drop()
    wait_until(lambda: not service.connection_exists(client_id), what="the session to end")


def test_session_expires_after_its_interval(
    broker: Broker, paho_clients: Make, service: WebPubSubServiceClient
) -> None:
    client_id = new_id()
    dev = paho_clients(broker, client_id, version=5, clean=False, session_expiry=1)
    dev.connect()
    dev.drop()
    assert service.connection_exists(client_id)
    wait_until(lambda: not service.connection_exists(client_id), what="the session to expire")


def test_session_expiry_is_capped_at_the_keep_window(broker: Broker, paho_clients: Make) -> None:
    dev = paho_clients(broker, new_id(), version=5, clean=False, session_expiry=3600)
    rc, _present, properties = dev.connect()
    assert rc == 0
    assert properties.SessionExpiryInterval == 30
    assert properties.RetainAvailable == 0
    assert properties.MaximumPacketSize == 1024 * 1024


@pytest.mark.parametrize("version", VERSIONS)
def test_online_takeover(broker: Broker, paho_clients: Make, version: int) -> None:
    client_id = new_id()
    first = paho_clients(broker, client_id, version=version, clean=False, session_expiry=30)
    first.connect()
    first.subscribe("room", qos=1)
    second = paho_clients(broker, client_id, version=version, clean=False, session_expiry=30)
    assert second.connect()[1] is True
    rc, _ = first.disconnected()
    if version == 5:
        assert rc.value == 0x8E  # Session taken over
    pub = paho_clients(broker, new_id(), version=version)
    pub.connect()
    pub.publish("room", b"to the new one", 1)
    assert second.message().payload == b"to the new one"
    first.no_message()


@pytest.mark.parametrize("version", VERSIONS)
def test_roles_refused(broker: Broker, paho_clients: Make, version: int) -> None:
    dev = paho_clients(broker, new_id(), version=version, roles=["webpubsub.joinLeaveGroup.allowed"])
    dev.connect()
    codes = [int(c.value) for c in dev.subscribe("denied", qos=1)]
    assert codes == [0x87 if version == 5 else 0x80]
    assert [int(c.value) for c in dev.subscribe("allowed", qos=1)] == [1]
    watcher = paho_clients(broker, new_id(), version=version)
    watcher.connect()
    watcher.subscribe("allowed", qos=1)
    info = dev.publish("allowed", b"no sendToGroup role", 1)  # QoS 1 keeps the connection; 5.0 says why
    if version == 5:
        assert info.rc == 0
    watcher.no_message()
    dev.publish("allowed", b"still connected", 1)
    assert dev.queues["disconnect"].empty()


@pytest.mark.parametrize("version", VERSIONS)
def test_refused_qos0_publish_closes(broker: Broker, paho_clients: Make, version: int) -> None:
    dev = paho_clients(broker, new_id(), version=version, roles=[])
    dev.connect()
    dev.publish("room", b"x", 0)
    rc, _ = dev.disconnected()
    if version == 5:
        assert rc.value == 0x87


def test_wildcard_roles_and_rest_grants(broker: Broker, paho_clients: Make, service: WebPubSubServiceClient) -> None:
    client_id = new_id()
    dev = paho_clients(broker, client_id, version=5, roles=["webpubsub.joinLeaveGroups.dev/*"])
    dev.connect()
    assert [int(c.value) for c in dev.subscribe("dev/a/b", qos=1)] == [1]
    assert [int(c.value) for c in dev.subscribe("prod", qos=1)] == [0x87]
    assert not service.check_permission("joinLeaveGroup", client_id, target_name="prod")
    service.grant_permission("joinLeaveGroup", client_id, target_name="prod")
    assert service.check_permission("joinLeaveGroup", client_id, target_name="prod")
    assert [int(c.value) for c in dev.subscribe("prod", qos=1)] == [1]
    service.revoke_permission("joinLeaveGroup", client_id, target_name="prod")
    assert [int(c.value) for c in dev.unsubscribe("prod")] == [0x87]  # kept: no permission to leave


@pytest.mark.parametrize("version", VERSIONS)
def test_unsupported_features_are_refused_with_their_codes(broker: Broker, paho_clients: Make, version: int) -> None:
    dev = paho_clients(broker, new_id(), version=version)
    dev.connect()
    expected = {"a/+": 0xA2, "#": 0xA2, "$share/x/room": 0x9E, "$sys/x": 0x8F}
    for topic, code in expected.items():
        assert [int(c.value) for c in dev.subscribe(topic, qos=1)] == [code if version == 5 else 0x80], topic
    if version == 5:
        dev.client.publish("room", b"retained", 1, retain=True)
        rc, _ = dev.disconnected()
        assert rc.value == 0x9A  # Retain not supported


def test_retained_311_publish_is_delivered_unretained(broker: Broker, paho_clients: Make) -> None:
    sub = paho_clients(broker, new_id(), version=4)
    pub = paho_clients(broker, new_id(), version=4)
    sub.connect()
    pub.connect()
    sub.subscribe("room", qos=1)
    pub.client.publish("room", b"r", 1, retain=True).wait_for_publish(5)
    msg = sub.message()
    assert (msg.payload, msg.retain) == (b"r", False)
    late = paho_clients(broker, new_id(), version=4)
    late.connect()
    late.subscribe("room", qos=1)
    late.no_message()  # nothing was stored


@pytest.mark.parametrize("version", VERSIONS)
def test_token_problems_are_connack_codes(broker: Broker, paho_clients: Make, version: int) -> None:
    expected = 0x87  # 3.1.1: return code 5, which paho reports as the 5.0 code of the same name
    no_token = paho_clients(broker, new_id(), version=version, path=f"/clients/mqtt/hubs/{broker.hub}")
    assert int(no_token.refused()[0].value) == expected
    bad_key = mqtt_token(broker.endpoint, "X" * 44, broker.hub)
    path = f"/clients/mqtt/hubs/{broker.hub}?access_token={bad_key}"
    assert int(paho_clients(broker, new_id(), version=version, path=path).refused()[0].value) == expected
    default_aud = mqtt_token(broker.endpoint, broker.key, broker.hub, path="/client/hubs/")
    path = f"/clients/mqtt/hubs/{broker.hub}?access_token={default_aud}"
    assert int(paho_clients(broker, new_id(), version=version, path=path).refused()[0].value) == expected
    expired = mqtt_token(broker.endpoint, broker.key, broker.hub, lifetime=-3600)
    path = f"/clients/mqtt/hubs/{broker.hub}?access_token={expired}"
    assert int(paho_clients(broker, new_id(), version=version, path=path).refused()[0].value) == expected
    good = mqtt_token(broker.endpoint, broker.key, broker.hub)
    bearer = paho_clients(
        broker,
        new_id(),
        version=version,
        path=f"/clients/mqtt/hubs/{broker.hub}",
        headers={"Authorization": f"Bearer {good}"},
    )
    assert bearer.connect()[0] == 0


@pytest.mark.parametrize(
    ("version", "client_id", "with_token", "code"),
    [
        (4, "dev", False, 5),
        (5, "dev", False, 0x87),
        (4, "", True, 2),
        (4, "a-b", True, 2),
        (5, "a-b", True, 0x85),
    ],
)
def test_refusing_connacks_on_the_wire(
    broker: Broker, version: int, client_id: str, with_token: bool, code: int
) -> None:
    from webpubsub_emulator.mqtt import Connack, Connect, decode_packet, encode

    url = broker.url() if with_token else f"ws://127.0.0.1:{broker.port}/clients/mqtt/hubs/{broker.hub}"
    ws = websocket.create_connection(url, subprotocols=["mqtt"])
    try:
        ws.send_binary(encode(Connect(client_id, version), version))
        answer = ws.recv()
        if version == 4:
            assert answer == bytes([0x20, 2, 0, code])
        else:
            connack = decode_packet(answer, version, from_client=False)
            assert isinstance(connack, Connack) and connack.code == code and not connack.session_present
            assert connack.properties.reason_string
        opcode, _data = ws.recv_data(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE
    finally:
        ws.close()


def test_mqtt_tokens_are_refused_on_the_websocket_endpoint(webpubsub_emulator: Any, broker: Broker) -> None:
    token = mqtt_token(broker.endpoint, broker.key, broker.hub)
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(f"ws://127.0.0.1:{broker.port}/client/hubs/{broker.hub}?access_token={token}")
    assert refused.value.status_code == 401


@pytest.mark.parametrize("version", VERSIONS)
def test_client_id_rules(broker: Broker, paho_clients: Make, version: int) -> None:
    bad = paho_clients(broker, "has_underscore", version=version)
    assert int(bad.refused()[0].value) == 0x85  # 3.1.1: return code 2 (paho reports the 5.0 code of the same name)
    if version == 5:  # 3.1.1 refuses an empty id (code 2: test_refusing_connacks_on_the_wire)
        empty = paho_clients(broker, "", version=version)
        rc, _present, properties = empty.connect()
        assert rc == 0 and len(properties.AssignedClientIdentifier) == 32


def test_the_id_of_a_live_websocket_connection_is_refused(
    webpubsub_emulator: Any, broker: Broker, paho_clients: Make
) -> None:
    sockets = []
    try:
        for _ in range(40):  # connection ids are random URL-safe text: take one that is a valid MQTT client id
            ws = websocket.create_connection(
                webpubsub_emulator.client_url(broker.hub), subprotocols=["json.webpubsub.azure.v1"]
            )
            sockets.append(ws)
            connection_id = json.loads(ws.recv())["connectionId"]
            if connection_id.isalnum():
                break
        assert connection_id.isalnum()
        taken = paho_clients(broker, connection_id, version=5)
        assert int(taken.refused()[0].value) == 0x85
    finally:
        for ws in sockets:
            ws.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_keep_alive_timeout_closes(broker: Broker, paho_clients: Make, version: int) -> None:
    dev = paho_clients(broker, new_id(), version=version, keepalive=1)
    dev.connect()
    dev.client._keepalive = 3600  # paho stops pinging; the emulator closes after 1.5 x keep-alive
    rc, _ = dev.disconnected(timeout=6)
    if version == 5:
        assert rc.value == 0x8D  # Keep alive timeout


@pytest.mark.parametrize("version", VERSIONS)
def test_will_is_sent_when_the_connection_drops(
    broker: Broker, paho_clients: Make, service: WebPubSubServiceClient, version: int
) -> None:
    watcher = paho_clients(broker, new_id(), version=version)
    watcher.connect()
    watcher.subscribe("status", qos=1)
    dev = paho_clients(broker, new_id(), version=version, will=("status", b"offline", 1))
    dev.connect()
    dev.disconnect()  # a normal DISCONNECT: no will
    watcher.no_message()
    dev2_id = new_id()
    dev2 = paho_clients(broker, dev2_id, version=version, will=("status", b"dropped", 1))
    dev2.connect()
    dev2.drop()
    msg = watcher.message()
    assert (msg.topic, msg.payload) == ("status", b"dropped")
    dev3_id = new_id()
    dev3 = paho_clients(broker, dev3_id, version=version, will=("status", b"closed by REST", 0))
    dev3.connect()
    service.close_connection(dev3_id, reason="bye")
    assert watcher.message().payload == b"closed by REST"


def test_5_0_properties_cross_mqtt_unaltered(broker: Broker, paho_clients: Make) -> None:
    sub = paho_clients(broker, new_id(), version=5)
    pub = paho_clients(broker, new_id(), version=5)
    sub.connect()
    pub.connect()
    sub_props = props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=7)
    sub.subscribe("room", qos=1, properties=sub_props)
    sent = props(
        ContentType="application/cbor",
        UserProperty=[("k", "v"), ("k", "w")],
        ResponseTopic="replies",
        CorrelationData=b"\x01\x02",
        PayloadFormatIndicator=0,
        MessageExpiryInterval=60,
    )
    pub.publish("room", b"payload", 1, properties=sent)
    msg = sub.message()
    p = msg.properties
    assert (p.ContentType, p.ResponseTopic, p.CorrelationData) == ("application/cbor", "replies", b"\x01\x02")
    assert user_props(msg) == [("k", "v"), ("k", "w")]
    assert p.SubscriptionIdentifier == [7]
    assert 59 <= p.MessageExpiryInterval <= 60


def test_no_local(broker: Broker, paho_clients: Make) -> None:
    dev = paho_clients(broker, new_id(), version=5)
    dev.connect()
    dev.subscribe("room", qos=1, noLocal=True)
    dev.publish("room", b"mine", 1)
    dev.no_message()


def test_ttl_becomes_message_expiry_and_drops_queued_copies(
    broker: Broker, paho_clients: Make, service: WebPubSubServiceClient
) -> None:
    client_id = new_id()
    dev = paho_clients(broker, client_id, version=5, clean=False, session_expiry=60)
    dev.connect()
    dev.subscribe("room", qos=1)
    service.send_to_group("room", "ttl", content_type="text/plain", message_ttl_seconds=30)
    assert 29 <= dev.message().properties.MessageExpiryInterval <= 30
    dev.drop()
    service.send_to_group("room", "expires", content_type="text/plain", message_ttl_seconds=1)
    service.send_to_group("room", "stays", content_type="text/plain")
    time.sleep(1.3)  # let the 1 s TTL pass while the session is offline
    back = paho_clients(broker, client_id, version=5, clean=False, session_expiry=60)
    assert back.connect()[1] is True
    message = back.message()
    if message.dup:  # "ttl" again: the drop came before the emulator read its PUBACK, so it was still in flight
        assert message.payload == b"ttl"
        message = back.message()
    assert message.payload == b"stays"
    back.no_message()


def test_connection_and_user_exist_while_offline(
    broker: Broker, paho_clients: Make, service: WebPubSubServiceClient
) -> None:
    client_id = new_id()
    dev = paho_clients(broker, client_id, version=4, clean=False, user="carol")
    dev.connect()
    dev.drop()
    assert service.connection_exists(client_id)
    assert service.user_exists("carol")
    service.close_user_connections("carol")
    wait_until(lambda: not service.user_exists("carol"), what="the user's sessions to end")


@pytest.mark.parametrize("version", VERSIONS)
def test_closes_of_groups_users_and_all(
    broker: Broker, paho_clients: Make, service: WebPubSubServiceClient, version: int
) -> None:
    a = paho_clients(broker, new_id(), version=version, user="u1")
    b = paho_clients(broker, new_id(), version=version, user="u2")
    c = paho_clients(broker, new_id(), version=version, user="u3")
    for client in (a, b, c):
        client.connect()
    a.subscribe("g")
    service.close_group_connections("g", reason="group")
    assert a.disconnected()
    service.close_user_connections("u2")
    assert b.disconnected()
    service.close_all_connections()
    assert c.disconnected()


def test_pipelined_packets_after_connect_are_served(broker: Broker) -> None:
    """A raw WebSocket client sends CONNECT, SUBSCRIBE and PINGREQ in one frame; the answers come in order."""
    from webpubsub_emulator.mqtt import (
        Connack,
        Connect,
        PacketBuffer,
        Pingreq,
        Pingresp,
        Suback,
        Subscribe,
        Subscription,
        encode,
    )

    ws = websocket.create_connection(broker.url(), subprotocols=["mqtt"])
    try:
        frame = (
            encode(Connect("pipe1", 4, keep_alive=30), 4)
            + encode(Subscribe(1, [Subscription("room", 1)]), 4)
            + encode(Pingreq(), 4)
        )
        ws.send_binary(frame)
        buffer = PacketBuffer(4, from_client=False)
        got: list[Any] = []
        while len(got) < 3:
            got += buffer.feed(ws.recv())
        assert [type(p) for p in got] == [Connack, Suback, Pingresp]
        assert got[1].codes == [1]
    finally:
        ws.close()


def test_text_frames_and_missing_subprotocol_are_refused(broker: Broker) -> None:
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(broker.url())
    assert refused.value.status_code == 400
    ws = websocket.create_connection(broker.url(), subprotocols=["mqtt"])
    try:
        ws.send("not binary")
        opcode, data = ws.recv_data(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE
        assert int.from_bytes(data[:2], "big") == 1003
    finally:
        ws.close()


def test_hostile_input_closes_only_its_own_connection(
    broker: Broker, paho_clients: Make, service: WebPubSubServiceClient
) -> None:
    """Random bytes, before and after a valid CONNECT, on many connections: each ends alone (closed by the emulator,
    or, when the bytes are the start of a packet, waiting for the rest until the client goes), nothing else moves."""
    import random

    from webpubsub_emulator.mqtt import Connect, encode

    healthy = paho_clients(broker, new_id(), version=5)
    healthy.connect()
    healthy.subscribe("room", qos=1)
    rng = random.Random(1234)
    closed = 0
    for i in range(24):
        ws = websocket.create_connection(broker.url(), subprotocols=["mqtt"], timeout=0.5)
        try:
            if i % 2:
                ws.send_binary(encode(Connect(f"fuzz{i}", 4 + i % 4 // 2, keep_alive=30), 4 + i % 4 // 2))
                ws.recv()  # the CONNACK
            for _ in range(3):
                ws.send_binary(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64))))
            while True:  # read until the emulator closes this connection (or a second passes: a partial packet)
                opcode, _data = ws.recv_data(control_frame=True)
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    closed += 1
                    break
        except (websocket.WebSocketConnectionClosedException, ConnectionError):
            closed += 1
        except websocket.WebSocketTimeoutException:
            pass
        finally:
            ws.close()
    assert closed >= 8, closed  # much random input is malformed at once (this seed: 12 of 24)
    wait_until(
        lambda: not any(service.connection_exists(f"fuzz{i}") for i in range(1, 24, 2)), what="the fuzzed sessions"
    )
    service.send_to_group("room", "still here", content_type="text/plain")
    assert healthy.message().payload == b"still here"
    assert healthy.queues["disconnect"].empty()


def test_the_trace_page_lists_mqtt_connections_with_their_topics(broker: Broker, paho_clients: Make) -> None:
    client_id = new_id()
    dev = paho_clients(broker, client_id, version=5, user="dora")
    dev.connect()
    dev.subscribe("room", qos=1)
    with urllib.request.urlopen(f"{broker.endpoint}/trace/api/snapshot", timeout=10) as answer:
        snapshot = json.load(answer)
    (hub,) = [h for h in snapshot["hubs"] if h["name"] == broker.hub]
    (conn,) = hub["connections"]
    assert (conn["connection"], conn["user"], conn["protocol"], conn["groups"]) == (client_id, "dora", "mqtt", ["room"])
