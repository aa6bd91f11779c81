"""Broadcast JSON, text and binary to every client in a hub, and see how each kind of client receives them.

The SDK chooses the content type from the Python value (dict/list/number -> application/json, str -> text/plain,
bytes -> application/octet-stream); pass `content_type=` to override. A raw WebSocket client receives the payload
itself (text or binary frame); a json.webpubsub.azure.v1 client receives it wrapped in a "message" with a `dataType`.

Run:  .venv/bin/python samples/broadcast.py   (starts a local emulator unless WEBPUBSUB_CONNECTION_STRING is set)
"""

from typing import Any

from _common import JSON, WebSocketClient, run, service_target
from azure.messaging.webpubsubservice import WebPubSubServiceClient


def main() -> None:
    with (
        service_target("broadcast") as target,
        WebPubSubServiceClient.from_connection_string(target.connection_string, hub=target.hub) as service,
    ):
        print(f"Using {target.where}, hub {target.hub!r}")
        url = service.get_client_access_token()["url"]
        with WebSocketClient(url, name="raw") as raw, WebSocketClient(url, protocol=JSON, name="json") as client:
            sends: list[tuple[str, Any, dict[str, Any]]] = [
                ("JSON", {"temperature": 21.5, "unit": "C"}, {}),
                ("text", "Hello, everyone!", {}),
                ("binary", b"\x89PNG\x00\x01", {}),
                ("text, sent as binary", "bytes, please", {"content_type": "application/octet-stream"}),
                ("text with a TTL", "stale after 30 s", {"message_ttl_seconds": 30}),
            ]
            for label, message, options in sends:
                service.send_to_all(message, **options)
                expected = message.encode() if label == "text, sent as binary" else message
                got_raw = raw.expect_message(expected)
                got_json = client.expect_message(expected)
                print(
                    f"send_to_all {label:<18} raw client: {got_raw.describe():<40} json client: {got_json.describe()}"
                )
        print("Broadcast done.")


if __name__ == "__main__":
    run(main)
