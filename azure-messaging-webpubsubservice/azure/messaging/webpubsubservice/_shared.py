# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""IO-free glue between the hand-written operations and the generated layer, shared by the sync and async client.

``_sansio`` holds the pure rules (message encoding, tokens, URLs); this module applies them to the generated code's
calling conventions: the keyword arguments of the generated operations, the request of one ``list_connections``
page, the status check of a response, and the error details. The sync and async ``_operations/_patch.py`` only add
the IO (running the pipeline, awaiting) around these helpers.
"""

import json
from types import ModuleType
from typing import (
    IO,
    Any,
    Callable,
    Dict,
    List,
    Mapping,
    MutableMapping,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
)

from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ODataV4Format,
    ResourceExistsError,
    ResourceNotFoundError,
    ResourceNotModifiedError,
)
from azure.core.exceptions import map_error as _core_map_error
from azure.core.pipeline import PipelineResponse
from azure.core.rest import HttpRequest
from typing_extensions import Self

from ._models import AddToGroupsRequest, ClientTokenResponse, ErrorDetail, GroupMember, RemoveFromGroupsRequest
from ._operations._operations import build_web_pub_sub_service_list_connections_request
from ._sansio import (
    client_token_target,
    connection_string_settings,
    group_member_page,
    groups_request_body,
    local_client_token,
    next_link_url,
    normalize_client_protocol,
    service_token_result,
)

__all__ = [
    "ERROR_CODE_HEADER",
    "ConnectionStringConstructor",
    "GroupsRequest",
    "Message",
    "ServiceTokenRequest",
    "add_error_details",
    "batch_groups_body",
    "checked",
    "client_access_token",
    "error_map_for",
    "expect_status",
    "generate_token_arguments",
    "install_error_details",
    "list_connections_options",
    "map_error",
    "member_page",
    "prepare_list_connections_request",
    "response_error",
    "send_request",
    "token_response",
    "untraced",
]

Message = Union[IO[bytes], IO[str], str, bytes, Mapping[str, Any], List[Any], int, float, bool, None]
"""What ``send_to_*`` accept: JSON values, text, bytes or a file-like object."""

GroupsRequest = Union[List[str], AddToGroupsRequest, RemoveFromGroupsRequest, Mapping[str, Any], IO[bytes], bytes]
"""What the batch group operations accept: group names (with ``filter=``), the body as a model or dict, or JSON."""

ERROR_CODE_HEADER = "x-ms-error-code"
"""The response header in which the service names the error, also when the response has no body."""

_ERROR_MAP: Dict[int, Any] = {
    401: ClientAuthenticationError,
    404: ResourceNotFoundError,
    409: ResourceExistsError,
    304: ResourceNotModifiedError,
}

_T = TypeVar("_T")


def untraced(operation: Callable[..., _T]) -> Callable[..., _T]:
    """Return a generated operation without its ``distributed_trace`` wrapper.

    The hand-written operations are decorated themselves and call the generated one inside their span; going through
    the generated wrapper again would only re-check the tracing settings (or, with a tracing plugin, open a second
    span of the same name).

    :param operation: The generated operation (a function of the generated mixin class).
    :type operation: callable
    :return: The function the decorator wrapped, or ``operation`` if it is not wrapped.
    :rtype: callable
    """
    return getattr(operation, "__wrapped__", operation)


# ---------------------------------------------------------------------------------------------------- send_to_*
#
# The generated ``send_to_*`` operations build the request one parameter at a time through the generated
# ``Serializer`` (path and query quoting), then ``HttpRequest`` parses and re-joins the query and ``format_url`` joins
# the endpoint: ~25 us per call, more than all the SDK's own policies together. For a given operation, client
# configuration and set of URL-shaping arguments the result is always the same, so each client keeps a small memo of
# what the generated builder produced (method, absolute URL, headers) and builds later requests from it. The generated
# builder stays the only place that knows how the URL is formed; a call with options the memo does not cover (caller
# ``headers`` or ``params``, ``error_map``, ``cls``) goes through the generated operation unchanged.

_SEND_MEMO_ATTRIBUTE = "_webpubsub_send_requests"
_SEND_MEMO_SIZE = 256
_BUILDER_OPTIONS = ("headers", "content_type", "message_ttl_seconds")


def _memo_key_part(value: Any) -> Any:
    # The type is part of the key: 1, 1.0 and True are equal as dict keys but are serialised differently.
    if isinstance(value, list):
        return (list, tuple((type(item), item) for item in value))
    return (type(value), value)


def send_request(
    client: Any, builder: Callable[..., HttpRequest], body: Any, options: Mapping[str, Any], **arguments: Any
) -> Optional[Tuple[HttpRequest, Dict[str, Any]]]:
    """Build the request of a ``send_to_*`` operation as the generated operation would, from the client's memo.

    :param client: The client (it has the generated ``_config``, ``_client`` and ``_serialize``).
    :type client: any
    :param builder: The generated request builder of the operation, such as
        ``build_web_pub_sub_service_send_to_all_request``.
    :type builder: callable
    :param body: The encoded message (bytes or a stream), sent as the request content.
    :type body: any
    :param options: The keyword arguments :func:`~._sansio.send_arguments` prepared for the generated operation.
    :type options: ~collections.abc.Mapping
    :param arguments: The operation's path and query arguments (``user_id``, ``group``, ``excluded``, ``filter``...).
    :return: The request and the keyword arguments for ``pipeline.run``; None when the call must go through the
        generated operation (caller headers or params, ``error_map``, ``cls``, or arguments that cannot be memoised).
    :rtype: tuple[~azure.core.rest.HttpRequest, dict[str, any]] or None
    """
    if options.get("headers") or "params" in options or "error_map" in options or "cls" in options:
        return None
    config = client._config
    arguments["message_ttl_seconds"] = options.get("message_ttl_seconds")
    content_type = options.get("content_type")
    try:
        key = (
            builder,
            _memo_key_part(config.endpoint),
            _memo_key_part(config.hub),
            _memo_key_part(config.api_version),
            _memo_key_part(content_type),
            *((name, _memo_key_part(value)) for name, value in sorted(arguments.items())),
        )
        memo: Dict[Any, Tuple[str, str, Dict[str, str]]] = client.__dict__.setdefault(_SEND_MEMO_ATTRIBUTE, {})
        entry = memo.get(key)
    except TypeError:  # an unhashable argument: let the generated operation handle it
        return None
    if entry is None:
        # Exactly what the generated operation does, without the content (the body is added per request below).
        built = builder(
            hub=config.hub,
            content_type=content_type,
            api_version=config.api_version,
            content=None,
            headers={},
            params={},
            **arguments,
        )
        endpoint = client._serialize.url("self._config.endpoint", config.endpoint, "str", skip_quote=True)
        entry = (built.method, client._client.format_url(built.url, endpoint=endpoint), dict(built.headers.items()))
        if len(memo) >= _SEND_MEMO_SIZE:
            memo.clear()
        memo[key] = entry
    method, url, headers = entry
    run_options = {name: value for name, value in options.items() if name not in _BUILDER_OPTIONS}
    return HttpRequest(method, url, headers=headers, content=body), run_options


def expect_status(pipeline_response: PipelineResponse[Any, Any], status: int) -> None:
    """Check the status of a ``send_to_*`` response as the generated operation does.

    :param pipeline_response: The pipeline response.
    :type pipeline_response: ~azure.core.pipeline.PipelineResponse
    :param int status: The one success status of the operation.
    :raises ~azure.core.exceptions.HttpResponseError: For any other status (mapped, with error details).
    """
    response = pipeline_response.http_response
    if response.status_code != status:
        map_error(status_code=response.status_code, response=response, error_map=_ERROR_MAP)
        raise response_error(response=response)


# ---------------------------------------------------------------------------------------------------- errors


def _body_json(response: Any) -> Any:
    try:
        return json.loads(response.text())
    except Exception:  # a streamed, empty or non-JSON body simply has no JSON
        return None


def _body_text(response: Any) -> str:
    try:
        return str(response.text() or "")
    except Exception:  # a streamed response whose body was not read
        return ""


def add_error_details(error: BaseException) -> BaseException:
    """Give an :class:`~azure.core.exceptions.HttpResponseError` the service's error code and model.

    azure-core reads the error only from a JSON body. When there is none (a HEAD response never has one, and a proxy
    may answer with plain text) but the response carries ``x-ms-error-code``, ``error`` is built from that header
    (``error.code``), and the message becomes ``(<code>) <the body text, or the status>``. ``model`` is set to an
    :class:`~azure.messaging.webpubsubservice.models.ErrorDetail` of the JSON error object, or of the header.
    Anything else passes through unchanged.

    :param error: The exception about to be raised.
    :type error: BaseException
    :return: The same exception, amended in place.
    :rtype: BaseException
    """
    if not isinstance(error, HttpResponseError) or error.response is None:
        return error
    response: Any = error.response
    if error.error is None:
        code = response.headers.get(ERROR_CODE_HEADER)
        if code:
            message = _body_text(response).strip()[:2048] or error.message
            error.error = ODataV4Format({"code": code, "message": message})
            error.message = str(error.error)
            error.args = (error.message,)
    if error.model is None and error.error is not None:
        body = _body_json(response)
        detail = body.get("error", body) if isinstance(body, dict) else None
        if isinstance(detail, dict):
            error.model = ErrorDetail(detail)
        else:
            error.model = ErrorDetail(code=error.error.code, message=error.error.message)
    return error


def response_error(response: Any = None, **kwargs: Any) -> HttpResponseError:
    """Build the :class:`~azure.core.exceptions.HttpResponseError` for an unexpected status, with error details.

    It stands in for ``HttpResponseError(response=...)`` in the generated operations (see
    :func:`install_error_details`).

    :param response: The response.
    :type response: ~azure.core.rest.HttpResponse
    :return: The exception to raise.
    :rtype: ~azure.core.exceptions.HttpResponseError
    """
    error = HttpResponseError(response=response, **kwargs)
    add_error_details(error)
    return error


def map_error(status_code: int, response: Any, error_map: Mapping[int, Any]) -> None:
    """azure-core's :func:`~azure.core.exceptions.map_error`, with :func:`add_error_details` applied.

    :param int status_code: The status code.
    :param response: The response.
    :type response: ~azure.core.rest.HttpResponse
    :param error_map: Status code to exception type.
    :type error_map: ~collections.abc.Mapping[int, type]
    :raises ~azure.core.exceptions.HttpResponseError: The mapped exception, when the status is mapped.
    """
    try:
        _core_map_error(status_code=status_code, response=response, error_map=error_map)
    except HttpResponseError as error:
        add_error_details(error)
        raise


def install_error_details(generated_module: ModuleType) -> None:
    """Make a generated operations module raise errors with details (see :func:`add_error_details`).

    The generated operations call the module-level names ``map_error`` and ``HttpResponseError``; this rebinds them
    to :func:`map_error` and :func:`response_error`. The generated file itself is not changed. Called once by
    ``patch_sdk()``.

    :param generated_module: ``_operations._operations`` or ``aio._operations._operations``.
    :type generated_module: ~types.ModuleType
    """
    generated_module.map_error = map_error  # type: ignore[attr-defined]
    generated_module.HttpResponseError = response_error  # type: ignore[attr-defined]


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


def checked(pipeline_response: PipelineResponse[Any, Any], error_map: Mapping[int, Any]) -> PipelineResponse[Any, Any]:
    """Return a 200 response; raise the mapped error (with details) for any other status.

    :param pipeline_response: The pipeline response.
    :type pipeline_response: ~azure.core.pipeline.PipelineResponse
    :param error_map: Status code to exception type.
    :type error_map: ~collections.abc.Mapping[int, type]
    :return: The pipeline response.
    :rtype: ~azure.core.pipeline.PipelineResponse
    :raises ~azure.core.exceptions.HttpResponseError: For a status other than 200.
    """
    response = pipeline_response.http_response
    if response.status_code != 200:
        map_error(status_code=response.status_code, response=response, error_map=error_map)
        raise response_error(response=response)
    return pipeline_response


# ---------------------------------------------------------------------------------------------------- list_connections


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


def prepare_list_connections_request(
    client: Any,
    group: str,
    options: Mapping[str, Any],
    next_link: Optional[str],
) -> HttpRequest:
    """Build the request of one ``list_connections`` page.

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


