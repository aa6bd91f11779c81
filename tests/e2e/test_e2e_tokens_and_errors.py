"""Client access tokens that real clients connect with, get_service_status, send_request and error mapping."""

from __future__ import annotations

import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.core.rest import HttpRequest
from azure.messaging.webpubsubservice.models import WebPubSubClientProtocol
from e2e_support import JSON, RELIABLE, Service, WsClient, decoded, make_client
from websockets.exceptions import InvalidStatus

API = {"api-version": "2024-12-01"}
WRONG_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvutsr"


@pytest.mark.parametrize("protocol", [None, JSON, RELIABLE])
async def test_default_token_url_connects_with_user_roles_and_groups(service: Service, protocol: str | None) -> None:
    token = await service.get_client_access_token(
        user_id="ivy", roles=["webpubsub.sendToGroup.lobby"], groups=["lobby"], minutes_to_expire=5
    )
    assert set(token) == {"baseUrl", "token", "url"}
    assert token["url"] == f"{token['baseUrl']}?access_token={token['token']}"
    assert token["baseUrl"].startswith("ws://") and token["baseUrl"].endswith(f"/client/hubs/{service.hub}")

    client = await WsClient.open(token["url"], protocol, "ivy")
    members = await service.list_connections(group="lobby")
    assert [m.user_id for m in members] == ["ivy"]
    if protocol is not None:
        assert client.user_id == "ivy" and client.connection_id == members[0].connection_id
        assert (await client.publish("lobby", "from ivy", "text"))["success"] is True  # the token's role
        frame = await client.next_message()
        assert decoded(frame) == ("text", "from ivy") and frame.data["fromUserId"] == "ivy"
    assert await service.user_exists("ivy") is True
    await client.close()


