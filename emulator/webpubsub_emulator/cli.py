"""The ``webpubsub-emulator`` command.

Start-up contract: once requests are accepted it prints exactly one line,
``Endpoint=http://HOST:PORT;AccessKey=KEY;Version=1.0;``, and flushes stdout. Ctrl-C or SIGTERM stops it with exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import Optional, Sequence

from . import auth
from .faults import parse_faults
from .server import DEFAULT_ACCESS_KEY, Emulator
from .upstream_contract import EventHandler, parse_handler_spec

__all__ = ["main", "parse_args"]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line; an access key shorter than 32 UTF-8 bytes is a usage error."""
    parser = argparse.ArgumentParser(
        prog="webpubsub-emulator",
        description="A local Azure Web PubSub service: the REST API and the WebSocket client protocols.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on; 0 picks a free one (default: 8080)")
    parser.add_argument(
        "--access-key", default=DEFAULT_ACCESS_KEY, help="access key for signing and checking tokens (>= 32 bytes)"
    )
    parser.add_argument(
        "--event-handler",
        action="append",
        default=[],
        metavar="HUB=URL",
        help="send the hub's events (connect, connected, disconnected and every user event) to URL; "
        "'{event}' in the URL path is replaced by the event name. Repeatable",
    )
    parser.add_argument(
        "--event-failure",
        choices=("close", "ack"),
        default="close",
        help="when a JSON client's event fails upstream: close it with 1011 (default) or only ack the error",
    )
    parser.add_argument(
        "--faults",
        default="",
        metavar="SPEC",
        help="inject faults, e.g. 'rest-fail=0.3:503,rest-delay=0.05,ws-drop-every=2500,seed=1'; keys: "
        "rest-fail=RATE[:503|429], retry-after=SECONDS, rest-delay=SECONDS[:MAX], ws-drop-every=N, "
        "ws-drop-rate=RATE, seed=N",
    )
    parser.add_argument(
        "--ack-delay-ms",
        type=float,
        default=5.0,
        metavar="MS",
        help="hold each ack of a JSON client's request back this long (default: 5; 0 disables)",
    )
    parser.add_argument("--log-level", default="WARNING", help="logging level for stderr (default: WARNING)")
    args = parser.parse_args(argv)
    try:
        auth.check_key(args.access_key)
    except ValueError as exc:
        parser.error(str(exc))
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    handlers: dict[str, list[EventHandler]] = {}
    for spec in args.event_handler:
        try:
            hub, handler = parse_handler_spec(spec)
        except ValueError as exc:
            parser.error(f"--event-handler: {exc}")
        handlers.setdefault(hub, []).append(handler)
    args.event_handlers = handlers
    try:
        args.fault_plan = parse_faults(args.faults)
    except ValueError as exc:
        parser.error(f"--faults: {exc}")
    if not 0 <= args.ack_delay_ms <= 10_000:
        parser.error("--ack-delay-ms must be between 0 and 10000")
    return args


async def _serve(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))
    emulator = Emulator(
        args.host,
        args.port,
        args.access_key,
        event_handlers=args.event_handlers,
        event_failure=args.event_failure,
        faults=args.fault_plan,
        ack_delay=args.ack_delay_ms / 1000,
    )
    try:
        await emulator.start()
    except OSError as exc:
        print(f"webpubsub-emulator: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        print(emulator.connection_string, flush=True)
        await stop.wait()
    finally:
        await emulator.stop()
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the emulator until interrupted; returns the process exit code."""
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(_serve(args))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
