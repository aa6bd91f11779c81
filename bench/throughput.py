"""(b) Request throughput against the emulator over loopback: the SDK versus a raw HTTP client doing the same work.

The emulator runs as a child process (``webpubsub-emulator --port 0``) so that it does not share the GIL with the
client being measured. Every request is ``send_to_all`` of a short ``text/plain`` body to a hub with no connections
(202), each signed with its own JWT (``aud`` = the full URL), exactly as the SDK does.

* sync: ``WebPubSubServiceClient`` (requests transport, keep-alive) vs ``http.client.HTTPConnection`` (keep-alive).
  A third figure, a bare ``requests.Session`` doing the same, shows how much of the gap is the requests library
  (which azure-core's default sync transport is built on) rather than the SDK.
* aio: ``aio.WebPubSubServiceClient`` with 64 concurrent tasks vs an ``aiohttp.ClientSession`` with 64 tasks, and
  two azure-core baselines doing the same work over the same ``AioHttpTransport``: a bare ``AsyncPipelineClient``
  with only a JWT policy, and one with the headers, user-agent, retry and JWT policies (what an Azure SDK client
  needs at the least). The SDK's goal is >= 0.9x the second: what remains is azure-core's own cost.
* the emulator's own cost of one REST call: the CPU time (user + system, from ``/proc/<pid>/stat``) the emulator
  process spends per ``http.client`` request, once with tokens as the SDKs send them (the same token for the same URL
  within a second) and once with a distinct token on every call. CPU time, unlike a rate, hardly moves with the load
  other processes put on the machine.

Both SDK clients are also measured with azure-core's transport built with ``use_env_settings=False``: by default
azure-core trusts the environment (proxy variables, netrc), which costs requests a proxy lookup per call and aiohttp
(``trust_env=True``) two thread-pool hops per call.
"""

from __future__ import annotations

import asyncio
import http.client
import itertools
import os
import statistics
import time
from typing import Awaitable, Callable, Dict, List, Optional

import aiohttp
import jwt
import requests
from azure.core import AsyncPipelineClient
from azure.core.pipeline.policies import AsyncRetryPolicy, HeadersPolicy, UserAgentPolicy
from azure.core.pipeline.transport import AioHttpTransport, RequestsTransport
from azure.core.rest import HttpRequest

from ._common import ACCESS_KEY, API_VERSION, HUB, emulator_process, print_table, rest_token, safe_ratio, status
from .sdk_overhead import HandJwtPolicy

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


