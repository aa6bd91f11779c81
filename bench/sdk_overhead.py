"""(a) What one SDK call costs in the client, with the network taken out.

The public ``WebPubSubServiceClient`` runs over an in-memory transport that answers 202 at once. The baseline is a bare
``azure.core.PipelineClient`` (azure-core's own default policy list) sending the same request through the same
transport, with the same JWT work done by a hand-written policy. A second, "minimal" baseline has nothing but that JWT
policy, to show how much of the cost is azure-core's pipeline rather than our code. A third, "full-pipeline" one
runs azure-core's stock versions of the 13 policies a generated client installs (retry, redirect, logging, tracing, ...)
with the hand-written JWT policy in the authentication slot: the SDK minus that is what our own layers cost.

``get_client_access_token`` is compared with signing the same claims with PyJWT directly and building the URL by hand.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Dict

import jwt
from azure.core import AsyncPipelineClient, PipelineClient
from azure.core.credentials import AzureKeyCredential
from azure.core.pipeline.policies import (
    ContentDecodePolicy,
    CustomHookPolicy,
    DistributedTracingPolicy,
    HeadersPolicy,
    HttpLoggingPolicy,
    NetworkTraceLoggingPolicy,
    ProxyPolicy,
    RedirectPolicy,
    RequestIdPolicy,
    RetryPolicy,
    SansIOHTTPPolicy,
    SensitiveHeaderCleanupPolicy,
    UserAgentPolicy,
)
from azure.core.rest import HttpRequest

from ._common import ACCESS_KEY, API_VERSION, HUB, print_table, rest_token, safe_ratio, time_per_call_us
from ._memtransport import AsyncMemoryTransport, MemoryTransport

ENDPOINT = "https://bench.webpubsub.example.com"
MESSAGE = {"hello": "world", "n": 1}


class HandJwtPolicy(SansIOHTTPPolicy):
    """The JWT work the SDK's key policy does, written out by hand: ``aud`` = the full request URL, exp = now + 60 s."""

    def on_request(self, request: Any) -> None:
        request.http_request.headers["Authorization"] = "Bearer " + rest_token(request.http_request.url)


def _raw_send_request(excluded: str = "") -> HttpRequest:
    params = {"excluded": excluded, "api-version": API_VERSION} if excluded else {"api-version": API_VERSION}
    return HttpRequest(
        "POST",
        f"{ENDPOINT}/api/hubs/{HUB}/:send",
        params=params,
        headers={"Accept": "application/json", "Content-Type": "application/json"},
        content=json.dumps(MESSAGE),
    )


async def _aio_pair(calls: int, repeats: int) -> Dict[str, float]:
    """The same comparison for the ``.aio`` client against a bare ``AsyncPipelineClient`` (azure-core defaults)."""
    from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient as AsyncClient

    sdk = AsyncClient(ENDPOINT, HUB, AzureKeyCredential(ACCESS_KEY), transport=AsyncMemoryTransport())
    bare = AsyncPipelineClient(ENDPOINT, transport=AsyncMemoryTransport(), per_call_policies=[HandJwtPolicy()])

    async def sdk_send() -> None:
        await sdk.send_to_all(MESSAGE)

    async def bare_send() -> None:
        response = await bare.send_request(_raw_send_request())
        if response.status_code != 202:
            raise RuntimeError(response.status_code)

    async def per_call_us(fn: Any) -> float:
        for _ in range(min(calls, 50)):
            await fn()
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(calls):
                await fn()
            best = min(best, (time.perf_counter() - start) / calls)
        return best * 1e6

    async with sdk, bare:
        return {"sdk": await per_call_us(sdk_send), "raw": await per_call_us(bare_send)}


