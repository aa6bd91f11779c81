# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""Hand-written operations of the sync client, layered over the generated ones.

The class below replaces the generated operations mixin (the generated ``_operations/__init__`` re-exports the names
in ``__all__`` over its own), so the generated client picks these methods up. It customises:

* ``send_to_*``: the Content-Type is chosen from the message when not given, and ``message_ttl_seconds`` is public;
* ``add_connections_to_groups`` / ``remove_connections_from_groups``: a list of groups plus ``filter``, or the body;
* ``list_connections``: an :class:`~azure.core.paging.ItemPaged` of :class:`GroupMember`, resumable from a next link;
* ``get_client_access_token``: signed locally with a key, or minted by the service with an Entra credential;
* the aliases ``check_permission`` and ``list_connections_in_group``.

Every other operation is the generated one, unchanged.
"""

from typing import IO, Any, Dict, Iterator, List, Mapping, MutableMapping, Optional, Tuple, Union

from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ResourceNotModifiedError,
    map_error,
)
from azure.core.paging import ItemPaged
from azure.core.pipeline import PipelineResponse
from azure.core.rest import HttpRequest, HttpResponse
from azure.core.tracing.decorator import distributed_trace

from .._models import GroupMember, WebPubSubClientProtocol, WebPubSubPermission
from .._sansio import (
    client_token_target,
    group_member_page,
    groups_request_body,
    local_client_token,
    next_link_url,
    normalize_client_protocol,
    send_arguments,
    service_token_result,
)
from ._operations import _WebPubSubServiceClientOperationsMixin as _GeneratedOperationsMixin
from ._operations import build_web_pub_sub_service_list_connections_request

__all__ = ["_WebPubSubServiceClientOperationsMixin"]

Message = Union[IO[bytes], IO[str], str, bytes, Mapping[str, Any], List[Any], int, float, bool, None]
"""What ``send_to_*`` accept: JSON values, text, bytes or a file-like object."""

GroupsRequest = Union[List[str], Mapping[str, Any], IO[bytes], bytes]
"""What the batch group operations accept: group names (with ``filter=``), the JSON body, or serialised JSON."""

_ERROR_MAP: Dict[int, Any] = {
    401: ClientAuthenticationError,
    404: ResourceNotFoundError,
    409: ResourceExistsError,
    304: ResourceNotModifiedError,
}


def error_map_for(kwargs: MutableMapping[str, Any]) -> Dict[int, Any]:
    """Pop the caller's ``error_map`` from ``kwargs`` and merge it over the default mapping.

    :param kwargs: The per-call keyword arguments; ``error_map`` is removed.
    :type kwargs: ~collections.abc.MutableMapping
    :return: The error map to use.
    :rtype: dict[int, type]
    """
    merged = dict(_ERROR_MAP)
    merged.update(kwargs.pop("error_map", None) or {})
    return merged


def prepare_list_connections_request(
    client: Any,
    group: str,
    options: Mapping[str, Any],
    next_link: Optional[str],
) -> HttpRequest:
    """Build the request of one ``list_connections`` page, for the sync and the async client alike.

    :param client: The client (it provides ``_config`` and ``_client``).
    :type client: any
    :param str group: The group.
    :param options: ``top``, ``maxpagesize``, ``continuation_token_parameter``, ``headers`` and ``params``.
    :type options: ~collections.abc.Mapping
    :param next_link: The next link to follow, or None for the first page.
    :type next_link: str or None
    :return: The request, with its absolute URL.
    :rtype: ~azure.core.rest.HttpRequest
    """
    headers = dict(options.get("headers") or {})
    if not next_link:
        request = build_web_pub_sub_service_list_connections_request(
            group=group,
            hub=client._config.hub,
            maxpagesize=options.get("maxpagesize"),
            top=options.get("top"),
            continuation_token_parameter=options.get("continuation_token_parameter"),
            api_version=client._config.api_version,
            headers=headers,
            params=dict(options.get("params") or {}),
        )
    else:
        headers.setdefault("Accept", "application/json")
        request = HttpRequest("GET", next_link_url(next_link, client._config.api_version), headers=headers)
    request.url = client._client.format_url(request.url, endpoint=client._config.endpoint)
    return request


def list_connections_options(
    top: Optional[int], kwargs: MutableMapping[str, Any]
) -> Tuple[Dict[str, Any], Dict[int, Any], Any]:
    """Split the keyword arguments of ``list_connections`` into request options, error map and ``cls``.

    :param top: The ``top`` keyword.
    :type top: int or None
    :param kwargs: The other keyword arguments; the request options, ``error_map`` and ``cls`` are removed and the
        rest is left for the pipeline.
    :type kwargs: ~collections.abc.MutableMapping
    :return: The request options, the error map and the ``cls`` hook.
    :rtype: tuple[dict, dict, any]
    """
    options: Dict[str, Any] = {
        "top": top,
        "maxpagesize": kwargs.pop("maxpagesize", None),
        "continuation_token_parameter": kwargs.pop("continuation_token_parameter", None),
        "headers": kwargs.pop("headers", None),
        "params": kwargs.pop("params", None),
    }
    return options, error_map_for(kwargs), kwargs.pop("cls", None)


def is_key_credential(credential: Any) -> bool:
    """Tell whether the client signs with an access key.

    :param credential: The client's credential.
    :type credential: any
    :return: True for an :class:`~azure.core.credentials.AzureKeyCredential`.
    :rtype: bool
    """
    return isinstance(credential, AzureKeyCredential)


class _WebPubSubServiceClientOperationsMixin(_GeneratedOperationsMixin):
    """The operations of :class:`~azure.messaging.webpubsubservice.WebPubSubServiceClient`."""

    @distributed_trace
    def send_to_all(
        self,
        message: Message,
        *,
        excluded: Optional[List[str]] = None,
        filter: Optional[str] = None,
        content_type: Optional[str] = None,
        message_ttl_seconds: Optional[int] = None,
        **kwargs: Any,
    ) -> None:
        """Send a message to every connection of the hub.

        :param message: The message. Without ``content_type``: a dict, list, number, bool or None is sent as
            ``application/json``, a str (or text stream) as ``text/plain`` (UTF-8), and bytes, bytearray, memoryview
            or a binary stream as ``application/octet-stream``.
        :type message: dict or list or str or bytes or IO
        :keyword excluded: Connection ids that do not receive the message.
        :paramtype excluded: list[str] or None
        :keyword filter: An OData filter the receiving connections must match; see
            :func:`~azure.messaging.webpubsubservice.odata` to build one with quoted values.
        :paramtype filter: str or None
        :keyword content_type: ``application/json``, ``text/plain`` or ``application/octet-stream``, compared
            case-insensitively, optionally with parameters (sent as given). None: chosen from the message.
        :paramtype content_type: str or None
        :keyword message_ttl_seconds: Seconds (0-300) a message may wait for a slow connection; 0 means no expiry.
        :paramtype message_ttl_seconds: int or None
        :return: None
        :rtype: None
        :raises ValueError: If the content type is not supported or does not fit the message.
        :raises ~azure.core.exceptions.HttpResponseError: If the service rejects the request.
        """
        body, rest = send_arguments(message, content_type, message_ttl_seconds, kwargs)
        return super().send_to_all(body, excluded=excluded, filter=filter, **rest)

    @distributed_trace
    def send_to_user(
        self,
        user_id: str,
        message: Message,
        *,
        filter: Optional[str] = None,
        content_type: Optional[str] = None,
        message_ttl_seconds: Optional[int] = None,
        **kwargs: Any,
    ) -> None:
        """Send a message to every connection of a user.

        :param str user_id: The user id.
        :param message: The message; see :meth:`send_to_all` for how its type selects the Content-Type.
        :type message: dict or list or str or bytes or IO
        :keyword filter: An OData filter the receiving connections must match.
        :paramtype filter: str or None
        :keyword content_type: The content type, or None to choose it from the message.
        :paramtype content_type: str or None
        :keyword message_ttl_seconds: Seconds (0-300) a message may wait for a slow connection; 0 means no expiry.
        :paramtype message_ttl_seconds: int or None
        :return: None
        :rtype: None
        :raises ValueError: If the content type is not supported or does not fit the message.
        :raises ~azure.core.exceptions.HttpResponseError: If the service rejects the request.
        """
        body, rest = send_arguments(message, content_type, message_ttl_seconds, kwargs)
        return super().send_to_user(user_id, body, filter=filter, **rest)

    @distributed_trace
    def send_to_group(
        self,
        group: str,
        message: Message,
        *,
        excluded: Optional[List[str]] = None,
        filter: Optional[str] = None,
        content_type: Optional[str] = None,
        message_ttl_seconds: Optional[int] = None,
        **kwargs: Any,
    ) -> None:
        """Send a message to every connection in a group.

        :param str group: The group.
        :param message: The message; see :meth:`send_to_all` for how its type selects the Content-Type.
        :type message: dict or list or str or bytes or IO
        :keyword excluded: Connection ids that do not receive the message.
        :paramtype excluded: list[str] or None
        :keyword filter: An OData filter the receiving connections must match.
        :paramtype filter: str or None
        :keyword content_type: The content type, or None to choose it from the message.
        :paramtype content_type: str or None
        :keyword message_ttl_seconds: Seconds (0-300) a message may wait for a slow connection; 0 means no expiry.
        :paramtype message_ttl_seconds: int or None
        :return: None
        :rtype: None
        :raises ValueError: If the content type is not supported or does not fit the message.
        :raises ~azure.core.exceptions.HttpResponseError: If the service rejects the request.
        """
        body, rest = send_arguments(message, content_type, message_ttl_seconds, kwargs)
        return super().send_to_group(group, body, excluded=excluded, filter=filter, **rest)

    @distributed_trace
    def send_to_connection(
        self,
        connection_id: str,
        message: Message,
        *,
        content_type: Optional[str] = None,
        message_ttl_seconds: Optional[int] = None,
        **kwargs: Any,
    ) -> None:
        """Send a message to one connection.

        :param str connection_id: The connection id.
        :param message: The message; see :meth:`send_to_all` for how its type selects the Content-Type.
        :type message: dict or list or str or bytes or IO
        :keyword content_type: The content type, or None to choose it from the message.
        :paramtype content_type: str or None
        :keyword message_ttl_seconds: Seconds (0-300) a message may wait for a slow connection; 0 means no expiry.
        :paramtype message_ttl_seconds: int or None
        :return: None
        :rtype: None
        :raises ValueError: If the content type is not supported or does not fit the message.
        :raises ~azure.core.exceptions.HttpResponseError: If the service rejects the request.
        """
        body, rest = send_arguments(message, content_type, message_ttl_seconds, kwargs)
        return super().send_to_connection(connection_id, body, **rest)

    @distributed_trace
    def add_connections_to_groups(  # type: ignore[override]
        self,
        groups: Optional[GroupsRequest] = None,
        *,
        filter: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        """Add the connections matching a filter to several groups.

        :param groups: The group names (with ``filter=``), or the whole request ``{"groups": [...], "filter": "..."}``
            as a dict or model, or serialised JSON. ``groups_to_add=`` is accepted as the keyword name too.
        :type groups: list[str] or dict or IO[bytes]
        :keyword filter: An OData filter selecting the connections; None selects every connection of the hub.
        :paramtype filter: str or None
        :return: None
        :rtype: None
        :raises ValueError: If the request is malformed.
        :raises ~azure.core.exceptions.HttpResponseError: If the service rejects the request.
        """
        request = groups if groups is not None else kwargs.pop("groups_to_add", None)
        if request is None:
            raise TypeError("add_connections_to_groups() missing the 'groups' argument")
        body = groups_request_body(request, filter, "groups")
        return super().add_connections_to_groups(body, **kwargs)

    @distributed_trace
    def remove_connections_from_groups(  # type: ignore[override]
        self,
        groups: Optional[GroupsRequest] = None,
        *,
        filter: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        """Remove the connections matching a filter from several groups.

        :param groups: The group names (with ``filter=``), or the whole request ``{"groups": [...], "filter": "..."}``
            as a dict or model, or serialised JSON. ``groups_to_remove=`` is accepted as the keyword name too.
        :type groups: list[str] or dict or IO[bytes]
        :keyword filter: An OData filter selecting the connections; None selects every connection of the hub.
        :paramtype filter: str or None
        :return: None
        :rtype: None
        :raises ValueError: If the request is malformed.
        :raises ~azure.core.exceptions.HttpResponseError: If the service rejects the request.
        """
        request = groups if groups is not None else kwargs.pop("groups_to_remove", None)
        if request is None:
            raise TypeError("remove_connections_from_groups() missing the 'groups' argument")
        body = groups_request_body(request, filter, "groups")
        return super().remove_connections_from_groups(body, **kwargs)

    @distributed_trace
    def check_permission(
        self,
        permission: Union[str, WebPubSubPermission],
        connection_id: str,
        *,
        target_name: Optional[str] = None,
        **kwargs: Any,
    ) -> bool:
        """Tell whether a connection holds a permission; the same as :meth:`has_permission`.

        :param permission: ``"sendToGroup"`` or ``"joinLeaveGroup"``.
        :type permission: str or ~azure.messaging.webpubsubservice.models.WebPubSubPermission
        :param str connection_id: The connection id.
        :keyword target_name: The group the permission applies to.
        :paramtype target_name: str or None
        :return: True if the connection holds the permission.
        :rtype: bool
        :raises ~azure.core.exceptions.HttpResponseError: If the service answers with an error other than 404.
        """
        return self.has_permission(permission, connection_id, target_name=target_name, **kwargs)

    def list_connections(  # type: ignore[override]
        self, group: str, *, top: Optional[int] = None, **kwargs: Any
    ) -> ItemPaged[GroupMember]:
        """List the connections in a group.

        Pages follow the service's ``nextLink``; ``by_page(continuation_token=<nextLink>)`` resumes from a link.

        :param str group: The group (positional or keyword).
        :keyword top: The most connections to return over all pages; None returns all.
        :paramtype top: int or None
        :keyword maxpagesize: The most connections per page.
        :paramtype maxpagesize: int or None
        :return: The members of the group.
        :rtype: ~azure.core.paging.ItemPaged[~azure.messaging.webpubsubservice.GroupMember]
        :raises ~azure.core.exceptions.HttpResponseError: If the service rejects a page request.
        """
        options, error_map, cls = list_connections_options(top, kwargs)

        def get_next(next_link: Optional[str] = None) -> PipelineResponse[HttpRequest, HttpResponse]:
            request = prepare_list_connections_request(self, group, options, next_link)
            pipeline_response: PipelineResponse[HttpRequest, HttpResponse] = self._client._pipeline.run(
                request, stream=False, **kwargs
            )
            response = pipeline_response.http_response
            if response.status_code != 200:
                map_error(status_code=response.status_code, response=response, error_map=error_map)
                raise HttpResponseError(response=response)
            return pipeline_response

        def extract_data(
            pipeline_response: PipelineResponse[HttpRequest, HttpResponse],
        ) -> Tuple[Optional[str], Iterator[Any]]:
            next_link, members = group_member_page(pipeline_response.http_response.json())
            items: Any = cls(members) if cls else members
            return next_link, iter(items)

        return ItemPaged(get_next, extract_data)

    def list_connections_in_group(
        self, group: str, *, top: Optional[int] = None, **kwargs: Any
    ) -> ItemPaged[GroupMember]:
        """List the connections in a group; the same as :meth:`list_connections`.

        :param str group: The group.
        :keyword top: The most connections to return over all pages; None returns all.
        :paramtype top: int or None
        :return: The members of the group.
        :rtype: ~azure.core.paging.ItemPaged[~azure.messaging.webpubsubservice.GroupMember]
        :raises ~azure.core.exceptions.HttpResponseError: If the service rejects a page request.
        """
        return self.list_connections(group, top=top, **kwargs)

    @distributed_trace
    def get_client_access_token(
        self,
        *,
        user_id: Optional[str] = None,
        roles: Optional[List[str]] = None,
        minutes_to_expire: int = 60,
        jwt_headers: Optional[Dict[str, Any]] = None,
        groups: Optional[List[str]] = None,
        client_protocol: Optional[Union[str, WebPubSubClientProtocol]] = "Default",
        **kwargs: Any,
    ) -> Dict[str, str]:
        """Create the URL and access token a client connects with.

        With an access key the token is signed locally; with an Entra credential the service generates it. The URL
        always names the service endpoint, even when a reverse proxy is configured.

        :keyword user_id: The user id of the client.
        :paramtype user_id: str or None
        :keyword roles: Roles of the client, such as ``webpubsub.sendToGroup.<group>``.
        :paramtype roles: list[str] or None
        :keyword int minutes_to_expire: The token lifetime in minutes. Default 60.
        :keyword jwt_headers: Extra JWT header fields such as ``kid`` (key credential only; ignored otherwise).
        :paramtype jwt_headers: dict[str, any] or None
        :keyword groups: Groups the client joins when it connects.
        :paramtype groups: list[str] or None
        :keyword client_protocol: ``"Default"``, ``"MQTT"`` or ``"SocketIO"`` (any letter case; None means
            Default). It selects the client endpoint path.
        :paramtype client_protocol: str or ~azure.messaging.webpubsubservice.models.WebPubSubClientProtocol
        :return: ``{"baseUrl": ..., "token": ..., "url": "<baseUrl>?access_token=<token>"}``.
        :rtype: dict[str, str]
        :raises ValueError: If ``client_protocol`` is not supported.
        :raises ~azure.core.exceptions.HttpResponseError: If the service rejects the token request.
        """
        protocol = normalize_client_protocol(client_protocol)
        credential: Any = self._config.credential
        if is_key_credential(credential):
            return local_client_token(
                self._config.endpoint,
                self._config.hub,
                credential.key,
                user_id=user_id,
                roles=roles,
                minutes_to_expire=minutes_to_expire,
                jwt_headers=jwt_headers,
                groups=groups,
                client_protocol=protocol,
            )
        target = client_token_target(self._config.endpoint, self._config.hub, protocol)
        result = super().get_client_access_token(
            user_id=user_id,
            roles=roles,
            minutes_to_expire=minutes_to_expire,
            groups=groups,
            client_protocol=protocol.value,
            **kwargs,
        )
        return service_token_result(target.base_url, result)


def patch_sdk() -> None:
    """Hook called by the generated ``__init__``; the customisation is done by the class above."""