def _process_cpu_s(pid: int) -> Optional[float]:
    """User + system CPU seconds of a process so far (None where /proc is not available)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _emulator_cpu(endpoint: str, pid: int, count: int, repeats: int) -> Dict[str, float]:
    """Median emulator CPU microseconds per REST call: SDK-style tokens, and a fresh token every call."""
    path = f"/api/hubs/{HUB}/:send?api-version={API_VERSION}"
    url = endpoint + path
    host, port = endpoint.split("://", 1)[1].rsplit(":", 1)
    serial = itertools.count()
    conn = http.client.HTTPConnection(host, int(port), timeout=10)

    def call(token: str) -> None:
        conn.request("POST", path, body=BODY.encode(), headers={"Authorization": "Bearer " + token})
        response = conn.getresponse()
        response.read()
        if response.status != 202:
            raise RuntimeError(f"send answered {response.status}")

    def fresh_token() -> str:  # a claim that differs every call: never the same token twice
        return jwt.encode({"aud": url, "exp": int(time.time()) + 60, "n": next(serial)}, ACCESS_KEY, "HS256")

    def per_call(make_token: Callable[[], str]) -> float:
        for _ in range(min(20, count)):
            call(make_token())
        before = _process_cpu_s(pid)
        for _ in range(count):
            call(make_token())
        after = _process_cpu_s(pid)
        if before is None or after is None:
            return float("nan")
        return (after - before) / count * 1e6

    sdk_style: List[float] = []
    fresh: List[float] = []
    try:
        for _ in range(repeats):  # interleaved
            sdk_style.append(per_call(lambda: rest_token(url)))
            fresh.append(per_call(fresh_token))
    finally:
        conn.close()
    return {"sdk_style": statistics.median(sdk_style), "fresh": statistics.median(fresh)}


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

    session = requests.Session()

    def lib() -> None:
        headers = {"Authorization": "Bearer " + rest_token(url), "Content-Type": "text/plain"}
        response = session.post(url, data=BODY.encode(), headers=headers, timeout=10)
        if response.status_code != 202:
            raise RuntimeError(f"requests send answered {response.status_code}")

    client = WebPubSubServiceClient.from_connection_string(_conn_str(endpoint), hub=HUB)
    no_env = WebPubSubServiceClient.from_connection_string(
        _conn_str(endpoint), hub=HUB, transport=RequestsTransport(use_env_settings=False)
    )

    def sdk() -> None:
        client.send_to_all(BODY, content_type="text/plain")

    def sdk_no_env() -> None:
        no_env.send_to_all(BODY, content_type="text/plain")

    raw_best = sdk_best = lib_best = no_env_best = 0.0
    try:
        for _ in range(repeats):  # interleaved so that load from other tenants hits every side alike
            raw_best = max(raw_best, _sync_rate(raw, count, max_seconds))
            sdk_best = max(sdk_best, _sync_rate(sdk, count, max_seconds))
            lib_best = max(lib_best, _sync_rate(lib, count, max_seconds))
            no_env_best = max(no_env_best, _sync_rate(sdk_no_env, count, max_seconds))
    finally:
        client.close()
        no_env.close()
        conn.close()
        session.close()
    return {"sdk": sdk_best, "raw": raw_best, "lib": lib_best, "no_env": no_env_best}


def _core_clients(endpoint: str) -> Dict[str, AsyncPipelineClient]:
    """The two azure-core baselines, each over its own ``AioHttpTransport`` (environment lookups off, as the SDK's)."""
    return {
        "core_jwt": AsyncPipelineClient(
            endpoint, policies=[HandJwtPolicy()], transport=AioHttpTransport(use_env_settings=False)
        ),
        "core_policies": AsyncPipelineClient(
            endpoint,
            policies=[
                HeadersPolicy(),
                UserAgentPolicy(sdk_moniker="bench/0"),
                AsyncRetryPolicy(),
                HandJwtPolicy(),
            ],
            transport=AioHttpTransport(use_env_settings=False),
        ),
    }


async def _async_pair(endpoint: str, count: int, repeats: int, max_seconds: float) -> Dict[str, float]:
    from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

    url = f"{endpoint}/api/hubs/{HUB}/:send?api-version={API_VERSION}"
    best = {"raw": 0.0, "sdk": 0.0, "no_env": 0.0, "core_jwt": 0.0, "core_policies": 0.0}
    async with aiohttp.ClientSession() as session:

        async def raw() -> None:
            headers = {"Authorization": "Bearer " + rest_token(url), "Content-Type": "text/plain"}
            async with session.post(url, data=BODY.encode(), headers=headers) as response:
                await response.read()
                if response.status != 202:
                    raise RuntimeError(f"raw send answered {response.status}")

        def core(client: AsyncPipelineClient) -> Callable[[], Awaitable[None]]:
            async def send() -> None:
                request = HttpRequest("POST", url, headers={"Content-Type": "text/plain"}, content=BODY.encode())
                response = await client.send_request(request)
                if response.status_code != 202:
                    raise RuntimeError(f"azure-core send answered {response.status_code}")

            return send

        client = WebPubSubServiceClient.from_connection_string(_conn_str(endpoint), hub=HUB)
        no_env = WebPubSubServiceClient.from_connection_string(
            _conn_str(endpoint), hub=HUB, transport=AioHttpTransport(use_env_settings=False)
        )
        cores = _core_clients(endpoint)
        async with client, no_env, cores["core_jwt"], cores["core_policies"]:

            async def sdk() -> None:
                await client.send_to_all(BODY, content_type="text/plain")

            async def sdk_no_env() -> None:
                await no_env.send_to_all(BODY, content_type="text/plain")

            sends = {
                "raw": raw,
                "core_jwt": core(cores["core_jwt"]),
                "core_policies": core(cores["core_policies"]),
                "sdk": sdk,
                "no_env": sdk_no_env,
            }
            for _ in range(repeats):  # interleaved, so that load from other tenants hits every side alike
                for name, send in sends.items():
                    best[name] = max(best[name], await _async_rate(send, count, CONCURRENCY, max_seconds))
    return best


def run(quick: bool) -> Dict[str, float]:
    sync_count, aio_count, repeats, max_seconds = (20, 64, 1, 5.0) if quick else (2000, 4000, 3, 20.0)
    with emulator_process() as emu:
        status(f"throughput: emulator pid {emu.pid} at {emu.endpoint}")
        sync = _sync_pair(emu.endpoint, sync_count, repeats, max_seconds)
        aio = asyncio.run(_async_pair(emu.endpoint, aio_count, repeats, max_seconds))
        # enough calls for the process clock (10 ms ticks) to resolve a per-call cost of ~100 us
        cpu = _emulator_cpu(emu.endpoint, emu.pid, 300 if quick else 3000, 2 * repeats + 1)
    results = {
        "sync_sdk_requests_per_s": sync["sdk"],
        "sync_raw_requests_per_s": sync["raw"],
        "sync_throughput_ratio": safe_ratio(sync["sdk"], sync["raw"]),
        "sync_requests_lib_requests_per_s": sync["lib"],
        "sync_vs_requests_lib_ratio": safe_ratio(sync["sdk"], sync["lib"]),
        "sync_sdk_no_env_settings_requests_per_s": sync["no_env"],
        "sync_no_env_settings_throughput_ratio": safe_ratio(sync["no_env"], sync["raw"]),
        "aio_sdk_requests_per_s": aio["sdk"],
        "aio_raw_requests_per_s": aio["raw"],
        "aio_throughput_ratio": safe_ratio(aio["sdk"], aio["raw"]),
        "aio_sdk_no_env_settings_requests_per_s": aio["no_env"],
        "aio_no_env_settings_throughput_ratio": safe_ratio(aio["no_env"], aio["raw"]),
        "aio_core_jwt_requests_per_s": aio["core_jwt"],
        "aio_core_jwt_throughput_ratio": safe_ratio(aio["core_jwt"], aio["raw"]),
        "aio_core_policies_requests_per_s": aio["core_policies"],
        "aio_core_policies_throughput_ratio": safe_ratio(aio["core_policies"], aio["raw"]),
        "aio_vs_core_policies_ratio": safe_ratio(aio["sdk"], aio["core_policies"]),
        "rest_emulator_cpu_us_per_call": cpu["sdk_style"],
        "rest_emulator_cpu_us_per_call_fresh_tokens": cpu["fresh"],
    }
    print_table(
        "(b) send_to_all throughput against the emulator over loopback (goal: ratio >= 0.8)",
        ["client", "SDK req/s", "raw req/s", "ratio"],
        [
            ["sync vs http.client", sync["sdk"], sync["raw"], results["sync_throughput_ratio"]],
            ["sync vs requests.Session", sync["sdk"], sync["lib"], results["sync_vs_requests_lib_ratio"]],
            [
                "sync, use_env_settings=False",
                sync["no_env"],
                sync["raw"],
                results["sync_no_env_settings_throughput_ratio"],
            ],
            [f"aio x{CONCURRENCY} vs aiohttp", aio["sdk"], aio["raw"], results["aio_throughput_ratio"]],
            ["aio, use_env_settings=False", aio["no_env"], aio["raw"], results["aio_no_env_settings_throughput_ratio"]],
            ["azure-core + JWT vs aiohttp", aio["core_jwt"], aio["raw"], results["aio_core_jwt_throughput_ratio"]],
            [
                "azure-core + headers, UA, retry, JWT vs aiohttp",
                aio["core_policies"],
                aio["raw"],
                results["aio_core_policies_throughput_ratio"],
            ],
            [
                "aio vs azure-core + headers, UA, retry, JWT (goal >= 0.9)",
                aio["sdk"],
                aio["core_policies"],
                results["aio_vs_core_policies_ratio"],
            ],
            ["sync vs requests.Session (goal >= 0.9)", sync["sdk"], sync["lib"], results["sync_vs_requests_lib_ratio"]],
        ],
    )
    print_table(
        "(b) the emulator's CPU per REST call (http.client, keep-alive; median)",
        ["tokens", "emulator CPU us/call"],
        [["as the SDKs sign them", cpu["sdk_style"]], ["a fresh token every call", cpu["fresh"]]],
    )
    return results
