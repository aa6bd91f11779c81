"""(g) What the live trace page costs: REST send and fan-out throughput with and without someone watching.

Three emulators run as child processes. Two are never watched: nothing ever subscribes to their trace. The first is
the baseline; the second, the control, shows how far two identical emulators differ on this machine (the noise a
difference must exceed to count). On the third a watcher came and went before the first measurement, then each round
measures it

* with no watcher (the page's feed has unsubscribed again: this must cost nothing),
* with one watcher reading the live channel (``bench._trace_watcher``, its own process, decoding every batch as the
  page does),
* with one stalled watcher (connected, never reading: a frozen tab),

and the baseline and the control, in an order that rotates from round to round. Figures are medians over the rounds;
each ratio is the median of the per-round ratios to the baseline measured in the same round.

* REST: ``send_to_all`` (text/plain, its own JWT each) to a hub with two raw WebSocket clients reading, 8 calls in
  flight; calls per second, and the emulator's CPU time per call.
* Fan-out: the (c) measurement (N raw clients, M broadcasts, at most 2 in flight); deliveries per second, and the
  emulator's CPU time per delivery.

The CPU time (``/proc/<pid>/task/*/schedstat``, what the emulator process itself ran) is the steadier figure on a
shared machine: throughput also moves with whatever else runs, the CPU an operation takes much less.

With a watcher every REST call and every delivered frame is one feed entry; the watcher gets at most
``TRACE_BATCH_ENTRIES`` entries per ``TRACE_FLUSH_SECONDS`` and loses the rest (counted): its entries received and
lost are reported too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import time
import urllib.request
from typing import Any, Callable, Dict, Iterator, List, Optional

import aiohttp

from . import fanout
from ._common import (
    API_VERSION,
    HUB,
    ServerProcess,
    client_ws_url,
    cpu_seconds,
    emulator_process,
    print_table,
    rest_token,
    safe_ratio,
    status,
)

CONFIGS = ("unobserved", "unobserved_control", "no_watcher", "one_watcher", "stalled_watcher")
#: each figure: what it measures, its unit and the name of its ratio (result keys: trace_<what>_<config>_<unit>)
_KINDS = {
    "rest": ("rest", "calls_per_s", "ratio"),
    "rest_cpu": ("rest", "cpu_us_per_call", "cpu_ratio"),
    "fanout": ("fanout", "msgs_per_s", "ratio"),
    "fanout_cpu": ("fanout", "cpu_us_per_msg", "cpu_ratio"),
}
REST_IN_FLIGHT = 8
REST_RECEIVERS = 2


@contextlib.contextmanager
def watcher(server: ServerProcess, *, stall: bool = False) -> Iterator[Dict[str, int]]:
    """A watcher process on ``server``'s trace page; yields the totals it reports when it is stopped."""
    argv = [sys.executable, "-m", "bench._trace_watcher", str(server.port)] + (["--stall"] if stall else [])
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    totals: Dict[str, int] = {}
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"the trace watcher did not start: {line!r}")
        time.sleep(0.2)  # subscribed, snapshot sent
        yield totals
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
        with contextlib.suppress(ValueError, IndexError):
            totals.update(json.loads(out.strip().splitlines()[-1]))
        _wait_unwatched(server)


def _wait_unwatched(server: ServerProcess, timeout: float = 40.0) -> None:
    """Wait until the emulator has let the watcher go (its snapshot counts the watchers; asking for it is no watch)."""
    deadline = time.monotonic() + timeout
    while True:
        with urllib.request.urlopen(f"{server.endpoint}/trace/api/snapshot", timeout=10) as answer:
            if json.loads(answer.read())["watchers"] == 0:
                return
        if time.monotonic() > deadline:
            raise RuntimeError("the emulator still counts a watcher that has gone")
        time.sleep(0.05)


async def _rest_rate(server: ServerProcess, calls: int) -> tuple[float, float]:
    """(calls per second, emulator CPU microseconds per call)."""
    url = f"{server.endpoint}/api/hubs/{HUB}/:send?api-version={API_VERSION}"
    async with aiohttp.ClientSession() as session:
        sockets = [await session.ws_connect(client_ws_url(server.endpoint)) for _ in range(REST_RECEIVERS)]
        readers = [asyncio.create_task(_drain(ws)) for ws in sockets]

        async def call() -> None:
            headers = {"Authorization": "Bearer " + rest_token(url), "Content-Type": "text/plain"}
            async with session.post(url, data=b"hello", headers=headers) as response:
                await response.read()
                if response.status != 202:
                    raise RuntimeError(f"emulator :send answered {response.status}")

        for _ in range(20):  # warm-up
            await call()
        remaining = calls
        cpu_before = cpu_seconds(server.pid)
        start = time.perf_counter()

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await call()

        await asyncio.gather(*(worker() for _ in range(REST_IN_FLIGHT)))
        rate = calls / (time.perf_counter() - start)
        cpu_us = (cpu_seconds(server.pid) - cpu_before) / calls * 1e6
        for ws in sockets:
            await ws.close()
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        return rate, cpu_us


