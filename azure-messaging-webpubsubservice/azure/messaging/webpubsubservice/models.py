# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""Public models and enums of the Web PubSub service SDK."""

from ._custom import models as _models
from ._custom.models import AddToGroupsRequest as AddToGroupsRequest
from ._custom.models import ClientTokenResponse as ClientTokenResponse
from ._custom.models import ErrorDetail as ErrorDetail
from ._custom.models import GroupMember as GroupMember
from ._custom.models import InnerError as InnerError
from ._custom.models import MessageContentType as MessageContentType
from ._custom.models import RemoveFromGroupsRequest as RemoveFromGroupsRequest
from ._custom.models import ResponseContentType as ResponseContentType
from ._custom.models import WebPubSubClientProtocol as WebPubSubClientProtocol
from ._custom.models import WebPubSubClientType as WebPubSubClientType
from ._custom.models import WebPubSubPermission as WebPubSubPermission

__all__ = list(_models.__all__)
