"""(b) Request throughput against the emulator over loopback: the SDK versus a raw HTTP client doing the same work.

The emulator runs as a child process (``webpubsub-emulator --port 0``) so that it does not share the GIL with the
client being measured. Every request is ``send_to_all`` of a short ``text/plain`` body to a hub with no connections
(202), each signed with its own JWT (``aud`` = the full URL), exactly as the SDK does.

* sync: ``WebPubSubServiceClient`` (requests transport, keep-alive) vs ``http.client.HTTPConnection`` (keep-alive).
* aio: ``aio.WebPubSubServiceClient`` with 64 concurrent tasks vs an ``aiohttp.ClientSession`` with 64 tasks.
"""

from __future__ import annotations

import asyncio
import http.client
import time
from typing import Awaitable, Callable, Dict

import aiohttp

from ._common import ACCESS_KEY, API_VERSION, HUB, emulator_process, print_table, rest_token, safe_ratio, status

BODY = "hello"
CONCURRENCY = 64


def _conn_str(endpoint: str) -> str:
    return f"Endpoint={endpoint};AccessKey={ACCESS_KEY};Version=1.0;"


def _sync_rate(fn: Callable[[], None], count: int, max_seconds: float) -> float:
    for _ in range(min(20, count)):
        fn()
    start = time.perf_counter()
    done = 0
    while done < count and time.perf_counter() - start < max_seconds:
        fn()
        done += 1
    return done / (time.perf_counter() - start)


async def _async_rate(fn: Callable[[], Awaitable[None]], count: int, concurrency: int, max_seconds: float) -> float:
    for _ in range(min(20, count)):
        await fn()
    remaining = count
    start = time.perf_counter()
    done = 0

    async def worker() -> None:
        nonlocal remaining, done
        while remaining > 0 and time.perf_counter() - start < max_seconds:
            remaining -= 1
            await fn()
            done += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - start)


def _sync_pair(endpoint: str, count: int, repeats: int, max_seconds: float) -> Dict[str, float]:
    from azure.messaging.webpubsubservice import WebPubSubServiceClient

    path = f"/api/hubs/{HUB}/:send?api-version={API_VERSION}"
    url = endpoint + path
    host, port = endpoint.split("://", 1)[1].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)

    def raw() -> None:
        conn.request(
            "POST",
            path,
            body=BODY.encode(),
            headers={"Authorization": "Bearer " + rest_token(url), "Content-Type": "text/plain"},
        )
        response = conn.getresponse()
        response.read()
        if response.status != 202:
            raise RuntimeError(f"raw send answered {response.status}")

    client = WebPubSubServiceClient.from_connection_string(_conn_str(endpoint), hub=HUB)

    def sdk() -> None:
        client.send_to_all(BODY, content_type="text/plain")

    raw_best = sdk_best = 0.0
    try:
        for _ in range(repeats):  # interleaved so that load from other tenants hits both sides alike
            raw_best = max(raw_best, _sync_rate(raw, count, max_seconds))
            sdk_best = max(sdk_best, _sync_rate(sdk, count, max_seconds))
    finally:
        client.close()
        conn.close()
    return {"sdk": sdk_best, "raw": raw_best}


async def _async_pair(endpoint: str, count: int, repeats: int, max_seconds: float) -> Dict[str, float]:
    from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

    url = f"{endpoint}/api/hubs/{HUB}/:send?api-version={API_VERSION}"
    raw_best = sdk_best = 0.0
    async with aiohttp.ClientSession() as session:

        async def raw() -> None:
            headers = {"Authorization": "Bearer " + rest_token(url), "Content-Type": "text/plain"}
            async with session.post(url, data=BODY.encode(), headers=headers) as response:
                await response.read()
                if response.status != 202:
                    raise RuntimeError(f"raw send answered {response.status}")

        async with WebPubSubServiceClient.from_connection_string(_conn_str(endpoint), hub=HUB) as client:

            async def sdk() -> None:
                await client.send_to_all(BODY, content_type="text/plain")

            for _ in range(repeats):
                raw_best = max(raw_best, await _async_rate(raw, count, CONCURRENCY, max_seconds))
                sdk_best = max(sdk_best, await _async_rate(sdk, count, CONCURRENCY, max_seconds))
    return {"sdk": sdk_best, "raw": raw_best}


def run(quick: bool) -> Dict[str, float]:
    sync_count, aio_count, repeats, max_seconds = (20, 64, 1, 5.0) if quick else (2000, 4000, 3, 20.0)
    with emulator_process() as emu:
        status(f"throughput: emulator pid {emu.pid} at {emu.endpoint}")
        sync = _sync_pair(emu.endpoint, sync_count, repeats, max_seconds)
        aio = asyncio.run(_async_pair(emu.endpoint, aio_count, repeats, max_seconds))
    results = {
        "sync_sdk_requests_per_s": sync["sdk"],
        "sync_raw_requests_per_s": sync["raw"],
        "sync_throughput_ratio": safe_ratio(sync["sdk"], sync["raw"]),
        "aio_sdk_requests_per_s": aio["sdk"],
        "aio_raw_requests_per_s": aio["raw"],
        "aio_throughput_ratio": safe_ratio(aio["sdk"], aio["raw"]),
    }
    print_table(
        "(b) send_to_all throughput against the emulator over loopback (goal: ratio >= 0.8)",
        ["client", "SDK req/s", "raw req/s", "ratio"],
        [
            ["sync vs http.client", sync["sdk"], sync["raw"], results["sync_throughput_ratio"]],
            [f"aio x{CONCURRENCY} vs aiohttp", aio["sdk"], aio["raw"], results["aio_throughput_ratio"]],
        ],
    )
    return results