def member_page(pipeline_response: PipelineResponse[Any, Any], cls: Any) -> Tuple[Optional[str], Any]:
    """Read one ``list_connections`` page: its next link and its members (through ``cls`` when given).

    :param pipeline_response: The page's pipeline response.
    :type pipeline_response: ~azure.core.pipeline.PipelineResponse
    :param cls: The caller's ``cls`` hook, or None.
    :type cls: callable or None
    :return: The next link (None on the last page) and the items.
    :rtype: tuple[str or None, list[~azure.messaging.webpubsubservice.GroupMember]]
    """
    next_link, members = group_member_page(pipeline_response.http_response.json())
    items: List[GroupMember] = cls(members) if cls else members
    return next_link, items


# ---------------------------------------------------------------------------------------------------- group batches


def batch_groups_body(
    groups: Any, filter: Optional[str], kwargs: MutableMapping[str, Any], keyword: str, operation: str
) -> Any:
    """Resolve the request of ``add_connections_to_groups`` / ``remove_connections_from_groups`` into its body.

    :param groups: The positional argument: group names, a dict or model, serialised JSON, or None.
    :type groups: any
    :param filter: The ``filter`` keyword.
    :type filter: str or None
    :param kwargs: The other keyword arguments; the upstream keyword name (``keyword``) is removed.
    :type kwargs: ~collections.abc.MutableMapping
    :param str keyword: ``groups_to_add`` or ``groups_to_remove``, accepted instead of the positional argument.
    :param str operation: The method name, for the error message.
    :return: The body for the generated operation.
    :rtype: dict or bytes or IO[bytes]
    :raises TypeError: If no request is given.
    :raises ValueError: If the request is malformed.
    """
    request = groups if groups is not None else kwargs.pop(keyword, None)
    if request is None:
        raise TypeError(f"{operation}() missing the 'groups' argument")
    return groups_request_body(request, filter, "groups")


