"""``python -m bench.profile``: where the time goes, with pyinstrument (see docs/performance.md for the findings).

1. ``sdk-send``: ``send_to_all`` through the public client over the in-memory transport.
2. ``sdk-token``: ``get_client_access_token``.
3. ``sdk-aio-send``: ``send_to_all`` through the public ``aio`` client over the in-memory async transport.
4. ``emulator``: the emulator CLI runs under pyinstrument (``bench._emu_profiled``) while this process drives REST
   sends (no receivers) and a broadcast to WebSocket clients; the report is written when it exits.

Reports go to ``--output`` (default: bench/profiles/) as text, one file per target. ``--quick`` shrinks every loop.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List

from ._common import _ENDPOINT_RE, ACCESS_KEY, _wait_port, status

HERE = Path(__file__).resolve().parent


def _profile_sdk(out: Path, quick: bool) -> None:
    from azure.core.credentials import AzureKeyCredential
    from azure.messaging.webpubsubservice import WebPubSubServiceClient
    from pyinstrument import Profiler

    from ._memtransport import MemoryTransport
    from .sdk_overhead import ENDPOINT, HUB, MESSAGE

    client = WebPubSubServiceClient(ENDPOINT, HUB, AzureKeyCredential(ACCESS_KEY), transport=MemoryTransport())
    calls = 200 if quick else 5000
    for name, fn in (
        ("sdk-send", lambda: client.send_to_all(MESSAGE)),
        ("sdk-token", lambda: client.get_client_access_token(user_id="u1", roles=["webpubsub.sendToGroup"])),
    ):
        fn()
        profiler = Profiler(interval=0.0001)
        profiler.start()
        for _ in range(calls):
            fn()
        profiler.stop()
        (out / f"{name}.txt").write_text(profiler.output_text(unicode=False, color=False, show_all=False))
        status(f"wrote {out / f'{name}.txt'}")
    asyncio.run(_profile_aio_send(out, calls))


async def _profile_aio_send(out: Path, calls: int) -> None:
    from azure.core.credentials import AzureKeyCredential
    from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient
    from pyinstrument import Profiler

    from ._memtransport import AsyncMemoryTransport
    from .sdk_overhead import ENDPOINT, HUB, MESSAGE

    async with WebPubSubServiceClient(
        ENDPOINT, HUB, AzureKeyCredential(ACCESS_KEY), transport=AsyncMemoryTransport()
    ) as client:
        await client.send_to_all(MESSAGE)
        profiler = Profiler(interval=0.0001, async_mode="disabled")
        profiler.start()
        for _ in range(calls):
            await client.send_to_all(MESSAGE)
        profiler.stop()
    path = out / "sdk-aio-send.txt"
    path.write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    status(f"wrote {path}")


async def _drive(endpoint: str, sends: int, clients: int, broadcasts: int) -> None:
    import aiohttp

    from ._common import API_VERSION, HUB, client_ws_url, rest_token

    url = f"{endpoint}/api/hubs/{HUB}/:send?api-version={API_VERSION}"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def post(body: bytes) -> None:
            headers = {"Authorization": "Bearer " + rest_token(url), "Content-Type": "text/plain"}
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()

        # REST path only (hub without connections)
        other = url.replace(f"/hubs/{HUB}/", "/hubs/empty/")
        for _ in range(sends):
            headers = {"Authorization": "Bearer " + rest_token(other), "Content-Type": "text/plain"}
            async with session.post(other, data=b"x", headers=headers) as response:
                await response.read()
        # fan-out path
        sockets = [await session.ws_connect(client_ws_url(endpoint)) for _ in range(clients)]
        for i in range(broadcasts):
            await post(str(i).encode())
            for ws in sockets:
                await ws.receive(timeout=30)
        for ws in sockets:
            await ws.close()


def _profile_emulator(out: Path, sends: int, clients: int, broadcasts: int) -> None:
    report = out / "emulator.txt"
    argv: List[str] = [sys.executable, "-m", "bench._emu_profiled", str(report)]
    argv += ["--host", "127.0.0.1", "--port", "0", "--access-key", ACCESS_KEY]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        endpoint = ""
        while time.monotonic() < deadline and not endpoint:
            line = proc.stdout.readline()
            if not line:
                break
            match = _ENDPOINT_RE.search(line)
            if match:
                endpoint = match.group(1)
        if not endpoint:
            raise RuntimeError("the profiled emulator printed no endpoint")
        _wait_port(int(endpoint.rsplit(":", 1)[1]))
        asyncio.run(_drive(endpoint, sends, clients, broadcasts))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    status(f"wrote {report}")


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", default=str(HERE / "profiles"))
    parser.add_argument("--only", default="sdk,emulator")
    parser.add_argument("--sends", type=int, default=3000, help="REST sends to a hub without connections")
    parser.add_argument("--clients", type=int, default=500, help="WebSocket clients for the broadcast part")
    parser.add_argument("--broadcasts", type=int, default=60)
    args = parser.parse_args(argv)
    out = Path(args.output)
    os.makedirs(out, exist_ok=True)
    only = set(args.only.split(","))
    if "sdk" in only:
        _profile_sdk(out, args.quick)
    if "emulator" in only:
        if args.quick:
            args.sends, args.clients, args.broadcasts = 50, 20, 5
        _profile_emulator(out, args.sends, args.clients, args.broadcasts)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
