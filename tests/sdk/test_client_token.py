"""``get_client_access_token``: local signing with a key (sdk-compat §7, §14, D4, D8, D9) and ``:generateToken``
with an Entra credential."""

from __future__ import annotations

import time
from typing import Any, Optional
from urllib.parse import urlsplit

import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError

from .conftest import ACCESS_KEY, API_VERSION, ENDPOINT, HUB, Reply, check_generate_token_request, sdk_module

THREE_CLAIMS = {"aud", "iat", "exp"}


def http_of(base_url: str) -> str:
    """The audience of a client token is its base URL with ws/wss turned back into http/https."""
    if base_url.startswith("wss://"):
        return "https://" + base_url[len("wss://") :]
    assert base_url.startswith("ws://"), base_url
    return "http://" + base_url[len("ws://") :]


def decode_client_token(result: dict, key: str = ACCESS_KEY) -> dict:
    """Check the returned dict's shape and the token's signature and audience; return the claims."""
    assert set(result) == {"baseUrl", "url", "token"}
    token = result["token"]
    assert result["url"] == result["baseUrl"] + "?access_token=" + token
    assert urlsplit(result["url"]).query == "access_token=" + token
    claims = jwt.decode(token, key, algorithms=["HS256"], audience=http_of(result["baseUrl"]))
    assert isinstance(claims["iat"], int) and isinstance(claims["exp"], int)
    assert abs(claims["iat"] - time.time()) <= 5
    return claims


# ---------------------------------------------------------------------------------------------------------------------
# the official offline cases, reproduced


async def test_connection_string_with_port_gives_the_token_endpoint_and_key(sdk) -> None:
    client = sdk.from_connection_string(f"Endpoint=http://localhost;Port=8080;AccessKey={ACCESS_KEY};Version=1.0;")

    result = await sdk.call(client.get_client_access_token)

    assert result["baseUrl"] == f"ws://localhost:8080/client/hubs/{HUB}"
    claims = decode_client_token(result)
    assert claims["aud"] == f"http://localhost:8080/client/hubs/{HUB}"


async def test_connection_string_with_access_key_first(sdk) -> None:
    client = sdk.from_connection_string(f"AccessKey={ACCESS_KEY};Endpoint=http://localhost;Port=8080;Version=1.0;")

    result = await sdk.call(client.get_client_access_token)

    assert result["baseUrl"] == f"ws://localhost:8080/client/hubs/{HUB}"
    decode_client_token(result)


async def test_token_without_user_roles_or_groups_has_exactly_aud_iat_exp(sdk) -> None:
    client = sdk.client(hub="hub")

    result = await sdk.call(client.get_client_access_token)

    claims = decode_client_token(result)
    assert set(claims) == THREE_CLAIMS
    assert claims["aud"] == ENDPOINT + "/client/hubs/hub"
    assert claims["aud"] == result["url"].split("?")[0].replace("wss", "https", 1)
    assert sdk.sent == []  # signed locally


@pytest.mark.parametrize(
    ("kwargs", "extra_claims"),
    [
        ({"user_id": "user1"}, {"sub": "user1"}),
        ({"roles": ["webpubsub.sendToGroup"]}, {"role": ["webpubsub.sendToGroup"]}),
        (
            {"roles": ["webpubsub.sendToGroup.g1", "webpubsub.joinLeaveGroup.g1"]},
            {"role": ["webpubsub.sendToGroup.g1", "webpubsub.joinLeaveGroup.g1"]},
        ),
        ({"groups": ["g1"]}, {"webpubsub.group": ["g1"]}),
        ({"groups": ["g1", "g 2"]}, {"webpubsub.group": ["g1", "g 2"]}),
        (
            {"user_id": "u", "roles": ["r"], "groups": ["g"]},
            {"sub": "u", "role": ["r"], "webpubsub.group": ["g"]},
        ),
        ({"roles": []}, {}),
        ({"groups": []}, {}),
        ({"roles": [], "groups": []}, {}),
        ({"user_id": None, "roles": None, "groups": None}, {}),
    ],
    ids=[
        "user",
        "one-role",
        "two-roles",
        "one-group",
        "two-groups",
        "all",
        "empty-roles",
        "empty-groups",
        "all-empty",
        "all-none",
    ],
)
async def test_claims_are_added_only_for_non_empty_values(sdk, kwargs: dict, extra_claims: dict) -> None:
    client = sdk.client()

    claims = decode_client_token(await sdk.call(client.get_client_access_token, **kwargs))

    assert set(claims) == THREE_CLAIMS | set(extra_claims)
    for name, value in extra_claims.items():
        assert claims[name] == value


