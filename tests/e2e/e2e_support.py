"""Shared helpers for the end-to-end tests (imported by conftest.py and the test modules).

* :class:`Service` wraps either the sync or the aio ``WebPubSubServiceClient`` behind one awaitable interface, so each
  test is written once and runs for both flavours.
* :class:`WsClient` is a real WebSocket client (the ``websockets`` library) speaking raw, ``json.webpubsub.azure.v1``
  or ``json.reliable.webpubsub.azure.v1``. It records every frame; tests wait for frames with a timeout, never sleep.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable, Optional

from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient as AsyncWebPubSubServiceClient
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

JSON = "json.webpubsub.azure.v1"
RELIABLE = "json.reliable.webpubsub.azure.v1"
TIMEOUT = 5.0


# ---------------------------------------------------------------------------------------------------------------------
# The SDK, sync or aio, behind one awaitable interface
# ---------------------------------------------------------------------------------------------------------------------


class Service:
    """``await service.<operation>(...)`` runs the operation on the sync client (in a worker thread) or the aio one."""

    def __init__(self, flavour: str, client: Any, hub: str, connection_string: str) -> None:
        self.flavour = flavour
        self.client = client
        self.hub = hub
        self.connection_string = connection_string

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.client, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.flavour == "aio":
                return await method(*args, **kwargs)
            return await asyncio.to_thread(method, *args, **kwargs)

        return call

    async def list_connections(self, *args: Any, **kwargs: Any) -> list[Any]:
        """Every member, iterating the pager the way each flavour is meant to be iterated."""
        if self.flavour == "aio":
            return [member async for member in self.client.list_connections(*args, **kwargs)]
        return await asyncio.to_thread(lambda: list(self.client.list_connections(*args, **kwargs)))

    async def pages(self, *args: Any, **kwargs: Any) -> list[list[Any]]:
        """The members page by page (``by_page()``)."""
        if self.flavour == "aio":
            result = []
            async for page in self.client.list_connections(*args, **kwargs).by_page():
                result.append([member async for member in page])
            return result
        return await asyncio.to_thread(
            lambda: [list(page) for page in self.client.list_connections(*args, **kwargs).by_page()]
        )

    async def url(self, **kwargs: Any) -> str:
        token = await self.get_client_access_token(**kwargs)
        return token["url"]


def make_client(flavour: str, connection_string: str, hub: str, **kwargs: Any) -> Any:
    """A client of the given flavour. Short transport timeouts: a hung request fails the test instead of stalling it."""
    cls = AsyncWebPubSubServiceClient if flavour == "aio" else WebPubSubServiceClient
    kwargs.setdefault("connection_timeout", TIMEOUT)
    kwargs.setdefault("read_timeout", 2 * TIMEOUT)
    kwargs.setdefault("retry_total", 0)  # the emulator is local: a failure is a bug, not a blip to retry
    return cls.from_connection_string(connection_string, hub=hub, **kwargs)


# ---------------------------------------------------------------------------------------------------------------------
# A real WebSocket client that records what it receives
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class Frame:
    kind: str  # "text" | "binary" for raw clients, "json" for the JSON subprotocols
    data: Any

    @property
    def is_message(self) -> bool:
        return self.kind != "json" or self.data.get("type") == "message"


class WsClient:
    def __init__(self, ws: ClientConnection, protocol: Optional[str], name: str) -> None:
        self.ws = ws
        self.protocol = protocol
        self.name = name
        self.connection_id: Optional[str] = None
        self.user_id: Optional[str] = None
        self.inbox: list[Frame] = []
        self.closed = asyncio.Event()
        self._changed = asyncio.Condition()
        self._ack_id = 0
        self.acked_sequence_id = 0
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, protocol: Optional[str] = None, name: str = "client") -> WsClient:
        ws = await connect(
            url,
            subprotocols=[Subprotocol(protocol)] if protocol else None,
            open_timeout=TIMEOUT,
            compression=None,
            proxy=None,
        )
        assert ws.subprotocol == protocol, f"{name}: negotiated {ws.subprotocol!r}, offered {protocol!r}"
        client = cls(ws, protocol, name)
        if protocol:
            connected = await client.take(lambda f: f.data.get("type") == "system", "connected")
            assert connected.data["event"] == "connected", connected.data
            client.connection_id = connected.data["connectionId"]
            client.user_id = connected.data["userId"]  # the key is always there (null when anonymous)
            # Only the reliable subprotocol hands out a reconnection token.
            assert ("reconnectionToken" in connected.data) == (protocol == RELIABLE), connected.data
        return client

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                if isinstance(message, bytes):
                    frame = Frame("binary", message)
                elif self.protocol is None:
                    frame = Frame("text", message)
                else:
                    frame = Frame("json", json.loads(message))
                    sequence_id = frame.data.get("sequenceId")
                    if self.protocol == RELIABLE and isinstance(sequence_id, int):
                        self.acked_sequence_id = max(self.acked_sequence_id, sequence_id)
                        await self.ws.send(json.dumps({"type": "sequenceAck", "sequenceId": sequence_id}))
                async with self._changed:
                    self.inbox.append(frame)
                    self._changed.notify_all()
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()
            async with self._changed:
                self._changed.notify_all()

    async def take(self, predicate: Callable[[Frame], bool], what: str, timeout: float = TIMEOUT) -> Frame:
        """Remove and return the first frame matching ``predicate``; fail after ``timeout`` seconds."""
        found: list[Frame] = []

        def ready() -> bool:
            for frame in self.inbox:
                if predicate(frame):
                    self.inbox.remove(frame)
                    found.append(frame)
                    return True
            return self.closed.is_set()

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(ready), timeout)
            except asyncio.TimeoutError:
                pass
        if not found:
            raise AssertionError(
                f"{self.name}: no {what} within {timeout} s (closed={self.closed.is_set()}, unread={self.inbox})"
            )
        return found[0]

    async def next_message(self, timeout: float = TIMEOUT) -> Frame:
        return await self.take(lambda f: f.is_message, "message", timeout)

    async def disconnected(self) -> dict[str, Any]:
        frame = await self.take(
            lambda f: f.kind == "json" and f.data.get("type") == "system" and f.data.get("event") == "disconnected",
            "disconnected system message",
        )
        return frame.data

    async def wait_closed(self, timeout: float = TIMEOUT) -> Optional[int]:
        await asyncio.wait_for(self.closed.wait(), timeout)
        return self.ws.close_code

    async def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send with a fresh ackId and return the ack."""
        self._ack_id += 1
        ack_id = self._ack_id
        await self.ws.send(json.dumps({**message, "ackId": ack_id}))
        frame = await self.take(
            lambda f: f.kind == "json" and f.data.get("type") == "ack" and f.data.get("ackId") == ack_id, "ack"
        )
        return frame.data

    async def join(self, group: str) -> dict[str, Any]:
        return await self.request({"type": "joinGroup", "group": group})

    async def leave(self, group: str) -> dict[str, Any]:
        return await self.request({"type": "leaveGroup", "group": group})

    async def publish(self, group: str, data: Any, data_type: str = "json") -> dict[str, Any]:
        return await self.request({"type": "sendToGroup", "group": group, "dataType": data_type, "data": data})

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        try:
            await self._reader
        except (asyncio.CancelledError, Exception):
            pass


