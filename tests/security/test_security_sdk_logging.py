"""The SDK never writes the access key or a token to the logs, at any level, with ``logging_enable=True``.

The emulator runs as a child process (the CLI) so that every log record captured here comes from the client side:
the SDK, azure-core, requests/urllib3 and aiohttp. Every record of every logger is captured at DEBUG on the root logger
and rendered in full (message, arguments, exception text)."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Iterator, List, Set

import pytest
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.core.rest import HttpRequest
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient as AsyncWebPubSubServiceClient
from security_support import ACCESS_KEY, API_VERSION, HUB, WRONG_KEY, start_cli, stop, wait_endpoint

JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: List[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        out = []
        for record in self.records:
            out.append(self.format(record))
            out.append(repr(record.args))
        return "\n".join(out)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    proc, lines = start_cli()
    try:
        yield wait_endpoint(proc, lines)
    finally:
        stop(proc)


@pytest.fixture
def capture() -> Iterator[_Capture]:
    root = logging.getLogger()
    handler = _Capture()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def _assert_clean(capture: _Capture, secrets: Set[str]) -> None:
    text = capture.text()
    assert capture.records, "nothing was logged: the check would be vacuous"
    assert any("webpubsub" in r.getMessage() or r.name.startswith("azure") for r in capture.records)
    assert ACCESS_KEY not in text, "the access key appears in the logs"
    leaked = [s for s in secrets if s and s in text]
    assert not leaked, f"{len(leaked)} token(s) appear in the logs"
    found = JWT_RE.findall(text)
    assert not found, f"JWT-shaped strings appear in the logs: {[t[:16] + '...' for t in found]}"


def test_sync_client_logs_no_secret(endpoint: str, capture: _Capture) -> None:
    sent: Set[str] = set()

    def hook(request: Any) -> None:
        sent.add(request.http_request.headers.get("Authorization", "").removeprefix("Bearer "))

    conn_str = f"Endpoint={endpoint};AccessKey={ACCESS_KEY};Version=1.0;"
    with WebPubSubServiceClient.from_connection_string(
        conn_str, hub=HUB, logging_enable=True, raw_request_hook=hook
    ) as client:
        client.send_to_all({"hello": "world"})
        client.send_to_user("user1", "hi", content_type="text/plain")
        assert client.group_exists("nogroup") is False
        assert list(client.list_connections(group="nogroup")) == []
        token = client.get_client_access_token(user_id="user1", roles=["webpubsub.sendToGroup"], groups=["g"])
        sent.add(token["token"])
        with pytest.raises(ResourceNotFoundError) as not_found:
            client.add_user_to_group("g", "nobody-connected")
        with pytest.raises(HttpResponseError) as bad_request:
            client.send_to_group("   ", "x", content_type="text/plain")
        assert bad_request.value.status_code == 400
    bad = WebPubSubServiceClient(endpoint, HUB, AzureKeyCredential(WRONG_KEY), logging_enable=True)
    with bad, pytest.raises(ClientAuthenticationError) as unauthorized:
        bad.send_to_all("x", content_type="text/plain")
    for exc in (not_found.value, bad_request.value, unauthorized.value):
        assert ACCESS_KEY not in str(exc) and WRONG_KEY not in str(exc)
    assert len(sent) >= 7
    _assert_clean(capture, sent | {WRONG_KEY})


def test_aio_client_logs_no_secret(endpoint: str, capture: _Capture) -> None:
    sent: Set[str] = set()

    def hook(request: Any) -> None:
        sent.add(request.http_request.headers.get("Authorization", "").removeprefix("Bearer "))

    async def run() -> None:
        conn_str = f"Endpoint={endpoint};AccessKey={ACCESS_KEY};Version=1.0;"
        async with AsyncWebPubSubServiceClient.from_connection_string(
            conn_str, hub=HUB, logging_enable=True, raw_request_hook=hook
        ) as client:
            await client.send_to_all({"hello": "world"})
            assert await client.user_exists("nobody") is False
            token = await client.get_client_access_token(user_id="user1", roles=["webpubsub.joinLeaveGroup"])
            sent.add(token["token"])
            with pytest.raises(ResourceNotFoundError):
                await client.add_user_to_group("g", "nobody-connected")
        async with AsyncWebPubSubServiceClient(
            endpoint, HUB, AzureKeyCredential(WRONG_KEY), logging_enable=True
        ) as bad:
            with pytest.raises(ClientAuthenticationError):
                await bad.send_to_all("x", content_type="text/plain")

    asyncio.run(run())
    assert len(sent) >= 4
    _assert_clean(capture, sent | {WRONG_KEY})


def test_service_minted_token_is_not_logged(endpoint: str, capture: _Capture) -> None:
    """A token minted by the service (``:generateToken``, the path ``get_client_access_token`` takes with an Entra
    credential) travels in a response body; network-trace logging must not write it out."""
    conn_str = f"Endpoint={endpoint};AccessKey={ACCESS_KEY};Version=1.0;"
    with WebPubSubServiceClient.from_connection_string(conn_str, hub=HUB, logging_enable=True) as client:
        request = HttpRequest(
            "POST", f"/api/hubs/{HUB}/:generateToken", params={"api-version": API_VERSION, "userId": "u2"}
        )
        response = client.send_request(request)
        assert response.status_code == 200
        minted = response.json()["token"]
    _assert_clean(capture, {minted})
