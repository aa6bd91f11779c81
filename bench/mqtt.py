"""(f) MQTT: a broadcast to N MQTT clients, the emulator (over REST) against Mosquitto (over an MQTT publisher), and the
memory of an idle MQTT connection on each.

Both brokers run as child processes (the emulator CLI; Debian's ``mosquitto`` with a WebSocket listener). The clients
are the same on both: N MQTT 3.1.1 clients over WebSocket (aiohttp, the emulator's own codec), in this process, each
answering every QoS 1 PUBLISH with a PUBACK.

* Broadcast: the emulator gets ``POST /api/hubs/bench/:send`` (the clients receive it on ``$webpubsub/server/messages``
  at QoS 1); Mosquitto gets a QoS 1 PUBLISH to a topic every client subscribed to at QoS 1, from one more client. At
  most ``WINDOW`` broadcasts are outstanding (counted until every client has the message). Latency = arrival - the
  moment the broadcast began; throughput = deliveries / (last arrival - first broadcast).
* Memory: the broker's RSS after one warm-up client, then after N idle clients have connected (CONNACK received) and
  settled; the difference divided by N.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Iterator, List, Optional

import aiohttp

from ._common import (
    HUB,
    Broadcasts,
    client_token,
    emulator_process,
    print_table,
    raise_nofile,
    rss_kib,
    safe_ratio,
    status,
)
from .fanout import Point, rest_broadcast

WINDOW = 2
CONNECT_CONCURRENCY = 100
SETTLE_SECONDS = 0.5
TOPIC = "bench/all"
#: Every key :func:`run` returns (results.json; tests/bench checks them).
RESULT_KEYS = [
    "mqtt_clients_count",
    "mqtt_emulator_msgs_per_s",
    "mqtt_mosquitto_msgs_per_s",
    "mqtt_throughput_ratio",
    "mqtt_emulator_latency_p50_ms",
    "mqtt_emulator_latency_p99_ms",
    "mqtt_mosquitto_latency_p50_ms",
    "mqtt_mosquitto_latency_p99_ms",
    "mqtt_latency_p99_ratio",
    "mqtt_emulator_delivered_fraction",
    "mqtt_mosquitto_delivered_fraction",
    "mqtt_emulator_rss_kib_per_connection",
    "mqtt_mosquitto_rss_kib_per_connection",
]


@dataclass
class _Broker:
    name: str
    pid: int
    ws_url: Callable[[int], str]  # client number -> URL
    subscribe: bool
    broadcast: Callable[[aiohttp.ClientSession, int], Awaitable[None]]


def _codec() -> Any:
    from webpubsub_emulator import mqtt

    return mqtt


class _Client:
    """One MQTT 3.1.1 client over WebSocket: CONNECT, optional SUBSCRIBE, then PUBACK every QoS 1 PUBLISH."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, on_message: Callable[[bytes], None]) -> None:
        self.ws = ws
        self.on_message = on_message
        self.buffer = _codec().PacketBuffer(4, from_client=False)
        self.task: Optional[asyncio.Task[None]] = None

    async def handshake(self, client_id: str, subscribe: bool) -> None:
        mqtt = _codec()
        await self.ws.send_bytes(mqtt.encode(mqtt.Connect(client_id, 4, keep_alive=120), 4))
        await self._expect(mqtt.Connack)
        if subscribe:
            await self.ws.send_bytes(mqtt.encode(mqtt.Subscribe(1, [mqtt.Subscription(TOPIC, 1)]), 4))
            await self._expect(mqtt.Suback)
        self.task = asyncio.get_running_loop().create_task(self._read())

    async def _expect(self, kind: type) -> None:
        while True:
            msg = await asyncio.wait_for(self.ws.receive(), 30)
            if msg.type != aiohttp.WSMsgType.BINARY:
                raise RuntimeError(f"the broker closed the handshake: {msg.type!r} {msg.data!r}")
            for packet in self.buffer.feed(msg.data):
                if isinstance(packet, kind):
                    if getattr(packet, "code", 0):
                        raise RuntimeError(f"refused: {packet!r}")
                    return

    async def _read(self) -> None:
        mqtt = _codec()
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.BINARY:
                continue
            for packet in self.buffer.feed(msg.data):
                if isinstance(packet, mqtt.Publish):
                    if packet.qos == 1 and packet.packet_id is not None:
                        await self.ws.send_bytes(mqtt.encode(mqtt.Puback(packet.packet_id), 4))
                    self.on_message(packet.payload)


def _emulator_broker(endpoint: str, pid: int) -> _Broker:
    base = endpoint.replace("http://", "ws://", 1)
    token = client_token(endpoint, path="/clients/mqtt/hubs/")
    url = f"{base}/clients/mqtt/hubs/{HUB}?access_token={token}"
    return _Broker("emulator", pid, lambda _n: url, False, rest_broadcast(endpoint))


def _mosquitto_broker(port: int, pid: int, publisher: List[_Client]) -> _Broker:
    mqtt = _codec()
    ids = iter(range(1, 1 << 30))

    async def broadcast(_session: aiohttp.ClientSession, seq: int) -> None:
        packet = mqtt.Publish(TOPIC, str(seq).encode(), 1, packet_id=next(ids) % 65535 + 1)
        await publisher[0].ws.send_bytes(mqtt.encode(packet, 4))

    return _Broker("mosquitto", pid, lambda _n: f"ws://127.0.0.1:{port}/mqtt", True, broadcast)