@pytest.mark.parametrize(("minutes", "seconds"), [(None, 3600), (1, 60), (5, 300), (60 * 24, 86400)])
async def test_lifetime_is_minutes_to_expire(sdk, minutes: Optional[int], seconds: int) -> None:
    client = sdk.client()
    kwargs = {} if minutes is None else {"minutes_to_expire": minutes}

    claims = decode_client_token(await sdk.call(client.get_client_access_token, **kwargs))

    assert abs((claims["exp"] - claims["iat"]) - seconds) <= 5


async def test_jwt_headers_kid_shows_in_the_header(sdk) -> None:
    client = sdk.client()

    result = await sdk.call(client.get_client_access_token, jwt_headers={"kid": "key-2024"})

    header = jwt.get_unverified_header(result["token"])
    assert header["kid"] == "key-2024"
    assert header["alg"] == "HS256"
    decode_client_token(result)


# endpoint, client_protocol, hub, expected baseUrl
URLS = [
    ("https://Contoso.WebPubSub.Azure.com", "Default", "Hub", "wss://contoso.webpubsub.azure.com/client/hubs/Hub"),
    ("http://localhost:8080", "Default", "hub", "ws://localhost:8080/client/hubs/hub"),
    ("https://h.webpubsub.azure.com:8443", "Default", "hub", "wss://h.webpubsub.azure.com:8443/client/hubs/hub"),
    ("https://h.webpubsub.azure.com/", "Default", "MyHub", "wss://h.webpubsub.azure.com/client/hubs/MyHub"),
    ("https://h.webpubsub.azure.com", "MQTT", "hub", "wss://h.webpubsub.azure.com/clients/mqtt/hubs/hub"),
    ("http://localhost", "MQTT", "hub", "ws://localhost/clients/mqtt/hubs/hub"),
    ("http://localhost:8080", "MQTT", "hub", "ws://localhost:8080/clients/mqtt/hubs/hub"),
    ("https://h.webpubsub.azure.com:8443", "MQTT", "hub", "wss://h.webpubsub.azure.com:8443/clients/mqtt/hubs/hub"),
    ("https://h.webpubsub.azure.com", "SocketIO", "hub", "wss://h.webpubsub.azure.com/clients/socketio/hubs/hub"),
    ("http://localhost", "SocketIO", "hub", "ws://localhost/clients/socketio/hubs/hub"),
    ("http://localhost:8080", "SocketIO", "hub", "ws://localhost:8080/clients/socketio/hubs/hub"),
    (
        "https://h.webpubsub.azure.com:8443",
        "SocketIO",
        "hub",
        "wss://h.webpubsub.azure.com:8443/clients/socketio/hubs/hub",
    ),
    # D9: only the scheme and the host are lowercased; a path prefix and the hub keep their case
    (
        "https://Contoso.Example.COM/Prefix/Wps",
        "Default",
        "Hub",
        "wss://contoso.example.com/Prefix/Wps/client/hubs/Hub",
    ),
    ("HTTPS://Contoso.Example.COM", "MQTT", "Hub", "wss://contoso.example.com/clients/mqtt/hubs/Hub"),
]


@pytest.mark.parametrize(("endpoint", "protocol", "hub", "base_url"), URLS)
async def test_base_url_per_endpoint_and_protocol(sdk, endpoint: str, protocol: str, hub: str, base_url: str) -> None:
    client = sdk.client(endpoint=endpoint, hub=hub)

    result = await sdk.call(client.get_client_access_token, client_protocol=protocol)

    assert result["baseUrl"] == base_url
    claims = decode_client_token(result)
    assert claims["aud"] == http_of(base_url)
    assert set(claims) == THREE_CLAIMS  # no claim records the protocol


def protocol_values(kind: str) -> list:
    """Spellings of each protocol, built lazily so a missing models module fails the test rather than collection."""
    return {
        "client": ["Default", "default", "DEFAULT", None, ("WebPubSubClientProtocol", "DEFAULT")],
        "clients/mqtt": ["MQTT", "mqtt", "Mqtt", ("WebPubSubClientProtocol", "MQTT"), ("WebPubSubClientType", "MQTT")],
        "clients/socketio": ["SocketIO", "socketio", "SOCKETIO", ("WebPubSubClientProtocol", "SOCKETIO")],
    }[kind]


