# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""Hand-written operations of the sync client, layered over the generated ones.

The class below replaces the generated operations mixin (the generated ``_operations/__init__`` re-exports the names
in ``__all__`` over its own), so the generated client picks these methods up. It customises:

* ``send_to_*``: the Content-Type is chosen from the message when not given, and ``message_ttl_seconds`` is public;
* ``add_connections_to_groups`` / ``remove_connections_from_groups``: a list of groups plus ``filter``, or the body
  as a model or dict;
* ``list_connections``: an :class:`~azure.core.paging.ItemPaged` of :class:`GroupMember`, resumable from a next link;
* ``get_client_access_token``: signed locally with a key, or minted by the service with an Entra credential;
* ``generate_client_token``: the raw ``:generateToken`` call, answering a ``ClientTokenResponse``;
* the aliases ``check_permission`` and ``list_connections_in_group``.

The generated request builders this module calls are imported by name below, so a generator rename fails when the
package is imported, not at a user's first call. ``patch_sdk()`` makes the generated operations raise errors that carry
the service's error code even without a JSON body (``_custom.error_details.install_error_details``).

Every other operation is the generated one, unchanged.
"""

from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Sequence, Tuple, Union

from azure.core.paging import ItemPaged
from azure.core.pipeline import PipelineResponse
from azure.core.rest import HttpRequest, HttpResponse

from .._custom.arguments import id_list, path_segment
from .._custom.client_tokens import client_access_token, generate_token_arguments, token_response
from .._custom.content_type import Message
from .._custom.error_details import expect_status, install_error_details
from .._custom.group_bodies import GroupsRequest, batch_groups_body
from .._custom.models import (
    ClientTokenResponse,
    GroupMember,
    WebPubSubClientProtocol,
    WebPubSubClientType,
    WebPubSubPermission,
)
from .._custom.paging import ListConnectionsPages
from .._custom.send_memo import SendArguments, SendMemo, SendOperation, send_operations
from .._custom.tracing import trace_generated_operations, traced, traced_as, untraced
from . import _operations as _generated
from ._operations import _WebPubSubServiceClientOperationsMixin as _GeneratedOperationsMixin
from ._operations import (
    build_web_pub_sub_service_list_connections_request,
    build_web_pub_sub_service_send_to_all_request,
    build_web_pub_sub_service_send_to_connection_request,
    build_web_pub_sub_service_send_to_group_request,
    build_web_pub_sub_service_send_to_user_request,
)

__all__ = ["_WebPubSubServiceClientOperationsMixin"]

SEND_BUILDERS: Dict[str, Callable[..., HttpRequest]] = {
    "send_to_all": build_web_pub_sub_service_send_to_all_request,
    "send_to_user": build_web_pub_sub_service_send_to_user_request,
    "send_to_group": build_web_pub_sub_service_send_to_group_request,
    "send_to_connection": build_web_pub_sub_service_send_to_connection_request,
}
"""The generated request builders of the four sends, resolved here once for the sync and the async operations."""

_SEND = send_operations(_GeneratedOperationsMixin, SEND_BUILDERS)


class _WebPubSubServiceClientOperationsMixin(_GeneratedOperationsMixin):
    """The operations of :class:`~azure.messaging.webpubsubservice.WebPubSubServiceClient`."""

    _send_memo: SendMemo

    def _send(self, operation: SendOperation, call: SendArguments, **targets: Any) -> None:
        """Run one ``send_to_*``: from the memoised request when it applies, otherwise the generated operation.

        :param operation: The generated operation and request builder.
        :type operation: ~azure.messaging.webpubsubservice._custom.send_memo.SendOperation
        :param call: The prepared call.
        :type call: ~azure.messaging.webpubsubservice._custom.send_memo.SendArguments
        """
        request = self._send_memo.request(self, operation.builder, call, targets) if call.memoisable else None
        if request is None:
            generated: Callable[..., None] = operation.generated  # None, or what a ``cls`` hook returns
            return generated(self, message=call.body, **targets, **call.generated_kwargs())
        expect_status(self._client._pipeline.run(request, stream=False, **call.options), 202)
        return None

    @traced
    def send_to_all(
        self,
        message: Message,
        *,
        excluded: Optional[Sequence[str]] = None,
        filter: Optional[str] = None,
        content_type: Optional[str] = None,
        message_ttl_seconds: Optional[int] = None,
        **kwargs: Any,
    ) -> None:
        """Send a message to every connection of the hub.

        :param message: The message. Without ``content_type``: a dict, list, number, bool or None is sent as
            ``application/json``, a str (or text stream) as ``text/plain`` (UTF-8), and bytes, bytearray, memoryview
            or a binary stream as ``application/octet-stream``.
        :type message: dict or list or tuple or str or bytes or bytearray or memoryview or IO
        :keyword excluded: Connection ids that do not receive the message.
        :paramtype excluded: list[str] or tuple[str, ...] or str or None
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
        call = SendArguments.prepare(message, content_type, message_ttl_seconds, kwargs)
        return self._send(_SEND["send_to_all"], call, excluded=id_list(excluded), filter=filter)

    @traced
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
        :type message: dict or list or tuple or str or bytes or bytearray or memoryview or IO
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
        call = SendArguments.prepare(message, content_type, message_ttl_seconds, kwargs)
        return self._send(_SEND["send_to_user"], call, user_id=path_segment("user_id", user_id), filter=filter)

    @traced
    def send_to_group(
        self,
        group: str,
        message: Message,
        *,
        excluded: Optional[Sequence[str]] = None,
        filter: Optional[str] = None,
        content_type: Optional[str] = None,
        message_ttl_seconds: Optional[int] = None,
        **kwargs: Any,
    ) -> None:
        """Send a message to every connection in a group.

        :param str group: The group.
        :param message: The message; see :meth:`send_to_all` for how its type selects the Content-Type.
        :type message: dict or list or tuple or str or bytes or bytearray or memoryview or IO
        :keyword excluded: Connection ids that do not receive the message.
        :paramtype excluded: list[str] or tuple[str, ...] or str or None
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
        call = SendArguments.prepare(message, content_type, message_ttl_seconds, kwargs)
        group = path_segment("group", group)
        return self._send(_SEND["send_to_group"], call, group=group, excluded=id_list(excluded), filter=filter)

    @traced
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
        :type message: dict or list or tuple or str or bytes or bytearray or memoryview or IO
        :keyword content_type: The content type, or None to choose it from the message.
        :paramtype content_type: str or None
        :keyword message_ttl_seconds: Seconds (0-300) a message may wait for a slow connection; 0 means no expiry.
        :paramtype message_ttl_seconds: int or None
        :return: None
        :rtype: None
        :raises ValueError: If the content type is not supported or does not fit the message.
        :raises ~azure.core.exceptions.HttpResponseError: If the service rejects the request.
        """
        call = SendArguments.prepare(message, content_type, message_ttl_seconds, kwargs)
        connection_id = path_segment("connection_id", connection_id)
        return self._send(_SEND["send_to_connection"], call, connection_id=connection_id)

    @traced
    def add_connections_to_groups(  # type: ignore[override]
        self,
        groups: Optional[GroupsRequest] = None,
        *,
        filter: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        """Add the connections matching a filter to several groups (``:addToGroups``).

        :param groups: The group names (with ``filter=``), or the whole request as an
            :class:`~azure.messaging.webpubsubservice.models.AddToGroupsRequest` or a dict
            ``{"groups": [...], "filter": "..."}``, or serialised JSON. ``groups_to_add=`` is accepted as the keyword
            name too.
        :type groups: list[str] or ~azure.messaging.webpubsubservice.models.AddToGroupsRequest or dict or IO[bytes]
        :keyword filter: An OData filter selecting the connections; None selects every connection of the hub.
        :paramtype filter: str or None
        :return: None
        :rtype: None
        :raises ValueError: If the request is malformed.
        :raises ~azure.core.exceptions.HttpResponseError: If the service rejects the request.
        """
        body = batch_groups_body(groups, filter, kwargs, "groups_to_add", "add_connections_to_groups")
        return untraced(_GeneratedOperationsMixin.add_connections_to_groups)(self, body, **kwargs)

    @traced
    def remove_connections_from_groups(  # type: ignore[override]
        self,
        groups: Optional[GroupsRequest] = None,
        *,
        filter: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        """Remove the connections matching a filter from several groups (``:removeFromGroups``).

        Takes the same arguments as :meth:`add_connections_to_groups` (the model is
        :class:`~azure.messaging.webpubsubservice.models.RemoveFromGroupsRequest`, the keyword ``groups_to_remove=``).

        :return: None
        :rtype: None
        """
        body = batch_groups_body(groups, filter, kwargs, "groups_to_remove", "remove_connections_from_groups")
        return untraced(_GeneratedOperationsMixin.remove_connections_from_groups)(self, body, **kwargs)

    @traced
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
        has_permission = untraced(type(self).has_permission)  # the span is this method's
        return has_permission(self, permission, connection_id, target_name=target_name, **kwargs)

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
        return self._list_connections("list_connections", group, top, kwargs)

    def _list_connections(
        self, method: str, group: str, top: Optional[int], kwargs: Dict[str, Any]
    ) -> ItemPaged[GroupMember]:
        pages = ListConnectionsPages(
            self, build_web_pub_sub_service_list_connections_request, path_segment("group", group), top, kwargs
        )

        @traced_as(method)  # each page request is traced; creating the pager does no IO
        def get_next(next_link: Optional[str] = None) -> PipelineResponse[HttpRequest, HttpResponse]:
            request = pages.request(next_link)
            return pages.checked(self._client._pipeline.run(request, stream=False, **pages.run_options))

        def extract_data(
            pipeline_response: PipelineResponse[HttpRequest, HttpResponse],
        ) -> Tuple[Optional[str], Iterator[Any]]:
            next_link, items = pages.page(pipeline_response)
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
        return self._list_connections("list_connections_in_group", group, top, kwargs)

    @traced
    def get_client_access_token(
        self,
        *,
        user_id: Optional[str] = None,
        roles: Optional[Sequence[str]] = None,
        minutes_to_expire: int = 60,
        jwt_headers: Optional[Mapping[str, Any]] = None,
        groups: Optional[Sequence[str]] = None,
        client_protocol: Optional[Union[str, WebPubSubClientProtocol]] = "Default",
        **kwargs: Any,
    ) -> Dict[str, str]:
        """Create the URL and access token a client connects with.

        With an access key the token is signed locally; with an Entra credential the service generates it. The URL
        always names the service endpoint, even when a reverse proxy is configured.

        :keyword user_id: The user id of the client.
        :paramtype user_id: str or None
        :keyword roles: Roles of the client, such as ``webpubsub.sendToGroup.<group>``.
        :paramtype roles: list[str] or tuple[str, ...] or None
        :keyword int minutes_to_expire: The token lifetime in minutes. Default 60.
        :keyword jwt_headers: Extra JWT header fields such as ``kid`` (key credential only; ignored otherwise).
        :paramtype jwt_headers: dict[str, any] or None
        :keyword groups: Groups the client joins when it connects.
        :paramtype groups: list[str] or tuple[str, ...] or None
        :keyword client_protocol: ``"Default"``, ``"MQTT"`` or ``"SocketIO"`` (any letter case; None means
            Default). It selects the client endpoint path.
        :paramtype client_protocol: str or ~azure.messaging.webpubsubservice.models.WebPubSubClientProtocol
        :return: ``{"baseUrl": ..., "token": ..., "url": "<baseUrl>?access_token=<token>"}``.
        :rtype: dict[str, str]
        :raises ValueError: If ``client_protocol`` is not supported.
        :raises ~azure.core.exceptions.HttpResponseError: If the service rejects the token request.
        """
        plan = client_access_token(
            self._config, user_id, roles, minutes_to_expire, jwt_headers, groups, client_protocol
        )
        if isinstance(plan, dict):
            return plan
        return plan.result(
            untraced(_GeneratedOperationsMixin.get_client_access_token)(self, **plan.arguments, **kwargs)
        )

    @traced
    def generate_client_token(
        self,
        *,
        user_id: Optional[str] = None,
        role: Optional[Sequence[str]] = None,
        minutes_to_expire: Optional[int] = 60,
        group: Optional[Sequence[str]] = None,
        client_type: Optional[Union[str, WebPubSubClientType]] = WebPubSubClientType.DEFAULT,
        roles: Optional[Sequence[str]] = None,
        groups: Optional[Sequence[str]] = None,
        **kwargs: Any,
    ) -> ClientTokenResponse:
        """Ask the service to mint a client access token (``POST :generateToken``), whatever the credential.

        Unlike :meth:`get_client_access_token` this always calls the service and returns its answer as it is.

        :keyword user_id: The user id the token carries.
        :paramtype user_id: str or None
        :keyword role: Roles the connection starts with; ``roles=`` is the same.
        :paramtype role: list[str] or tuple[str, ...] or None
        :keyword int minutes_to_expire: The token lifetime in minutes. Default 60.
        :keyword group: Groups the connection joins when it connects; ``groups=`` is the same.
        :paramtype group: list[str] or tuple[str, ...] or None
        :keyword client_type: ``"Default"`` or ``"MQTT"`` (any letter case; other values are sent as given).
        :paramtype client_type: str or ~azure.messaging.webpubsubservice.models.WebPubSubClientType or None
        :return: The token, as ``result.token`` or ``result["token"]``.
        :rtype: ~azure.messaging.webpubsubservice.models.ClientTokenResponse
        :raises TypeError: If both ``role`` and ``roles`` (or ``group`` and ``groups``) are given.
        :raises ~azure.core.exceptions.HttpResponseError: If the service rejects the request.
        """
        arguments = generate_token_arguments(user_id, role, roles, group, groups, minutes_to_expire, client_type)
        result = untraced(_GeneratedOperationsMixin.get_client_access_token)(self, **arguments, **kwargs)
        response: ClientTokenResponse = token_response(result, kwargs)
        return response


trace_generated_operations(_WebPubSubServiceClientOperationsMixin, _GeneratedOperationsMixin, asynchronous=False)


def patch_sdk() -> None:
    """Hook called by the generated ``__init__``: the generated operations raise errors with details."""
    install_error_details(_generated)
