"""``from_connection_string`` (sdk-compat §3, D5, D10, D11) and the ``port`` kwarg."""

from __future__ import annotations

import pytest
from azure.core.credentials import AzureKeyCredential

from .conftest import API_VERSION, HUB, NAME_CLAIM, decode_rest_jwt

SECRET = "SuperSecretKey123=="
H = "https://h.webpubsub.azure.com"
K = f"AccessKey={SECRET}"

# connection string, the base URL requests must go to, the key the JWT must verify with
GOOD = [
    pytest.param(f"Endpoint={H};AccessKey={SECRET};Version=1.0;", H, SECRET, id="typical"),
    pytest.param(f"endpoint={H};accesskey={SECRET};version=1.0", H, SECRET, id="lowercase-keys"),
    pytest.param(f"ENDPOINT={H};ACCESSKEY={SECRET}", H, SECRET, id="uppercase-keys"),
    pytest.param(f"AccessKey={SECRET};Endpoint={H};Version=1.0;", H, SECRET, id="access-key-first"),
    pytest.param(f"Endpoint={H};AccessKey=abc==", H, "abc==", id="split-at-first-equals"),
    pytest.param(f"Endpoint={H};AccessKey=a=b=c", H, "a=b=c", id="equals-inside-key"),
    pytest.param(f"Endpoint=http://host;Port=8080;{K};Version=1.0;", "http://host:8080", SECRET, id="port"),
    pytest.param(f"Endpoint=https://x.com/;Port=8080;{K}", "https://x.com:8080", SECRET, id="port-trailing-slash"),
    pytest.param(f"Endpoint=http://host:8080;Port=8080;{K}", "http://host:8080", SECRET, id="same-port-twice"),
    pytest.param(f"Endpoint=https://h.example.com/pre;{K}", "https://h.example.com/pre", SECRET, id="path-prefix"),
    pytest.param(f";;Endpoint={H};;AccessKey={SECRET};;Version=1.0;;", H, SECRET, id="blank-segments"),
    pytest.param(f" Endpoint = {H} ; AccessKey = {SECRET} ; Version = 1.0 ; ", H, SECRET, id="spaces"),
    pytest.param(f"Endpoint={H};AccessKey={SECRET};Version=2.0", H, SECRET, id="other-version"),
    pytest.param(
        f"Endpoint={H};AccessKey={SECRET};ClientEndpoint=https://client.example;"
        "ClientPort=9999;Foo=bar;Api_Version=1999-01-01;User=intruder;Reverse_Proxy_Endpoint=https://evil.example",
        H,
        SECRET,
        id="unknown-keys-ignored",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("connection_string", "base_url", "key"), GOOD)
async def test_good_connection_string(sdk, connection_string: str, base_url: str, key: str) -> None:
    client = sdk.from_connection_string(connection_string, hub=HUB)
    sdk.script(202)

    await sdk.call(client.send_to_all, {"a": 1})

    sent = sdk.recorder.only
    assert sent.url == f"{base_url}/api/hubs/{HUB}/:send?api-version={API_VERSION}"
    claims = decode_rest_jwt(sent, key=key)
    assert NAME_CLAIM not in claims  # `User=` in a connection string is not the `user` kwarg


async def test_connection_string_client_signs_client_tokens_with_the_raw_key(sdk) -> None:
    import jwt

    client = sdk.from_connection_string(f"Endpoint=https://h.webpubsub.azure.com;AccessKey={SECRET};Version=1.0;", HUB)

    result = await sdk.call(client.get_client_access_token)

    jwt.decode(
        result["token"], SECRET, algorithms=["HS256"], audience=f"https://h.webpubsub.azure.com/client/hubs/{HUB}"
    )


async def test_from_connection_string_accepts_keywords(sdk) -> None:
    client = sdk.Client.from_connection_string(
        connection_string=f"Endpoint=https://h.webpubsub.azure.com;AccessKey={SECRET}",
        hub=HUB,
        transport=sdk.transport(),
    )
    sdk.script(204)

    await sdk.call(client.close_all_connections)
    await sdk.call(client.close)

    assert sdk.recorder.only.url.startswith("https://h.webpubsub.azure.com/api/hubs/")


# connection string, the field the error must name (or None)
BAD = [
    pytest.param(f"AccessKey={SECRET};Version=1.0;", "endpoint", id="no-endpoint"),
    pytest.param(f"Endpoint=;AccessKey={SECRET}", "endpoint", id="empty-endpoint"),
    pytest.param("", "endpoint", id="empty-string"),
    pytest.param(f"Endpoint={H};Version=1.0;", "accesskey", id="no-access-key"),
    pytest.param(f"Endpoint={H};{SECRET[:-2]};Version=1.0", None, id="key-pasted-without-name"),
    pytest.param(f"Endpoint={H};AccessKey={SECRET};leakysegment", None, id="segment-without-equals"),
    pytest.param(f"Endpoint={H};AccessKey={SECRET};AccessKey={SECRET}", None, id="duplicate-key"),
    pytest.param(f"Endpoint=https://a.example;endpoint=https://b.example;{K}", None, id="duplicate-any-case"),
    pytest.param(f"AccessKey={SECRET};Endpoint=https://h.example;ACCESSKEY=other", None, id="duplicate-access-key"),
    pytest.param(f"Endpoint=http://host:8080;Port=9090;AccessKey={SECRET}", None, id="conflicting-port"),
]  # fmt: skip


def exception_chain(exc: BaseException) -> list[BaseException]:
    chain, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    return chain


@pytest.mark.parametrize(("connection_string", "field"), BAD)
async def test_bad_connection_string_raises_value_error_without_echoing_secrets(
    sdk, connection_string: str, field: str
) -> None:
    with pytest.raises(ValueError) as info:
        sdk.from_connection_string(connection_string, hub=HUB)

    message = str(info.value)
    if field is not None:
        assert field in message.lower().replace(" ", "").replace("_", "")
    for exc in exception_chain(info.value):
        for text in (str(exc), repr(exc)):
            assert SECRET[:-2] not in text  # not even without its padding
            assert "leakysegment" not in text  # D5: name a position or a key, never a value
    assert sdk.sent == []


# ---------------------------------------------------------------------------------------------------------------------
# the port kwarg (D10)


@pytest.mark.parametrize(
    ("endpoint", "port", "base_url"),
    [
        ("http://localhost", 8080, "http://localhost:8080"),
        ("http://localhost///", "8080", "http://localhost:8080"),
        ("https://x.com/", 8443, "https://x.com:8443"),
        ("http://localhost:8080", 8080, "http://localhost:8080"),
        ("http://localhost:8080", "8080", "http://localhost:8080"),
        ("http://localhost:8080", None, "http://localhost:8080"),
    ],
)
async def test_port_kwarg_is_appended_once(sdk, endpoint: str, port, base_url: str) -> None:
    client = sdk.client(endpoint=endpoint, port=port)
    sdk.script(204)

    await sdk.call(client.remove_connection_from_all_groups, "c1")

    sent = sdk.recorder.only
    assert sent.url == f"{base_url}/api/hubs/{HUB}/connections/c1/groups?api-version={API_VERSION}"
    decode_rest_jwt(sent)


async def test_conflicting_port_kwarg_raises(sdk) -> None:
    with pytest.raises(ValueError):
        sdk.client(endpoint="https://h.example.com:443", port=8080)


async def test_constructor_accepts_keywords(sdk) -> None:
    client = sdk.Client(
        endpoint="https://h.example.com",
        hub=HUB,
        credential=AzureKeyCredential(SECRET),
        transport=sdk.transport(),
    )
    sdk.script(202)

    await sdk.call(client.send_to_all, "hi")
    await sdk.call(client.close)

    assert sdk.recorder.only.url.startswith("https://h.example.com/api/hubs/hub1/:send")
    decode_rest_jwt(sdk.recorder.only, key=SECRET)
