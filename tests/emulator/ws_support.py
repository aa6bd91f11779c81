"""Helpers for the emulator tests: REST calls signed by hand, WebSocket clients and receive helpers.

Deliberately independent of the SDK: REST calls are signed here with pyjwt (HS256, keyed with the access key, ``aud`` =
the full request URL) and WebSocket clients are plain aiohttp clients.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple
from urllib.parse import quote, urlencode

import aiohttp
import jwt
import yarl
from webpubsub_emulator import DEFAULT_ACCESS_KEY, Emulator

__all__ = [
    "API_VERSION",
    "JSON",
    "RELIABLE",
    "Api",
    "ClientPool",
    "Rest",
    "client_token",
    "drop_transport",
    "expect_close",
    "expect_handshake_status",
    "expect_silence",
    "raw_http",
    "recv",
    "recv_json",
    "run_cli",
    "seg",
    "sign",
]

API_VERSION = "2024-12-01"
JSON = "json.webpubsub.azure.v1"
RELIABLE = "json.reliable.webpubsub.azure.v1"
TIMEOUT = 3.0


def seg(value: str) -> str:
    """Percent-encode one path segment (``/`` included)."""
    return quote(value, safe="")


def sign(url: str, key: str = DEFAULT_ACCESS_KEY, *, lifetime: int = 60, **extra: Any) -> str:
    """A REST token: HS256 with the access key, ``aud`` = the full request URL."""
    claims: Dict[str, Any] = {"aud": url, "exp": int(time.time()) + lifetime}
    claims.update(extra)
    return jwt.encode(claims, key, algorithm="HS256")


def client_token(
    endpoint: str, key: str, hub: str, *, lifetime: float = 600, extra: Optional[Dict[str, Any]] = None, **claims: Any
) -> str:
    """Mint a client access token like the SDKs do: ``aud`` = http endpoint + ``/client/hubs/<hub>``.

    ``extra`` holds claims whose names are not Python identifiers (``webpubsub.group``).
    """
    payload: Dict[str, Any] = {"aud": f"{endpoint}/client/hubs/{hub}", "exp": int(time.time() + lifetime)}
    payload.update(claims)
    payload.update(extra or {})
    return jwt.encode(payload, key, algorithm="HS256")


class Rest:
    """A tiny REST client for the emulator that signs every request itself."""

    def __init__(self, session: aiohttp.ClientSession, endpoint: str, key: str, hub: str) -> None:
        self.session = session
        self.endpoint = endpoint
        self.key = key
        self.hub = hub

    def url(self, path: str, query: Iterable[Tuple[str, str]] = (), *, api_version: Optional[str] = API_VERSION) -> str:
        """The URL of ``/api/hubs/<hub><path>`` with the query (and the api-version unless it is None)."""
        q = list(query)
        if api_version is not None:
            q.append(("api-version", api_version))
        base = f"{self.endpoint}/api/hubs/{seg(self.hub)}{path}"
        return f"{base}?{urlencode(q, quote_via=quote)}" if q else base

    async def request(
        self,
        method: str,
        path: str,
        query: Iterable[Tuple[str, str]] = (),
        *,
        body: Optional[bytes] = None,
        content_type: Optional[str] = None,
        token: Optional[str] = "sign",
        api_version: Optional[str] = API_VERSION,
        url: Optional[str] = None,
        headers: Optional[Dict[str, str]] = None,
    ) -> Tuple[int, Dict[str, str], bytes]:
        """Send ``method`` to ``/api/hubs/<hub><path>`` (or to ``url``); return (status, headers, body).

        ``token="sign"`` signs the request; None sends no Authorization; any other string is sent as the token. Without
        ``content_type`` no Content-Type header is sent.
        """
        url = url or self.url(path, query, api_version=api_version)
        hdrs: Dict[str, str] = dict(headers or {})
        if token is not None:
            hdrs["Authorization"] = f"Bearer {sign(url, self.key) if token == 'sign' else token}"
        skip: Sequence[str] = ()
        if content_type is not None:
            hdrs["Content-Type"] = content_type
        else:
            skip = ("Content-Type",)
        async with self.session.request(
            method, yarl.URL(url, encoded=True), data=body, headers=hdrs, skip_auto_headers=skip
        ) as resp:
            return resp.status, dict(resp.headers), await resp.read()

    async def call(self, method: str, path: str, **options: Any) -> Tuple[int, bytes]:
        """:meth:`request` (options by keyword: ``query``, ``body``, ``content_type``, ...) returning (status, body)."""
        status, _headers, data = await self.request(method, path, **options)
        return status, data

    @staticmethod
    def _targets(excluded: Sequence[str], filter: Optional[str]) -> List[Tuple[str, str]]:
        query = [("excluded", c) for c in excluded]
        if filter is not None:
            query.append(("filter", filter))
        return query

    async def send_to_all(
        self,
        body: bytes,
        content_type: Optional[str] = "text/plain",
        *,
        excluded: Sequence[str] = (),
        filter: Optional[str] = None,
    ) -> int:
        status, _ = await self.call(
            "POST", "/:send", query=self._targets(excluded, filter), body=body, content_type=content_type
        )
        return status

    async def send_to_group(
        self,
        group: str,
        body: bytes,
        content_type: Optional[str] = "text/plain",
        *,
        excluded: Sequence[str] = (),
        filter: Optional[str] = None,
    ) -> int:
        status, _ = await self.call(
            "POST",
            f"/groups/{seg(group)}/:send",
            query=self._targets(excluded, filter),
            body=body,
            content_type=content_type,
        )
        return status

    async def send_to_user(self, user: str, body: bytes, content_type: Optional[str] = "text/plain") -> int:
        status, _ = await self.call("POST", f"/users/{seg(user)}/:send", body=body, content_type=content_type)
        return status

    async def send_to_connection(self, conn: str, body: bytes, content_type: Optional[str] = "text/plain") -> int:
        status, _ = await self.call("POST", f"/connections/{seg(conn)}/:send", body=body, content_type=content_type)
        return status

    async def close_connection(self, conn: str, reason: Optional[str] = None) -> int:
        query = [("reason", reason)] if reason is not None else []
        status, _ = await self.call("DELETE", f"/connections/{seg(conn)}", query=query)
        return status

    async def close_all(self, reason: Optional[str] = None, excluded: Sequence[str] = ()) -> int:
        query = [("excluded", c) for c in excluded]
        if reason is not None:
            query.append(("reason", reason))
        status, _ = await self.call("POST", "/:closeConnections", query=query)
        return status

    async def close_group(self, group: str, reason: Optional[str] = None, excluded: Sequence[str] = ()) -> int:
        query = [("excluded", c) for c in excluded]
        if reason is not None:
            query.append(("reason", reason))
        status, _ = await self.call("POST", f"/groups/{seg(group)}/:closeConnections", query=query)
        return status

    async def close_user(self, user: str, reason: Optional[str] = None) -> int:
        query = [("reason", reason)] if reason is not None else []
        status, _ = await self.call("POST", f"/users/{seg(user)}/:closeConnections", query=query)
        return status

    async def connection_exists(self, conn: str) -> int:
        status, _ = await self.call("HEAD", f"/connections/{seg(conn)}")
        return status

    async def group_exists(self, group: str) -> int:
        status, _ = await self.call("HEAD", f"/groups/{seg(group)}")
        return status

    async def add_to_group(self, group: str, conn: str) -> int:
        status, _ = await self.call("PUT", f"/groups/{seg(group)}/connections/{seg(conn)}")
        return status

    async def remove_from_group(self, group: str, conn: str) -> int:
        status, _ = await self.call("DELETE", f"/groups/{seg(group)}/connections/{seg(conn)}")
        return status

    async def permission(self, method: str, permission: str, conn: str, target: Optional[str] = None) -> int:
        query = [("targetName", target)] if target is not None else []
        status, _ = await self.call(method, f"/permissions/{permission}/connections/{seg(conn)}", query=query)
        return status


class Api(Rest):
    """A :class:`Rest` client bound to a running :class:`Emulator` that can also open WebSocket clients."""

    def __init__(self, session: aiohttp.ClientSession, emu: Emulator, hub: str = "hub1") -> None:
        super().__init__(session, emu.endpoint, emu.access_key, hub)
        self.emu = emu

    async def status(self, method: str, path: str, query: Iterable[Tuple[str, str]] = (), **kw: Any) -> int:
        return (await self.request(method, path, query, **kw))[0]

    async def connect(
        self,
        *,
        user: Optional[str] = None,
        protocol: Optional[str] = JSON,
        roles: Iterable[str] = (),
        groups: Iterable[str] = (),
        hub: Optional[str] = None,
    ) -> Tuple[aiohttp.ClientWebSocketResponse, str]:
        """Open a client; returns it with its connection id ("" for raw clients, which get no ``connected``)."""
        url = self.emu.client_url(hub or self.hub, user_id=user, roles=roles, groups=groups)
        ws = await self.session.ws_connect(url, protocols=(protocol,) if protocol else ())
        if protocol is None:
            return ws, ""
        msg = await recv_json(ws)
        assert msg["event"] == "connected"
        return ws, msg["connectionId"]


class ClientPool:
    """Opens WebSocket clients to one hub of an emulator; the ``clients`` fixture closes them after the test."""

    def __init__(self, emu: Emulator, session: aiohttp.ClientSession, hub: str) -> None:
        self.emu = emu
        self.session = session
        self.hub = hub
        self.open: List[aiohttp.ClientWebSocketResponse] = []

    def url(self, user_id: Optional[str] = None, roles: Sequence[str] = (), groups: Sequence[str] = ()) -> str:
        return self.emu.client_url(self.hub, user_id=user_id, roles=tuple(roles), groups=tuple(groups))

    async def open_url(self, url: str, protocols: Sequence[str] = ()) -> aiohttp.ClientWebSocketResponse:
        ws = await self.session.ws_connect(url, protocols=tuple(protocols))
        self.open.append(ws)
        return ws

    async def subprotocol(
        self, protocol: str, user_id: Optional[str] = None, roles: Sequence[str] = (), groups: Sequence[str] = ()
    ) -> Tuple[aiohttp.ClientWebSocketResponse, Dict[str, Any], str]:
        """Open a client speaking ``protocol``; returns it, its ``connected`` message and its URL."""
        url = self.url(user_id, roles, groups)
        ws = await self.open_url(url, (protocol,))
        connected = await recv_json(ws)
        assert connected["type"] == "system" and connected["event"] == "connected", connected
        return ws, connected, url

    async def close(self) -> None:
        for ws in self.open:
            await ws.close()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``webpubsub-emulator`` with ``args`` to completion (for options that make it exit at once)."""
    return subprocess.run(
        [sys.executable, "-m", "webpubsub_emulator", *args], capture_output=True, text=True, timeout=30, check=False
    )


