"""Microsoft Entra ID: authenticate the server SDK with a TokenCredential instead of an access key.

THIS NEEDS THE REAL SERVICE. Set WEBPUBSUB_ENDPOINT (e.g. https://<name>.webpubsub.azure.com) and sign in so that
azure-identity's DefaultAzureCredential finds an identity (`az login`, a managed identity, environment variables, ...)
with the "Web PubSub Service Owner" role. Then the sample sends a message and mints a client URL: with a credential the
SDK cannot sign client tokens itself, so it asks the service (POST .../:generateToken).

Without WEBPUBSUB_ENDPOINT the sample runs against the local emulator and shows what you can check offline: how the
client is built, which scope it asks the credential for, and what happens to the bearer token. The emulator only
accepts JWTs signed with its access key, so it rejects an Entra token with 401 (ClientAuthenticationError). Note also
that azure-core refuses to send a bearer token over plain http unless the call passes enforce_https=False.

Run:  .venv/bin/python samples/entra_id.py                      (offline, emulator)
      WEBPUBSUB_ENDPOINT=https://<name>.webpubsub.azure.com .venv/bin/python samples/entra_id.py   (real service)
"""

import os
import time
from typing import Any, Optional

from _common import check, run, service_target
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
from azure.messaging.webpubsubservice import WebPubSubServiceClient


class StandInCredential:
    """A TokenCredential that hands out a fixed, made-up token and remembers the scopes it was asked for."""

    def __init__(self) -> None:
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken("stand-in-entra-token", int(time.time()) + 3600)

    def get_token_info(self, *scopes: str, options: Optional[dict] = None) -> Any:
        from azure.core.credentials import AccessTokenInfo

        self.scopes.extend(scopes)
        return AccessTokenInfo("stand-in-entra-token", int(time.time()) + 3600)


def real_service(endpoint: str, hub: str) -> None:
    from azure.identity import DefaultAzureCredential  # pip install "azure-messaging-webpubsubservice[identity]"

    with DefaultAzureCredential() as credential, WebPubSubServiceClient(endpoint, hub, credential) as service:
        service.send_to_all({"hello": "from an Entra-authenticated server"})
        print("send_to_all -> accepted (202)")
        token = service.get_client_access_token(user_id="entra-user", roles=["webpubsub.joinLeaveGroup"])
        print("get_client_access_token (via :generateToken) ->", token["baseUrl"] + "?access_token=<jwt>")


def emulator(hub: str) -> None:
    with service_target(hub) as target:
        print(f"No WEBPUBSUB_ENDPOINT: using {target.where} to show the mechanics (not a real Entra sign-in)")
        credential = StandInCredential()
        # endpoint, hub, credential: the same constructor you use with DefaultAzureCredential().
        with WebPubSubServiceClient(target.endpoint, target.hub, credential) as service:
            try:
                service.send_to_all("hello")
                raise AssertionError("azure-core should refuse to send a bearer token over http")
            except ServiceRequestError as exc:
                print("send_to_all over http            -> ServiceRequestError:", str(exc).splitlines()[0])

            try:
                service.send_to_all("hello", enforce_https=False)
                print("send_to_all(enforce_https=False) -> accepted: this emulator accepts Entra tokens unverified")
            except ClientAuthenticationError as exc:
                print(
                    f"send_to_all(enforce_https=False) -> ClientAuthenticationError ({exc.status_code}):",
                    "the emulator accepts only access-key JWTs",
                )
            print("scope requested from the credential:", sorted(set(credential.scopes)))
            check(
                credential.scopes and set(credential.scopes) == {"https://webpubsub.azure.com/.default"},
                f"unexpected scopes {credential.scopes}",
            )

            try:
                service.get_client_access_token(user_id="entra-user", enforce_https=False)
                print("get_client_access_token          -> the emulator minted a token via :generateToken")
            except ClientAuthenticationError as exc:
                print(
                    f"get_client_access_token          -> ClientAuthenticationError ({exc.status_code}): with a"
                    " credential the SDK calls :generateToken, which needs a token the service accepts"
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
