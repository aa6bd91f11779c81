"""Reliable clients whose transport the fault plan cuts several times while 10,000 messages stream in over REST.

The drops are injected by the emulator (``ws_drop_every`` / ``ws_drop_rate``): the TCP connection is aborted without a
close frame, so the client recovers with its reconnection token and the emulator re-sends what was not acked. Every
message must arrive exactly once and in order.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import List

import aiohttp
import pytest
from azure.messaging.webpubsubclient import WebPubSubClient, WebPubSubClientCredential
from azure.messaging.webpubsubclient.models import CallbackType, OnServerDataMessageArgs
from faults_support import NumberSender, ReliableClient
from webpubsub_emulator import Emulator, FaultPlan

COUNT = 10_000
TIMEOUT = 30.0


async def test_hand_written_client_gets_every_message_once_in_order_across_drops() -> None:
    hub = "recovery"
    async with Emulator(faults=FaultPlan(ws_drop_every=2500, seed=1)) as emu, aiohttp.ClientSession() as session:
        client = ReliableClient(session, emu.client_url(hub), ack_every=100)
        connection_id = await client.connect()
        sender = NumberSender(session, emu.endpoint, emu.access_key, hub, f"/connections/{connection_id}/:send")
        started = time.perf_counter()
        sending = asyncio.create_task(sender.send_range(0, COUNT))
        try:
            stats = await asyncio.wait_for(client.receive(COUNT), TIMEOUT)
            await sending  # every send was accepted (202), also while the connection was held for recovery
        finally:
            sending.cancel()
            await client.close()
        elapsed = time.perf_counter() - started

        assert stats.numbers == list(range(COUNT))  # every message, once, in order
        assert stats.sequence_ids == list(range(1, COUNT + 1))  # the count went on across recoveries
        # cuts after messages 2500, 5000, 7500 and 10000; the client may read the last message before noticing the last
        assert emu.fault_injector.drops == 4
        assert stats.recoveries >= 3
        assert all(code != 1008 for code in stats.close_codes)
        print(
            f"\nhand-written client: {COUNT} messages in {elapsed:.1f} s, {emu.fault_injector.drops} drops, "
            f"{stats.recoveries} recoveries, {stats.duplicates} re-sent duplicates dropped"
        )


# the official client's sequenceAck thread may write to a socket the fault plan has just cut; its thread then dies with
# ConnectionResetError (a new one starts after the recovery). That is the client's noise, not a failure.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
async def test_official_client_gets_every_message_once_in_order_across_drops() -> None:
    hub = "recovery_official"
    # ws_drop_rate with a seed: the cuts fall on the same messages every run (re-sent messages draw nothing)
    async with Emulator(faults=FaultPlan(ws_drop_rate=0.0004, seed=11)) as emu, aiohttp.ClientSession() as session:
        # azure-messaging-webpubsubclient acks at most once a second, and waits up to a second (its ack thread) before
        # it recovers; at thousands of messages a second that is more than the service's 1000-message buffer, which
        # would end the session (the real service too). Give this test a buffer the size of the stream.
        emu.core.buffer_max_messages = COUNT + 100
        received: List[int] = []
        sequence_ids: List[int] = []
        done = threading.Event()

        def on_message(event: OnServerDataMessageArgs) -> None:
            received.append(int(event.data))
            sequence_ids.append(event.sequence_id or 0)
            if len(received) >= COUNT:
                done.set()

        client = WebPubSubClient(WebPubSubClientCredential(emu.client_url(hub)), reconnect_retry_total=0)
        client.subscribe(CallbackType.SERVER_MESSAGE, on_message)
        gave_up = threading.Event()
        client.subscribe(CallbackType.DISCONNECTED, lambda *_: gave_up.set())  # fires only when recovery gave up
        await asyncio.to_thread(client.open)
        sender = NumberSender(session, emu.endpoint, emu.access_key, hub, "/:send")
        started = time.perf_counter()
        try:
            await sender.send_range(0, COUNT)
            assert await asyncio.to_thread(done.wait, TIMEOUT), f"only {len(received)} of {COUNT} messages arrived"
            assert not gave_up.is_set(), "the client gave up recovering"
        finally:
            await asyncio.to_thread(client.close)
        elapsed = time.perf_counter() - started

        assert received == list(range(COUNT))
        assert sequence_ids == list(range(1, COUNT + 1))
        assert emu.fault_injector.drops >= 2
        print(f"\nofficial client: {COUNT} messages in {elapsed:.1f} s, {emu.fault_injector.drops} drops recovered")