def resolve(value: Any) -> Any:
    if isinstance(value, tuple):
        enum_name, member = value
        return getattr(getattr(sdk_module(".models"), enum_name), member)
    return value


@pytest.mark.parametrize(
    ("path", "value"),
    [(path, value) for path in ("client", "clients/mqtt", "clients/socketio") for value in protocol_values(path)],
)
async def test_client_protocol_is_case_insensitive_and_accepts_enums_and_none(sdk, path: str, value: Any) -> None:
    client = sdk.client()

    result = await sdk.call(client.get_client_access_token, client_protocol=resolve(value))

    assert result["baseUrl"] == f"wss://myservice.webpubsub.azure.com/{path}/hubs/{HUB}"


@pytest.mark.parametrize("value", ["websocket", "mqtt5", "socket.io", "Defaults"])
async def test_unknown_client_protocol_raises_value_error(sdk, value: str) -> None:
    client = sdk.client()

    with pytest.raises(ValueError):
        await sdk.call(client.get_client_access_token, client_protocol=value)


# ---------------------------------------------------------------------------------------------------------------------
# Entra credential: the service mints the token


async def test_token_credential_calls_generate_token_with_every_parameter(sdk) -> None:
    credential = sdk.token_credential("entra-abc")
    client = sdk.client(credential=credential)
    sdk.script(Reply(200, {"token": "minted.by.service"}))

    result = await sdk.call(
        client.get_client_access_token,
        user_id="user1",
        roles=["r1", "r2"],
        minutes_to_expire=5,
        groups=["g1"],
        client_protocol="mqtt",
        jwt_headers={"kid": "ignored"},
    )

    sent = sdk.recorder.only
    check_generate_token_request(sent)
    assert sent.headers["Authorization"] == "Bearer entra-abc"
    assert result == {
        "baseUrl": f"wss://myservice.webpubsub.azure.com/clients/mqtt/hubs/{HUB}",
        "token": "minted.by.service",
        "url": f"wss://myservice.webpubsub.azure.com/clients/mqtt/hubs/{HUB}?access_token=minted.by.service",
    }


@pytest.mark.parametrize(
    ("protocol", "client_type", "path"),
    [
        (None, "Default", "client"),
        ("DEFAULT", "Default", "client"),
        ("Mqtt", "MQTT", "clients/mqtt"),
        ("socketio", "SocketIO", "clients/socketio"),
        (("WebPubSubClientProtocol", "SOCKETIO"), "SocketIO", "clients/socketio"),
    ],
)
async def test_token_credential_sends_the_canonical_client_type_and_default_minutes(
    sdk, protocol: Any, client_type: str, path: str
) -> None:
    client = sdk.client(credential=sdk.token_credential())
    sdk.script(Reply(200, {"token": "t.o.k"}))
    kwargs = {} if protocol is None else {"client_protocol": resolve(protocol)}

    result = await sdk.call(client.get_client_access_token, **kwargs)

    assert sdk.recorder.only.query == {
        "minutesToExpire": ["60"],
        "api-version": [API_VERSION],
        "clientType": [client_type],
    }
    assert result["baseUrl"] == f"wss://myservice.webpubsub.azure.com/{path}/hubs/{HUB}"
    assert result["url"] == result["baseUrl"] + "?access_token=t.o.k"


async def test_token_credential_generate_token_errors_are_mapped(sdk) -> None:
    client = sdk.client(credential=sdk.token_credential())
    sdk.script(Reply(401, {"code": "Unauthorized", "message": "nope"}))

    with pytest.raises(ClientAuthenticationError):
        await sdk.call(client.get_client_access_token)


async def test_token_credential_unknown_protocol_raises_before_any_request(sdk) -> None:
    client = sdk.client(credential=sdk.token_credential())

    with pytest.raises(ValueError):
        await sdk.call(client.get_client_access_token, client_protocol="carrier-pigeon")
    assert sdk.sent == []


async def test_token_credential_over_http_with_enforce_https_false(sdk) -> None:
    client = sdk.client(endpoint="http://localhost:8080", credential=sdk.token_credential("entra-abc"))
    sdk.script(Reply(200, {"token": "a.b.c"}))

    result = await sdk.call(client.get_client_access_token, enforce_https=False)

    assert sdk.recorder.only.url.startswith("http://localhost:8080/api/hubs/")
    assert result["url"] == f"ws://localhost:8080/client/hubs/{HUB}?access_token=a.b.c"