def run(quick: bool) -> Dict[str, float]:
    from azure.messaging.webpubsubservice import WebPubSubServiceClient

    calls, repeats = (50, 2) if quick else (3000, 5)

    sdk_transport = MemoryTransport()
    sdk = WebPubSubServiceClient(ENDPOINT, HUB, AzureKeyCredential(ACCESS_KEY), transport=sdk_transport)
    bare_transport = MemoryTransport()
    bare = PipelineClient(ENDPOINT, transport=bare_transport, per_call_policies=[HandJwtPolicy()])
    minimal_transport = MemoryTransport()
    minimal = PipelineClient(ENDPOINT, transport=minimal_transport, policies=[HandJwtPolicy()])
    full_transport = MemoryTransport()
    full = PipelineClient(
        ENDPOINT,
        transport=full_transport,
        policies=[
            RequestIdPolicy(),
            HeadersPolicy(),
            UserAgentPolicy(sdk_moniker="bench/0"),
            ProxyPolicy(),
            ContentDecodePolicy(),
            RedirectPolicy(),
            RetryPolicy(),
            HandJwtPolicy(),
            CustomHookPolicy(),
            NetworkTraceLoggingPolicy(),
            DistributedTracingPolicy(),
            SensitiveHeaderCleanupPolicy(),
            HttpLoggingPolicy(),
        ],
    )

    def sdk_send() -> None:
        sdk.send_to_all(MESSAGE)

    def bare_send() -> None:
        response = bare.send_request(_raw_send_request())
        if response.status_code != 202:
            raise RuntimeError(response.status_code)

    def full_send() -> None:
        response = full.send_request(_raw_send_request())
        if response.status_code != 202:
            raise RuntimeError(response.status_code)

    def minimal_send() -> None:
        response = minimal.send_request(_raw_send_request())
        if response.status_code != 202:
            raise RuntimeError(response.status_code)

    # Sanity: both sides really sent the same request (method, path, query and a signed Authorization header).
    sdk_send()
    bare_send()
    got, want = sdk_transport.last_request, bare_transport.last_request
    assert got is not None and want is not None
    if (got.method, got.url) != (want.method, want.url):
        raise RuntimeError(f"SDK sent {got.method} {got.url}, baseline sent {want.method} {want.url}")
    if not got.headers.get("Authorization", "").startswith("Bearer "):
        raise RuntimeError("the SDK request carries no bearer token")

    sdk_send_us = time_per_call_us(sdk_send, calls, repeats)

    # The SDK reuses a REST token for the same URL within the same second; with a fixed URL the loop above mostly
    # hits that cache. A distinct URL per call (a counter in ``excluded``) measures the signing path every time.
    counter = iter(range(10**9))

    def sdk_send_distinct() -> None:
        sdk.send_to_all(MESSAGE, excluded=[f"c{next(counter)}"])

    def bare_send_distinct() -> None:
        response = bare.send_request(_raw_send_request(f"c{next(counter)}"))
        if response.status_code != 202:
            raise RuntimeError(response.status_code)

    sdk_distinct_us = time_per_call_us(sdk_send_distinct, calls, repeats)
    bare_distinct_us = time_per_call_us(bare_send_distinct, calls, repeats)
    bare_send_us = time_per_call_us(bare_send, calls, repeats)
    minimal_send_us = time_per_call_us(minimal_send, calls, repeats)
    full_send_us = time_per_call_us(full_send, calls, repeats)

    roles = ["webpubsub.sendToGroup", "webpubsub.joinLeaveGroup"]

    def sdk_token() -> None:
        sdk.get_client_access_token(user_id="user1", roles=roles)

    def raw_token() -> None:
        base = f"{ENDPOINT.lower()}/client/hubs/{HUB}"
        now = int(time.time())
        token = jwt.encode(
            {"aud": base, "iat": now, "exp": now + 3600, "sub": "user1", "role": roles}, ACCESS_KEY, algorithm="HS256"
        )
        ws_base = base.replace("https://", "wss://", 1)
        _ = {"baseUrl": ws_base, "token": token, "url": f"{ws_base}?access_token={token}"}

    sdk_token_us = time_per_call_us(sdk_token, calls, repeats)
    raw_token_us = time_per_call_us(raw_token, calls, repeats)

    aio = asyncio.run(_aio_pair(calls, repeats))

    results = {
        "send_to_all_sdk_us_per_call": sdk_send_us,
        "send_to_all_raw_us_per_call": bare_send_us,
        "send_to_all_minimal_pipeline_us_per_call": minimal_send_us,
        "send_to_all_distinct_urls_sdk_us_per_call": sdk_distinct_us,
        "send_to_all_distinct_urls_raw_us_per_call": bare_distinct_us,
        "send_to_all_distinct_urls_overhead_ratio": safe_ratio(sdk_distinct_us, bare_distinct_us),
        "send_to_all_full_pipeline_us_per_call": full_send_us,
        "send_to_all_vs_full_pipeline_ratio": safe_ratio(sdk_send_us, full_send_us),
        "send_to_all_overhead_ratio": safe_ratio(sdk_send_us, bare_send_us),
        "aio_send_to_all_sdk_us_per_call": aio["sdk"],
        "aio_send_to_all_raw_us_per_call": aio["raw"],
        "aio_send_to_all_overhead_ratio": safe_ratio(aio["sdk"], aio["raw"]),
        "get_client_access_token_sdk_us_per_call": sdk_token_us,
        "get_client_access_token_raw_us_per_call": raw_token_us,
        "get_client_access_token_overhead_ratio": safe_ratio(sdk_token_us, raw_token_us),
    }
    print_table(
        "(a) SDK per-call overhead, in-memory transport (goal: ratio <= 1.3)",
        ["call", "SDK us", "raw us", "ratio", "minimal-pipeline us", "full-pipeline us"],
        [
            [
                "send_to_all",
                sdk_send_us,
                bare_send_us,
                results["send_to_all_overhead_ratio"],
                minimal_send_us,
                full_send_us,
            ],
            [
                "send_to_all, a new URL each call",
                sdk_distinct_us,
                bare_distinct_us,
                results["send_to_all_distinct_urls_overhead_ratio"],
                float("nan"),
                float("nan"),
            ],
            [
                "aio send_to_all",
                aio["sdk"],
                aio["raw"],
                results["aio_send_to_all_overhead_ratio"],
                float("nan"),
                float("nan"),
            ],
            [
                "get_client_access_token",
                sdk_token_us,
                raw_token_us,
                results["get_client_access_token_overhead_ratio"],
                float("nan"),
                float("nan"),
            ],
        ],
    )
    return results