# ---------------------------------------------------------------------------------------------------- client tokens


class ServiceTokenRequest(NamedTuple):
    """A client access token the service has to mint: the generated call's arguments and the client URL."""

    base_url: str
    """The client URL without the token."""
    arguments: Dict[str, Any]
    """The keyword arguments of the generated ``get_client_access_token``."""

    def result(self, response: Any) -> Dict[str, str]:
        """Build the ``get_client_access_token`` result from the service's answer.

        :param response: The decoded ``:generateToken`` response.
        :type response: dict
        :return: ``{"baseUrl", "token", "url"}``.
        :rtype: dict[str, str]
        """
        return service_token_result(self.base_url, response)


def client_access_token(
    config: Any,
    user_id: Optional[str],
    roles: Optional[List[str]],
    minutes_to_expire: int,
    jwt_headers: Optional[Dict[str, Any]],
    groups: Optional[List[str]],
    client_protocol: Any,
) -> Union[Dict[str, str], ServiceTokenRequest]:
    """Decide how ``get_client_access_token`` gets its token: signed here with a key, or minted by the service.

    :param config: The client configuration (``endpoint``, ``hub``, ``credential``).
    :type config: any
    :param user_id: The user id.
    :type user_id: str or None
    :param roles: The roles.
    :type roles: list[str] or None
    :param int minutes_to_expire: The lifetime in minutes.
    :param jwt_headers: Extra JWT header fields (key credential only).
    :type jwt_headers: dict[str, any] or None
    :param groups: The initial groups.
    :type groups: list[str] or None
    :param client_protocol: The client protocol.
    :type client_protocol: str or ~azure.messaging.webpubsubservice.models.WebPubSubClientProtocol or None
    :return: The finished result with a key credential; otherwise the service call to make.
    :rtype: dict[str, str] or ServiceTokenRequest
    :raises ValueError: If the protocol is not supported.
    """
    protocol = normalize_client_protocol(client_protocol)
    claims: Dict[str, Any] = dict(user_id=user_id, roles=roles, minutes_to_expire=minutes_to_expire, groups=groups)
    credential = config.credential
    if isinstance(credential, AzureKeyCredential):
        return local_client_token(
            config.endpoint, config.hub, credential.key, jwt_headers=jwt_headers, client_protocol=protocol, **claims
        )
    target = client_token_target(config.endpoint, config.hub, protocol)
    arguments = {**claims, "client_protocol": protocol.value}
    return ServiceTokenRequest(target.base_url, arguments)