@contextlib.contextmanager
def mosquitto_process() -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """Debian's mosquitto with a loopback WebSocket listener (2.0.11 also needs a TCP one to start)."""
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.path.exists(exe):
        raise RuntimeError("mosquitto is not installed (make bench installs Debian's mosquitto)")
    import socket

    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "bench.conf"
        conf.write_text(
            f"listener {ports[0]} 127.0.0.1\nprotocol websockets\nlistener {ports[1]} 127.0.0.1\n"
            "allow_anonymous true\npersistence false\nmax_queued_messages 100000\nmax_inflight_messages 0\n",
            encoding="ascii",
        )
        proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while True:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", ports[0]), timeout=0.5):
                    break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("mosquitto did not start")
                time.sleep(0.05)
            yield ports[0], proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def _measure(broker: _Broker, n: int, messages: int, point: Point, publisher: List[_Client]) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        clients: List[_Client] = []
        run = Broadcasts(n)
        sem = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def connect_one(i: int, subscribe: bool) -> _Client:
            async with sem:
                ws = await session.ws_connect(broker.ws_url(i), protocols=("mqtt",), max_msg_size=0)
                client = _Client(ws, (lambda payload: run.arrived(int(payload))) if i else lambda _payload: None)
                await client.handshake(f"bench{i}", subscribe)
            return client

        try:
            publisher.append(
                await connect_one(0, False)
            )  # the warm-up client (it counts nothing), Mosquitto's publisher
            await broker.broadcast(session, -1)
            await asyncio.sleep(SETTLE_SECONDS)
            rss_before = rss_kib(broker.pid)
            clients = list(await asyncio.gather(*(connect_one(i, broker.subscribe) for i in range(1, n + 1))))
            await asyncio.sleep(SETTLE_SECONDS)
            point.rss_delta_kib_per_connection = (rss_kib(broker.pid) - rss_before) / n
            figures = await run.run(lambda seq: broker.broadcast(session, seq), messages, WINDOW, 10.0 + n / 200.0)
            point.msgs_per_s, point.latency_p50_ms, point.latency_p99_ms = figures[:3]
            point.delivered_fraction = figures.delivered_fraction
            if figures.note is not None:
                point.notes.append(figures.note)
        finally:
            close_sem = asyncio.Semaphore(500)

            async def close(client: _Client) -> None:
                async with close_sem:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(client.ws.close(), 5)
                if client.task is not None:
                    client.task.cancel()

            await asyncio.gather(*(close(c) for c in clients + publisher))


def measure(kind: str, n: int, messages: int) -> Point:
    """Start a fresh broker of ``kind`` ("emulator" or "mosquitto"), connect ``n`` clients, broadcast ``messages``."""
    raise_nofile(2 * n + 1024)
    point = Point(kind, n, messages)
    publisher: List[_Client] = []
    if kind == "emulator":
        with emulator_process() as server:
            status(f"MQTT emulator: {n} clients, {messages} broadcasts (pid {server.pid})")
            asyncio.run(_measure(_emulator_broker(server.endpoint, server.pid), n, messages, point, publisher))
    else:
        with mosquitto_process() as (port, proc):
            status(f"MQTT mosquitto: {n} clients, {messages} broadcasts (pid {proc.pid})")
            asyncio.run(_measure(_mosquitto_broker(port, proc.pid, publisher), n, messages, point, publisher))
    for note in point.notes:
        status(f"NOTE MQTT {kind} n={n}: {note}")
    return point


def run(quick: bool) -> Dict[str, Any]:
    n = 10 if quick else 1000
    messages = 3 if quick else 100
    points = {kind: measure(kind, n, messages) for kind in ("mosquitto", "emulator")}
    emu, ref = points["emulator"], points["mosquitto"]
    res: Dict[str, Any] = {"mqtt_clients_count": n}
    for kind, p in points.items():
        res[f"mqtt_{kind}_msgs_per_s"] = p.msgs_per_s
        res[f"mqtt_{kind}_latency_p50_ms"] = p.latency_p50_ms
        res[f"mqtt_{kind}_latency_p99_ms"] = p.latency_p99_ms
        res[f"mqtt_{kind}_delivered_fraction"] = p.delivered_fraction
        res[f"mqtt_{kind}_rss_kib_per_connection"] = p.rss_delta_kib_per_connection
    res["mqtt_throughput_ratio"] = safe_ratio(emu.msgs_per_s, ref.msgs_per_s)
    res["mqtt_latency_p99_ratio"] = safe_ratio(emu.latency_p99_ms, ref.latency_p99_ms)
    print_table(
        f"(f) broadcast to {n} MQTT clients at QoS 1: the emulator over REST, Mosquitto over an MQTT publisher",
        ["broker", "msgs/s", "p50 ms", "p99 ms", "delivered", "KiB/idle conn"],
        [
            [k, p.msgs_per_s, p.latency_p50_ms, p.latency_p99_ms, p.delivered_fraction, p.rss_delta_kib_per_connection]
            for k, p in (("emulator", emu), ("mosquitto", ref))
        ]
        + [["ratio", res["mqtt_throughput_ratio"], float("nan"), res["mqtt_latency_p99_ratio"]] + [float("nan")] * 2],
    )
    return res
