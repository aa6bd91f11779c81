"""Topics ↔ groups and roles (mqtt.md §5): SUBSCRIBE, UNSUBSCRIBE and PUBLISH decisions, row by row."""

from __future__ import annotations

import pytest
from webpubsub_emulator.mqtt import MQTT_5, MQTT_311, Properties, Publish, Subscription
from webpubsub_emulator.mqtt.topics import (
    SERVER_MESSAGES,
    decide_publish,
    decide_subscribe,
    decide_unsubscribe,
    event_name,
    event_reply_topic,
    is_group_topic,
)
from webpubsub_emulator.roles import PermissionState

ALL = PermissionState(["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"])
NONE = PermissionState()

SUBSCRIBE_ROWS = [
    # (case, filter, permissions, 3.1.1 SUBACK code, 5.0 SUBACK code, group joined)
    ("permitted", "g", ALL, 1, 1, "g"),
    ("no joinLeaveGroup", "g", NONE, 0x80, 0x87, None),
    ("scoped role for that group", "g", PermissionState(["webpubsub.joinLeaveGroup.g"]), 1, 1, "g"),
    ("scoped role for another group", "h", PermissionState(["webpubsub.joinLeaveGroup.g"]), 0x80, 0x87, None),
    ("wildcard role: / is ordinary", "dev/a/b", PermissionState(["webpubsub.joinLeaveGroups.dev/*"]), 1, 1, "dev/a/b"),
    ("wildcard role: . separates", "dev.a", PermissionState(["webpubsub.joinLeaveGroups.dev*"]), 0x80, 0x87, None),
    ("sendToGroup does not allow joining", "g", PermissionState(["webpubsub.sendToGroup"]), 0x80, 0x87, None),
    ("+ in the filter", "a/+", ALL, 0x80, 0xA2, None),
    ("# in the filter", "#", ALL, 0x80, 0xA2, None),
    ("shared subscription", "$share/x/g", ALL, 0x80, 0x9E, None),
    ("shared subscription with a wildcard", "$share/x/#", ALL, 0x80, 0x9E, None),
    ("server messages, no role", SERVER_MESSAGES, NONE, 1, 1, None),
    ("event replies, no role", "$webpubsub/server/events/e1/succeeded", NONE, 1, 1, None),
    ("event failures, no role", "$webpubsub/server/events/e1/failed", NONE, 1, 1, None),
    ("other $webpubsub topic", "$webpubsub/server/events/e1", ALL, 0x80, 0x8F, None),
    ("other $ topic", "$SYS/broker", ALL, 0x80, 0x8F, None),
    ("blank topic", "   ", ALL, 0x80, 0x8F, None),
    ("topic with a newline", "a\nb", ALL, 0x80, 0x8F, None),
    ("topic of 1025 characters", "t" * 1025, ALL, 0x80, 0x8F, None),
    ("topic of 1024 characters", "t" * 1024, ALL, 1, 1, "t" * 1024),
]


@pytest.mark.parametrize(
    ("topic", "perms", "code_311", "code_5", "group"),
    [r[1:] for r in SUBSCRIBE_ROWS],
    ids=[r[0] for r in SUBSCRIBE_ROWS],
)
def test_subscribe(topic: str, perms: PermissionState, code_311: int, code_5: int, group: object) -> None:
    for version, code in ((MQTT_311, code_311), (MQTT_5, code_5)):
        decision = decide_subscribe(Subscription(topic, 1), version, perms)
        assert (decision.code, decision.group) == (code, group)
        assert decision.granted == (code < 0x80)


def test_subscribe_grants_the_requested_qos() -> None:
    assert [decide_subscribe(Subscription("g", q), MQTT_5, ALL).code for q in (0, 1, 2)] == [0, 1, 2]


UNSUBSCRIBE_ROWS = [
    # (case, filter, permissions, subscribed, 5.0 code, removed)
    ("subscribed and permitted", "g", ALL, True, 0x00, True),
    ("no permission: kept", "g", NONE, True, 0x87, False),
    ("not subscribed", "g", ALL, False, 0x11, False),
    ("refused filter", "a/#", ALL, False, 0x8F, False),
    ("$ filter", "$SYS/x", ALL, True, 0x8F, False),
    ("server messages, subscribed, no role", SERVER_MESSAGES, NONE, True, 0x00, True),
    ("server messages, not subscribed", SERVER_MESSAGES, NONE, False, 0x11, False),
]


