"""The emulator CLI listens on loopback only unless told otherwise. The listening sockets are read from /proc (the
process's socket inodes matched against /proc/net/tcp and tcp6), not from what the program says about itself."""

from __future__ import annotations

import ipaddress
import time
from typing import List, Tuple

import requests
from security_support import listening_addresses, start_cli, stop, wait_endpoint


def _listening(pid: int, port: int) -> List[Tuple[str, int]]:
    deadline = time.monotonic() + 10
    while True:
        found = [(addr, p) for addr, p in listening_addresses(pid) if p == port]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_default_bind_is_loopback_only() -> None:
    proc, lines = start_cli()
    try:
        endpoint = wait_endpoint(proc, lines)
        port = int(endpoint.rsplit(":", 1)[1])
        every = listening_addresses(proc.pid)
        on_port = _listening(proc.pid, port)
        assert on_port, f"no listening socket on port {port} for pid {proc.pid}: {every}"
        for addr, _ in every:
            assert ipaddress.ip_address(addr).is_loopback, f"the emulator listens on {addr} by default"
        assert requests.head(f"{endpoint}/api/health", timeout=10).status_code == 200
    finally:
        stop(proc)


def test_explicit_host_is_honoured() -> None:
    """Control for the check above: asked for every interface, the /proc reading does show a wildcard bind."""
    proc, lines = start_cli("--host", "0.0.0.0")
    try:
        endpoint = wait_endpoint(proc, lines)
        port = int(endpoint.rsplit(":", 1)[1])
        on_port = _listening(proc.pid, port)
        assert on_port and all(addr == "0.0.0.0" for addr, _ in on_port), on_port
    finally:
        stop(proc)
