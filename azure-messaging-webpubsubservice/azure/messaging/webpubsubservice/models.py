# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""Public models and enums of the Web PubSub service SDK."""

from . import _models
from ._models import AddToGroupsRequest as AddToGroupsRequest
from ._models import ClientTokenResponse as ClientTokenResponse
from ._models import ErrorDetail as ErrorDetail
from ._models import GroupMember as GroupMember
from ._models import InnerError as InnerError
from ._models import MessageContentType as MessageContentType
from ._models import RemoveFromGroupsRequest as RemoveFromGroupsRequest
from ._models import ResponseContentType as ResponseContentType
from ._models import WebPubSubClientProtocol as WebPubSubClientProtocol
from ._models import WebPubSubClientType as WebPubSubClientType
from ._models import WebPubSubPermission as WebPubSubPermission

__all__ = list(_models.__all__)
