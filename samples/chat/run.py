"""Run the chat: ``make chat``, or ``python samples/chat/run.py [--host 127.0.0.1] [--port 8000]``.

Without ``WEBPUBSUB_CONNECTION_STRING`` it also starts the local Web PubSub emulator, with this app as the hub's
event handler, so the whole loop (page, app, service) runs on this machine, offline. With it set, the app uses that
Web PubSub resource instead, whose hub must send its events to this app at a public URL (README.md says how).

``CHAT_PORT`` sets the port too (0 picks a free one); ``WEBPUBSUB_HUB`` the hub (``chat``). Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))  # app.py and chat.py, when run as a script

import uvicorn
from app import create_app

__all__ = ["PortInUseError", "RunningChat", "main", "run_chat"]


class PortInUseError(RuntimeError):
    """The app's port cannot be listened on."""


@dataclass
class RunningChat:
    url: str  # the page to open
    connection_string: str  # of the service the app uses
    hub: str
    emulator: Any = None  # the local webpubsub_emulator.EmulatorThread, or None with a real service
    app: Any = None  # the FastAPI app


@contextlib.contextmanager
def run_chat(
    *, host: str = "127.0.0.1", port: int = 8000, connection_string: Optional[str] = None, hub: str = "chat"
) -> Iterator[RunningChat]:
    """Serve the app in a background thread (and start the local emulator when no connection string is given).

    The app's socket is opened first, so that the emulator can be told where the app's events go before the app
    (which needs the emulator's connection string) exists.
    """
    try:
        listener = socket.create_server((host, port))
    except OSError as exc:
        raise PortInUseError(
            f"cannot listen on {host}:{port} ({exc.strerror}); pick another port with --port"
        ) from None
    port = listener.getsockname()[1]
    with contextlib.ExitStack() as stack:
        stack.callback(listener.close)
        emulator = None
        if connection_string is None:
            from webpubsub_emulator import EmulatorThread

            events = f"http://127.0.0.1:{port}/eventhandler/{{event}}"
            emulator = stack.enter_context(EmulatorThread(event_handlers={hub: events}))
            connection_string = emulator.connection_string
        app = create_app(connection_string, hub)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, name="chat-app", daemon=True)
        thread.start()
        stack.callback(thread.join)
        stack.callback(setattr, server, "should_exit", True)  # callbacks run last-in first-out: app first
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the chat app did not start (see the log above)")
            threading.Event().wait(0.02)
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        yield RunningChat(f"http://{shown}:{port}/", connection_string, hub, emulator, app)


def _wait_for_ctrl_c() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Run the Web PubSub chat sample.")
    parser.add_argument("--host", default="127.0.0.1", help="the address the app listens on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("CHAT_PORT") or 8000), help="default 8000")
    args = parser.parse_args(argv)
    connection_string = os.environ.get("WEBPUBSUB_CONNECTION_STRING") or None
    hub = os.environ.get("WEBPUBSUB_HUB") or "chat"
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        with run_chat(host=args.host, port=args.port, connection_string=connection_string, hub=hub) as chat:
            print(f"Chat running: open {chat.url}", flush=True)
            if chat.emulator is not None:
                print(f"Local Web PubSub emulator: {chat.connection_string}")
                print(f'Announce something: WEBPUBSUB_CONNECTION_STRING="{chat.connection_string}" \\')
                print('    python samples/chat/announce.py "Hello from the server SDK"')
            else:
                print(f"Using the Web PubSub resource of WEBPUBSUB_CONNECTION_STRING, hub {hub!r}. Its event handler")
                print("must be https://<this app's public host>/eventhandler/{event} (samples/chat/README.md).")
            print("Ctrl-C stops it.", flush=True)
            _wait_for_ctrl_c()
            logging.getLogger("webpubsub_emulator").setLevel(logging.ERROR)  # the closing connections' events
    except PortInUseError as exc:
        print(f"The chat cannot start: {exc}.", file=sys.stderr)
        return 1
    print("Stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
