"""The ``webpubsub-emulator`` command.

Start-up contract: once requests are accepted it prints exactly one line,
``Endpoint=http://HOST:PORT;AccessKey=KEY;Version=1.0;`` (``https://`` with TLS), and flushes stdout. Everything else
(warnings, where a self-signed certificate is, the log) goes to stderr. Ctrl-C or SIGTERM stops it with exit 0; a
usage error exits 2, failing to listen 1.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import Optional, Sequence

from . import __version__, auth, exposure
from .faults import parse_faults
from .server import DEFAULT_ACCESS_KEY, Emulator
from .upstream_contract import EventHandler, parse_handler_spec

__all__ = ["LOG_LEVELS", "main", "parse_args"]

#: The accepted ``--log-level`` values (any case).
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line; a bad value is a usage error (exit 2) that names it and never repeats a key."""
    parser = argparse.ArgumentParser(
        prog="webpubsub-emulator",
        description="A local Azure Web PubSub service: the REST API and the WebSocket client protocols. "
        "For development and tests only: it keeps everything in memory.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to listen on (default: 127.0.0.1). Anything but loopback exposes the emulator to the network: "
        "a warning is printed, and the published default key is refused there (see --allow-default-key)",
    )
    parser.add_argument("--port", type=int, default=8080, help="port to listen on; 0 picks a free one (default: 8080)")
    parser.add_argument(
        "--access-key",
        default=DEFAULT_ACCESS_KEY,
        help="access key for signing and checking tokens: at least 32 bytes, no ';' and no whitespace "
        "(default: the published development key)",
    )
    parser.add_argument(
        "--allow-default-key",
        action="store_true",
        help="listen beyond loopback even with the published default key (anyone who reaches the port can use it)",
    )
    parser.add_argument(
        "--public-host",
        action="append",
        default=[],
        metavar="NAME[:PORT]",
        help="another name this emulator is reached by (a proxy, a container name). Requests whose Host header names "
        "anything but this machine's loopback, its addresses or these names are refused (400), which keeps out "
        "DNS-rebinding pages. Repeatable",
    )
    parser.add_argument(
        "--tls-cert", metavar="FILE", help="serve https/wss with this certificate (PEM; with --tls-key)"
    )
    parser.add_argument("--tls-key", metavar="FILE", help="the private key of --tls-cert (PEM)")
    parser.add_argument(
        "--tls-self-signed",
        nargs="?",
        const=True,
        default=False,
        metavar="DIR",
        help="serve https/wss with a self-signed certificate for localhost, 127.0.0.1, ::1 and the names above, made "
        "now (needs the 'tls' extra: pip install 'webpubsub-emulator[tls]'); where it is is printed on stderr so that "
        "clients and browsers can trust it. With DIR it is kept there and reused while valid; without, it is removed "
        "at exit",
    )
    parser.add_argument(
        "--accept-entra-tokens",
        action="store_true",
        help="FOR LOCAL TESTING ONLY: also accept Microsoft Entra bearer tokens on the REST API (audience "
        "https://webpubsub.azure.com, lifetime checked) WITHOUT verifying their signature, so that code using a "
        "TokenCredential runs end to end. Anyone can forge such a token. Needs TLS",
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
    parser.add_argument(
        "--log-level",
        default="WARNING",
        metavar="LEVEL",
        help="logging level for stderr: DEBUG (also every frame and event-handler call), INFO (one line per REST call, "
        "refused handshake and injected fault), WARNING (default), ERROR or CRITICAL",
    )
    args = parser.parse_args(argv)
    try:
        auth.check_key(args.access_key)
    except ValueError as exc:
        parser.error(f"--access-key: {exc}")
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    if args.log_level.upper() not in LOG_LEVELS:
        parser.error(f"--log-level must be one of {', '.join(LOG_LEVELS)} (got {args.log_level[:40]!r})")
    args.log_level = args.log_level.upper()
    try:
        exposure.check_bind(args.host, args.access_key, DEFAULT_ACCESS_KEY, allow_default_key=args.allow_default_key)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        exposure.ServerNames(args.host, args.port, args.public_host)
    except ValueError as exc:
        parser.error(f"--public-host: {exc}")
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    if args.tls_cert and args.tls_self_signed:
        parser.error("give either --tls-cert/--tls-key or --tls-self-signed, not both")
    if args.accept_entra_tokens and not (args.tls_cert or args.tls_self_signed):
        parser.error("--accept-entra-tokens needs TLS (--tls-cert/--tls-key or --tls-self-signed)")
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
        allow_default_key=args.allow_default_key,
        public_hosts=args.public_host,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_self_signed=args.tls_self_signed,
        accept_entra_tokens=args.accept_entra_tokens,
    )
    warning = exposure.bind_warning(args.host)
    emulator.announce_exposure = False
    if warning:
        bar = "!" * 100
        print(f"{bar}\n{warning}\n{bar}", file=sys.stderr, flush=True)
    try:
        await emulator.start()
    except OSError as exc:
        print(f"webpubsub-emulator: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except (ValueError, RuntimeError) as exc:  # a certificate that cannot be loaded or made
        print(f"webpubsub-emulator: {exc}", file=sys.stderr)
        return 1
    try:
        if emulator.tls_cert_file is not None:
            print(
                f"webpubsub-emulator: TLS certificate (trust it to connect): {emulator.tls_cert_file}", file=sys.stderr
            )
        if args.accept_entra_tokens:
            print(
                "webpubsub-emulator: accepting Entra tokens WITHOUT verifying their signature (local testing only)",
                file=sys.stderr,
            )
        print(emulator.connection_string, flush=True)
        await stop.wait()
    finally:
        await emulator.stop()
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the emulator until interrupted; returns the process exit code."""
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(_serve(args))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
