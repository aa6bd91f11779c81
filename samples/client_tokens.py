"""Client access tokens: the URL a WebSocket client connects with, for each client protocol.

`get_client_access_token()` returns {"baseUrl", "token", "url"}. With an access key the token is a JWT signed locally
(no network call); with a Microsoft Entra credential the SDK asks the service for one. The token carries the user
(`sub`), roles and initial groups; `minutes_to_expire` sets its lifetime. `client_protocol` picks the endpoint:
Default (WebSocket: raw or the JSON subprotocols), MQTT, or SocketIO (Web PubSub for Socket.IO).

The local emulator speaks the Default protocol only, so the sample connects a client with the Default URL and just
prints the MQTT and SocketIO URLs.

Run:  .venv/bin/python samples/client_tokens.py
"""

import jwt
from _common import JSON, WebSocketClient, check, run, service_target
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice.models import WebPubSubClientProtocol


def claims_of(token: str) -> dict:
    # For display only: the client never needs to read its token, and the service verifies the signature.
    return jwt.decode(token, options={"verify_signature": False})


def main() -> None:
    with (
        service_target("client_tokens") as target,
        WebPubSubServiceClient.from_connection_string(target.connection_string, hub=target.hub) as service,
    ):
        print(f"Using {target.where}, hub {target.hub!r}")

        token = service.get_client_access_token(
            user_id="frank",
            roles=["webpubsub.sendToGroup.chat", "webpubsub.joinLeaveGroup.chat"],
            groups=["chat"],
            minutes_to_expire=5,
        )
        claims = claims_of(token["token"])
        print("Default  url:", token["baseUrl"] + "?access_token=<jwt>")
        print("         claims:", {k: claims[k] for k in ("aud", "sub", "role", "webpubsub.group") if k in claims})
        print("         lifetime (s):", claims["exp"] - claims["iat"])
        check(token["url"] == token["baseUrl"] + "?access_token=" + token["token"], "url = baseUrl + token")

        # A real client connects with it: the token's group makes it a member right away.
        with WebSocketClient(token["url"], protocol=JSON, name="frank") as frank:
            print("         connected as", frank.user_id, "connection", frank.connection_id)
            check(frank.user_id == "frank", "the token's user should be the connection's user")
            service.send_to_group("chat", "welcome to chat")
            print("         got", frank.expect_message("welcome to chat").describe())

        for protocol in (WebPubSubClientProtocol.MQTT, "socketio"):  # enum member or str, any case
            other = service.get_client_access_token(client_protocol=protocol, user_id="frank")
            print(f"{protocol!s:<8} url:", other["baseUrl"] + "?access_token=<jwt>")
            print("         aud:", claims_of(other["token"])["aud"])

        # jwt_headers end up in the JWT header, e.g. a key id when you rotate keys.
        kid = jwt.get_unverified_header(service.get_client_access_token(jwt_headers={"kid": "key-1"})["token"])["kid"]
        print("jwt_headers={'kid': 'key-1'} -> header kid:", kid)
        check(kid == "key-1", "the kid header should be kept")
        print("Client tokens done.")


if __name__ == "__main__":
    run(main)
