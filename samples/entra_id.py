"""Microsoft Entra ID: authenticate the server SDK with a TokenCredential instead of an access key.

With WEBPUBSUB_ENDPOINT (e.g. https://<name>.webpubsub.azure.com) the sample talks to the real service: sign in so that
azure-identity's DefaultAzureCredential finds an identity (`az login`, a managed identity, environment variables, ...)
with the "Web PubSub Service Owner" role. It sends a message and mints a client URL: with a credential the SDK cannot
sign client tokens itself, so it asks the service (POST .../:generateToken).

Without WEBPUBSUB_ENDPOINT it runs the same code offline against the local emulator, started with TLS (a self-signed
certificate it makes on the fly) and in its opt-in mode that accepts Entra tokens WITHOUT checking their signature
(only their audience, https://webpubsub.azure.com, and lifetime): local testing only. A stand-in credential hands out
an Entra-shaped token. azure-core sends bearer tokens only over https, which is why the emulator needs TLS here.

Run:  .venv/bin/python samples/entra_id.py                      (offline, emulator)
      WEBPUBSUB_ENDPOINT=https://<name>.webpubsub.azure.com .venv/bin/python samples/entra_id.py   (real service)
"""

import os
import time
from typing import Any, Optional

import jwt
from _common import JSON, WebSocketClient, check, run
from azure.core.credentials import AccessToken
from azure.core.exceptions import ServiceRequestError
from azure.messaging.webpubsubservice import WebPubSubServiceClient


class StandInCredential:
    """A TokenCredential handing out an Entra-shaped token (unsigned) and remembering the scopes it was asked for."""

    def __init__(self) -> None:
        self.scopes: list[str] = []

    def _token(self) -> tuple[str, int]:
        expires = int(time.time()) + 3600
        claims = {"aud": "https://webpubsub.azure.com", "exp": expires, "oid": "stand-in-identity"}
        return jwt.encode(claims, key=None, algorithm="none"), expires

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken(*self._token())

    def get_token_info(self, *scopes: str, options: Optional[dict] = None) -> Any:
        from azure.core.credentials import AccessTokenInfo

        self.scopes.extend(scopes)
        return AccessTokenInfo(*self._token())


def real_service(endpoint: str, hub: str) -> None:
    from azure.identity import DefaultAzureCredential  # pip install "azure-messaging-webpubsubservice[identity]"

    with DefaultAzureCredential() as credential, WebPubSubServiceClient(endpoint, hub, credential) as service:
        service.send_to_all({"hello": "from an Entra-authenticated server"})
        print("send_to_all -> accepted (202)")
        token = service.get_client_access_token(user_id="entra-user", roles=["webpubsub.joinLeaveGroup"])
        print("get_client_access_token (via :generateToken) ->", token["baseUrl"] + "?access_token=<jwt>")


def emulator(hub: str) -> None:
    from webpubsub_emulator import EmulatorThread

    with EmulatorThread(tls_self_signed=True, accept_entra_tokens=True) as emu:
        print(f"No WEBPUBSUB_ENDPOINT: a local emulator at {emu.endpoint}, accepting Entra tokens unverified")
        print(f"its self-signed certificate (what the clients trust): {emu.tls_cert_file}")
        credential = StandInCredential()
        plain = emu.endpoint.replace("https://", "http://", 1)
        with WebPubSubServiceClient(plain, hub, credential) as insecure:
            try:
                insecure.send_to_all("hello")
                raise AssertionError("azure-core should refuse to send a bearer token over http")
            except ServiceRequestError as exc:
                print("send_to_all over http  -> ServiceRequestError:", str(exc).splitlines()[0])

        # endpoint, hub, credential: the same constructor you use with DefaultAzureCredential().
        with WebPubSubServiceClient(emu.endpoint, hub, credential, connection_verify=emu.tls_cert_file) as service:
            token = service.get_client_access_token(user_id="entra-user", roles=["webpubsub.joinLeaveGroup"])
            print("get_client_access_token -> minted by :generateToken:", token["baseUrl"] + "?access_token=<jwt>")
            with WebSocketClient(token["url"], protocol=JSON, name="entra-user", cafile=emu.tls_cert_file) as client:
                service.send_to_all({"hello": "from a TokenCredential"})
                frame = client.expect_message({"hello": "from a TokenCredential"})
                print(f"send_to_all over https -> accepted; {client.user_id} received {frame.describe()}")
        print("scope requested from the credential:", sorted(set(credential.scopes)))
        check(
            credential.scopes and set(credential.scopes) == {"https://webpubsub.azure.com/.default"},
            f"unexpected scopes {credential.scopes}",
        )
        print("Entra ID sample done (offline part).")


def main() -> None:
    endpoint = os.environ.get("WEBPUBSUB_ENDPOINT")
    hub = os.environ.get("WEBPUBSUB_HUB") or "entra_id"
    if endpoint:
        real_service(endpoint, hub)
    else:
        emulator(hub)


if __name__ == "__main__":
    run(main)
