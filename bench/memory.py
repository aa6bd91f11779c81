"""``python -m bench.memory``: where the emulator's memory per idle connection goes, by allocation site.

The emulator runs in this process (``EmulatorThread``) under ``tracemalloc``; a child process opens N raw WebSocket
clients and keeps them open. The difference between a snapshot after one warm-up connection and one after the N
connections, divided by N, is listed by file:line. (tracemalloc counts Python allocations only; RSS also holds the
kernel-side socket buffers and allocator slack, so the RSS figure of ``python -m bench`` is somewhat larger.)
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import time
import tracemalloc
from typing import List

from ._common import ACCESS_KEY, client_ws_url, raise_nofile

_CLIENTS = r"""
import asyncio, sys, aiohttp
async def main(url, n):
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
        sockets = [await s.ws_connect(url) for _ in range(n)]
        print("connected", len(sockets), flush=True)
        sys.stdin.readline()
asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def _clients(url: str, n: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", _CLIENTS, url, str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("connected"):
        raise RuntimeError(f"client process failed: {line!r}")
    return proc


def _release(proc: subprocess.Popen) -> None:
    assert proc.stdin is not None
    proc.stdin.write("\n")
    proc.stdin.flush()
    proc.wait(timeout=60)


def _site(frame: tracemalloc.Frame) -> str:
    return frame.filename.split("site-packages/")[-1].split("/work/main/")[-1] + f":{frame.lineno}"


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args(argv)
    raise_nofile(2 * args.connections + 1024)
    tracemalloc.start(2)
    from webpubsub_emulator import EmulatorThread

    with EmulatorThread(host="127.0.0.1", port=0, access_key=ACCESS_KEY) as emu:
        url = client_ws_url(emu.endpoint)
        warm = _clients(url, 1)
        time.sleep(0.3)
        gc.collect()
        before = tracemalloc.take_snapshot()
        many = _clients(url, args.connections)
        time.sleep(0.5)
        gc.collect()
        after = tracemalloc.take_snapshot()
        _release(many)
        _release(warm)
    stats = after.compare_to(before, "traceback")
    n = args.connections
    total = sum(s.size_diff for s in stats)
    print(f"Python allocations per idle connection: {total / n / 1024:.2f} KiB ({n} connections)")
    print(f"{'bytes/conn':>10}  {'blocks/conn':>11}  site")
    for stat in stats[: args.top]:
        frames = list(stat.traceback)[::-1]  # innermost first
        where = _site(frames[0])
        if frames[0].filename == "<string>" and len(frames) > 1:  # generated code (dataclass __init__): show caller
            where += f" (from {_site(frames[1])})"
        print(f"{stat.size_diff / n:10.0f}  {stat.count_diff / n:11.1f}  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
