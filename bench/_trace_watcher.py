"""A watcher of the emulator's live trace page, as its own process (the way a browser tab is): for ``bench.trace_cost``.

``python -m bench._trace_watcher PORT`` opens ``/trace/api/live`` over a plain socket, reads the Server-Sent Events
stream and decodes every batch of entries, as the page does; ``--stall`` connects with a tiny receive buffer and never
reads past the first bytes (a frozen tab). It prints ``ready`` once the stream has begun, and on SIGTERM one JSON
line, ``{"entries": N, "lost": M}``.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sys
import time
from typing import Any, Dict


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench._trace_watcher")
    parser.add_argument("port", type=int)
    parser.add_argument("--stall", action="store_true", help="never read (a stalled watcher)")
    args = parser.parse_args(argv)
    totals: Dict[str, int] = {"entries": 0, "lost": 0}
    stop = []

    def on_term(_signum: int, _frame: Any) -> None:
        stop.append(True)

    signal.signal(signal.SIGTERM, on_term)
    sock = socket.socket()
    if args.stall:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    sock.connect(("127.0.0.1", args.port))
    # HTTP/1.0: the stream comes as it is, without chunked framing
    sock.sendall(f"GET /trace/api/live HTTP/1.0\r\nHost: 127.0.0.1:{args.port}\r\n\r\n".encode())
    first = sock.recv(4096)
    if not first.startswith(b"HTTP/1.0 200"):
        print(f"unexpected answer: {first[:200]!r}", file=sys.stderr)
        return 1
    print("ready", flush=True)
    if args.stall:
        while not stop:
            time.sleep(0.05)
    else:
        sock.settimeout(0.2)
        buffer = first.split(b"\r\n\r\n", 1)[-1]
        while not stop:
            try:
                chunk = sock.recv(1 << 20)
            except socket.timeout:
                continue
            if not chunk:
                break
            buffer += chunk
            if b"\n\n" not in chunk and b"\n" not in chunk[:1]:
                continue
            *events, buffer = buffer.split(b"\n\n")
            for event in events:
                for line in event.split(b"\n"):
                    if line.startswith(b"data: ") and b'"entries":' in line:
                        batch = json.loads(line[6:])
                        totals["entries"] += len(batch["entries"])
                        totals["lost"] += batch["lost"]
    print(json.dumps(totals), flush=True)
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
