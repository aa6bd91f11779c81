"""REST authentication: the access-key JWT, re-signing on retries, Entra bearer tokens, the reverse proxy, logging."""

from __future__ import annotations

import logging

import jwt
import pytest
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError
from azure.core.rest import HttpRequest

from .conftest import (
    ACCESS_KEY,
    API_VERSION,
    HUB,
    SCOPE,
    Reply,
    check_rest_claims,
    decode_rest_jwt,
)


async def test_jwt_is_hs256_without_kid_and_signs_the_full_url_with_aud_and_exp_only(sdk) -> None:
    client = sdk.client()
    sdk.script(202)

    await sdk.call(client.send_to_all, {"a": 1}, excluded=["c1"], filter="userId eq 'x'")

    sent = sdk.recorder.only
    assert jwt.get_unverified_header(sent.bearer) == {"alg": "HS256", "typ": "JWT"}
    claims = decode_rest_jwt(sent)
    assert "?" in claims["aud"] and f"api-version={API_VERSION}" in claims["aud"]
    check_rest_claims(claims)


async def test_user_kwarg_adds_the_name_claim(sdk) -> None:
    client = sdk.client(user="admin@contoso")
    sdk.script(204)

    await sdk.call(client.close_connection, "c1")

    check_rest_claims(decode_rest_jwt(sdk.recorder.only), user="admin@contoso")


async def test_aud_keeps_the_host_case_as_sent(sdk) -> None:
    client = sdk.client(endpoint="https://MyHost.WebPubSub.Azure.com", hub="Hub_1")
    sdk.script(202)

    await sdk.call(client.send_to_all, "x", content_type="text/plain")

    sent = sdk.recorder.only
    assert sent.url == f"https://MyHost.WebPubSub.Azure.com/api/hubs/Hub_1/:send?api-version={API_VERSION}"
    decode_rest_jwt(sent, aud=sent.url)


async def test_a_jwt_signed_with_another_key_would_not_verify(sdk) -> None:
    """Guards the helper itself: verification really depends on the key."""
    client = sdk.client()
    sdk.script(204)

    await sdk.call(client.remove_user_from_all_groups, "u1")

    with pytest.raises(jwt.InvalidSignatureError):
        decode_rest_jwt(sdk.recorder.only, key="another-key")


async def test_endpoint_path_prefix_and_port_kwarg_are_kept(sdk) -> None:
    client = sdk.client(endpoint="http://localhost/", port=8080)
    sdk.script(200)

    await sdk.call(client.add_user_to_group, "g1", "u1")

    sent = sdk.recorder.only
    assert sent.url == f"http://localhost:8080/api/hubs/{HUB}/users/u1/groups/g1?api-version={API_VERSION}"
    decode_rest_jwt(sent)


async def test_retries_on_503_resign_every_attempt(sdk) -> None:
    credential = AzureKeyCredential("first-key")
    client = sdk.client(credential=credential, retry_total=3, retry_backoff_factor=0)

    def unavailable_then_rotate(key: str):
        def reply(sent):
            credential.update(key)  # the next attempt must be signed with the new key
            return Reply(503)

        return reply

    sdk.script(unavailable_then_rotate("second-key"), unavailable_then_rotate("third-key"), 202)

    await sdk.call(client.send_to_all, {"a": 1})

    assert len(sdk.sent) == 3
    for sent, key in zip(sdk.sent, ["first-key", "second-key", "third-key"]):
        check_rest_claims(decode_rest_jwt(sent, key=key))


async def test_key_credential_update_takes_effect_on_the_next_request(sdk) -> None:
    credential = AzureKeyCredential("old-key")
    client = sdk.client(credential=credential)
    sdk.script(204, 204)

    await sdk.call(client.close_all_connections)
    credential.update("new-key")
    await sdk.call(client.close_all_connections)

    decode_rest_jwt(sdk.sent[0], key="old-key")
    decode_rest_jwt(sdk.sent[1], key="new-key")


# ---------------------------------------------------------------------------------------------------------------------
# reverse proxy


async def test_reverse_proxy_gets_the_request_and_aud_names_the_origin(sdk) -> None:
    origin = "https://origin.webpubsub.azure.com"
    client = sdk.client(endpoint=origin, reverse_proxy_endpoint="https://proxy.example.com/wps")
    sdk.script(202)

    # the origin also appears in the query: only the URL prefix may be rewritten (D12)
    await sdk.call(client.send_to_user, "u1", "hi", filter=f"userId eq '{origin}'")

    sent = sdk.recorder.only
    assert sent.origin == "https://proxy.example.com"
    assert sent.path == f"/wps/api/hubs/{HUB}/users/u1/:send"
    assert sent.query["filter"] == [f"userId eq '{origin}'"]
    expected_aud = origin + sent.url[len("https://proxy.example.com/wps") :]
    check_rest_claims(decode_rest_jwt(sent, aud=expected_aud))


async def test_reverse_proxy_rewrites_only_the_url_prefix(sdk) -> None:
    origin = "https://origin.webpubsub.azure.com"
    client = sdk.client(endpoint=origin, reverse_proxy_endpoint="https://proxy.example.com/wps/")
    sdk.script(200)
    # an absolute URL through send_request can carry the origin unencoded in its query; that part must survive
    tail = f"/api/health?next={origin}/api/x&api-version={API_VERSION}"

    await sdk.call(client.send_request, HttpRequest("HEAD", origin + tail))

    sent = sdk.recorder.only
    assert sent.url == "https://proxy.example.com/wps" + tail
    decode_rest_jwt(sent, aud=origin + tail)


