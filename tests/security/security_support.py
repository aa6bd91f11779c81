"""Helpers for the security tests: tokens forged in every way that must fail, and the emulator CLI as a child process.

Independent of the SDK: tokens are made with PyJWT or by hand (base64url), requests are plain ``requests`` calls.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple
from urllib.parse import quote

import jwt

ACCESS_KEY = "SecurityTestKey-0123456789-abcdefghijklmnopqrstuvwxyz"
WRONG_KEY = "NotTheRightKey-0123456789-abcdefghijklmnopqrstuvwxyz"
HUB = "sechub"
API_VERSION = "2024-12-01"
JSON_PROTOCOL = "json.webpubsub.azure.v1"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign(claims: Dict[str, Any], key: str = ACCESS_KEY, headers: Optional[Dict[str, Any]] = None) -> str:
    return jwt.encode(claims, key, algorithm="HS256", headers=headers)


def unsigned(claims: Dict[str, Any], alg: str = "none") -> str:
    """A token with ``alg: none`` (or any alg name) and an empty signature."""
    header = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = b64url(json.dumps(claims).encode())
    return f"{header}.{payload}."


def tampered(token: str, **changes: Any) -> str:
    """Edit the payload of a signed token but keep its header and signature."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    return f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"


def seg(value: str) -> str:
    return quote(value, safe="")


def rest_url(endpoint: str, path: str, query: str = "") -> str:
    """``endpoint`` + ``/api/hubs/<HUB>`` + ``path`` + ``?api-version=...`` (+ ``&query``)."""
    url = f"{endpoint}/api/hubs/{HUB}{path}?api-version={API_VERSION}"
    return f"{url}&{query}" if query else url


def now() -> int:
    return int(time.time())


def secret_fragments(token: Optional[str]) -> List[str]:
    """What must never be echoed back: the key, and the token and each of its non-trivial parts."""
    out = [ACCESS_KEY]
    if token:
        out.append(token)
        out.extend(part for part in token.split(".") if len(part) >= 8)
    return out


# ---------------------------------------------------------------------------------------------------------------------
# The emulator CLI as a child process, and its listening sockets read from /proc


def start_cli(*extra: str) -> Tuple[subprocess.Popen, List[str]]:
    """Start ``webpubsub-emulator --port 0 ...``; return the process and (a live list of) its stdout lines."""
    exe = os.path.join(os.path.dirname(sys.executable), "webpubsub-emulator")
    argv = [exe] if os.path.exists(exe) else [sys.executable, "-m", "webpubsub_emulator"]
    proc = subprocess.Popen(
        [*argv, "--port", "0", "--access-key", ACCESS_KEY, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: List[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return proc, lines


def wait_endpoint(proc: subprocess.Popen, lines: List[str], timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in list(lines):
            match = re.search(r"Endpoint=(https?://[^;]+);", line)
            if match:
                return match.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"the emulator printed no connection string; output: {lines!r}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@contextlib.contextmanager
def cli_emulator(*extra: str) -> Iterator[Tuple[subprocess.Popen, str]]:
    """A running ``webpubsub-emulator --port 0`` child process (its own interpreter: no GIL shared with the test) and
    its endpoint; stopped at the end."""
    proc, lines = start_cli(*extra)
    try:
        yield proc, wait_endpoint(proc, lines)
    finally:
        stop(proc)


def rest_token(url: str) -> str:
    """A REST token for ``url`` (``aud`` = the full URL), signed with :data:`ACCESS_KEY`."""
    return sign({"aud": url, "exp": now() + 300})


def client_url(endpoint: str, hub: str = HUB, **claims: Any) -> str:
    """A client URL for ``hub`` with a token signed with :data:`ACCESS_KEY` (``claims`` added)."""
    token = sign({"aud": f"{endpoint}/client/hubs/{hub}", "exp": now() + 300, **claims})
    return endpoint.replace("http://", "ws://", 1) + f"/client/hubs/{hub}?access_token={token}"


def _socket_inodes(pid: int) -> set:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _decode_v4(hex_addr: str) -> str:
    raw = bytes.fromhex(hex_addr)[::-1]  # /proc/net/tcp stores the address in host (little-endian) order
    return ".".join(str(b) for b in raw)


def _decode_v6(hex_addr: str) -> str:
    raw = b"".join(bytes.fromhex(hex_addr[i : i + 8])[::-1] for i in range(0, 32, 8))
    import ipaddress

    return str(ipaddress.IPv6Address(raw))


def listening_addresses(pid: int) -> List[Tuple[str, int]]:
    """(address, port) of every TCP socket in LISTEN state (0A) owned by ``pid``, from /proc/net/tcp and tcp6."""
    inodes = _socket_inodes(pid)
    found: List[Tuple[str, int]] = []
    for table, decode in (("/proc/net/tcp", _decode_v4), ("/proc/net/tcp6", _decode_v6)):
        try:
            with open(table, encoding="ascii") as fh:
                rows = fh.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            fields = row.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:
                addr, port = local.split(":")
                found.append((decode(addr), int(port, 16)))
    return found