async def test_token_lifetime_and_anonymous_client(service: Service) -> None:
    token = await service.get_client_access_token(minutes_to_expire=2)
    claims = jwt.decode(token["token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 120
    assert "sub" not in claims
    client = await WsClient.open(token["url"], JSON, "anonymous")
    assert client.user_id is None
    await client.close()


@pytest.mark.parametrize(
    ("protocol", "path"),
    [
        (WebPubSubClientProtocol.MQTT, "/clients/mqtt/hubs/"),
        ("mqtt", "/clients/mqtt/hubs/"),
        (WebPubSubClientProtocol.SOCKETIO, "/clients/socketio/hubs/"),
        ("Default", "/client/hubs/"),
    ],
)
async def test_token_paths_per_protocol(service: Service, protocol: str, path: str) -> None:
    token = await service.get_client_access_token(client_protocol=protocol)
    assert token["baseUrl"].endswith(path + service.hub)
    aud = jwt.decode(token["token"], options={"verify_signature": False})["aud"]
    assert aud.startswith("http://") and aud.endswith(path + service.hub)


async def test_token_signed_with_a_wrong_key_is_refused(service: Service, emulator: object) -> None:
    wrong = service.connection_string.replace(emulator.access_key, WRONG_KEY)  # type: ignore[attr-defined]
    client = make_client(service.flavour, wrong, service.hub)
    other = Service(service.flavour, client, service.hub, wrong)
    url = await other.url(user_id="eve")
    with pytest.raises(InvalidStatus) as info:
        await WsClient.open(url, JSON, "eve")
    assert info.value.response.status_code == 401
    base = url.split("?")[0]
    with pytest.raises(InvalidStatus) as info:  # no token at all
        await WsClient.open(base, JSON, "nobody")
    assert info.value.response.status_code == 401
    if service.flavour == "aio":
        await client.close()
    else:
        client.close()


async def test_get_service_status(service: Service) -> None:
    assert await service.get_service_status() is True


async def test_send_request(service: Service) -> None:
    client = await WsClient.open(await service.url(user_id="sam"), JSON, "sam")
    request = HttpRequest("POST", f"/api/hubs/{service.hub}/:send", params=API, json={"via": "send_request"})
    response = await service.send_request(request)
    assert response.status_code == 202
    assert decoded(await client.next_message()) == ("json", {"via": "send_request"})

    response = await service.send_request(HttpRequest("HEAD", f"/api/hubs/{service.hub}/users/sam", params=API))
    assert response.status_code == 200
    response = await service.send_request(HttpRequest("HEAD", f"/api/hubs/{service.hub}/users/nobody", params=API))
    assert response.status_code == 404  # no status check, no exception

    request = HttpRequest("GET", f"/api/hubs/{service.hub}/groups/g/connections")  # api-version is not added for us
    response = await service.send_request(request)
    assert response.status_code == 400

    response = await service.send_request(HttpRequest("HEAD", "/api/health", params=API))
    assert response.status_code == 200
    await client.close()


async def test_wrong_key_raises_client_authentication_error(service: Service, emulator: object) -> None:
    wrong = service.connection_string.replace(emulator.access_key, WRONG_KEY)  # type: ignore[attr-defined]
    client = make_client(service.flavour, wrong, service.hub)
    other = Service(service.flavour, client, service.hub, wrong)
    with pytest.raises(ClientAuthenticationError) as info:
        await other.send_to_all("x")
    assert info.value.status_code == 401
    assert WRONG_KEY not in str(info.value) and "eyJ" not in str(info.value)  # no key, no token in the message
    with pytest.raises(ClientAuthenticationError):  # HEAD methods map 404 to False, but 401 still raises
        await other.connection_exists("c1")
    with pytest.raises(ClientAuthenticationError):
        await other.list_connections(group="g")
    if service.flavour == "aio":
        await client.close()
    else:
        client.close()


async def test_bad_request_is_http_response_error_with_code(service: Service) -> None:
    with pytest.raises(HttpResponseError) as info:
        await service.send_to_group("   ", "whitespace-only group names are invalid")
    error = info.value
    assert error.status_code == 400
    assert not isinstance(error, (ClientAuthenticationError, ResourceNotFoundError))
    assert error.response is not None and error.response.json()["code"] == "BadRequest"
    assert error.error is not None and error.error.code == "BadRequest"
    assert "(BadRequest)" in str(error)


async def test_bad_api_version_is_400(service: Service, emulator: object) -> None:
    client = make_client(service.flavour, service.connection_string, service.hub, api_version="1999-01-01")
    other = Service(service.flavour, client, service.hub, service.connection_string)
    with pytest.raises(HttpResponseError) as info:
        await other.send_to_all("x")
    assert info.value.status_code == 400
    if service.flavour == "aio":
        await client.close()
    else:
        client.close()


async def test_not_found_maps_to_resource_not_found_error(service: Service) -> None:
    with pytest.raises(ResourceNotFoundError) as info:
        await service.add_connection_to_group("g", "missing")
    assert info.value.status_code == 404


async def test_key_credential_update_takes_effect_on_the_next_request(service: Service, emulator: object) -> None:
    from azure.core.credentials import AzureKeyCredential
    from azure.messaging.webpubsubservice import WebPubSubServiceClient
    from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient as AsyncClient

    credential = AzureKeyCredential(WRONG_KEY)
    cls = AsyncClient if service.flavour == "aio" else WebPubSubServiceClient
    client = cls(emulator.endpoint, service.hub, credential)  # type: ignore[attr-defined]
    other = Service(service.flavour, client, service.hub, "")
    with pytest.raises(ClientAuthenticationError):
        await other.user_exists("anyone")
    credential.update(emulator.access_key)  # type: ignore[attr-defined]
    assert await other.user_exists("anyone") is False
    token = await other.get_client_access_token(user_id="kim")  # client tokens are signed with the new key too
    kim = await WsClient.open(token["url"], JSON, "kim")
    assert await other.user_exists("kim") is True
    await kim.close()
    if service.flavour == "aio":
        await client.close()
    else:
        client.close()


async def test_hub_names_are_case_insensitive(service: Service, emulator: object) -> None:
    upper = service.hub.upper()
    client = make_client(service.flavour, service.connection_string, upper)
    other = Service(service.flavour, client, upper, service.connection_string)
    token = await other.get_client_access_token(user_id="lee")
    assert token["baseUrl"].endswith(f"/client/hubs/{upper}")  # the SDK keeps the hub's case
    lee = await WsClient.open(token["url"], JSON, "lee")
    await service.send_to_all("same hub")  # sent with the lower-case name
    assert decoded(await lee.next_message()) == ("text", "same hub")
    assert await other.user_exists("lee") is True
    await lee.close()
    if service.flavour == "aio":
        await client.close()
    else:
        client.close()
