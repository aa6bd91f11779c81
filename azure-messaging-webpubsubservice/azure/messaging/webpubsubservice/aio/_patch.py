# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""Hand-written public async client, layered over the generated one.

The generated ``aio/__init__`` re-exports every name in ``__all__``, so ``WebPubSubServiceClient`` below replaces the
generated async class of the same name. Construction shares all its logic with the sync client.
"""

from typing import TYPE_CHECKING, Any, Union

from azure.core.credentials import AzureKeyCredential

from .._custom.construction import ConnectionStringConstructor, client_settings
from .._custom.pipeline import group_sansio_policies
from .._custom.send_memo import SendMemo
from ._client import WebPubSubServiceClient as _GeneratedClient

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential

__all__ = ["WebPubSubServiceClient"]


class WebPubSubServiceClient(ConnectionStringConstructor, _GeneratedClient):
    """The async client of the Azure Web PubSub service REST API, bound to one hub.

    Use it with ``async with`` or ``await client.close()``. It takes the keyword arguments of the sync
    :class:`~azure.messaging.webpubsubservice.WebPubSubServiceClient` (``api_version``, ``port``,
    ``reverse_proxy_endpoint``, ``user``, ``credential_scopes``) and azure-core's client options.

    :param str endpoint: The service endpoint, such as ``https://<name>.webpubsub.azure.com``.
    :param str hub: The hub: a letter, then letters, digits or ``_ ` , . [ ]``; 128 characters at most.
    :param credential: An access key, or an async Entra token credential (such as
        ``azure.identity.aio.DefaultAzureCredential``).
    :type credential: ~azure.core.credentials.AzureKeyCredential or
        ~azure.core.credentials_async.AsyncTokenCredential
    :raises ValueError: As for the sync client: an invalid hub, endpoint or port, or ``authentication_policy`` with
        an :class:`~azure.core.credentials.AzureKeyCredential`.
    :raises TypeError: If the credential is of an unsupported type.
    :raises ImportError: If no ``transport`` is given and aiohttp is not installed; the message names the ``aio``
        extra.
    """

    def __init__(
        self,
        endpoint: str,
        hub: str,
        credential: Union[AzureKeyCredential, "AsyncTokenCredential"],
        **kwargs: Any,
    ) -> None:
        origin, rest = client_settings(endpoint, hub, credential, kwargs, asynchronous=True)
        super().__init__(hub=hub, endpoint=origin, credential=credential, **rest)  # type: ignore[arg-type]
        self._send_memo = SendMemo()
        group_sansio_policies(self._client, asynchronous=True)


def patch_sdk() -> None:
    """Hook called by the generated ``aio/__init__``; the customisation is done by the definitions above."""
