"""Closing connections: one connection, every connection of a user or a group, or the whole hub.

Each close takes an optional `reason`; JSON clients receive it in the "disconnected" system message before the
service closes the socket. `excluded` spares some connections from the bulk closes.

Run:  .venv/bin/python samples/close_connections.py
"""

from _common import JSON, WebSocketClient, check, run, service_target
from azure.messaging.webpubsubservice import WebPubSubServiceClient


def main() -> None:
    with (
        service_target("close_connections") as target,
        WebPubSubServiceClient.from_connection_string(target.connection_string, hub=target.hub) as service,
    ):
        print(f"Using {target.where}, hub {target.hub!r}")

        def connect(name: str, **token_options: object) -> WebSocketClient:
            url = service.get_client_access_token(**token_options)["url"]
            return WebSocketClient(url, protocol=JSON, name=name).connect()

        def closed(client: WebSocketClient) -> str:
            reason = client.wait_disconnected().data.get("message")
            client.wait_closed()
            check(not service.connection_exists(client.connection_id), f"{client.name} should be gone")
            return f"{client.name} disconnected: {reason!r}"

        one = connect("one")
        service.close_connection(one.connection_id, reason="kicked")
        print("close_connection(<one>, reason='kicked')             ->", closed(one))

        gina_a, gina_b = connect("gina-a", user_id="gina"), connect("gina-b", user_id="gina")
        service.close_user_connections("gina", excluded=[gina_b.connection_id], reason="signed out elsewhere")
        print("close_user_connections('gina', excluded=[<gina-b>])  ->", closed(gina_a))
        check(service.connection_exists(gina_b.connection_id), "gina-b was excluded and should stay connected")

        room_a, room_b = connect("room-a", groups=["room"]), connect("room-b", groups=["room"])
        service.close_group_connections("room", reason="room closed")
        print("close_group_connections('room')                      ->", closed(room_a), "/", closed(room_b))

        keeper = connect("keeper")
        service.close_all_connections(excluded=[keeper.connection_id], reason="maintenance")
        print("close_all_connections(excluded=[<keeper>])           ->", closed(gina_b))
        check(service.connection_exists(keeper.connection_id), "keeper was excluded")
        service.close_connection(keeper.connection_id)
        keeper.wait_closed()
        print("close_connection(<keeper>) (no reason)                -> keeper closed, code", keeper.close_code)
        for client in (one, gina_a, gina_b, room_a, room_b, keeper):
            client.close()
        print("Closing connections done.")


if __name__ == "__main__":
    run(main)
