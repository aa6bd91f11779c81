"""The unauthenticated phase is bounded (issue 8, finding 4): header timeouts, size limits, a cap on connections
waiting for their handshake.

Before, 50 sockets that never finished their headers held ~780 MiB, half-sent requests were kept about an hour, and
~1,030 idle sockets (the default open-file limit) stopped the emulator answering at all. The limits are patched small
here so that the tests are quick; ``raising=False`` lets the same tests run (and fail) against an emulator without
them.
"""

from __future__ import annotations

import socket
import time
from typing import Iterator, List

import pytest
import requests
from security_support import ACCESS_KEY, API_VERSION, HUB, now, sign
from webpubsub_emulator import EmulatorThread, limits

HEALTH = f"/api/health?api-version={API_VERSION}"
WAIT = 5.0  # generous: the limits below are a fraction of it


def _patch(monkeypatch: pytest.MonkeyPatch, **values: float) -> None:
    for name, value in values.items():
        monkeypatch.setattr(limits, name, value, raising=False)


@pytest.fixture
def guarded(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorThread]:
    _patch(monkeypatch, HEADER_TIMEOUT_SECONDS=0.5, KEEPALIVE_TIMEOUT_SECONDS=0.5, MAX_PENDING_CONNECTIONS=5)
    with EmulatorThread(port=0, access_key=ACCESS_KEY) as emu:
        yield emu


def _socket(emu: EmulatorThread) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", emu.port), timeout=WAIT)
    sock.settimeout(WAIT)
    return sock


def _closed_by_server(sock: socket.socket) -> bool:
    """True when the server closed (or cut) the connection within WAIT seconds."""
    try:
        return sock.recv(65536) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def _healthy(emu: EmulatorThread) -> bool:
    return requests.head(f"{emu.endpoint}{HEALTH}", timeout=WAIT).status_code == 200


@pytest.mark.parametrize("sent", [b"", b"GET /api/health HTTP/1.1\r\nHost: x\r\n"], ids=["nothing", "half"])
def test_a_connection_whose_headers_do_not_arrive_in_time_is_dropped(guarded: EmulatorThread, sent: bytes) -> None:
    with _socket(guarded) as sock:
        sock.sendall(sent)
        assert _closed_by_server(sock)
    assert _healthy(guarded)


def test_a_half_sent_second_request_on_a_kept_alive_connection_is_dropped(guarded: EmulatorThread) -> None:
    with _socket(guarded) as sock:
        sock.sendall(f"HEAD {HEALTH} HTTP/1.1\r\nHost: 127.0.0.1:{guarded.port}\r\n\r\n".encode())
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")  # and never the end
        assert _closed_by_server(sock)


def test_headers_larger_than_the_limit_are_not_kept(guarded: EmulatorThread) -> None:
    line = b"X-Filler: " + b"f" * (60 * 1024) + b"\r\n"  # each under aiohttp's line limit, together far over the head's
    with _socket(guarded) as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
        sent = 0
        try:
            for _ in range(100):  # 6 MiB of headers, never ended
                sock.sendall(line)
                sent += len(line)
        except (ConnectionResetError, BrokenPipeError):
            pass
        assert _closed_by_server(sock)
    assert sent < 100 * len(line), "every header was taken in"
    assert _healthy(guarded)


def test_connections_waiting_for_their_headers_are_capped_oldest_dropped_first(monkeypatch: pytest.MonkeyPatch) -> None:
    cap = 5
    _patch(monkeypatch, HEADER_TIMEOUT_SECONDS=60.0, MAX_PENDING_CONNECTIONS=cap)  # only the cap can drop them here
    with EmulatorThread(port=0, access_key=ACCESS_KEY) as emu:
        idle: List[socket.socket] = [_socket(emu) for _ in range(cap)]
        try:
            assert _healthy(emu)  # (a request that completes its headers does not count)
            idle.append(_socket(emu))  # one more than the cap: the one waiting longest makes room
            assert _closed_by_server(idle[0])
            for sock in idle[1:]:
                sock.settimeout(0.3)
                assert not _closed_by_server(sock)  # the others are still waiting
            assert _healthy(emu)
        finally:
            for sock in idle:
                sock.close()


def test_a_request_body_that_does_not_arrive_in_time_is_408(monkeypatch: pytest.MonkeyPatch) -> None:
    _patch(monkeypatch, BODY_TIMEOUT_SECONDS=0.5)
    with EmulatorThread(port=0, access_key=ACCESS_KEY) as emu:
        target = f"/api/hubs/{HUB}/:send?api-version={API_VERSION}"
        token = sign({"aud": emu.endpoint + target, "exp": now() + 300})
        head = (
            f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1:{emu.port}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: text/plain\r\nContent-Length: 100\r\n\r\n"
        )
        with _socket(emu) as sock:
            sock.sendall(head.encode() + b"only ten b")  # and the other 90 bytes never
            answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
        assert _healthy(emu)


def test_a_request_body_that_arrives_in_pieces_is_read_whole() -> None:
    # The body is taken as it arrives: here its second half comes after a pause, in a second chunk. Read only in part,
    # the JSON would be invalid (400); read whole it is sent (202).
    with EmulatorThread(port=0, access_key=ACCESS_KEY) as emu:
        target = f"/api/hubs/{HUB}/:send?api-version={API_VERSION}"
        token = sign({"aud": emu.endpoint + target, "exp": now() + 300})
        head = (
            f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1:{emu.port}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        with _socket(emu) as sock:
            sock.sendall(head.encode() + b'6\r\n{"a": \r\n')
            time.sleep(0.3)
            sock.sendall(b"2\r\n1}\r\n0\r\n\r\n")
            answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 202"), answer[:200]
