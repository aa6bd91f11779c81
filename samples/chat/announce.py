"""Announce something on every open chat page, or in one room, straight from the server SDK.

    WEBPUBSUB_CONNECTION_STRING="<connection string>" python samples/chat/announce.py "Back in five" [--room general]

``make chat`` prints the local emulator's connection string to use. Any code with the SDK can talk to the pages this
way: the page shows a JSON ``{"kind": "announcement", "text": ...}`` and plain text alike.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional

from azure.messaging.webpubsubservice import WebPubSubServiceClient

__all__ = ["announce", "main"]


def announce(service: WebPubSubServiceClient, text: str, *, room: Optional[str] = None) -> None:
    """Send ``text`` as an announcement to everyone in the hub, or to the members of ``room``."""
    message = {"kind": "announcement", "text": text}
    if room:
        service.send_to_group(room, message)  # rooms are groups
    else:
        service.send_to_all(message)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Announce something in the chat.")
    parser.add_argument("text")
    parser.add_argument("--room", help="only this room (default: everyone)")
    args = parser.parse_args(argv)
    connection_string = os.environ.get("WEBPUBSUB_CONNECTION_STRING")
    if not connection_string:
        print("Set WEBPUBSUB_CONNECTION_STRING (make chat prints the local emulator's).", file=sys.stderr)
        return 2
    hub = os.environ.get("WEBPUBSUB_HUB") or "chat"
    with WebPubSubServiceClient.from_connection_string(connection_string, hub=hub) as service:
        announce(service, args.text, room=args.room)
    print(f"Announced to {'#' + args.room if args.room else 'everyone'}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