async def test_reverse_proxy_applies_to_next_links_too(sdk) -> None:
    origin = "https://origin.webpubsub.azure.com"
    client = sdk.client(endpoint=origin, reverse_proxy_endpoint="https://proxy.example.com")
    path = f"/api/hubs/{HUB}/groups/g1/connections"
    sdk.script(
        Reply(200, {"value": [{"connectionId": "c1"}], "nextLink": f"{origin}{path}?continuationToken=t"}),
        Reply(200, {"value": [{"connectionId": "c2"}]}),
    )

    items = await sdk.collect(client.list_connections(group="g1"))

    assert [item.connection_id for item in items] == ["c1", "c2"]
    for sent in sdk.sent:
        assert sent.origin == "https://proxy.example.com"
        assert sent.path == path
        decode_rest_jwt(sent, aud=origin + sent.url[len("https://proxy.example.com") :])


async def test_reverse_proxy_is_ignored_by_client_access_tokens(sdk) -> None:
    client = sdk.client(endpoint="https://origin.webpubsub.azure.com", reverse_proxy_endpoint="https://proxy.example")

    token = await sdk.call(client.get_client_access_token)

    assert token["baseUrl"] == f"wss://origin.webpubsub.azure.com/client/hubs/{HUB}"
    assert sdk.sent == []


# ---------------------------------------------------------------------------------------------------------------------
# Entra (TokenCredential)


async def test_token_credential_sends_the_entra_bearer_token_for_the_webpubsub_scope(sdk) -> None:
    credential = sdk.token_credential("entra-abc")
    client = sdk.client(credential=credential)
    sdk.script(202, 200)

    await sdk.call(client.send_to_all, {"a": 1})
    assert await sdk.call(client.connection_exists, "c1") is True

    for sent in sdk.sent:
        assert sent.headers["Authorization"] == "Bearer entra-abc"
    assert credential.scopes and all(scopes == (SCOPE,) for scopes in credential.scopes)


async def test_token_credential_honours_credential_scopes(sdk) -> None:
    credential = sdk.token_credential()
    client = sdk.client(credential=credential, credential_scopes=["api://custom/.default"])
    sdk.script(202)

    await sdk.call(client.send_to_all, {"a": 1})

    assert credential.scopes[0] == ("api://custom/.default",)


async def test_token_credential_over_http_needs_enforce_https_false(sdk) -> None:
    client = sdk.client(endpoint="http://localhost:8080", credential=sdk.token_credential("entra-abc"))
    sdk.script(202)

    with pytest.raises(ServiceRequestError):
        await sdk.call(client.send_to_all, {"a": 1})
    assert sdk.sent == []

    await sdk.call(client.send_to_all, {"a": 1}, enforce_https=False)
    assert sdk.recorder.only.headers["Authorization"] == "Bearer entra-abc"


# ---------------------------------------------------------------------------------------------------------------------
# secrets never logged


async def test_logging_enable_never_logs_the_access_key_or_a_token(sdk, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    client = sdk.client(logging_enable=True)
    sdk.script(202, Reply(200, {"value": [{"connectionId": "c1"}]}), Reply(401, {"code": "Unauthorized"}))

    await sdk.call(client.send_to_all, {"a": 1})
    await sdk.collect(client.list_connections(group="g1"))
    with pytest.raises(ClientAuthenticationError):
        await sdk.call(client.close_connection, "c1")
    token = await sdk.call(client.get_client_access_token, user_id="u1")

    assert caplog.records, "logging_enable=True should log the HTTP traffic"
    text = caplog.text
    assert ACCESS_KEY not in text
    for sent in sdk.sent:
        assert sent.bearer not in text
    assert token["token"] not in text


async def test_per_call_logging_enable_never_logs_an_entra_token(sdk, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    client = sdk.client(credential=sdk.token_credential("entra-secret-token-value"))
    sdk.script(202)

    await sdk.call(client.send_to_all, {"a": 1}, logging_enable=True)

    assert caplog.records
    assert "entra-secret-token-value" not in caplog.text


async def test_logging_enable_never_logs_a_client_token_minted_by_the_service(sdk, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    client = sdk.client(credential=sdk.token_credential("entra-secret-token-value"), logging_enable=True)
    minted = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.minted-client-token-signature"
    sdk.script(Reply(200, {"token": minted}))

    result = await sdk.call(client.get_client_access_token, user_id="u1")

    assert result["token"] == minted
    assert caplog.records
    assert "entra-secret-token-value" not in caplog.text
    assert minted not in caplog.text


async def test_exceptions_never_carry_the_bearer_token(sdk) -> None:
    client = sdk.client()
    sdk.script(Reply(403, {"code": "Forbidden", "message": "no"}))

    with pytest.raises(HttpResponseError) as info:
        await sdk.call(client.send_to_all, {"a": 1})

    assert sdk.recorder.only.bearer not in str(info.value)
    assert ACCESS_KEY not in str(info.value) and ACCESS_KEY not in repr(info.value)