async def recv(ws: aiohttp.ClientWebSocketResponse, timeout: float = TIMEOUT) -> aiohttp.WSMessage:
    """Receive the next frame (text, binary or close) or fail after ``timeout`` seconds."""
    try:
        return await asyncio.wait_for(ws.receive(), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"no frame within {timeout} s") from None


async def recv_json(ws: aiohttp.ClientWebSocketResponse, timeout: float = TIMEOUT) -> Dict[str, Any]:
    """Receive the next frame, which must be a text frame holding a JSON object."""
    msg = await recv(ws, timeout)
    assert msg.type == aiohttp.WSMsgType.TEXT, f"expected a text frame, got {msg.type!r} {msg.data!r}"
    value = json.loads(msg.data)
    assert isinstance(value, dict), value
    return value


async def expect_silence(ws: aiohttp.ClientWebSocketResponse, timeout: float = 0.3) -> None:
    """Assert that no frame arrives within ``timeout`` seconds."""
    try:
        msg = await asyncio.wait_for(ws.receive(), timeout)
    except asyncio.TimeoutError:
        return
    raise AssertionError(f"unexpected frame {msg.type!r} {str(msg.data)[:200]!r}")


async def expect_close(
    ws: aiohttp.ClientWebSocketResponse, timeout: float = TIMEOUT
) -> Tuple[List[aiohttp.WSMessage], Optional[int]]:
    """Read until the server closes; return the frames received before the close and the close code."""
    frames: List[aiohttp.WSMessage] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise AssertionError(f"connection not closed within {timeout} s; got {len(frames)} frames")
        msg = await recv(ws, remaining)
        if msg.type == aiohttp.WSMsgType.CLOSE:
            # the code the server sent; ws.close_code may later say 1006 if the server drops TCP before our reply
            return frames, int(msg.data)
        if msg.type in (aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            return frames, ws.close_code
        frames.append(msg)


async def expect_handshake_status(
    session: aiohttp.ClientSession,
    url: str,
    status: int,
    *,
    protocols: Sequence[str] = (),
    headers: Optional[Dict[str, str]] = None,
) -> None:
    """Assert that the WebSocket upgrade is refused with HTTP ``status``."""
    try:
        ws = await session.ws_connect(url, protocols=protocols, headers=headers)
    except aiohttp.WSServerHandshakeError as exc:
        assert exc.status == status, f"expected HTTP {status}, got {exc.status}"
        return
    await ws.close()
    raise AssertionError(f"upgrade accepted; expected HTTP {status}")


async def raw_http(
    endpoint: str, method: str, target: str, headers: Sequence[Tuple[str, bytes]], body: bytes = b""
) -> Tuple[int, bytes]:
    """Send one HTTP/1.1 request byte for byte (header values as given, even bytes that are not UTF-8) and return the
    status and body. ``target`` is the path and query; ``Host``, ``Content-Length`` and ``Connection: close`` are
    added."""
    host, port = endpoint.split("://", 1)[1].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        lines = [f"{method} {target} HTTP/1.1".encode(), f"Host: {host}:{port}".encode()]
        lines += [name.encode() + b": " + value for name, value in headers]
        lines += [b"Content-Length: %d" % len(body), b"Connection: close", b"", b""]
        writer.write(b"\r\n".join(lines) + body)
        data = await asyncio.wait_for(reader.read(), TIMEOUT)
    finally:
        writer.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), rest


def drop_transport(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Drop the TCP connection under ``ws`` without a WebSocket close frame."""
    conn = ws._response.connection or ws._conn
    assert conn is not None and conn.transport is not None
    conn.transport.abort()