@pytest.mark.parametrize(
    ("topic", "perms", "subscribed", "code", "removed"),
    [r[1:] for r in UNSUBSCRIBE_ROWS],
    ids=[r[0] for r in UNSUBSCRIBE_ROWS],
)
def test_unsubscribe(topic: str, perms: PermissionState, subscribed: bool, code: int, removed: bool) -> None:
    assert tuple(decide_unsubscribe(topic, perms, subscribed)) == (code, removed)


def _pub(topic: str, **kw: object) -> Publish:
    return Publish(topic, b"x", **kw)  # type: ignore[arg-type]


SEND_G = PermissionState(["webpubsub.sendToGroup.g"])
SEND_DEV = PermissionState(["webpubsub.sendToGroups.dev/*"])
JOIN_ONLY = PermissionState(["webpubsub.joinLeaveGroup"])
TO_G = ("group", "g", 0)
FORBIDDEN = ("refuse", None, 0x87)
BAD_NAME = ("refuse", None, 0x90)
PUBLISH_ROWS = [
    # (case, PUBLISH, permissions, 3.1.1 decision, 5.0 decision)
    ("permitted", _pub("g"), ALL, TO_G, TO_G),
    ("scoped sendToGroup", _pub("g"), SEND_G, TO_G, TO_G),
    ("wildcard sendToGroups", _pub("dev/a/b"), SEND_DEV, ("group", "dev/a/b", 0), ("group", "dev/a/b", 0)),
    ("no permission", _pub("g"), NONE, FORBIDDEN, FORBIDDEN),
    ("joinLeaveGroup does not allow publishing", _pub("g"), JOIN_ONLY, FORBIDDEN, FORBIDDEN),
    ("event, no role needed", _pub("$webpubsub/server/events/temp"), NONE, ("event", "temp", 0), ("event", "temp", 0)),
    ("event name with /", _pub("$webpubsub/server/events/a/b"), ALL, BAD_NAME, BAD_NAME),
    ("event without a name", _pub("$webpubsub/server/events/"), ALL, BAD_NAME, BAD_NAME),
    ("server messages topic", _pub(SERVER_MESSAGES), ALL, BAD_NAME, BAD_NAME),
    ("other $ topic", _pub("$SYS/x"), ALL, BAD_NAME, BAD_NAME),
    ("blank topic", _pub(" "), ALL, BAD_NAME, BAD_NAME),
    ("+ in the topic", _pub("a/+"), ALL, ("close", None, 0x90), ("close", None, 0x90)),
    ("# in the topic", _pub("#"), ALL, ("close", None, 0x90), ("close", None, 0x90)),
    ("Topic Alias", _pub("g", properties=Properties(topic_alias=1)), ALL, ("close", None, 0x94), ("close", None, 0x94)),
    ("RETAIN: 3.1.1 delivered unretained, 5.0 closes", _pub("g", retain=True), ALL, TO_G, ("close", None, 0x9A)),
]


@pytest.mark.parametrize(
    ("publish", "perms", "decision_311", "decision_5"), [r[1:] for r in PUBLISH_ROWS], ids=[r[0] for r in PUBLISH_ROWS]
)
def test_publish(publish: Publish, perms: PermissionState, decision_311: tuple, decision_5: tuple) -> None:
    assert tuple(decide_publish(publish, MQTT_311, perms)) == decision_311
    assert tuple(decide_publish(publish, MQTT_5, perms)) == decision_5


def test_a_revoke_is_seen_by_the_next_packet() -> None:
    perms = PermissionState(["webpubsub.sendToGroup"])
    assert decide_publish(_pub("g"), MQTT_5, perms).action == "group"
    perms.revoke("sendToGroup", "g")
    assert decide_publish(_pub("g"), MQTT_5, perms).code == 0x87
    assert decide_publish(_pub("h"), MQTT_5, perms).action == "group"


def test_topic_helpers() -> None:
    assert event_name("$webpubsub/server/events/x") == "x"
    assert event_name("$webpubsub/server/events/x/succeeded") is None
    assert event_reply_topic("x", True) == "$webpubsub/server/events/x/succeeded"
    assert event_reply_topic("x", False) == "$webpubsub/server/events/x/failed"
    assert is_group_topic("Case/Sensitive") and not is_group_topic("") and not is_group_topic("$x")
