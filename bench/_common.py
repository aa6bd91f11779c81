"""Shared helpers for the benchmarks: JWTs, timing, subprocess servers, /proc readings, tables."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import resource
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence

import jwt

ACCESS_KEY = "BenchKey-0123456789abcdefghijklmnopqrstuvwxyz"  # >= 32 bytes, like the service requires
HUB = "bench"
API_VERSION = "2024-12-01"

_ENDPOINT_RE = re.compile(r"(https?://[0-9A-Za-z.\-\[\]:]+:\d+)")


def rest_token(url: str, key: str = ACCESS_KEY, ttl: int = 60) -> str:
    """The access-key JWT a server SDK signs for one REST request: ``aud`` is the full URL."""
    return jwt.encode({"aud": url, "exp": int(time.time()) + ttl}, key, algorithm="HS256")


def client_token(
    endpoint: str, hub: str = HUB, key: str = ACCESS_KEY, minutes: int = 60, path: str = "/client/hubs/"
) -> str:
    """A client access token for ``hub`` on ``endpoint`` (http form); MQTT clients: ``path="/clients/mqtt/hubs/"``."""
    now = int(time.time())
    return jwt.encode(
        {"aud": f"{endpoint.lower()}{path}{hub}", "iat": now, "exp": now + minutes * 60},
        key,
        algorithm="HS256",
    )


def client_ws_url(endpoint: str, hub: str = HUB, key: str = ACCESS_KEY) -> str:
    base = endpoint.replace("http://", "ws://", 1)
    return f"{base}/client/hubs/{hub}?access_token={client_token(endpoint, hub, key)}"


def percentile(values: Sequence[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(pct / 100.0 * (len(ordered) - 1))))
    return ordered[k]


def time_per_call_us(fn: Callable[[], object], calls: int, repeats: int) -> float:
    """The best-of-``repeats`` mean time of ``fn`` in microseconds (best-of filters noise from a shared machine)."""
    for _ in range(min(calls, 50)):  # warm-up: caches, lazy imports, first-request setup
        fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best * 1e6


def raise_nofile(wanted: int) -> int:
    """Raise RLIMIT_NOFILE (soft) towards ``wanted``; children inherit it. Returns the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """The CPU time a process has used so far, every thread (``/proc/<pid>/task/*/schedstat``, nanoseconds)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat", encoding="ascii") as fh:
                total += int(fh.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):  # a thread that ended meanwhile
            continue
    return total / 1e9


@dataclass
class ServerProcess:
    """A server running as a child process (the emulator CLI or the raw aiohttp baseline)."""

    name: str
    proc: subprocess.Popen
    endpoint: str
    output: List[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def port(self) -> int:
        return int(self.endpoint.rsplit(":", 1)[1])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def _spawn(name: str, argv: List[str], timeout: float = 30.0) -> ServerProcess:
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        bufsize=1,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: List[str] = []
    found: Dict[str, str] = {}
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if len(lines) < 200:
                lines.append(line.rstrip("\n"))
            if not ready.is_set():
                match = _ENDPOINT_RE.search(line)
                if match:
                    found["endpoint"] = match.group(1)
                    ready.set()
        ready.set()

    threading.Thread(target=pump, name=f"{name}-stdout", daemon=True).start()
    if not ready.wait(timeout) or "endpoint" not in found:
        proc.kill()
        proc.wait()
        raise RuntimeError(f"{name} did not print its endpoint within {timeout}s; output: {lines!r}")
    server = ServerProcess(name, proc, found["endpoint"].replace("localhost", "127.0.0.1"), lines)
    _wait_port(server.port)
    return server


def _wait_port(port: int, timeout: float = 10.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def emulator_argv() -> List[str]:
    """The emulator CLI, run with the venv's interpreter so it needs nothing on PATH."""
    exe = os.path.join(os.path.dirname(sys.executable), "webpubsub-emulator")
    base = [exe] if os.path.exists(exe) else [sys.executable, "-m", "webpubsub_emulator.cli"]
    return [*base, "--host", "127.0.0.1", "--port", "0", "--access-key", ACCESS_KEY]


@contextlib.contextmanager
def emulator_process() -> Iterator[ServerProcess]:
    server = _spawn("emulator", emulator_argv())
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def raw_server_process() -> Iterator[ServerProcess]:
    server = _spawn("raw-aiohttp", [sys.executable, "-m", "bench._rawserver", "--port", "0"])
    try:
        yield server
    finally:
        server.stop()


def fmt(value: object) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(h) for h in header]] + [[fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    for i, row in enumerate(cells):
        print("  " + "  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(row, widths))))
        if i == 0:
            print("  " + "  ".join("-" * w for w in widths))


def safe_ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def status(msg: str, *, verbose: Optional[bool] = True) -> None:
    if verbose:
        print(f"[bench] {msg}", file=sys.stderr, flush=True)


class Figures(NamedTuple):
    """What a broadcast run measured (NaN where nothing arrived); ``note`` says what was missing."""

    msgs_per_s: float
    latency_p50_ms: float
    latency_p99_ms: float
    delivered_fraction: float
    note: Optional[str]


class Broadcasts:
    """One broadcast run: each message's send time and arrivals, and when all ``expected`` clients have it.

    Clients call :meth:`arrived` with the sequence number they received (negative ones, warm-ups, are ignored);
    :meth:`run` sends ``messages`` broadcasts with at most ``window`` outstanding.
    """

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.sent: Dict[int, float] = {}
        self.counts: Dict[int, int] = {}
        self.complete: Dict[int, asyncio.Event] = {}
        self.latencies: List[float] = []
        self.first = 0.0
        self.last_arrival = 0.0
        self.messages = 0

    def arrived(self, seq: int) -> None:
        now = time.perf_counter()
        if seq < 0 or seq not in self.sent:
            return
        self.latencies.append(now - self.sent[seq])
        self.last_arrival = now
        self.counts[seq] = self.counts.get(seq, 0) + 1
        if self.counts[seq] >= self.expected:
            self.complete[seq].set()

    async def run(
        self, broadcast: Callable[[int], Awaitable[None]], messages: int, window: int, per_message_timeout: float
    ) -> Figures:
        self.messages = messages
        for seq in range(messages):
            self.complete[seq] = asyncio.Event()
        self.first = time.perf_counter()
        for seq in range(messages):
            if seq >= window:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.complete[seq - window].wait(), per_message_timeout)
            self.sent[seq] = time.perf_counter()
            await broadcast(seq)
        for seq in range(max(0, messages - window), messages):
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.complete[seq].wait(), per_message_timeout)
        return self.figures()

    def figures(self) -> Figures:
        delivered = len(self.latencies)
        wanted = self.expected * self.messages
        nan = float("nan")
        fraction = delivered / wanted if wanted else nan
        if not delivered:
            return Figures(nan, nan, nan, fraction, f"none of {wanted} deliveries arrived")
        return Figures(
            delivered / max(1e-9, self.last_arrival - self.first),
            percentile(self.latencies, 50) * 1e3,
            percentile(self.latencies, 99) * 1e3,
            fraction,
            None if delivered >= wanted else f"only {delivered} of {wanted} deliveries arrived",
        )
