# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""Public models and enums of the Web PubSub service SDK."""

from ._models import (
    AddToGroupsRequest,
    ClientTokenResponse,
    ErrorDetail,
    GroupMember,
    InnerError,
    MessageContentType,
    RemoveFromGroupsRequest,
    ResponseContentType,
    WebPubSubClientProtocol,
    WebPubSubClientType,
    WebPubSubPermission,
)

__all__ = [
    "AddToGroupsRequest",
    "ClientTokenResponse",
    "ErrorDetail",
    "GroupMember",
    "InnerError",
    "MessageContentType",
    "RemoveFromGroupsRequest",
    "ResponseContentType",
    "WebPubSubClientProtocol",
    "WebPubSubClientType",
    "WebPubSubPermission",
]
