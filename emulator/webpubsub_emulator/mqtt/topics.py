"""Topics ↔ groups (mqtt.md §5): the SUBSCRIBE, UNSUBSCRIBE and PUBLISH decisions, with their codes per version.

A topic is a group name (the emulator's own group rules, :func:`~webpubsub_emulator.validation.validate_group`);
``$webpubsub/server/messages`` and ``$webpubsub/server/events/<name>[/succeeded|/failed]`` are the service's own
topics. Permissions are the connection's :class:`~webpubsub_emulator.roles.PermissionState` (roles
``webpubsub.joinLeaveGroup[.g]``, ``webpubsub.sendToGroup[.g]`` and their wildcard forms).
"""

from __future__ import annotations

from typing import Dict, NamedTuple, Optional, Tuple

from ..roles import JOIN_LEAVE_GROUP, SEND_TO_GROUP, PermissionState
from ..validation import ValidationError, validate_group
from .codes import MQTT_5, ReasonCode
from .packets import Publish, Subscription

__all__ = [
    "EVENTS_PREFIX",
    "SERVER_MESSAGES",
    "SUBSCRIBE_REFUSALS",
    "PublishDecision",
    "SubscribeDecision",
    "UnsubscribeDecision",
    "decide_publish",
    "decide_subscribe",
    "decide_unsubscribe",
    "event_name",
    "event_reply_topic",
    "is_group_topic",
    "will_topic_valid",
]

SERVER_MESSAGES = "$webpubsub/server/messages"
"""The topic of REST ``send_to_all`` / ``send_to_user`` / ``send_to_connection`` messages."""
EVENTS_PREFIX = "$webpubsub/server/events/"
"""PUBLISH to ``EVENTS_PREFIX + name`` is a user event; replies come on ``…/succeeded`` or ``…/failed``."""

R = ReasonCode

# SUBSCRIBE refusal -> (3.1.1 SUBACK code, 5.0 SUBACK code).
SUBSCRIBE_REFUSALS: Dict[str, Tuple[int, int]] = {
    "shared": (0x80, R.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED),
    "wildcard": (0x80, R.WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED),
    "invalid": (0x80, R.TOPIC_FILTER_INVALID),
    "forbidden": (0x80, R.NOT_AUTHORIZED),
}
"""Every SUBSCRIBE refusal and its SUBACK code per version."""


def event_name(topic: str) -> Optional[str]:
    """The event name when ``topic`` is ``$webpubsub/server/events/<name>`` (name non-empty, no ``/``)."""
    if topic.startswith(EVENTS_PREFIX):
        name = topic[len(EVENTS_PREFIX) :]
        if name and "/" not in name:
            return name
    return None


def event_reply_topic(name: str, succeeded: bool) -> str:
    """The topic of the reply to event ``name``."""
    return f"{EVENTS_PREFIX}{name}/{'succeeded' if succeeded else 'failed'}"


def _is_service_topic(topic: str) -> bool:
    if topic == SERVER_MESSAGES:
        return True
    base, _, outcome = topic.rpartition("/")
    return outcome in ("succeeded", "failed") and event_name(base) is not None


def is_group_topic(topic: str) -> bool:
    """True when ``topic`` names a group a client can reach: a valid group name, no wildcard, no leading ``$``."""
    if topic.startswith("$") or "+" in topic or "#" in topic:
        return False
    try:
        validate_group(topic)
    except ValidationError:
        return False
    return True


def will_topic_valid(topic: str) -> bool:
    """The will topic rule (§3): a reachable group name."""
    return is_group_topic(topic)


class SubscribeDecision(NamedTuple):
    """One topic filter's answer: the SUBACK ``code``; ``group`` to join (None for service topics or refusals)."""

    code: int
    group: Optional[str]
    granted: bool


def decide_subscribe(subscription: Subscription, version: int, permissions: PermissionState) -> SubscribeDecision:
    """The SUBACK code for one filter: the requested QoS when granted, else the refusal's code for ``version``."""
    topic = subscription.topic_filter
    refusal: Optional[str] = None
    if topic.startswith("$share/"):
        refusal = "shared"
    elif "+" in topic or "#" in topic:
        refusal = "wildcard"
    elif _is_service_topic(topic):
        return SubscribeDecision(subscription.qos, None, True)
    elif not is_group_topic(topic):
        refusal = "invalid"
    elif not permissions.allows(JOIN_LEAVE_GROUP, topic):
        refusal = "forbidden"
    if refusal is not None:
        return SubscribeDecision(SUBSCRIBE_REFUSALS[refusal][version == MQTT_5], None, False)
    return SubscribeDecision(subscription.qos, topic, True)


class UnsubscribeDecision(NamedTuple):
    """One filter's UNSUBACK code (5.0; 3.1.1 sends none) and whether the subscription is removed."""

    code: int
    remove: bool


def decide_unsubscribe(topic_filter: str, permissions: PermissionState, subscribed: bool) -> UnsubscribeDecision:
    """Refused filter → 0x8F; service topic or group: not subscribed → 0x11; no permission → 0x87, kept."""
    if _is_service_topic(topic_filter):
        return UnsubscribeDecision(R.SUCCESS if subscribed else R.NO_SUBSCRIPTION_EXISTED, subscribed)
    if not is_group_topic(topic_filter):
        return UnsubscribeDecision(R.TOPIC_FILTER_INVALID, False)
    if not permissions.allows(JOIN_LEAVE_GROUP, topic_filter):
        return UnsubscribeDecision(R.NOT_AUTHORIZED, False)
    if not subscribed:
        return UnsubscribeDecision(R.NO_SUBSCRIPTION_EXISTED, False)
    return UnsubscribeDecision(R.SUCCESS, True)


class PublishDecision(NamedTuple):
    """What a client's PUBLISH does.

    ``action`` is ``"group"`` (send to group ``name``), ``"event"`` (user event ``name``), ``"refuse"`` (drop it;
    5.0 ``code`` goes in the PUBACK/PUBREC, a QoS 0 refusal closes) or ``"close"`` (a protocol violation: 5.0
    DISCONNECT with ``code``, then close).
    """

    action: str
    name: Optional[str]
    code: int


# PUBLISH problems that close the connection, checked first, in order: (test, 5.0 DISCONNECT code). (An empty
# topic without a Topic Alias never gets here: the codec refuses it.)
_CLOSING = (
    (lambda p, v: "+" in p.topic or "#" in p.topic, R.TOPIC_NAME_INVALID),
    (lambda p, v: p.properties.topic_alias is not None, R.TOPIC_ALIAS_INVALID),
    (lambda p, v: p.retain and v == MQTT_5, R.RETAIN_NOT_SUPPORTED),
)


def decide_publish(publish: Publish, version: int, permissions: PermissionState) -> PublishDecision:
    """Route a client's PUBLISH: events need no role; groups need ``sendToGroup`` (3.1.1 RETAIN is ignored)."""
    for broken, code in _CLOSING:
        if broken(publish, version):
            return PublishDecision("close", None, code)
    name = event_name(publish.topic)
    if name is not None:
        return PublishDecision("event", name, R.SUCCESS)
    if not is_group_topic(publish.topic):
        return PublishDecision("refuse", None, R.TOPIC_NAME_INVALID)
    if not permissions.allows(SEND_TO_GROUP, publish.topic):
        return PublishDecision("refuse", None, R.NOT_AUTHORIZED)
    return PublishDecision("group", publish.topic, R.SUCCESS)
