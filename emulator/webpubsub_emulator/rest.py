"""aiohttp adapter for the data-plane REST API: the 25 operations, translated onto :class:`~.core.Core`.

Routing, parameters, bodies and pages are decided by :mod:`.rest_rules`, tokens by :mod:`.auth`; this module reads the
request, calls them and the core, and writes the answer. An :class:`~.errors.EmulatorError` anywhere becomes its own
HTTP answer; anything else is a 500 without internals. With a :class:`~.faults.FaultInjector` every ``/api/`` request
(health excepted) first asks it whether to wait or fail, and is then logged (:meth:`RestApi.handle`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import AsyncIterator, Awaitable, Callable, Iterable, NamedTuple, Optional, TypeVar

from aiohttp import web
from multidict import MultiMapping

from . import auth, limits
from . import rest_rules as rules
from .core import Core, TooManyGroups
from .errors import BadRequest, EmulatorError, HttpAnswer, InternalError, NotFound, PayloadTooLarge, RequestTimeout
from .exposure import ServerNames
from .fanout_pump import FanOutPump
from .faults import FaultInjector, RestRecord
from .protocol import Payload, dumps
from .session import Session
from .trace import Trace
from .validation import parse_int, validate_api_version, validate_group

__all__ = ["MAX_BODY_BYTES", "RestApi"]

log = logging.getLogger(__name__)

#: Request bodies larger than this get 413 (see :mod:`.limits`).
MAX_BODY_BYTES = limits.MAX_BODY_BYTES
INT32_MAX = 2**31 - 1
_T = TypeVar("_T")


class _Ctx(NamedTuple):
    request: web.Request
    hub: str
    params: dict[str, str]

    @property
    def query(self) -> MultiMapping[str]:
        return self.request.query


def _http(answer: HttpAnswer) -> web.Response:
    return web.Response(status=answer.status, headers=answer.headers, body=answer.body)


def _empty(status: int) -> web.Response:
    return web.Response(status=status)


def _not_found() -> web.Response:
    return _http(NotFound("").http(head=True))


def _json(body: object) -> web.Response:
    return web.Response(status=200, body=dumps(body).encode("utf-8"), content_type="application/json")


async def _in_slices(items: Iterable[_T], weight: int = 1) -> AsyncIterator[_T]:
    """The items, yielding to the event loop after every ``limits.WORK_SLICE`` units of work (``weight`` per item),
    so that a request over many connections never holds the loop long: other clients are served meanwhile."""
    done = 0
    step = max(weight, 1)
    for item in items:
        if done >= limits.WORK_SLICE:
            done = 0
            await asyncio.sleep(0)
        done += step
        yield item


class RestApi:
    """The REST operations over a shared :class:`Core`. ``endpoint`` is the emulator's own base URL, ``names`` the
    names it answers to (``Host`` headers and token audiences); ``accept_entra_tokens`` also lets unverified Entra
    tokens in (local testing only)."""

    def __init__(
        self,
        core: Core,
        access_key: str,
        endpoint: str,
        faults: Optional[FaultInjector] = None,
        trace: Optional[Trace] = None,
        pump: Optional[FanOutPump] = None,
    ) -> None:
        self.core = core
        self.access_key = access_key
        self.endpoint = endpoint
        self.names = ServerNames.of_endpoint(endpoint)
        self.accept_entra_tokens = False
        self.faults = faults
        self.trace = trace if trace is not None else core.trace
        #: carries out the fan-outs the core parks (shared with the WebSocket adapter)
        self.pump = pump if pump is not None else FanOutPump(core)

    # ------------------------------------------------------------------ dispatch
    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Entry point for every request under ``/api/`` (through the fault plan, when there is one)."""
        started = time.perf_counter()
        fault: Optional[str] = None
        if self.faults is not None:
            response, fault = await self._faulted(request, self.faults)
        else:
            response = await self.serve(request)
        if self.trace.listening:
            ms = (time.perf_counter() - started) * 1000
            self.trace.emit(
                "rest",
                None,
                None,
                method=request.method,
                path=request.path,
                status=response.status,
                ms=ms,
                fault=fault,
            )
        return response

    async def _faulted(self, request: web.Request, faults: FaultInjector) -> tuple[web.StreamResponse, Optional[str]]:
        # the answer, and what was injected (e.g. "rest-delay:0.050s,rest-fail:503") for the trace
        fault = faults.rest_fault(request.path)
        labels = [f"rest-delay:{fault.delay:.3f}s"] if fault.delay > 0 else []
        if fault.error is not None:
            labels.append(f"rest-fail:{fault.error.status}")
        if fault.delay > 0:
            await asyncio.sleep(fault.delay)
        if fault.error is not None:
            response: web.StreamResponse = _http(fault.error.http(head=request.method == "HEAD"))
        else:
            response = await self.serve(request)
        if fault.logged:
            faults.record(
                RestRecord(
                    method=request.method,
                    path=request.rel_url.raw_path,
                    query=request.rel_url.raw_query_string,
                    authorization=request.headers.get("Authorization"),
                    status=response.status,
                    fault=f"rest-fail:{fault.error.status}" if fault.error is not None else None,
                    delay=fault.delay,
                    at=time.monotonic(),
                )
            )
        return response, ",".join(labels) or None

    async def serve(self, request: web.Request) -> web.StreamResponse:
        """Answer one request: the operation's answer, or the error's."""
        head = request.method == "HEAD"
        try:
            return await self._dispatch(request)
        except EmulatorError as exc:
            return _http(exc.http(head=head))
        except Exception:
            log.exception("unexpected error in %s %s", request.method, request.path)
            return _http(InternalError("The emulator hit an internal error.").http(head=head))

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.names.check_host_header(request.headers.get("Host"))
        segments = rules.path_segments(request.raw_path)
        if segments[:2] != ["", "api"]:
            raise NotFound("No such operation.")
        rest = segments[2:]
        if rest == ["health"]:
            if request.method in ("HEAD", "GET"):
                # no auth, and the api-version may be absent (readiness probes); a given one must be valid
                if "api-version" in request.query:
                    validate_api_version(request.query.get("api-version"))
                return _empty(200)
            raise NotFound("No such operation.")
        if len(rest) < 2 or rest[0] != "hubs":
            raise NotFound("No such operation.")
        operation, params = rules.match_route(request.method, rest[1:])
        self._authenticate(request)
        hub = rules.check_params(request.query.get("api-version"), params)
        handler: Callable[[_Ctx], Awaitable[web.StreamResponse]] = getattr(self, operation)
        return await handler(_Ctx(request, hub, params))

    def _authenticate(self, request: web.Request) -> None:
        token = rules.bearer_token(request.headers.get("Authorization"))
        try:
            claims = auth.decode_token(token, self.access_key)
        except auth.AuthError:
            if not auth.looks_like_entra(token):
                raise
            if not self.accept_entra_tokens:
                raise auth.AuthError(
                    "This is a Microsoft Entra token; the emulator accepts those only when started with TLS and "
                    "--accept-entra-tokens (local testing only)."
                ) from None
            auth.decode_entra_token(token)
            return
        auth.check_rest_audience(claims, raw_path=request.raw_path, names=self.names)

    # ------------------------------------------------------------------ shared parsing
    @staticmethod
    async def _body(request: web.Request) -> bytes:
        """The request body: at most ``limits.MAX_BODY_BYTES`` (else 413), within ``limits.BODY_TIMEOUT_SECONDS``
        (else 408)."""
        length = request.content_length
        if length is not None and length > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"The request body exceeds {MAX_BODY_BYTES} bytes.")
        content = request.content
        chunks: list[bytes] = []
        total = 0
        deadline: Optional[float] = None
        while True:
            # What has arrived is taken without waiting: a REST body usually comes with its headers, and a wait_for
            # (a task and a timer) per read was a fifth of the emulator's CPU per call.
            chunk = content.read_nowait(64 * 1024)
            if not chunk:
                if content.at_eof():
                    break
                loop = asyncio.get_running_loop()
                if deadline is None:
                    deadline = loop.time() + limits.BODY_TIMEOUT_SECONDS
                try:
                    chunk = await asyncio.wait_for(content.read(64 * 1024), max(deadline - loop.time(), 0.0))
                except asyncio.TimeoutError:
                    raise RequestTimeout(
                        f"The request body did not arrive within {limits.BODY_TIMEOUT_SECONDS:g} seconds."
                    ) from None
                if not chunk:
                    break
            total += len(chunk)
            if total > MAX_BODY_BYTES:
                raise PayloadTooLarge(f"The request body exceeds {MAX_BODY_BYTES} bytes.")
            chunks.append(chunk)
        return b"".join(chunks)

    async def _payload(self, request: web.Request) -> Payload:
        content_type = request.headers.get("Content-Type")
        return rules.payload_of(content_type, await self._body(request))

    def _conn(self, ctx: _Ctx) -> Optional[Session]:
        return self.core.connection(ctx.hub, ctx.params["connectionId"])

    def _base_url(self, request: web.Request) -> str:
        host = request.headers.get("Host")
        return f"{request.scheme}://{host}" if host else self.endpoint

    # ------------------------------------------------------------------ sends
    async def _send(
        self, ctx: _Ctx, candidates: list[Session], *, group: Optional[str] = None, excluded: bool = True
    ) -> web.Response:
        flt = rules.filter_of(ctx.query)
        ttl = rules.ttl_of(ctx.query)
        payload = await self._payload(ctx.request)
        skip = rules.excluded_of(ctx.query) if excluded else ()
        metadata = rules.metadata_of(ctx.request.headers.items())
        self.core.deliver(
            candidates, payload, group=group, ttl_seconds=ttl, metadata=metadata, excluded=skip, filter=flt
        )
        await self.pump.drained()  # a large fan-out is carried out in slices: answer once it is queued for everyone
        return _empty(202)

    async def send_to_all(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_SendToAll: 202."""
        return await self._send(ctx, self.core.live_connections(ctx.hub))

    async def send_to_group(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_SendToGroup: 202; receivers see ``from:"group"`` with ``fromUserId`` null."""
        group = ctx.params["group"]
        return await self._send(ctx, self.core.targets_group(ctx.hub, group), group=group)

    async def send_to_user(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_SendToUser: 202 (no ``excluded``)."""
        return await self._send(ctx, self.core.user_connections(ctx.hub, ctx.params["userId"]), excluded=False)

    async def send_to_connection(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_SendToConnection: 202 (no filter, no ``excluded``)."""
        ttl = rules.ttl_of(ctx.query)
        payload = await self._payload(ctx.request)
        conn = self._conn(ctx)
        if conn is not None:
            metadata = rules.metadata_of(ctx.request.headers.items())
            self.core.deliver([conn], payload, ttl_seconds=ttl, metadata=metadata)
            await self.pump.drained()
        return _empty(202)

    # ------------------------------------------------------------------ closes
    async def _close(self, ctx: _Ctx, conns: list[Session], *, excluded: bool = True) -> web.Response:
        reason = ctx.query.get("reason") or ""
        skip = rules.excluded_of(ctx.query) if excluded else set()
        await self.pump.drained()  # what was sent before the close reaches them first
        async for conn in _in_slices(conns):
            if conn.connection_id not in skip:
                self.core.close(conn, reason=reason)
        return _empty(204)

    async def close_all(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_CloseAllConnections: 204."""
        return await self._close(ctx, self.core.live_connections(ctx.hub))

    async def close_connection(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_CloseConnection: 204, also for an unknown connection."""
        conn = self._conn(ctx)
        return await self._close(ctx, [conn] if conn else [], excluded=False)

    async def close_group(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_CloseGroupConnections: 204."""
        return await self._close(ctx, self.core.targets_group(ctx.hub, ctx.params["group"]))

    async def close_user(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_CloseUserConnections: 204."""
        return await self._close(ctx, self.core.user_connections(ctx.hub, ctx.params["userId"]))

    # ------------------------------------------------------------------ existence
    async def connection_exists(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_ConnectionExists: 200 when open or held for recovery, else 404."""
        found = self.core.connection_exists(ctx.hub, ctx.params["connectionId"])
        return _empty(200) if found else _not_found()

    async def group_exists(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_GroupExists: 200 while the group has a member, else 404."""
        return _empty(200) if self.core.group_exists(ctx.hub, ctx.params["group"]) else _not_found()

    async def user_exists(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_UserExists: 200 while the user has a connection, else 404."""
        return _empty(200) if self.core.user_exists(ctx.hub, ctx.params["userId"]) else _not_found()

    # ------------------------------------------------------------------ membership
    async def add_connection_to_group(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_AddConnectionToGroup: 200; 404 for an unknown connection."""
        conn = self._conn(ctx)
        if conn is None:
            raise NotFound("The connection does not exist.")
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
        """WebPubSub_AddUserToGroup: 200, adding every current connection; 404 when the user has none, 400 when one
        of them is in as many groups as a connection may be."""
        conns = self.core.user_connections(ctx.hub, ctx.params["userId"])
        if not conns:
            raise NotFound("The user has no connection.")
        group = ctx.params["group"]
        async for conn in _in_slices(conns):
            self.core.check_room(conn, (group,))
        async for conn in _in_slices(conns):
            self.core.join_group(conn, group)
        return _empty(200)

    async def remove_user_from_group(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_RemoveUserFromGroup: 204."""
        async for conn in _in_slices(self.core.user_connections(ctx.hub, ctx.params["userId"])):
            self.core.leave_group(conn, ctx.params["group"])
        return _empty(204)

    async def remove_user_from_all_groups(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_RemoveUserFromAllGroups: 204."""
        async for conn in _in_slices(self.core.user_connections(ctx.hub, ctx.params["userId"])):
            self.core.leave_all_groups(conn)
        return _empty(204)

    async def _batch_targets(self, ctx: _Ctx) -> tuple[list[str], list[Session]]:
        """The groups of a batch body and the connections its filter matches (the filter looked at in slices)."""
        groups, flt = rules.batch_of(ctx.request.headers.get("Content-Type"), await self._body(ctx.request))
        targets = [
            conn
            async for conn in _in_slices(self.core.live_connections(ctx.hub))
            if conn.alive and (flt is None or flt.matches(conn))
        ]
        return groups, targets

    async def add_connections_to_groups(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_AddConnectionsToGroups: 200; the connections matching the filter join every group. 400, with
        nothing changed, when a connection would be in more groups than a connection may be."""
        groups, targets = await self._batch_targets(ctx)
        async for conn in _in_slices(targets, len(groups)):
            self.core.check_room(conn, groups)
        async for conn in _in_slices(targets, len(groups)):
            try:
                for group in groups:
                    self.core.join_group(conn, group)
            except TooManyGroups as exc:  # it joined groups of its own since the check
                log.warning("addToGroups: %s", exc.message)
        return _empty(200)

    async def remove_connections_from_groups(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_RemoveConnectionsFromGroups: 200; the connections matching the filter leave every group."""
        groups, targets = await self._batch_targets(ctx)
        async for conn in _in_slices(targets, len(groups)):
            for group in groups:
                self.core.leave_group(conn, group)
        return _empty(200)

    # ------------------------------------------------------------------ listing
    async def list_connections_in_group(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_ListConnectionsInGroup: 200 with ``value`` and an absolute ``nextLink`` while more remain."""
        group = ctx.params["group"]
        page = rules.page_of(self.core.group_members(ctx.hub, group), ctx.query)
        body: dict[str, object] = {"value": page.value}
        if page.next_query is not None:
            body["nextLink"] = rules.next_link(self._base_url(ctx.request), ctx.hub, group, page.next_query)
        return _json(body)

    # ------------------------------------------------------------------ permissions
    async def grant_permission(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_GrantPermission: 200; 404 for an unknown connection. No targetName = every group."""
        permission, target = rules.permission_of(ctx.params["permission"], ctx.query)
        conn = self._conn(ctx)
        if conn is None:
            raise NotFound("The connection does not exist.")
        conn.permissions.grant(permission, target)
        return _empty(200)

    async def revoke_permission(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_RevokePermission: 204, also for an unknown connection."""
        permission, target = rules.permission_of(ctx.params["permission"], ctx.query)
        conn = self._conn(ctx)
        if conn is not None:
            conn.permissions.revoke(permission, target)
        return _empty(204)

    async def check_permission(self, ctx: _Ctx) -> web.Response:
        """WebPubSub_CheckPermission: 200 when held, 404 otherwise (also for an unknown connection)."""
        permission, target = rules.permission_of(ctx.params["permission"], ctx.query)
        conn = self._conn(ctx)
        if conn is not None and conn.permissions.check(permission, target):
            return _empty(200)
        return _not_found()

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
            raise BadRequest("clientType must be 'Default' or 'MQTT'.")
        # the emulator's own endpoint, as the service names itself: whatever name the request used, the token connects
        audience = self.endpoint + auth.client_audience_path(ctx.hub, client_type)
        token = auth.mint_client_token(
            self.access_key,
            audience=audience,
            user_id=q.get("userId") or None,
            roles=q.getall("role", []),
            groups=groups,
            minutes_to_expire=minutes,
        )
        return _json({"token": token})