def decoded(frame: Frame) -> tuple[str, Any]:
    """(dataType, payload) of a data message, whatever the client kind; binary payloads as bytes."""
    if frame.kind == "binary":
        return "binary", frame.data
    if frame.kind == "text":
        return "text", frame.data
    data_type = frame.data["dataType"]
    data = frame.data["data"]
    return data_type, base64.b64decode(data) if data_type == "binary" else data


@dataclass
class Clients:
    """One client of each kind; the raw client's connection id is looked up through its token group."""

    raw: WsClient
    json: WsClient
    reliable: WsClient

    def __iter__(self) -> Iterator[WsClient]:
        return iter((self.raw, self.json, self.reliable))


async def connect_trio(service: Service) -> Clients:
    raw = await WsClient.open(await service.url(user_id="raw-user", groups=["home-raw"]), None, "raw")
    json_client = await WsClient.open(await service.url(user_id="json-user"), JSON, "json")
    reliable = await WsClient.open(await service.url(user_id="reliable-user"), RELIABLE, "reliable")
    members = await service.list_connections(group="home-raw")
    assert len(members) == 1 and members[0].user_id == "raw-user", members
    raw.connection_id = members[0].connection_id
    raw.user_id = "raw-user"
    return Clients(raw, json_client, reliable)


_marker_count = 0


async def assert_nothing_else(service: Service, *receivers: WsClient) -> None:
    """Prove that none of ``receivers`` got anything unexpected: their next message must be a fresh marker.

    Messages to one connection are delivered in order, so a stray earlier message would be read first.
    """
    global _marker_count
    _marker_count += 1
    marker = f"marker-{_marker_count}"
    for client in receivers:
        await service.send_to_connection(client.connection_id, marker, content_type="text/plain")
    for client in receivers:
        frame = await client.next_message()
        assert decoded(frame) == ("text", marker), f"{client.name} got an unexpected message: {frame}"
