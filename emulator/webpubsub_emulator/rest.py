"""aiohttp adapter for the data-plane REST API: the 25 operations, translated onto :class:`~.core.Core`."""

from __future__ import annotations

import base64
import binascii
import codecs
import json
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Optional
from urllib.parse import quote, unquote, urlencode

from aiohttp import web
from multidict import MultiMapping

from . import auth
from .core import Connection, Core
from .odata import CompiledFilter, FilterError, parse_filter
from .protocol import Payload, dumps
from .roles import JOIN_LEAVE_GROUP, SEND_TO_GROUP, RoleError
from .validation import (
    ValidationError,
    parse_int,
    validate_api_version,
    validate_group,
    validate_hub,
    validate_id,
)

__all__ = ["MAX_BODY_BYTES", "ApiError", "RestApi", "error_response"]

log = logging.getLogger(__name__)

#: Request bodies larger than this get 413.
MAX_BODY_BYTES = 1024 * 1024
MAX_PAGE_SIZE = 200
INT32_MAX = 2**31 - 1
_SEND_TYPES = ("application/json", "text/plain", "application/octet-stream")
_METADATA_PREFIX = "x-webpubsub-metadata-"


class ApiError(Exception):
    """An error answered with a flat ``{"code","message"}`` body and the ``x-ms-error-code`` header."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _bad(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def error_response(status: int, code: str, message: str, *, head: bool = False) -> web.Response:
    """Build an error response; HEAD responses carry the header but no body."""
    headers = {"x-ms-error-code": code}
    if head:
        return web.Response(status=status, headers=headers)
    return web.Response(
        status=status,
        headers=headers,
        body=dumps({"code": code, "message": message}).encode("utf-8"),
        content_type="application/json",
    )


@dataclass
class _Ctx:
    request: web.Request
    hub: str
    params: dict[str, str]

    @property
    def query(self) -> MultiMapping[str]:
        return self.request.query


Handler = Callable[[_Ctx], Awaitable[web.StreamResponse]]


def _empty(status: int) -> web.Response:
    return web.Response(status=status)


class RestApi:
    """The REST operations over a shared :class:`Core`. ``endpoint`` is the emulator's own base URL."""

    def __init__(self, core: Core, access_key: str, endpoint: str) -> None:
        self.core = core
        self.access_key = access_key
        self.endpoint = endpoint
        H = "{hub}"
        self._routes: list[tuple[str, tuple[str, ...], Handler]] = [
            ("POST", (H, ":addToGroups"), self.add_connections_to_groups),
            ("POST", (H, ":closeConnections"), self.close_all),
            ("POST", (H, ":generateToken"), self.generate_token),
            ("POST", (H, ":removeFromGroups"), self.remove_connections_from_groups),
            ("POST", (H, ":send"), self.send_to_all),
            ("DELETE", (H, "connections", "{connectionId}"), self.close_connection),
            ("HEAD", (H, "connections", "{connectionId}"), self.connection_exists),
            ("POST", (H, "connections", "{connectionId}", ":send"), self.send_to_connection),
            ("DELETE", (H, "connections", "{connectionId}", "groups"), self.remove_connection_from_all_groups),
            ("HEAD", (H, "groups", "{group}"), self.group_exists),
            ("POST", (H, "groups", "{group}", ":closeConnections"), self.close_group),
            ("POST", (H, "groups", "{group}", ":send"), self.send_to_group),
            ("GET", (H, "groups", "{group}", "connections"), self.list_connections_in_group),
            ("DELETE", (H, "groups", "{group}", "connections", "{connectionId}"), self.remove_connection_from_group),
            ("PUT", (H, "groups", "{group}", "connections", "{connectionId}"), self.add_connection_to_group),
            ("DELETE", (H, "permissions", "{permission}", "connections", "{connectionId}"), self.revoke_permission),
            ("HEAD", (H, "permissions", "{permission}", "connections", "{connectionId}"), self.check_permission),
            ("PUT", (H, "permissions", "{permission}", "connections", "{connectionId}"), self.grant_permission),
            ("HEAD", (H, "users", "{userId}"), self.user_exists),
            ("POST", (H, "users", "{userId}", ":closeConnections"), self.close_user),
            ("POST", (H, "users", "{userId}", ":send"), self.send_to_user),
            ("DELETE", (H, "users", "{userId}", "groups"), self.remove_user_from_all_groups),
            ("DELETE", (H, "users", "{userId}", "groups", "{group}"), self.remove_user_from_group),
            ("PUT", (H, "users", "{userId}", "groups", "{group}"), self.add_user_to_group),
        ]

    # ------------------------------------------------------------------ dispatch
    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Entry point for every request under ``/api/``."""
        head = request.method == "HEAD"
        try:
            return await self._dispatch(request)
        except ApiError as exc:
            return error_response(exc.status, exc.code, exc.message, head=head)
        except Exception:
            log.exception("unexpected error in %s %s", request.method, request.path)
            return error_response(500, "InternalServerError", "The emulator hit an internal error.", head=head)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        raw_path = request.raw_path.split("?", 1)[0]
        try:
            segments = [unquote(s, errors="strict") for s in raw_path.split("/")]
        except UnicodeDecodeError:
            raise _bad("The request path is not valid percent-encoded UTF-8.") from None
        if segments[:2] != ["", "api"]:
            raise ApiError(404, "NotFound", "No such operation.")
        rest = segments[2:]
        if rest == ["health"]:
            if request.method in ("HEAD", "GET"):
                # no auth, and the api-version may be absent (readiness probes); a given one must be valid
                if "api-version" in request.query:
                    try:
                        validate_api_version(request.query.get("api-version"))
                    except ValidationError as exc:
                        raise _bad(str(exc)) from None
                return _empty(200)
            raise ApiError(404, "NotFound", "No such operation.")
        if len(rest) < 2 or rest[0] != "hubs":
            raise ApiError(404, "NotFound", "No such operation.")
        rest = rest[1:]
        path_matched = False
        for method, pattern, handler in self._routes:
            params = self._match(pattern, rest)
            if params is None:
                continue
            path_matched = True
            if method != request.method:
                continue
            self._authenticate(request)
            return await self._run(handler, request, params)
        if path_matched:
            raise ApiError(405, "BadRequest", f"The method {request.method} is not allowed on this resource.")
        raise ApiError(404, "NotFound", "No such operation.")

    async def _run(self, handler: Handler, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        try:
            validate_api_version(request.query.get("api-version"))
            hub = validate_hub(params.pop("hub"))
            if "group" in params:
                validate_group(params["group"])
            if "connectionId" in params:
                validate_id(params["connectionId"], what="connection id")
            if "userId" in params:
                validate_id(params["userId"], what="user id")
            return await handler(_Ctx(request, hub, params))
        except (ValidationError, FilterError, RoleError) as exc:
            raise _bad(str(exc)) from None

    @staticmethod
    def _match(pattern: tuple[str, ...], segments: list[str]) -> Optional[dict[str, str]]:
        if len(pattern) != len(segments):
            return None
        params: dict[str, str] = {}
        for pat, seg in zip(pattern, segments):
            if pat.startswith("{"):
                params[pat[1:-1]] = seg
            elif pat != seg:
                return None
        return params

    def _authenticate(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if not header or scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "Unauthorized", "A bearer token is required in the Authorization header.")
        try:
            claims = auth.decode_token(token.strip(), self.access_key)
            auth.check_rest_audience(
                claims,
                raw_path=request.raw_path,
                request_scheme=request.scheme,
                host_header=request.headers.get("Host"),
                endpoint=self.endpoint,
            )
        except auth.AuthError as exc:
            raise ApiError(401, "Unauthorized", str(exc)) from None

    # ------------------------------------------------------------------ shared parsing
    @staticmethod
    def _filter(ctx: _Ctx) -> Optional[CompiledFilter]:
        text = ctx.query.get("filter")
        if text is None:
            text = ctx.query.get("$filter")
        if text is None or not text.strip():
            return None
        return parse_filter(text)

    @staticmethod
    def _ttl(ctx: _Ctx) -> Optional[int]:
        return parse_int(ctx.query.get("messageTtlSeconds"), name="messageTtlSeconds", minimum=0, maximum=300)

    @staticmethod
    def _excluded(ctx: _Ctx) -> set[str]:
        return {c for c in ctx.query.getall("excluded", []) if c}

    @staticmethod
    async def _body(request: web.Request) -> bytes:
        length = request.content_length
        if length is not None and length > MAX_BODY_BYTES:
            raise ApiError(413, "PayloadTooLarge", f"The request body exceeds {MAX_BODY_BYTES} bytes.")
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = await request.content.read(64 * 1024)
            if not chunk:
                break
            total += len(chunk)
            if total > MAX_BODY_BYTES:
                raise ApiError(413, "PayloadTooLarge", f"The request body exceeds {MAX_BODY_BYTES} bytes.")
            chunks.append(chunk)
        return b"".join(chunks)

    async def _payload(self, request: web.Request) -> Payload:
        content_type = request.headers.get("Content-Type")
        body = await self._body(request)
        if content_type is None or not content_type.strip():
            return Payload.binary(body)
        mime, _, params = content_type.partition(";")
        mime = mime.strip().lower()
        if mime not in _SEND_TYPES:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "The Content-Type must be application/json, text/plain or application/octet-stream.",
            )
        if mime == "application/octet-stream":
            return Payload.binary(body)
        charset = "utf-8"
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset" and value.strip():
                charset = value.strip().strip('"')
        try:
            codecs.lookup(charset)
        except LookupError:
            raise ApiError(415, "UnsupportedMediaType", f"Unsupported charset '{charset[:40]}'.") from None
        try:
            text = body.decode(charset)
        except (UnicodeDecodeError, ValueError):
            raise _bad(f"The request body is not valid {charset[:40]} text.") from None
        if mime == "text/plain":
            return Payload.text(text)
        try:
            return Payload.json_text(text)
        except (ValueError, RecursionError):
            raise _bad("The request body is not valid JSON.") from None

    @staticmethod
    def _metadata(request: web.Request) -> Optional[dict[str, str]]:
        meta = {
            key[len(_METADATA_PREFIX) :]: value
            for key, value in request.headers.items()
            if key.lower().startswith(_METADATA_PREFIX) and len(key) > len(_METADATA_PREFIX)
        }
        return meta or None

    def _conn(self, ctx: _Ctx) -> Optional[Connection]:
        return self.core.connection(ctx.hub, ctx.params["connectionId"])

    # ------------------------------------------------------------------ sends
    async def _send(
        self, ctx: _Ctx, candidates: list[Connection], *, group: Optional[str] = None, excluded: bool = True
    ) -> web.Response:
        flt = self._filter(ctx)
        ttl = self._ttl(ctx)
        payload = await self._payload(ctx.request)
        targets = self.core.select(candidates, excluded=self._excluded(ctx) if excluded else (), filter=flt)
        self.core.deliver(targets, payload, group=group, ttl_seconds=ttl, metadata=self._metadata(ctx.request))
        return _empty(202)

    async def send_to_all(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_SendToAll: 202."""
        return await self._send(ctx, self.core.targets_all(ctx.hub))

    async def send_to_group(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_SendToGroup: 202; receivers see ``from:"group"`` with ``fromUserId`` null."""
        group = ctx.params["group"]
        return await self._send(ctx, self.core.targets_group(ctx.hub, group), group=group)

    async def send_to_user(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_SendToUser: 202 (no ``excluded``)."""
        return await self._send(ctx, self.core.user_connections(ctx.hub, ctx.params["userId"]), excluded=False)

    async def send_to_connection(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_SendToConnection: 202 (no filter, no ``excluded``)."""
        ttl = self._ttl(ctx)
        payload = await self._payload(ctx.request)
        conn = self._conn(ctx)
        if conn is not None:
            self.core.deliver([conn], payload, ttl_seconds=ttl, metadata=self._metadata(ctx.request))
        return _empty(202)

    # ------------------------------------------------------------------ closes
    def _close(self, ctx: _Ctx, conns: list[Connection], *, excluded: bool = True) -> web.Response:
        reason = ctx.query.get("reason") or ""
        skip = self._excluded(ctx) if excluded else set()
        for conn in conns:
            if conn.connection_id not in skip:
                self.core.close(conn, reason=reason)
        return _empty(204)

    async def close_all(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_CloseAllConnections: 204."""
        return self._close(ctx, self.core.live_connections(ctx.hub))

    async def close_connection(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_CloseConnection: 204, also for an unknown connection."""
        conn = self._conn(ctx)
        return self._close(ctx, [conn] if conn else [], excluded=False)

    async def close_group(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_CloseGroupConnections: 204."""
        return self._close(ctx, self.core.targets_group(ctx.hub, ctx.params["group"]))

    async def close_user(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_CloseUserConnections: 204."""
        return self._close(ctx, self.core.user_connections(ctx.hub, ctx.params["userId"]))

    # ------------------------------------------------------------------ existence
    async def connection_exists(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_ConnectionExists: 200 when open or held for recovery, else 404."""
        return _empty(200) if self._conn(ctx) else error_response(404, "NotFound", "", head=True)

    async def group_exists(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_GroupExists: 200 while the group has a member, else 404."""
        found = self.core.group_exists(ctx.hub, ctx.params["group"])
        return _empty(200) if found else error_response(404, "NotFound", "", head=True)

    async def user_exists(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_UserExists: 200 while the user has a connection, else 404."""
        found = self.core.user_exists(ctx.hub, ctx.params["userId"])
        return _empty(200) if found else error_response(404, "NotFound", "", head=True)

    # ------------------------------------------------------------------ membership
    async def add_connection_to_group(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_AddConnectionToGroup: 200; 404 for an unknown connection."""
        conn = self._conn(ctx)
        if conn is None:
            raise ApiError(404, "NotFound", "The connection does not exist.")
        self.core.join_group(conn, ctx.params["group"])
        return _empty(200)

    async def remove_connection_from_group(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_RemoveConnectionFromGroup: 204."""
        conn = self._conn(ctx)
        if conn is not None:
            self.core.leave_group(conn, ctx.params["group"])
        return _empty(204)

    async def remove_connection_from_all_groups(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_RemoveConnectionFromAllGroups: 204."""
        conn = self._conn(ctx)
        if conn is not None:
            self.core.leave_all_groups(conn)
        return _empty(204)

    async def add_user_to_group(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_AddUserToGroup: 200, adding every current connection; 404 when the user has none."""
        conns = self.core.user_connections(ctx.hub, ctx.params["userId"])
        if not conns:
            raise ApiError(404, "NotFound", "The user has no connection.")
        for conn in conns:
            self.core.join_group(conn, ctx.params["group"])
        return _empty(200)

    async def remove_user_from_group(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_RemoveUserFromGroup: 204."""
        for conn in self.core.user_connections(ctx.hub, ctx.params["userId"]):
            self.core.leave_group(conn, ctx.params["group"])
        return _empty(204)

    async def remove_user_from_all_groups(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_RemoveUserFromAllGroups: 204."""
        for conn in self.core.user_connections(ctx.hub, ctx.params["userId"]):
            self.core.leave_all_groups(conn)
        return _empty(204)

    async def _batch_body(self, ctx: _Ctx) -> tuple[list[str], Optional[CompiledFilter]]:
        content_type = ctx.request.headers.get("Content-Type", "application/json")
        mime = content_type.partition(";")[0].strip().lower()
        if mime and mime not in ("application/json", "text/json"):
            raise ApiError(415, "UnsupportedMediaType", "The request body must be application/json.")
        raw = await self._body(ctx.request)
        try:
            body = json.loads(raw.decode("utf-8")) if raw.strip() else None
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise _bad("The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise _bad("The request body must be a JSON object with 'groups' and an optional 'filter'.")
        unknown = set(body) - {"groups", "filter"}
        if unknown:
            raise _bad(f"Unknown property '{sorted(unknown)[0][:40]}' in the request body.")
        groups = body.get("groups")
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise _bad("The request body needs 'groups': an array of group names.")
        for group in groups:
            validate_group(group)
        text = body.get("filter")
        if text is not None and not isinstance(text, str):
            raise _bad("'filter' must be a string.")
        return groups, parse_filter(text) if text and text.strip() else None

    async def add_connections_to_groups(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_AddConnectionsToGroups: 200; the connections matching the filter join every group."""
        groups, flt = await self._batch_body(ctx)
        for conn in self.core.select(self.core.live_connections(ctx.hub), filter=flt):
            for group in groups:
                self.core.join_group(conn, group)
        return _empty(200)

    async def remove_connections_from_groups(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_RemoveConnectionsFromGroups: 200; the connections matching the filter leave every group."""
        groups, flt = await self._batch_body(ctx)
        for conn in self.core.select(self.core.live_connections(ctx.hub), filter=flt):
            for group in groups:
                self.core.leave_group(conn, group)
        return _empty(200)

    # ------------------------------------------------------------------ listing
    async def list_connections_in_group(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_ListConnectionsInGroup: 200 with ``value`` and an absolute ``nextLink`` while more remain."""
        group = ctx.params["group"]
        page_size = parse_int(
            ctx.query.get("maxpagesize"), name="maxpagesize", minimum=1, maximum=MAX_PAGE_SIZE, default=MAX_PAGE_SIZE
        )
        top = parse_int(ctx.query.get("top"), name="top", minimum=1, maximum=INT32_MAX)
        assert page_size is not None
        after, served = self._decode_continuation(ctx.query.get("continuationToken"))
        remaining = None if top is None else max(top - served, 0)
        limit = page_size if remaining is None else min(page_size, remaining)
        members = [(seq, c) for seq, c in self.core.group_members(ctx.hub, group) if seq > after]
        page = members[:limit]
        value: list[dict[str, Any]] = []
        for _seq, conn in page:
            item: dict[str, Any] = {"connectionId": conn.connection_id}
            if conn.user_id is not None:
                item["userId"] = conn.user_id
            value.append(item)
        body: dict[str, Any] = {"value": value}
        served += len(page)
        more = len(members) > len(page) and (top is None or served < top)
        if more and page:
            query: dict[str, Any] = {}
            if top is not None:
                query["top"] = top
            query["maxpagesize"] = page_size
            query["continuationToken"] = self._encode_continuation(page[-1][0], served)
            path = f"/api/hubs/{quote(ctx.hub, safe='')}/groups/{quote(group, safe='')}/connections"
            body["nextLink"] = f"{self._base_url(ctx.request)}{path}?{urlencode(query)}"
        return web.Response(status=200, body=dumps(body).encode("utf-8"), content_type="application/json")

    @staticmethod
    def _encode_continuation(after: int, served: int) -> str:
        return base64.urlsafe_b64encode(f"v1:{after}:{served}".encode()).decode().rstrip("=")

    @staticmethod
    def _decode_continuation(token: Optional[str]) -> tuple[int, int]:
        if not token:
            return 0, 0
        try:
            text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
            tag, after, served = text.split(":")
            if tag != "v1":
                raise ValueError(tag)
            return int(after), int(served)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise _bad("The continuationToken is not valid.") from None

    def _base_url(self, request: web.Request) -> str:
        host = request.headers.get("Host")
        return f"{request.scheme}://{host}" if host else self.endpoint

    # ------------------------------------------------------------------ permissions
    def _permission(self, ctx: _Ctx) -> tuple[str, Optional[str]]:
        permission = ctx.params["permission"]
        if permission not in (SEND_TO_GROUP, JOIN_LEAVE_GROUP):
            raise _bad(f"Unknown permission: it must be '{SEND_TO_GROUP}' or '{JOIN_LEAVE_GROUP}'.")
        target = ctx.query.get("targetName")
        if target is not None:
            validate_group(target, what="targetName group")
        return permission, target

    async def grant_permission(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_GrantPermission: 200; 404 for an unknown connection. No targetName = every group."""
        permission, target = self._permission(ctx)
        conn = self._conn(ctx)
        if conn is None:
            raise ApiError(404, "NotFound", "The connection does not exist.")
        conn.permissions.grant(permission, target)
        return _empty(200)

    async def revoke_permission(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_RevokePermission: 204, also for an unknown connection."""
        permission, target = self._permission(ctx)
        conn = self._conn(ctx)
        if conn is not None:
            conn.permissions.revoke(permission, target)
        return _empty(204)

    async def check_permission(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_CheckPermission: 200 when held, 404 otherwise (also for an unknown connection)."""
        permission, target = self._permission(ctx)
        conn = self._conn(ctx)
        if conn is not None and conn.permissions.check(permission, target):
            return _empty(200)
        return error_response(404, "NotFound", "", head=True)

    # ------------------------------------------------------------------ tokens
    async def generate_token(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_GenerateClientToken: 200 ``{"token"}`` signed with the access key."""
        q = ctx.query
        minutes = parse_int(q.get("minutesToExpire"), name="minutesToExpire", minimum=1, maximum=INT32_MAX, default=60)
        assert minutes is not None
        groups = q.getall("group", [])
        for group in groups:
            validate_group(group)
        client_type = q.get("clientType", "Default")
        if client_type.lower() not in ("default", "mqtt", "socketio"):
            raise _bad("clientType must be 'Default' or 'MQTT'.")
        audience = self._base_url(ctx.request).replace("ws://", "http://", 1) + auth.client_audience_path(
            ctx.hub, client_type
        )
        token = auth.mint_client_token(
            self.access_key,
            audience=audience,
            user_id=q.get("userId") or None,
            roles=q.getall("role", []),
            groups=groups,
            minutes_to_expire=minutes,
        )
        return web.Response(status=200, body=dumps({"token": token}).encode(), content_type="application/json")
