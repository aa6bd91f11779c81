# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""Hand-written public client of the package, layered over the generated one.

The generated ``__init__`` re-exports every name in ``__all__``, so ``WebPubSubServiceClient`` below replaces the
generated class of the same name, and ``GroupMember`` and ``odata`` become top-level names.
"""

from typing import TYPE_CHECKING, Any, Union

from azure.core.credentials import AzureKeyCredential

from ._client import WebPubSubServiceClient as _GeneratedClient
from ._custom.construction import ConnectionStringConstructor, client_settings
from ._custom.models import GroupMember
from ._custom.odata import odata
from ._custom.pipeline import group_sansio_policies
from ._custom.send_memo import SendMemo

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

__all__ = ["GroupMember", "WebPubSubServiceClient", "odata"]


class WebPubSubServiceClient(ConnectionStringConstructor, _GeneratedClient):
    """The client of the Azure Web PubSub service REST API, bound to one hub.

    :param str endpoint: The service endpoint, such as ``https://<name>.webpubsub.azure.com``.
    :param str hub: The hub: a letter, then letters, digits or ``_ ` , . [ ]``; 128 characters at most.
    :param credential: An access key, or an Entra token credential (such as ``DefaultAzureCredential``).
    :type credential: ~azure.core.credentials.AzureKeyCredential or ~azure.core.credentials.TokenCredential
    :keyword str api_version: The REST api-version. Default ``"2024-12-01"``.
    :keyword port: A port to add to the endpoint (it must agree with a port already in the endpoint).
    :paramtype port: int or str or None
    :keyword reverse_proxy_endpoint: Send requests through this reverse proxy (such as API Management); tokens
        still name the service endpoint.
    :paramtype reverse_proxy_endpoint: str or None
    :keyword user: With an access key, the name claim of the JWT that signs each request.
    :paramtype user: str or None
    :keyword credential_scopes: Entra scopes. Default ``["https://webpubsub.azure.com/.default"]``.
    :paramtype credential_scopes: list[str]
    :raises ValueError: If the hub, endpoint or port is invalid, or ``authentication_policy`` is passed with an
        :class:`~azure.core.credentials.AzureKeyCredential` (the key credential owns authentication).
    :raises TypeError: If the credential is of an unsupported type.
    """

    def __init__(
        self,
        endpoint: str,
        hub: str,
        credential: Union[AzureKeyCredential, "TokenCredential"],
        **kwargs: Any,
    ) -> None:
        origin, rest = client_settings(endpoint, hub, credential, kwargs, asynchronous=False)
        super().__init__(hub=hub, endpoint=origin, credential=credential, **rest)  # type: ignore[arg-type]
        self._send_memo = SendMemo()
        group_sansio_policies(self._client, asynchronous=False)


def patch_sdk() -> None:
    """Hook called by the generated ``__init__``; the customisation is done by the definitions above."""
