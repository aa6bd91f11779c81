# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""Public models and enums of the Web PubSub service SDK."""

from ._models import GroupMember, WebPubSubClientProtocol, WebPubSubClientType, WebPubSubPermission

__all__ = [
    "GroupMember",
    "WebPubSubClientProtocol",
    "WebPubSubClientType",
    "WebPubSubPermission",
]
