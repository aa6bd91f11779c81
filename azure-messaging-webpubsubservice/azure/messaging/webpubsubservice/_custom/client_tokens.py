# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""Client access tokens: the URL a WebSocket, MQTT or Socket.IO client connects to, and the token it carries.

With an access key the token is signed here (``get_client_access_token``); with an Entra credential, or always with
``generate_client_token``, the service mints it (``POST :generateToken``) and this module prepares that call and reads
its answer.
"""

import time
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Union
from urllib.parse import urlsplit

from azure.core.credentials import AzureKeyCredential

from .jwt_signing import sign_hs256
from .models import ClientTokenResponse, WebPubSubClientProtocol

__all__ = [
    "ClientTokenTarget",
    "ServiceTokenRequest",
    "check_token_arguments",
    "client_access_token",
    "client_token_result",
    "client_token_target",
    "generate_token_arguments",
    "normalize_client_protocol",
    "service_token_result",
    "sign_client_token",
    "token_response",
]

_PROTOCOL_PATHS = {
    WebPubSubClientProtocol.DEFAULT: "/client/hubs/",
    WebPubSubClientProtocol.MQTT: "/clients/mqtt/hubs/",
    WebPubSubClientProtocol.SOCKETIO: "/clients/socketio/hubs/",
}


def normalize_client_protocol(protocol: Any) -> WebPubSubClientProtocol:
    """Resolve a client protocol given as a str (any letter case), an enum member or None (the default).

    :param protocol: ``"Default"``, ``"MQTT"``, ``"SocketIO"`` in any letter case, a
        :class:`~azure.messaging.webpubsubservice.models.WebPubSubClientProtocol` or
        :class:`~azure.messaging.webpubsubservice.models.WebPubSubClientType` member, or None.
    :type protocol: str or None
    :return: The protocol.
    :rtype: ~azure.messaging.webpubsubservice.models.WebPubSubClientProtocol
    :raises ValueError: For any other value.
    """
    if protocol is None:
        return WebPubSubClientProtocol.DEFAULT
    if isinstance(protocol, WebPubSubClientProtocol):
        return protocol
    if isinstance(protocol, str):
        try:
            return WebPubSubClientProtocol(protocol.value if hasattr(protocol, "value") else protocol)
        except ValueError:
            pass
    raise ValueError("Unsupported client_protocol: expected one of 'Default', 'MQTT' or 'SocketIO' (any letter case)")


def check_token_arguments(
    user_id: Any, minutes_to_expire: Any, jwt_headers: Any = None, *, minutes_optional: bool = False
) -> None:
    """Refuse the token arguments that would silently give a token other than the one asked for.

    * ``user_id``: None, or a non-empty str. An int would give a token the service rejects with a misleading message,
      and ``""`` would silently give a token without a user (pass None for that).
    * ``minutes_to_expire``: an int of at least 1. A str such as ``"60"`` used to give a token that never expires, and
      a negative one a token that has already expired.
    * ``jwt_headers``: a mapping without ``alg``; the token is always signed with HS256 and the access key.

    :param user_id: The user id.
    :type user_id: str or None
    :param minutes_to_expire: The lifetime in minutes.
    :type minutes_to_expire: int
    :param jwt_headers: Extra JWT header fields.
    :type jwt_headers: dict[str, any] or None
    :keyword bool minutes_optional: None is allowed for ``minutes_to_expire`` (the service's default).
    :raises TypeError: If an argument has the wrong type.
    :raises ValueError: If ``user_id`` is empty, ``minutes_to_expire`` is below 1, or ``jwt_headers`` sets ``alg``.
    """
    if user_id is not None:
        if not isinstance(user_id, str):
            raise TypeError(f"user_id must be a str, not {type(user_id).__name__}")
        if not user_id:
            raise ValueError("user_id must not be empty; leave it None for a client without a user")
    if not (minutes_optional and minutes_to_expire is None):
        if isinstance(minutes_to_expire, bool) or not isinstance(minutes_to_expire, int):
            raise TypeError(f"minutes_to_expire must be an int (minutes), not {type(minutes_to_expire).__name__}")
        if minutes_to_expire < 1:
            raise ValueError("minutes_to_expire must be at least 1")
    if jwt_headers is not None:
        if not isinstance(jwt_headers, Mapping):
            raise TypeError(f"jwt_headers must be a mapping, not {type(jwt_headers).__name__}")
        if any(isinstance(name, str) and name.lower() == "alg" for name in jwt_headers):
            raise ValueError("jwt_headers cannot set 'alg': client access tokens are always signed with HS256")


class ClientTokenTarget(NamedTuple):
    """Where a client connects: the URL it uses and the audience its token names."""

    base_url: str
    """The WebSocket URL without the token, such as ``wss://host/client/hubs/Hub``."""
    audience: str
    """The token audience, such as ``https://host/client/hubs/Hub``."""


def client_token_target(endpoint: str, hub: str, protocol: WebPubSubClientProtocol) -> ClientTokenTarget:
    """Compute the client URL and the token audience for a hub.

    The scheme and host are lowercased (a path prefix keeps its case), trailing ``/`` is removed and the hub keeps its
    case. ``http`` becomes ``ws`` and ``https`` becomes ``wss`` in the URL; the audience keeps the HTTP scheme.

    :param str endpoint: The service endpoint (not a reverse proxy), port included.
    :param str hub: The hub.
    :param protocol: The client protocol.
    :type protocol: ~azure.messaging.webpubsubservice.models.WebPubSubClientProtocol
    :return: The client base URL and the audience.
    :rtype: ClientTokenTarget
    :raises ValueError: If the endpoint's scheme is not http or https.
    """
    parts = urlsplit(endpoint.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("The endpoint must be an absolute http:// or https:// URL")
    http_endpoint = f"{scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"
    ws_endpoint = ("ws" if scheme == "http" else "wss") + http_endpoint[len(scheme) :]
    suffix = _PROTOCOL_PATHS[protocol] + hub
    return ClientTokenTarget(base_url=ws_endpoint + suffix, audience=http_endpoint + suffix)


def _string_list(values: Optional[Union[str, Iterable[str]]]) -> List[str]:
    if not values:
        return []
    if isinstance(values, str):
        return [values]
    return [str(value) for value in values]


def sign_client_token(
    key: str,
    audience: str,
    *,
    user_id: Optional[str] = None,
    roles: Optional[Iterable[str]] = None,
    groups: Optional[Iterable[str]] = None,
    minutes_to_expire: int = 60,
    jwt_headers: Optional[Mapping[str, Any]] = None,
    now: Optional[float] = None,
) -> str:
    """Sign a client access token locally with the access key.

    Claims: ``aud``, ``iat``, ``exp`` (``iat`` + ``minutes_to_expire`` minutes), ``sub`` (when ``user_id`` is
    non-empty), ``role`` (a list, when non-empty) and ``webpubsub.group`` (a list, when non-empty).

    :param str key: The access key, used as the raw HMAC-SHA256 key.
    :param str audience: The audience, from :func:`client_token_target`.
    :keyword user_id: The user id.
    :paramtype user_id: str or None
    :keyword roles: The roles, such as ``webpubsub.joinLeaveGroup.<group>``.
    :paramtype roles: list[str] or None
    :keyword groups: The groups the connection joins on connect.
    :paramtype groups: list[str] or None
    :keyword int minutes_to_expire: The token lifetime in minutes. Default 60.
    :keyword jwt_headers: Extra JWT header fields, such as ``kid``.
    :paramtype jwt_headers: dict[str, any] or None
    :keyword now: The current time in seconds since the epoch (for tests); defaults to the clock.
    :paramtype now: float or None
    :return: The signed token.
    :rtype: str
    """
    issued = int(time.time() if now is None else now)
    claims: Dict[str, Any] = {
        "aud": audience,
        "iat": issued,
        "exp": issued + int(minutes_to_expire * 60),
    }
    if user_id:
        claims["sub"] = user_id
    role_list = _string_list(roles)
    if role_list:
        claims["role"] = role_list
    group_list = _string_list(groups)
    if group_list:
        claims["webpubsub.group"] = group_list
    return sign_hs256(claims, key, jwt_headers)


def client_token_result(base_url: str, token: str) -> Dict[str, str]:
    """Build the dict returned by ``get_client_access_token``.

    :param str base_url: The client base URL.
    :param str token: The access token.
    :return: ``{"baseUrl": ..., "token": ..., "url": "<baseUrl>?access_token=<token>"}``.
    :rtype: dict[str, str]
    """
    return {"baseUrl": base_url, "token": token, "url": f"{base_url}?access_token={token}"}


def service_token_result(base_url: str, response: Any) -> Dict[str, str]:
    """Build the ``get_client_access_token`` result from the service's ``:generateToken`` response.

    :param str base_url: The client base URL.
    :param response: The decoded response, ``{"token": "..."}``.
    :type response: dict
    :return: ``{"baseUrl", "token", "url"}``.
    :rtype: dict[str, str]
    :raises ValueError: If the response holds no token.
    """
    token = response.get("token") if isinstance(response, Mapping) else None
    if not isinstance(token, str) or not token:
        raise ValueError("The service's generateToken response holds no token")
    return client_token_result(base_url, token)


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
    roles: Optional[Iterable[str]],
    minutes_to_expire: int,
    jwt_headers: Optional[Mapping[str, Any]],
    groups: Optional[Iterable[str]],
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
    :raises ValueError: If the protocol is not supported, or an argument is refused by :func:`check_token_arguments`.
    :raises TypeError: If an argument has the wrong type (see :func:`check_token_arguments`).
    """
    check_token_arguments(user_id, minutes_to_expire, jwt_headers)
    protocol = normalize_client_protocol(client_protocol)
    claims: Dict[str, Any] = {
        "user_id": user_id,
        "roles": _string_list(roles) or None,  # a str is one role, not its characters
        "minutes_to_expire": minutes_to_expire,
        "groups": _string_list(groups) or None,
    }
    target = client_token_target(config.endpoint, config.hub, protocol)
    credential = config.credential
    if isinstance(credential, AzureKeyCredential):  # signed here
        token = sign_client_token(credential.key, target.audience, jwt_headers=jwt_headers, **claims)
        return client_token_result(target.base_url, token)
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
    :raises TypeError: If a synonym pair is given twice, or an argument has the wrong type.
    :raises ValueError: If ``user_id`` is empty or ``minutes_to_expire`` is below 1.
    """
    check_token_arguments(user_id, minutes_to_expire, minutes_optional=True)
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
