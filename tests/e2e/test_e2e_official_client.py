"""The official client SDK (azure-messaging-webpubsubclient 1.1.0, sync) against the emulator, driven by our SDK.

It is a real client nobody here wrote: it uses json.reliable.webpubsub.azure.v1 by default (json.webpubsub.azure.v1 on
request), needs the subprotocol echoed, and indexes fields like dataType and error.name directly.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from azure.messaging.webpubsubclient import WebPubSubClient, WebPubSubClientCredential
from azure.messaging.webpubsubclient.aio import WebPubSubClient as AsyncWebPubSubClient
from azure.messaging.webpubsubclient.aio import WebPubSubClientCredential as AsyncWebPubSubClientCredential
from azure.messaging.webpubsubclient.models import (
    CallbackType,
    OnGroupDataMessageArgs,
    OnServerDataMessageArgs,
    SendMessageError,
    WebPubSubDataType,
    WebPubSubProtocolType,
)
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient as AsyncServiceClient

TIMEOUT = 10.0
# The official client registers its wait for an ack only after sending, so an ack that arrives first (easy on a local
# emulator) is noticed only when the wait times out; the outcome is still right. A short ack_timeout keeps that cheap.
ACK_TIMEOUT = 1.0


class Recorder:
    """Subscribes to a client's callbacks and queues what arrives, so the test can wait for it."""

    def __init__(self, client: WebPubSubClient) -> None:
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        client.subscribe(CallbackType.CONNECTED, lambda e: self.events.put(("connected", e)))
        client.subscribe(CallbackType.DISCONNECTED, lambda e: self.events.put(("disconnected", e)))
        client.subscribe(CallbackType.SERVER_MESSAGE, lambda e: self.events.put(("server", e)))
        client.subscribe(CallbackType.GROUP_MESSAGE, lambda e: self.events.put(("group", e)))
        client.subscribe(CallbackType.STOPPED, lambda *_: self.events.put(("stopped", None)))

    def next(self, kind: str) -> Any:
        """The next event of ``kind`` (events of other kinds before it are discarded only if they are connects)."""
        while True:
            try:
                got_kind, event = self.events.get(timeout=TIMEOUT)
            except queue.Empty:
                raise AssertionError(f"no {kind} event within {TIMEOUT} s") from None
            if got_kind == kind:
                return event
            assert got_kind == "connected", f"expected {kind}, got {got_kind}: {event}"


@pytest.fixture
def sync_service(webpubsub_emulator: Any) -> Iterator[WebPubSubServiceClient]:
    hub = "official_" + uuid.uuid4().hex[:8]
    with WebPubSubServiceClient.from_connection_string(webpubsub_emulator.connection_string, hub=hub) as service:
        yield service


def open_client(
    service: WebPubSubServiceClient, user: str, protocol: WebPubSubProtocolType = WebPubSubProtocolType.JSON_RELIABLE
) -> tuple[WebPubSubClient, Recorder]:
    # The credential takes a callable so the client can fetch a fresh URL whenever it (re)connects.
    credential = WebPubSubClientCredential(
        lambda: service.get_client_access_token(
            user_id=user, roles=["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"]
        )["url"]
    )
    client = WebPubSubClient(
        credential, protocol_type=protocol, reconnect_retry_total=0, ack_timeout=ACK_TIMEOUT, start_timeout=TIMEOUT
    )
    recorder = Recorder(client)
    client.open()
    connected = recorder.next("connected")
    assert connected.connection_id and connected.user_id == user
    assert client.is_connected()
    return client, recorder


@pytest.mark.parametrize("protocol", [WebPubSubProtocolType.JSON_RELIABLE, WebPubSubProtocolType.JSON])
def test_official_client_groups_and_server_messages(
    sync_service: WebPubSubServiceClient, protocol: WebPubSubProtocolType
) -> None:
    alice, alice_events = open_client(sync_service, "alice", protocol)
    bob, bob_events = open_client(sync_service, "bob", protocol)
    try:
        alice.join_group("chat")
        bob.join_group("chat")
        assert {m.user_id for m in sync_service.list_connections(group="chat")} == {"alice", "bob"}

        # client -> group; with no_echo alice does not get her own message back
        alice.send_to_group("chat", {"text": "hi bob"}, WebPubSubDataType.JSON, no_echo=True)
        message: OnGroupDataMessageArgs = bob_events.next("group")
        assert (message.group, message.from_user_id, message.data_type) == ("chat", "alice", WebPubSubDataType.JSON)
        assert message.data == {"text": "hi bob"}
        bob.send_to_group("chat", "plain", WebPubSubDataType.TEXT)  # noEcho defaults to False: bob gets it too
        assert alice_events.next("group").data == "plain"
        assert bob_events.next("group").data == "plain"

        # server -> everyone, as JSON, text and binary
        sync_service.send_to_all({"from": "server"})
        sync_service.send_to_all("server text")
        sync_service.send_to_all(b"\x01\x02\x03")
        for events in (alice_events, bob_events):
            got: list[OnServerDataMessageArgs] = [events.next("server") for _ in range(3)]
            assert [(m.data_type, m.data) for m in got[:2]] == [
                (WebPubSubDataType.JSON, {"from": "server"}),
                (WebPubSubDataType.TEXT, "server text"),
            ]
            assert got[2].data_type == WebPubSubDataType.BINARY and bytes(got[2].data) == b"\x01\x02\x03"
            if protocol == WebPubSubProtocolType.JSON_RELIABLE:
                ids = [m.sequence_id or 0 for m in got]
                assert ids == sorted(ids) and ids[0] >= 1 and len(set(ids)) == 3

        # server -> group and -> user
        sync_service.send_to_group("chat", "group news")
        for events in (alice_events, bob_events):
            group_message = events.next("group")
            assert (group_message.group, group_message.data, group_message.from_user_id) == ("chat", "group news", None)
        sync_service.send_to_user("bob", {"just": "bob"})
        assert bob_events.next("server").data == {"just": "bob"}

        # leaving a group stops group messages
        bob.leave_group("chat")
        assert [m.user_id for m in sync_service.list_connections(group="chat")] == ["alice"]
    finally:
        alice.close()
        bob.close()