def _one_of(name: str, value: Any, alias: str, alias_value: Any) -> Optional[List[str]]:
    if value is not None and alias_value is not None:
        raise TypeError(f"generate_client_token() got both '{name}' and '{alias}'; pass one of them")
    chosen = value if value is not None else alias_value
    if chosen is None:
        return None
    names: Sequence[Any] = [chosen] if isinstance(chosen, str) else list(chosen)
    return [str(item) for item in names] or None


def _client_type_value(client_type: Any) -> Optional[str]:
    if client_type is None:
        return None
    try:
        return normalize_client_protocol(client_type).value
    except ValueError:
        return str(client_type)  # the enum is extensible: an unknown type is the service's to judge


def generate_token_arguments(
    user_id: Optional[str],
    role: Any,
    roles: Any,
    group: Any,
    groups: Any,
    minutes_to_expire: Optional[int],
    client_type: Any,
) -> Dict[str, Any]:
    """Map the keywords of ``generate_client_token`` onto the generated ``:generateToken`` call.

    ``role``/``roles`` and ``group``/``groups`` are synonyms (a str counts as one name; empty lists send nothing).
    ``client_type`` is sent with its canonical spelling when known (``Default``, ``MQTT``, ``SocketIO``, any
    letter case), otherwise as given; None sends none.

    :param user_id: The user id.
    :type user_id: str or None
    :param role: The roles (upstream's name).
    :type role: list[str] or None
    :param roles: The roles.
    :type roles: list[str] or None
    :param group: The groups (upstream's name).
    :type group: list[str] or None
    :param groups: The groups.
    :type groups: list[str] or None
    :param minutes_to_expire: The lifetime in minutes.
    :type minutes_to_expire: int or None
    :param client_type: The client type.
    :type client_type: str or ~azure.messaging.webpubsubservice.models.WebPubSubClientType or None
    :return: The keyword arguments of the generated ``get_client_access_token``.
    :rtype: dict[str, any]
    :raises TypeError: If a synonym pair is given twice.
    """
    return {
        "user_id": user_id,
        "roles": _one_of("role", role, "roles", roles),
        "minutes_to_expire": minutes_to_expire,
        "groups": _one_of("group", group, "groups", groups),
        "client_protocol": _client_type_value(client_type),
    }


