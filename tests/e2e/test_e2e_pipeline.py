"""The client pipeline end to end: reverse proxy, logging without secrets, Entra credentials, Port in the connection
string (sync and aio SDK)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from aiohttp import ClientSession, web
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient as AsyncWebPubSubServiceClient
from e2e_support import JSON, Service, WsClient, decoded, make_client

try:
    from azure.core.credentials import AccessTokenInfo
except ImportError:  # azure-core before 1.31 (our floor is 1.30) asks credentials for get_token only
    AccessTokenInfo = None  # type: ignore[assignment,misc]

HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection"}


class Proxy:
    """A reverse proxy on the test's event loop: forwards to ``origin`` and records (method, path, aud)."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.seen: list[tuple[str, str, str]] = []
        self.endpoint = ""

    async def forward(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        aud = jwt.decode(auth.removeprefix("Bearer "), options={"verify_signature": False})["aud"] if auth else ""
        self.seen.append((request.method, request.path, aud))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        async with (
            ClientSession(auto_decompress=False) as session,
            session.request(
                request.method, self.origin + request.path_qs, headers=headers, data=await request.read()
            ) as upstream,
        ):
            body = await upstream.read()
            out = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
            return web.Response(status=upstream.status, headers=out, body=body)


@pytest.fixture
async def proxy(emulator: Any) -> AsyncIterator[Proxy]:
    proxy = Proxy(emulator.endpoint)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy.forward)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    proxy.endpoint = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield proxy
    await runner.cleanup()


async def close(service: Service) -> None:
    if service.flavour == "aio":
        await service.client.close()
    else:
        service.client.close()


async def test_reverse_proxy(service: Service, proxy: Proxy, emulator: Any) -> None:
    client = make_client(service.flavour, service.connection_string, service.hub, reverse_proxy_endpoint=proxy.endpoint)
    via_proxy = Service(service.flavour, client, service.hub, service.connection_string)
    token = await via_proxy.get_client_access_token(user_id="pat")
    assert token["baseUrl"].startswith(emulator.endpoint.replace("http", "ws"))  # clients connect to the service
    pat = await WsClient.open(token["url"], JSON, "pat")

    await via_proxy.send_to_all({"via": "proxy"})
    assert decoded(await pat.next_message()) == ("json", {"via": "proxy"})
    assert await via_proxy.user_exists("pat") is True
    assert [m.user_id for m in await via_proxy.list_connections(group="nobody-here")] == []

    methods = [(method, path) for method, path, _ in proxy.seen]
    assert methods == [
        ("POST", f"/api/hubs/{service.hub}/:send"),
        ("HEAD", f"/api/hubs/{service.hub}/users/pat"),
        ("GET", f"/api/hubs/{service.hub}/groups/nobody-here/connections"),
    ]
    for _, path, aud in proxy.seen:
        assert aud.startswith(emulator.endpoint + path), aud  # the token names the origin, not the proxy
    await pat.close()
    await close(via_proxy)


async def test_logging_never_shows_the_key_or_a_token(
    service: Service, emulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(service.flavour, service.connection_string, service.hub, logging_enable=True)
    logged = Service(service.flavour, client, service.hub, service.connection_string)
    token = await logged.get_client_access_token(user_id="lou")
    with caplog.at_level(logging.DEBUG):
        await logged.send_to_all("logged")
        await logged.user_exists("lou")
        await logged.send_to_all("also logged", logging_enable=True)
    assert ":send" in caplog.text  # the request was logged...
    assert emulator.access_key not in caplog.text  # ...without the key
    assert "eyJ" not in caplog.text  # ...or any JWT
    assert token["token"] not in caplog.text
    await close(logged)


class FakeCredential:
    """A TokenCredential (sync and async) handing out a made-up bearer token."""

    def __init__(self) -> None:
        self.scopes: list[str] = []

    def _token(self, scopes: tuple[str, ...]) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken("made-up-entra-token", int(time.time()) + 3600)

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return self._token(scopes)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        return AccessTokenInfo(*self._token(scopes))


class AsyncFakeCredential(FakeCredential):
    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:  # type: ignore[override]
        return self._token(scopes)

    async def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:  # type: ignore[override]
        return AccessTokenInfo(*self._token(scopes))

    async def close(self) -> None:
        pass

    async def __aenter__(self) -> AsyncFakeCredential:
        return self

    async def __aexit__(self, *args: Any) -> None:
        pass


async def test_entra_credential_against_the_emulator(service: Service, emulator: Any) -> None:
    """The emulator accepts only access-key JWTs: an Entra bearer token gets 401. Over http, azure-core refuses to
    send a bearer token at all unless the call passes enforce_https=False."""
    credential = AsyncFakeCredential() if service.flavour == "aio" else FakeCredential()
    cls = AsyncWebPubSubServiceClient if service.flavour == "aio" else WebPubSubServiceClient
    entra = Service(service.flavour, cls(emulator.endpoint, service.hub, credential), service.hub, "")
    with pytest.raises(ServiceRequestError):
        await entra.send_to_all("x")
    with pytest.raises(ClientAuthenticationError) as info:
        await entra.send_to_all("x", enforce_https=False)
    assert info.value.status_code == 401
    with pytest.raises(ClientAuthenticationError):  # with a credential, client tokens come from :generateToken
        await entra.get_client_access_token(user_id="x", enforce_https=False)
    assert set(credential.scopes) == {"https://webpubsub.azure.com/.default"}
    await close(entra)


async def test_port_in_the_connection_string(service: Service, emulator: Any) -> None:
    connection_string = f"Endpoint=http://127.0.0.1;Port={emulator.port};AccessKey={emulator.access_key};Version=1.0;"
    client = make_client(service.flavour, connection_string, service.hub)
    ported = Service(service.flavour, client, service.hub, connection_string)
    token = await ported.get_client_access_token(user_id="pia")
    assert token["baseUrl"] == f"ws://127.0.0.1:{emulator.port}/client/hubs/{service.hub}"
    pia = await WsClient.open(token["url"], JSON, "pia")
    await ported.send_to_user("pia", "port ok")
    assert decoded(await pia.next_message()) == ("text", "port ok")
    await pia.close()
    await close(ported)