def test_official_client_forbidden_ack_is_an_error(sync_service: WebPubSubServiceClient) -> None:
    url = sync_service.get_client_access_token(user_id="nobody-special")["url"]  # no roles
    client = WebPubSubClient(
        WebPubSubClientCredential(url), reconnect_retry_total=0, message_retry_total=0, ack_timeout=ACK_TIMEOUT
    )
    client.open()
    try:
        with pytest.raises(SendMessageError) as info:
            client.join_group("private")
        assert info.value.error_detail is not None and info.value.error_detail.name == "Forbidden"
        assert sync_service.group_exists("private") is False
    finally:
        client.close()


@pytest.mark.parametrize("protocol", [WebPubSubProtocolType.JSON_RELIABLE, WebPubSubProtocolType.JSON])
def test_server_close_reaches_official_client(
    sync_service: WebPubSubServiceClient, protocol: WebPubSubProtocolType, caplog: pytest.LogCaptureFixture
) -> None:
    client, events = open_client(sync_service, "carl", protocol)
    try:
        client.join_group("x")
        member = next(iter(sync_service.list_connections(group="x")))
        with caplog.at_level(logging.INFO, logger="webpubsub_emulator"):
            sync_service.close_connection(member.connection_id, reason="server says bye")
            # The client reports the reason the service gave, on both protocols: a reliable session closed on purpose
            # ends with 1008, so the client does not try to recover it (and then report the refused recovery instead).
            assert events.next("disconnected").message == "server says bye"
            events.next("stopped")
        assert sync_service.connection_exists(member.connection_id) is False
        assert sync_service.user_exists("carl") is False
        attempts = [
            r for r in caplog.records if r.name.startswith("webpubsub_emulator") and "recover" in r.getMessage()
        ]
        assert not attempts, "the client tried to recover the session"
    finally:
        client.close()


def test_official_reliable_client_recovers_after_a_dropped_transport(sync_service: WebPubSubServiceClient) -> None:
    client, events = open_client(sync_service, "rita")
    try:
        client.join_group("r")
        member = next(iter(sync_service.list_connections(group="r")))
        # Cut the TCP connection under the client without a WebSocket close handshake, as a network failure would.
        # (This reaches into the client's private websocket object: test-only.)
        client._ws.sock.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
        sync_service.send_to_group("r", "while away")
        assert events.next("group").data == "while away"  # re-sent after the client recovered the session
        assert sync_service.connection_exists(member.connection_id) is True
        assert [m.connection_id for m in sync_service.list_connections(group="r")] == [member.connection_id]
        sync_service.send_to_group("r", "after")
        assert events.next("group").data == "after"  # and nothing twice
    finally:
        client.close()


@pytest.mark.parametrize("protocol", [WebPubSubProtocolType.JSON_RELIABLE, WebPubSubProtocolType.JSON])
async def test_official_async_client(webpubsub_emulator: Any, protocol: WebPubSubProtocolType) -> None:
    hub = "official_aio_" + uuid.uuid4().hex[:8]
    async with AsyncServiceClient.from_connection_string(webpubsub_emulator.connection_string, hub=hub) as service:

        async def url() -> str:
            token = await service.get_client_access_token(user_id="ada", roles=["webpubsub.joinLeaveGroup"])
            return token["url"]

        received: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        async def on_group(event: OnGroupDataMessageArgs) -> None:
            await received.put(("group", event))

        async def on_server(event: OnServerDataMessageArgs) -> None:
            await received.put(("server", event))

        client = AsyncWebPubSubClient(
            AsyncWebPubSubClientCredential(url),
            protocol_type=protocol,
            reconnect_retry_total=0,
            ack_timeout=ACK_TIMEOUT,
        )
        await client.subscribe(CallbackType.GROUP_MESSAGE, on_group)
        await client.subscribe(CallbackType.SERVER_MESSAGE, on_server)
        await client.open()
        try:
            await client.join_group("news")
            await service.send_to_group("news", {"headline": "async"})
            kind, event = await asyncio.wait_for(received.get(), TIMEOUT)
            assert (kind, event.group, event.data) == ("group", "news", {"headline": "async"})
            await service.send_to_user("ada", b"\x00\x01")
            kind, event = await asyncio.wait_for(received.get(), TIMEOUT)
            assert (kind, event.data_type, bytes(event.data)) == ("server", WebPubSubDataType.BINARY, b"\x00\x01")
            assert [m.user_id async for m in service.list_connections(group="news")] == ["ada"]
        finally:
            await client.close()