def token_response(result: Any, kwargs: Mapping[str, Any]) -> Any:
    """Wrap the generated ``:generateToken`` result in a :class:`ClientTokenResponse` (unless ``cls`` shaped it).

    :param result: The generated operation's return value.
    :type result: any
    :param kwargs: The keyword arguments the caller passed (to see whether ``cls`` was given).
    :type kwargs: ~collections.abc.Mapping
    :return: The response model, or what ``cls`` returned.
    :rtype: ~azure.messaging.webpubsubservice.models.ClientTokenResponse or any
    """
    if kwargs.get("cls") is not None or not isinstance(result, Mapping):
        return result
    return ClientTokenResponse(result)


# ---------------------------------------------------------------------------------------------------- construction


class ConnectionStringConstructor:
    """``from_connection_string`` for the sync and the async client (a mixin placed before the generated client)."""

    @classmethod
    def from_connection_string(cls, connection_string: str, hub: str, **kwargs: Any) -> Self:
        """Create a client from a connection string such as ``Endpoint=https://...;AccessKey=...;Version=1.0;``.

        A plain (not async) classmethod on both clients. Keys are case-insensitive; ``Endpoint`` and ``AccessKey``
        are required, ``Port`` is applied to the endpoint, ``Version`` and unknown keys are ignored. ``endpoint=`` and
        ``port=`` keyword arguments take precedence over the connection string.

        :param str connection_string: The connection string.
        :param str hub: The hub.
        :return: A client of this class, signing its requests with the access key.
        :rtype: ~azure.messaging.webpubsubservice.WebPubSubServiceClient or
            ~azure.messaging.webpubsubservice.aio.WebPubSubServiceClient
        :raises ValueError: If the connection string is malformed. The message never contains its values.
        """
        endpoint, access_key, rest = connection_string_settings(connection_string, kwargs)
        return cls(endpoint, hub, AzureKeyCredential(access_key), **rest)  # type: ignore[call-arg]
