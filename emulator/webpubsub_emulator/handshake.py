"""The decisions of a WebSocket client handshake at ``/client``, free of IO.

From the upgrade request: the hub (``/client/hubs/<hub>`` or ``/client/?hub=<hub>``), the subprotocols offered and the
one chosen (the first supported; a ``connect`` handler may pick another offered one), whether it is a recovery (the
``awps_connection_id`` / ``awps_reconnection_token`` pair), the access token (``access_token`` query, or a bearer
header), the identity in its claims (user, roles, initial groups), the effect of a ``connect`` answer, the client
protocol the session will speak, and a raw client's mode. Every refusal is an :class:`~.errors.EmulatorError` whose
class says the HTTP status (404 for another path, 400 for bad values, 401 for a missing or unusable identity, 500 for a
``connect`` answer that cannot be used).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Iterable, NamedTuple, Optional, Sequence
from urllib.parse import unquote

from multidict import MultiMapping

from . import auth, limits
from .clients import ClientProtocol
from .errors import BadRequest, NotFound, Unauthorized, UpstreamError
from .json_clients import JSON
from .protocol import JSON_PROTOCOL, RELIABLE_PROTOCOL, SUPPORTED_PROTOCOLS
from .raw_clients import RAW, SEND_EVENT, RawMode
from .reliable_clients import RELIABLE
from .roles import PermissionState, RoleError
from .upstream_contract import ConnectOutcome
from .validation import ValidationError, validate_group, validate_hub, validate_user_id

if TYPE_CHECKING:
    from .exposure import ServerNames

__all__ = [
    "Admission",
    "admit",
    "choose_subprotocol",
    "client_claims",
    "hub_of",
    "kind_of",
    "offered_subprotocols",
    "raw_mode_of",
    "recovery_pair",
    "token_of",
    "with_connect_outcome",
]

log = logging.getLogger(__name__)

_KINDS: dict[str, ClientProtocol] = {JSON_PROTOCOL: JSON, RELIABLE_PROTOCOL: RELIABLE}


def hub_of(raw_path: str, query_hub: Optional[str]) -> str:
    """The hub a client connects to: ``/client/hubs/<hub>`` (percent-decoded) or ``/client/?hub=<hub>``."""
    segments = [unquote(s) for s in raw_path.split("?", 1)[0].split("/")]
    if len(segments) == 4 and segments[:3] == ["", "client", "hubs"]:
        hub = segments[3]
    elif segments in (["", "client"], ["", "client", ""]):
        hub = query_hub or ""
        if not hub:
            raise BadRequest("The query parameter 'hub' is required.")
    else:
        raise NotFound("No such endpoint.")
    return validate_hub(hub)


def offered_subprotocols(headers: Iterable[str]) -> list[str]:
    """The subprotocols of every ``Sec-WebSocket-Protocol`` header, in order."""
    offered: list[str] = []
    for header in headers:
        offered.extend(p.strip() for p in header.split(",") if p.strip())
    return offered


def choose_subprotocol(offered: Sequence[str]) -> Optional[str]:
    """The first offered subprotocol the emulator supports (None: a raw client)."""
    return next((p for p in offered if p in SUPPORTED_PROTOCOLS), None)


def kind_of(subprotocol: Optional[str]) -> ClientProtocol:
    """The client protocol of a chosen subprotocol (raw for none, or for a custom one a handler selected)."""
    return _KINDS.get(subprotocol or "", RAW)


def recovery_pair(query: MultiMapping[str]) -> Optional[tuple[str, str]]:
    """``(connection id, reconnection token)`` when the request is a recovery (either parameter given), else None."""
    conn_id = query.get("awps_connection_id")
    token = query.get("awps_reconnection_token")
    if conn_id is None and token is None:
        return None
    return conn_id or "", token or ""


def token_of(query_token: Optional[str], authorization: Optional[str]) -> str:
    """The client's access token: the ``access_token`` query parameter, else a bearer ``Authorization`` header."""
    token = query_token
    if not token:
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() == "bearer":
            token = value.strip()
    if not token:
        raise Unauthorized("An access token is required (access_token query or bearer header).")
    return token