async def _drain(ws: aiohttp.ClientWebSocketResponse) -> None:
    async for _msg in ws:
        pass


def _fanout_rate(server: ServerProcess, clients: int, messages: int) -> tuple[float, float]:
    """(deliveries per second, emulator CPU microseconds per delivery)."""
    point = fanout.Point("emulator", clients, messages)
    target = fanout._emulator_target(server)
    asyncio.run(fanout._measure(server, target, clients, messages, point, cpu=lambda: cpu_seconds(server.pid)))
    return point.msgs_per_s, point.cpu_s / max(1, clients * messages) * 1e6


def _measure(server: ServerProcess, sizes: Dict[str, int]) -> Dict[str, float]:
    rest, rest_cpu = asyncio.run(_rest_rate(server, sizes["rest_calls"]))
    fan, fan_cpu = _fanout_rate(server, sizes["fanout_clients"], sizes["fanout_messages"])
    return {"rest": rest, "rest_cpu": rest_cpu, "fanout": fan, "fanout_cpu": fan_cpu}


def run(quick: bool) -> Dict[str, Any]:
    sizes = (
        {"rounds": 1, "rest_calls": 60, "fanout_clients": 5, "fanout_messages": 3}
        if quick
        else {"rounds": 9, "rest_calls": 1500, "fanout_clients": 200, "fanout_messages": 50}
    )
    figures: Dict[str, Dict[str, List[float]]] = {c: {k: [] for k in _KINDS} for c in CONFIGS}
    watched: List[Dict[str, int]] = []
    with emulator_process() as plain, emulator_process() as control, emulator_process() as traced:
        with watcher(traced):  # someone watched once: the feed subscribed, then unsubscribed when it left
            pass
        runs: Dict[str, Callable[[], Dict[str, float]]] = {
            "unobserved": lambda: _measure(plain, sizes),
            "unobserved_control": lambda: _measure(control, sizes),
            "no_watcher": lambda: _measure(traced, sizes),
            "one_watcher": lambda: _watched(traced, sizes, watched, stall=False),
            "stalled_watcher": lambda: _watched(traced, sizes, None, stall=True),
        }
        for round_ in range(sizes["rounds"]):
            order = CONFIGS[round_ % len(CONFIGS) :] + CONFIGS[: round_ % len(CONFIGS)]
            for config in order:
                status(f"(g) round {round_ + 1}/{sizes['rounds']}: {config}")
                got = runs[config]()
                status(
                    f"(g)   REST {got['rest']:,.0f} calls/s ({got['rest_cpu']:.0f} us CPU each), "
                    f"fan-out {got['fanout']:,.0f} msgs/s ({got['fanout_cpu']:.1f} us CPU each)"
                )
                for kind, value in got.items():
                    figures[config][kind].append(value)
    results: Dict[str, Any] = {"trace_rounds": sizes["rounds"], "trace_fanout_clients_count": sizes["fanout_clients"]}
    for kind, (what, unit, ratio) in _KINDS.items():
        base = figures["unobserved"][kind]
        for config in CONFIGS:
            results[f"trace_{what}_{config}_{unit}"] = statistics.median(figures[config][kind])
            if config != "unobserved":
                ratios = [safe_ratio(v, b) for v, b in zip(figures[config][kind], base)]
                results[f"trace_{what}_{config}_{ratio}"] = statistics.median(ratios)
    results["trace_watcher_entries"] = sum(w.get("entries", 0) for w in watched)
    results["trace_watcher_lost"] = sum(w.get("lost", 0) for w in watched)
    print_table(
        "(g) the live trace page's cost (medians; ratio: to the never-watched emulator in the same round)",
        ["emulator", "REST calls/s", "ratio", "CPU us/call", "ratio", "fan-out msgs/s", "ratio", "CPU us/msg", "ratio"],
        [
            [config.replace("_", " ")]
            + [
                cell
                for what, unit, ratio in _KINDS.values()
                for cell in (
                    results[f"trace_{what}_{config}_{unit}"],
                    results.get(f"trace_{what}_{config}_{ratio}", 1.0),
                )
            ]
            for config in CONFIGS
        ],
    )
    status(
        f"(g) the reading watcher got {results['trace_watcher_entries']} entries and was told it lost "
        f"{results['trace_watcher_lost']}"
    )
    return results


def _watched(
    server: ServerProcess, sizes: Dict[str, int], totals: Optional[List[Dict[str, int]]], *, stall: bool
) -> Dict[str, float]:
    with watcher(server, stall=stall) as got:
        figures = _measure(server, sizes)
        time.sleep(0.3)  # the last batches reach the watcher
    if totals is not None:
        totals.append(got)
    return figures
