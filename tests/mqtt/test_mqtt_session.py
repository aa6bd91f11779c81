"""The MQTT session state machine: every transition of its table, then each flow in detail, with a fake clock."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple, Type

import pytest
from webpubsub_emulator.mqtt import (
    MQTT_5,
    MQTT_311,
    Auth,
    Connack,
    Connect,
    Disconnect,
    MqttError,
    Packet,
    Pingreq,
    Pingresp,
    Properties,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    Subscription,
    Unsuback,
    Unsubscribe,
    Will,
)
from webpubsub_emulator.mqtt.messages import Message
from webpubsub_emulator.mqtt.session import (
    TRANSITIONS,
    Attach,
    CloseTransport,
    ConnectionLost,
    Deliver,
    Dropped,
    End,
    Ended,
    EventReply,
    InvalidTransition,
    Join,
    Leave,
    MqttSession,
    PacketIn,
    PublishToGroup,
    RestJoin,
    RestLeave,
    Send,
    State,
    Subscribed,
    Tick,
    UserEvent,
    Violation,
    plan_attach,
)
from webpubsub_emulator.mqtt.topics import SERVER_MESSAGES
from webpubsub_emulator.roles import PermissionState

ALL_ROLES = ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"]
A, B = "connection-a", "connection-b"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(roles: Optional[List[str]] = None, **kw: Any) -> Tuple[MqttSession, Clock]:
    clock = Clock()
    return MqttSession("dev1", PermissionState(ALL_ROLES if roles is None else roles), clock=clock, **kw), clock


def connect(version: int = MQTT_5, *, clean: bool = True, expiry: Optional[int] = None, **kw: Any) -> Connect:
    props = kw.pop("properties", Properties())
    if expiry is not None:
        props.session_expiry_interval = expiry
    return Connect("dev1", version, clean, kw.pop("keep_alive", 60), properties=props, **kw)


def online(version: int = MQTT_5, **kw: Any) -> Tuple[MqttSession, Clock]:
    roles = kw.pop("roles", None)
    session, clock = make(roles)
    session.handle(Attach(A, connect(version, **kw)))
    return session, clock


def offline(version: int = MQTT_5, **kw: Any) -> Tuple[MqttSession, Clock]:
    if version == MQTT_5:
        kw.setdefault("expiry", 30)
    else:
        kw.setdefault("clean", False)
    session, clock = online(version, **kw)
    session.handle(ConnectionLost(A))
    assert session.state is State.OFFLINE
    return session, clock


def ended() -> MqttSession:
    session, _ = online()
    session.handle(ConnectionLost(A))
    assert session.state is State.ENDED
    return session


def sent(actions: List[Any], connection: object = A) -> List[Packet]:
    return [a.packet for a in actions if isinstance(a, Send) and a.connection is connection]


def of(actions: List[Any], kind: Type[Any]) -> List[Any]:
    return [a for a in actions if isinstance(a, kind)]


def feed(session: MqttSession, *packets: Packet, connection: object = A) -> List[Any]:
    actions: List[Any] = []
    for packet in packets:
        actions += session.handle(PacketIn(connection, packet))
    return actions


def msg(topic: str = "g", qos: int = 1, payload: bytes = b"m", **kw: Any) -> Message:
    return Message(topic, payload, qos, **kw)


def subscribed(version: int = MQTT_5, qos: int = 2, **kw: Any) -> Tuple[MqttSession, Clock]:
    session, clock = online(version, **kw)
    feed(session, Subscribe(1, [Subscription("g", qos)]))
    return session, clock


# ---------------------------------------------------------------------------------------------- one test per transition


def _new_attach() -> None:
    session, _ = make()
    actions = session.handle(Attach(A, connect()))
    assert session.state is State.ONLINE and sent(actions) == [
        Connack(0, False, Properties(retain_available=0, maximum_packet_size=1024 * 1024))
    ]


def _online_attach() -> None:
    session, _ = online(expiry=30)
    actions = session.handle(Attach(B, connect(clean=False)))
    assert sent(actions, A) == [Disconnect(0x8E, Properties(reason_string="a new connection took the session over"))]
    assert CloseTransport(A, 1000, "a new connection took the session over") in actions
    assert [p.session_present for p in sent(actions, B) if isinstance(p, Connack)] == [True]
    assert session.state is State.ONLINE and session.connection is B


def _offline_attach() -> None:
    session, _ = offline()
    actions = session.handle(Attach(B, connect(clean=False)))
    assert sent(actions, B)[0].session_present is True  # type: ignore[union-attr]
    assert session.state is State.ONLINE


def _online_packet() -> None:
    session, _ = online()
    assert feed(session, Pingreq()) == [Send(A, Pingresp())]


def _online_violation() -> None:
    session, _ = online()
    actions = session.handle(Violation(A, MqttError.malformed("bad bytes")))
    assert actions[:2] == [
        Send(A, Disconnect(0x81, Properties(reason_string="bad bytes"))),
        CloseTransport(A, 1002, "bad bytes"),
    ]
    assert session.state is State.ENDED


def _online_lost() -> None:
    session, _ = online(expiry=10)
    assert session.handle(ConnectionLost(A)) == [] and session.state is State.OFFLINE


def _online_deliver() -> None:
    session, _ = subscribed(qos=0)
    assert sent(session.handle(Deliver(msg(qos=1)))) == [Publish("g", b"m", 0)]


def _offline_deliver() -> None:
    session, _ = offline()
    session.subscriptions["g"] = Subscribed(1)
    assert session.handle(Deliver(msg())) == [] and session.queued == 1


def _online_tick() -> None:
    session, clock = online(keep_alive=10)
    clock.now += 14.9
    assert session.handle(Tick()) == []
    clock.now += 0.1
    actions = session.handle(Tick())
    assert sent(actions)[0] == Disconnect(0x8D, Properties(reason_string="keep-alive timeout"))
    assert session.state is State.ENDED


def _offline_tick() -> None:
    session, clock = offline(expiry=20)
    clock.now += 19
    assert session.handle(Tick()) == [] and session.state is State.OFFLINE
    clock.now += 1
    assert of(session.handle(Tick()), Ended) and session.state is State.ENDED


def _online_end() -> None:
    session, _ = online()
    actions = session.handle(End("rest", "maintenance"))
    assert sent(actions) == [Disconnect(0x98, Properties(reason_string="maintenance"))]
    assert session.state is State.ENDED


def _offline_end() -> None:
    session, _ = offline()
    assert of(session.handle(End("rest")), Ended) and session.state is State.ENDED


def _online_rest_join() -> None:
    session, _ = online()
    assert session.handle(RestJoin("g")) == [] and session.subscriptions["g"].qos == 0


def _offline_rest_join() -> None:
    session, _ = offline()
    session.handle(RestJoin("g"))
    assert session.groups() == ["g"] and session.state is State.OFFLINE


def _online_rest_leave() -> None:
    session, _ = subscribed()
    assert session.handle(RestLeave("g")) == [] and session.groups() == []


def _offline_rest_leave() -> None:
    session, _ = offline()
    session.handle(RestJoin("g"))
    session.handle(RestLeave("g"))
    assert session.groups() == [] and session.state is State.OFFLINE


def _online_event_reply() -> None:
    session, _ = online()
    [event] = of(feed(session, Publish("$webpubsub/server/events/e", b"q", 1, packet_id=3)), UserEvent)
    actions = session.handle(EventReply(event.request_id, 200, b"ok"))
    assert [type(p) for p in sent(actions)] == [Publish, Puback]


def _offline_event_reply() -> None:
    session, _ = online(expiry=30)
    [event] = of(feed(session, Publish("$webpubsub/server/events/e", b"q", 1, packet_id=3)), UserEvent)
    session.handle(ConnectionLost(A))
    assert session.handle(EventReply(event.request_id, 200, b"ok")) == [] and session.queued == 1


SCENARIOS: Dict[Tuple[State, type], Callable[[], None]] = {
    (State.NEW, Attach): _new_attach,
    (State.ONLINE, Attach): _online_attach,
    (State.OFFLINE, Attach): _offline_attach,
    (State.ONLINE, PacketIn): _online_packet,
    (State.ONLINE, Violation): _online_violation,
    (State.ONLINE, ConnectionLost): _online_lost,
    (State.ONLINE, Deliver): _online_deliver,
    (State.OFFLINE, Deliver): _offline_deliver,
    (State.ONLINE, Tick): _online_tick,
    (State.OFFLINE, Tick): _offline_tick,
    (State.ONLINE, End): _online_end,
    (State.OFFLINE, End): _offline_end,
    (State.ONLINE, RestJoin): _online_rest_join,
    (State.OFFLINE, RestJoin): _offline_rest_join,
    (State.ONLINE, RestLeave): _online_rest_leave,
    (State.OFFLINE, RestLeave): _offline_rest_leave,
    (State.ONLINE, EventReply): _online_event_reply,
    (State.OFFLINE, EventReply): _offline_event_reply,
}


def test_every_transition_has_a_scenario() -> None:
    assert set(SCENARIOS) == set(TRANSITIONS)


@pytest.mark.parametrize("key", list(SCENARIOS), ids=lambda k: f"{k[0].value}-{k[1].__name__}")
def test_transition(key: Tuple[State, type]) -> None:
    SCENARIOS[key]()


EVENTS: List[Any] = [
    Attach(A, connect()),
    PacketIn(A, Pingreq()),
    Violation(A, MqttError.malformed("x")),
    ConnectionLost(A),
    Deliver(msg()),
    Tick(),
    End("rest"),
    RestJoin("g"),
    RestLeave("g"),
    EventReply(1, 200),
]


def _in_state(state: State) -> MqttSession:
    if state is State.NEW:
        return make()[0]
    if state is State.ONLINE:
        return online()[0]
    if state is State.OFFLINE:
        return offline()[0]
    return ended()


@pytest.mark.parametrize("state", list(State), ids=lambda s: s.value)
def test_unlisted_pairs_are_ignored_and_attach_on_ended_is_an_error(state: State) -> None:
    for event in EVENTS:
        if (state, type(event)) in TRANSITIONS:
            continue
        session = _in_state(state)
        if state is State.ENDED and isinstance(event, Attach):
            with pytest.raises(InvalidTransition):
                session.handle(event)
            continue
        before = session.state
        assert session.handle(event) == [], (state, event)
        assert session.state is before


def test_events_from_a_stale_connection_are_ignored() -> None:
    session, _ = online(expiry=30)
    session.handle(Attach(B, connect(clean=False)))
    for event in (PacketIn(A, Pingreq()), ConnectionLost(A), Violation(A, MqttError.malformed("x"))):
        assert session.handle(event) == []
    assert session.state is State.ONLINE and session.connection is B


# -------------------------------------------------------------------------------------------- attach, resume, takeover


def test_3_1_1_attach() -> None:
    session, _ = make()
    assert sent(session.handle(Attach(A, connect(MQTT_311)))) == [Connack(0, False)]
    assert session.version == MQTT_311 and session.session_expiry == 0


def test_attach_passes_the_upstreams_user_properties_to_the_5_0_connack() -> None:
    session, _ = make()
    [connack] = sent(session.handle(Attach(A, connect(), user_properties=(("k", "v"),))))
    assert isinstance(connack, Connack) and connack.properties.user_properties == [("k", "v")]


def test_resume_resends_in_flight_with_dup_then_pubrels_then_the_queue() -> None:
    session, clock = subscribed(expiry=30, properties=Properties(receive_maximum=2, session_expiry_interval=30))
    session.handle(Deliver(msg(qos=1, payload=b"1")))
    session.handle(Deliver(msg(qos=2, payload=b"2")))
    session.handle(Deliver(msg(qos=1, payload=b"3")))  # beyond Receive Maximum: queued
    feed(session, Pubrec(2))  # the QoS 2 one reaches PUBREL
    session.handle(ConnectionLost(A))
    clock.now += 5
    again = Properties(receive_maximum=2, session_expiry_interval=30)
    actions = session.handle(Attach(B, connect(clean=False, properties=again)))
    packets = sent(actions, B)
    assert isinstance(packets[0], Connack) and packets[0].session_present
    assert packets[1] == Publish("g", b"1", 1, False, True, 1)  # same id and QoS, DUP
    assert packets[2] == Pubrel(2)
    assert len(packets) == 3 and session.queued == 1  # the receive maximum is still full
    assert sent(feed(session, Puback(1), connection=B), B) == [Publish("g", b"3", 1, packet_id=3)]


def test_no_redelivery_on_a_live_connection() -> None:
    session, clock = subscribed(keep_alive=0)
    session.handle(Deliver(msg()))
    clock.now += 3600
    assert session.handle(Tick()) == []  # no ack for an hour: a live connection never re-sends
    assert session.in_flight == 1


def test_takeover_sends_the_old_connections_will_and_a_resume_cancels_a_delayed_one() -> None:
    will = Will("w", b"gone", 1)
    session, _ = online(expiry=30, will=will)
    actions = session.handle(Attach(B, connect(clean=False, expiry=30)))
    assert [a.group for a in of(actions, PublishToGroup)] == ["w"]
    delayed = Will("w", b"later", 1, properties=Properties(will_delay_interval=5))
    session2, _ = online(expiry=30, will=delayed)
    actions2 = session2.handle(Attach(B, connect(clean=False, expiry=30)))
    assert of(actions2, PublishToGroup) == [] and session2.next_deadline() == session2._last_seen + 90


def test_takeover_of_a_3_1_1_connection_closes_it_without_disconnect() -> None:
    session, _ = online(MQTT_311, clean=False)
    actions = session.handle(Attach(B, connect(MQTT_311, clean=False)))
    assert sent(actions, A) == [] and of(actions, CloseTransport)[0].connection is A
    assert session.version == MQTT_311


def test_kept_qos2_ids_survive_a_resume() -> None:
    session, _ = online(expiry=30)
    feed(session, Publish("g", b"x", 2, packet_id=9))
    session.handle(ConnectionLost(A))
    session.handle(Attach(B, connect(clean=False, expiry=30)))
    actions = feed(session, Publish("g", b"x", 2, False, True, 9), connection=B)
    assert of(actions, PublishToGroup) == [] and sent(actions, B) == [Pubrec(9)]
    assert sent(feed(session, Pubrel(9), connection=B), B) == [Pubcomp(9)]


# ---------------------------------------------------------------------------------------------- inbound PUBLISH flows


@pytest.mark.parametrize("version", [MQTT_311, MQTT_5])
def test_inbound_qos_flows(version: int) -> None:
    session, _ = online(version)
    a0 = feed(session, Publish("g", b"0"))
    assert [a.group for a in of(a0, PublishToGroup)] == ["g"] and sent(a0) == []
    a1 = feed(session, Publish("g", b"1", 1, packet_id=1))
    assert sent(a1) == [Puback(1)] and len(of(a1, PublishToGroup)) == 1
    a2 = feed(session, Publish("g", b"2", 2, packet_id=2))
    assert sent(a2) == [Pubrec(2)] and len(of(a2, PublishToGroup)) == 1
    again = feed(session, Publish("g", b"2", 2, False, True, 2))
    assert sent(again) == [Pubrec(2)] and of(again, PublishToGroup) == []  # delivered once
    assert sent(feed(session, Pubrel(2))) == [Pubcomp(2)]
    unknown = 0x92 if version == MQTT_5 else 0
    assert sent(feed(session, Pubrel(2))) == [Pubcomp(2, unknown)]


def test_the_published_message_keeps_its_properties_and_sender() -> None:
    session, _ = online()
    props = Properties(content_type="text/plain", user_properties=[("k", "v")], message_expiry_interval=5)
    [action] = of(feed(session, Publish("g", b"x", properties=props)), PublishToGroup)
    assert action.message.content_type == "text/plain" and action.message.sender == "dev1"
    assert action.message.user_properties == (("k", "v"),) and action.message.expires_at == 1005.0


def test_3_1_1_retain_is_delivered_unretained() -> None:
    session, _ = online(MQTT_311)
    [action] = of(feed(session, Publish("g", b"x", retain=True)), PublishToGroup)
    assert action.message.to_publish(qos=0, packet_id=None, now=0).retain is False


@pytest.mark.parametrize("version", [MQTT_311, MQTT_5])
def test_refused_publishes(version: int) -> None:
    session, _ = online(version, roles=["webpubsub.joinLeaveGroup"])
    code = 0x87 if version == MQTT_5 else 0
    a1 = feed(session, Publish("g", b"1", 1, packet_id=1))
    assert sent(a1) == [Puback(1, code)] and of(a1, Dropped) and not of(a1, PublishToGroup)
    a2 = feed(session, Publish("g", b"2", 2, packet_id=2))
    assert sent(a2) == [Pubrec(2, code)]
    pubcomp = sent(feed(session, Pubrel(2)))
    assert pubcomp == ([Pubcomp(2, 0x92)] if version == MQTT_5 else [Pubcomp(2)])  # 5.0: the flow ended at PUBREC
    a0 = feed(session, Publish("g", b"0"))
    assert sent(a0) == ([Disconnect(0x87, Properties(reason_string="PUBLISH refused"))] if version == MQTT_5 else [])
    assert CloseTransport(A, 1008, "PUBLISH refused") in a0 and session.state is State.ENDED


@pytest.mark.parametrize(
    ("topic", "props", "code"), [("a/#", Properties(), 0x90), ("g", Properties(topic_alias=2), 0x94)]
)
def test_publishes_that_break_the_protocol_close(topic: str, props: Properties, code: int) -> None:
    session, _ = online()
    actions = feed(session, Publish(topic, b"x", 1, packet_id=1, properties=props))
    assert sent(actions)[0].code == code  # type: ignore[union-attr]
    assert of(actions, CloseTransport)[0].status == 1002 and session.state is State.ENDED


def test_second_connect_and_auth_are_protocol_errors() -> None:
    for packet, reason in ((connect(), "a second CONNECT"), (Auth(0x19), "enhanced authentication is not supported")):
        session, _ = online()
        actions = feed(session, packet)
        assert sent(actions) == [Disconnect(0x82, Properties(reason_string=reason))]
        assert session.state is State.ENDED


# ---------------------------------------------------------------------------------------------- user events


def test_user_event_request_and_reply() -> None:
    session, _ = online()
    props = Properties(
        content_type="application/json", correlation_data=b"c1", user_properties=[("k", "v"), ("bad key", "x")]
    )
    actions = feed(session, Publish("$webpubsub/server/events/temp", b"{}", 1, packet_id=4, properties=props))
    [event] = of(actions, UserEvent)
    assert (event.name, event.content_type, event.headers) == ("temp", "application/json", [("mqtt-k", "v")])
    assert of(actions, Dropped) and sent(actions) == []  # the PUBACK waits for the reply
    reply = session.handle(EventReply(event.request_id, 201, b"done", "text/plain", (("mqtt-r", "1"),)))
    publish, ack = sent(reply)
    assert isinstance(publish, Publish) and publish.topic == "$webpubsub/server/events/temp/succeeded"
    assert (publish.payload, publish.qos, publish.properties.correlation_data) == (b"done", 1, b"c1")
    assert publish.properties.user_properties == [("r", "1"), ("azure-status-code", "201")]
    assert publish.properties.content_type == "text/plain" and ack == Puback(4)
    assert session.handle(EventReply(event.request_id, 200)) == []  # answered once


def test_user_event_failure_qos0_and_qos2() -> None:
    session, _ = online()
    [e0] = of(feed(session, Publish("$webpubsub/server/events/e", b"")), UserEvent)
    [publish] = sent(session.handle(EventReply(e0.request_id, 500, b"no handler")))
    assert publish.topic.endswith("/e/failed") and publish.qos == 0  # type: ignore[union-attr]
    [e2] = of(feed(session, Publish("$webpubsub/server/events/e", b"", 2, packet_id=6)), UserEvent)
    assert feed(session, Publish("$webpubsub/server/events/e", b"", 2, False, True, 6)) == []  # reply pending
    assert sent(session.handle(EventReply(e2.request_id, 204)))[1] == Pubrec(6)


def test_user_event_with_an_invalid_content_type_is_refused() -> None:
    session, _ = online()
    props = Properties(content_type="not a type")
    actions = feed(session, Publish("$webpubsub/server/events/e", b"", 1, packet_id=1, properties=props))
    assert of(actions, UserEvent) == [] and sent(actions) == [Puback(1, 0x99)]


def test_3_1_1_user_events_carry_no_headers() -> None:
    session, _ = online(MQTT_311)
    [event] = of(feed(session, Publish("$webpubsub/server/events/e", b"x", 1, packet_id=1)), UserEvent)
    assert (event.content_type, event.headers) == ("application/octet-stream", [])


# ---------------------------------------------------------------------------------------------- SUBSCRIBE, UNSUBSCRIBE


def test_subscribe_and_unsubscribe() -> None:
    session, _ = online(roles=["webpubsub.joinLeaveGroup.g"])
    subs = [Subscription("g", 1), Subscription("h", 1), Subscription(SERVER_MESSAGES, 1), Subscription("a/+", 0)]
    actions = feed(session, Subscribe(1, subs, Properties(subscription_identifiers=[7])))
    assert sent(actions) == [Suback(1, [1, 0x87, 1, 0xA2])] and of(actions, Join) == [Join("g")]
    assert session.groups() == ["g"] and session.subscriptions["g"].subscription_id == 7
    again = feed(session, Subscribe(2, [Subscription("g", 2, no_local=True)]))
    assert of(again, Join) == [] and session.subscriptions["g"].qos == 2 and session.subscriptions["g"].no_local
    out = feed(session, Unsubscribe(3, ["g", "g", SERVER_MESSAGES, "zz"]))
    assert sent(out) == [Unsuback(3, [0x00, 0x11, 0x00, 0x87])] and of(out, Leave) == [Leave("g")]


def test_3_1_1_unsuback_has_no_codes() -> None:
    session, _ = subscribed(MQTT_311)
    assert sent(feed(session, Unsubscribe(5, ["g"]))) == [Unsuback(5)]


def test_a_rest_join_keeps_existing_options() -> None:
    session, _ = subscribed(qos=2)
    session.handle(RestJoin("g"))
    assert session.subscriptions["g"].qos == 2


# ---------------------------------------------------------------------------------------------- DISCONNECT, will, loss


def test_client_disconnect_discards_the_will_and_ends_a_clean_session() -> None:
    session, _ = online(will=Will("w", b"x"))
    actions = feed(session, Disconnect(0, Properties(reason_string="bye", user_properties=[("k", "v")])))
    assert of(actions, PublishToGroup) == [] and of(actions, CloseTransport) == [
        CloseTransport(A, 1000, "the client disconnected")
    ]
    [ended_] = of(actions, Ended)
    assert ended_.body == {
        "reason": "bye",
        "mqtt": {
            "initiatedByClient": True,
            "disconnectPacket": {"code": 0, "userProperties": [{"name": "k", "value": "v"}]},
        },
    }


def test_disconnect_with_will_sends_it() -> None:
    session, _ = online(will=Will("w", b"x", 1))
    [publish] = of(feed(session, Disconnect(0x04)), PublishToGroup)
    assert publish.will and publish.group == "w" and publish.message.qos == 1


def test_a_will_needs_send_permission_when_it_goes_out() -> None:
    session, _ = online(will=Will("w", b"x"), roles=[])
    actions = session.handle(ConnectionLost(A))
    assert of(actions, PublishToGroup) == [] and of(actions, Dropped)[0].topic == "w"


def test_disconnect_may_change_the_session_expiry_but_not_from_0() -> None:
    session, _ = online(expiry=10)
    feed(session, Disconnect(0, Properties(session_expiry_interval=3600)))
    assert session.state is State.OFFLINE and session.session_expiry == 30
    session2, _ = online()
    actions = feed(session2, Disconnect(0, Properties(session_expiry_interval=5)))
    assert sent(actions)[0].code == 0x82 and session2.state is State.ENDED  # type: ignore[union-attr]
    session3, _ = online(expiry=10)
    feed(session3, Disconnect(0, Properties(session_expiry_interval=0)))
    assert session3.state is State.ENDED


def test_a_delayed_will_goes_out_when_its_delay_passes_or_the_session_ends() -> None:
    delayed = Will("w", b"x", properties=Properties(will_delay_interval=5))
    session, clock = online(expiry=30, will=delayed)
    assert of(session.handle(ConnectionLost(A)), PublishToGroup) == []
    assert session.next_deadline() == clock.now + 5
    clock.now += 5
    assert [a.group for a in of(session.handle(Tick()), PublishToGroup)] == ["w"]
    session2, _ = online(expiry=30, will=delayed)
    session2.handle(ConnectionLost(A))
    assert of(session2.handle(End("rest")), PublishToGroup)  # the session ended first
    session3, _ = online(expiry=0, will=delayed)
    assert of(session3.handle(ConnectionLost(A)), PublishToGroup)  # no session to wait in


def test_3_1_1_clean_session_0_is_kept_for_the_window() -> None:
    session, clock = online(MQTT_311, clean=False)
    session.handle(ConnectionLost(A))
    assert session.state is State.OFFLINE and session.next_deadline() == clock.now + 30
    clock.now += 30
    [ended_] = of(session.handle(Tick()), Ended)
    assert ended_.body == {
        "reason": "the connection was lost",
        "mqtt": {"initiatedByClient": False, "disconnectPacket": None},
    }


# ---------------------------------------------------------------------------------------------- outbound delivery


def test_delivery_qos_is_the_lower_of_message_and_subscription() -> None:
    for granted, source, expected in ((0, 2, 0), (1, 2, 1), (2, 1, 1), (2, 2, 2), (1, 0, 0)):
        session, _ = subscribed(qos=granted)
        [publish] = sent(session.handle(Deliver(msg(qos=source))))
        assert publish.qos == expected  # type: ignore[union-attr]


def test_server_messages_need_no_subscription_and_groups_do() -> None:
    session, _ = online()
    [publish] = sent(session.handle(Deliver(msg(SERVER_MESSAGES, qos=1))))
    assert publish.qos == 1  # type: ignore[union-attr]
    assert session.handle(Deliver(msg("other"))) == []
    feed(session, Subscribe(1, [Subscription(SERVER_MESSAGES, 0)]))
    assert sent(session.handle(Deliver(msg(SERVER_MESSAGES, qos=1))))[0].qos == 0  # type: ignore[union-attr]


def test_no_local_and_subscription_identifiers() -> None:
    session, _ = online()
    feed(session, Subscribe(1, [Subscription("g", 1, no_local=True)], Properties(subscription_identifiers=[3])))
    assert session.handle(Deliver(msg(sender="dev1"))) == []
    [publish] = sent(session.handle(Deliver(msg(sender="other"))))
    assert publish.properties.subscription_identifiers == [3]  # type: ignore[union-attr]


def test_receive_maximum_holds_the_rest_until_acks() -> None:
    session, _ = subscribed(properties=Properties(receive_maximum=2))
    out = [sent(session.handle(Deliver(msg(payload=bytes([i]), qos=2)))) for i in range(4)]
    assert [len(o) for o in out] == [1, 1, 0, 0] and session.in_flight == 2 and session.queued == 2
    assert sent(feed(session, Pubrec(1))) == [Pubrel(1)]
    assert session.in_flight == 2  # still in flight until PUBCOMP
    assert [p.payload for p in sent(feed(session, Pubcomp(1))) if isinstance(p, Publish)] == [b"\x02"]
    assert sent(feed(session, Pubrec(2, 0x80))) == [Publish("g", b"\x03", 2, packet_id=4)]  # a failing PUBREC ends it
    assert sent(feed(session, Pubrec(99))) == [Pubrel(99, 0x92)]
    assert feed(session, Puback(3)) == []  # a PUBACK for a QoS 2 flow is ignored


def test_packet_ids_cycle_and_skip_those_in_flight() -> None:
    session, _ = subscribed(qos=1)
    session._last_id = 65534
    ids = [sent(session.handle(Deliver(msg())))[0].packet_id for _ in range(3)]  # type: ignore[union-attr]
    assert ids == [65535, 1, 2]
    feed(session, Puback(1))
    session._last_id = 65535
    assert sent(session.handle(Deliver(msg())))[0].packet_id == 1  # type: ignore[union-attr]
    assert sent(session.handle(Deliver(msg())))[0].packet_id == 3  # type: ignore[union-attr]  # 2 is in flight


def test_offline_queue_is_bounded_and_counts_what_it_drops() -> None:
    clock = Clock()
    session = MqttSession("dev1", PermissionState(ALL_ROLES), clock=clock, max_queued_messages=3, max_queued_bytes=10)
    session.handle(Attach(A, connect(expiry=30)))
    feed(session, Subscribe(1, [Subscription("g", 1)]))
    session.handle(ConnectionLost(A))
    assert session.handle(Deliver(msg(qos=0))) == []  # QoS 0 is not queued offline
    for _ in range(3):
        assert session.handle(Deliver(msg(payload=b"abc"))) == []
    assert of(session.handle(Deliver(msg(payload=b"a"))), Dropped) and session.dropped == 1
    session2 = MqttSession("dev2", PermissionState(ALL_ROLES), clock=clock, max_queued_bytes=10)
    session2.handle(Attach(A, connect(expiry=30)))
    session2.handle(RestJoin("g"))
    session2.subscriptions["g"].qos = 1
    session2.handle(ConnectionLost(A))
    session2.handle(Deliver(msg(payload=b"x" * 10)))
    assert of(session2.handle(Deliver(msg(payload=b"y"))), Dropped) and session2.queued == 1


def test_default_queue_limits_are_the_reliable_buffers() -> None:
    session, _ = offline()
    session.handle(RestJoin("g"))
    session.subscriptions["g"].qos = 1
    for _ in range(1000):
        session.handle(Deliver(msg(payload=b"")))
    assert of(session.handle(Deliver(msg(payload=b""))), Dropped) and session.queued == 1000
    big, _ = offline()
    big.handle(RestJoin("g"))
    big.subscriptions["g"].qos = 1
    big.handle(Deliver(msg(payload=b"x" * (16 * 1024 * 1024))))
    assert of(big.handle(Deliver(msg(payload=b"x"))), Dropped)


def test_expired_messages_are_not_delivered() -> None:
    session, clock = offline()
    session.handle(RestJoin("g"))
    session.subscriptions["g"].qos = 1
    session.handle(Deliver(msg(payload=b"short", expires_at=clock.now + 5)))
    session.handle(Deliver(msg(payload=b"long", expires_at=clock.now + 50)))
    assert session.handle(Deliver(msg(payload=b"old", expires_at=clock.now - 1))) == []
    clock.now += 6
    session.handle(Tick())
    assert session.queued == 1 and session.expired == 2
    packets = sent(session.handle(Attach(B, connect(clean=False, expiry=30))), B)
    [publish] = [p for p in packets if isinstance(p, Publish)]
    assert publish.payload == b"long" and publish.properties.message_expiry_interval == 44


def test_a_message_over_the_clients_maximum_packet_size_is_dropped_as_if_delivered() -> None:
    session, _ = subscribed(qos=1, properties=Properties(maximum_packet_size=20))
    actions = session.handle(Deliver(msg(payload=b"x" * 50)))
    assert sent(actions) == [] and of(actions, Dropped) and session.in_flight == 0
    assert sent(session.handle(Deliver(msg(payload=b"ok"))))[0].payload == b"ok"  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------- ends from outside


@pytest.mark.parametrize(
    ("cause", "code", "status", "will_sent"),
    [("rest", 0x98, 1000, True), ("takeover", 0x8E, 1000, True), ("shutdown", 0x8B, 1001, False)],
)
def test_end_causes(cause: str, code: int, status: int, will_sent: bool) -> None:
    session, _ = online(will=Will("w", b"x"))
    actions = session.handle(End(cause, "why" if cause == "rest" else None))
    disconnect = sent(actions)[0]
    assert isinstance(disconnect, Disconnect) and disconnect.code == code
    assert of(actions, CloseTransport)[0].status == status
    assert bool(of(actions, PublishToGroup)) == will_sent
    [ended_] = of(actions, Ended)
    assert ended_.body["mqtt"] == {
        "initiatedByClient": False,
        "disconnectPacket": {"code": code, "userProperties": None},
    }
    if cause == "rest":
        assert ended_.body["reason"] == "why"


def test_3_1_1_rest_close_is_a_plain_close() -> None:
    session, _ = online(MQTT_311)
    actions = session.handle(End("rest", "bye"))
    assert sent(actions) == [] and of(actions, CloseTransport) == [CloseTransport(A, 1000, "bye")]
    assert of(actions, Ended)[0].body == {
        "reason": "bye",
        "mqtt": {"initiatedByClient": False, "disconnectPacket": None},
    }


def test_violation_on_3_1_1_closes_without_disconnect() -> None:
    session, _ = online(MQTT_311)
    error = MqttError.too_large(2_000_000, 1_048_576)
    actions = session.handle(Violation(A, error))
    assert sent(actions) == [] and of(actions, CloseTransport)[0].status == 1009


def test_next_deadline() -> None:
    session, clock = make()
    assert session.next_deadline() is None
    session.handle(Attach(A, connect(keep_alive=10, expiry=30)))
    assert session.next_deadline() == clock.now + 15
    feed(session, Pingreq())
    clock.now += 4
    feed(session, Pingreq())
    assert session.next_deadline() == clock.now + 15
    session.handle(ConnectionLost(A))
    assert session.next_deadline() == clock.now + 30


def test_plan_attach() -> None:
    assert plan_attach(None, connect(clean=False)) == "new"
    assert plan_attach(ended(), connect(clean=False)) == "new"
    assert plan_attach(make()[0], connect(clean=False)) == "new"
    for held in (online(expiry=30)[0], offline()[0]):
        assert plan_attach(held, connect(clean=False)) == "resume"
        assert plan_attach(held, connect(clean=True)) == "replace"
        with pytest.raises(InvalidTransition):
            held.handle(Attach(B, connect(clean=True)))  # the caller must replace it instead


def test_clean_start_replaces_the_held_session() -> None:
    old, _ = offline()
    old.handle(RestJoin("g"))
    [ended_] = of(old.handle(End("takeover")), Ended)
    assert ended_.body["mqtt"]["disconnectPacket"] == {"code": 0x8E, "userProperties": None}
    new, _ = make()
    assert sent(new.handle(Attach(B, connect(clean=True))), B)[0].session_present is False  # type: ignore[union-attr]
    assert new.groups() == []