def client_claims(
    query_token: Optional[str],
    authorization: Optional[str],
    access_key: str,
    *,
    hub: str,
    names: ServerNames,
    client_type: str = "Default",
) -> dict[str, Any]:
    """The verified claims of a client's access token (:func:`token_of`), its ``aud`` on the client type's endpoint."""
    claims = auth.decode_token(token_of(query_token, authorization), access_key)
    auth.check_client_audience(claims, hub=hub, names=names, client_type=client_type)
    return claims


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


class Admission(NamedTuple):
    """Who is being let in: hub, user, permissions, initial groups, chosen subprotocol, connection state."""

    hub: str
    user_id: Optional[str]
    permissions: PermissionState
    groups: list[str]
    subprotocol: Optional[str]
    connection_state: Optional[str] = None


def admit(hub: str, claims: dict[str, Any], subprotocol: Optional[str]) -> Admission:
    """The identity in verified token claims: ``sub`` (at most one), ``role`` (list or str), ``webpubsub.group`` and
    ``group`` (list or str; each a valid group name)."""
    subs = _as_list(claims.get("sub"))
    if len(subs) > 1:
        raise Unauthorized("The access token carries more than one 'sub' claim.")
    user_id = None if not subs or subs[0] is None else str(subs[0])
    if user_id:
        try:
            validate_user_id(user_id, what="user id in the access token's 'sub' claim")
        except ValidationError as exc:
            raise BadRequest(exc.message) from None
    roles = [r for r in _as_list(claims.get("role")) if isinstance(r, str)]
    groups: list[str] = []
    for group in _as_list(claims.get("webpubsub.group")) + _as_list(claims.get("group")):
        if not isinstance(group, str):
            raise BadRequest("The token's group claim must hold strings.")
        groups.append(validate_group(group))
    if len(set(groups)) > limits.MAX_GROUPS_PER_CONNECTION:
        raise BadRequest(f"The access token names more than {limits.MAX_GROUPS_PER_CONNECTION} groups.")
    try:
        permissions = PermissionState(roles)
    except RoleError as exc:
        raise BadRequest(f"Invalid role in the access token: {exc}") from None
    return Admission(hub, user_id or None, permissions, groups, subprotocol)


def with_connect_outcome(admission: Admission, outcome: ConnectOutcome) -> Admission:
    """Apply a ``connect`` answer: its user, subprotocol and state; its roles replace the token's; non-empty groups
    replace the token's. An invalid role in it is a handler failure (500)."""
    permissions = admission.permissions
    if outcome.roles is not None:
        try:
            permissions.replace_roles(outcome.roles)
        except RoleError:
            log.warning("connect handler returned an invalid role; upgrade refused")
            raise UpstreamError("The connect event handler failed.") from None
    groups = outcome.groups if outcome.groups else admission.groups
    return Admission(admission.hub, outcome.user_id, permissions, groups, outcome.subprotocol, outcome.state)


def raw_mode_of(query: MultiMapping[str]) -> RawMode:
    """A raw client's mode: ``webpubsub_mode=sendEvent`` (the default) or ``sendToGroup`` with exactly one ``group``
    (and ``noEcho=true`` to skip the sender)."""
    mode = query.get("webpubsub_mode", "sendEvent")
    if mode.lower() == "sendevent":
        return SEND_EVENT
    if mode.lower() != "sendtogroup":
        raise BadRequest("webpubsub_mode must be 'sendEvent' or 'sendToGroup'.")
    groups = query.getall("group", [])
    if len(groups) != 1:
        raise BadRequest("webpubsub_mode=sendToGroup needs exactly one 'group' parameter.")
    no_echo = query.get("noEcho", "false").lower() == "true"
    return RawMode("sendToGroup", validate_group(groups[0]), no_echo)
