"""Shared fixtures for the SDK wire tests.

Every test here runs twice, once against the sync client and once against the ``.aio`` client, through the ``sdk``
fixture (a :class:`Sdk` harness). Tests are written once as ``async def`` and use ``await sdk.call(...)``, which awaits
only when the client returned an awaitable, so the expectations live in a single place.

The transports below record every outgoing request (method, URL as sent, headers, body bytes, transport kwargs) and
answer with scripted replies. They are the only fake in the test suite, and they exist because these tests assert the
exact bytes the SDK puts on the wire.
"""

from __future__ import annotations

import importlib
import inspect
import io
import json
import time
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any, Callable, Optional, Union
from urllib.parse import unquote, urlsplit

import jwt
import jwt.warnings
import pytest
from azure.core.credentials import AccessToken, AzureKeyCredential
from azure.core.pipeline.transport import AsyncHttpTransport, HttpTransport
from azure.core.rest._http_response_impl import HttpResponseImpl
from azure.core.rest._http_response_impl_async import AsyncHttpResponseImpl
from azure.core.utils import CaseInsensitiveDict

ENDPOINT = "https://myservice.webpubsub.azure.com"
HUB = "hub1"
ACCESS_KEY = "SuperSecretKey123=="
API_VERSION = "2024-12-01"
SCOPE = "https://webpubsub.azure.com/.default"
NAME_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
PKG = "azure.messaging.webpubsubservice"


def sdk_module(name: str = "") -> Any:
    """Import the package (or one of its submodules) lazily, so a missing implementation fails tests, not collection."""
    return importlib.import_module(PKG + name)


# --------------------------------------------------------------------------------------------------------------------
# What the transport records and what it answers


@dataclass
class Reply:
    """A scripted response. A dict/list body is sent as JSON with ``Content-Type: application/json``."""

    status: int = 200
    body: Union[bytes, str, dict, list, None] = None
    headers: dict = field(default_factory=dict)

    def encode(self) -> tuple[bytes, dict]:
        headers = dict(self.headers)
        if isinstance(self.body, (dict, list)):
            headers.setdefault("Content-Type", "application/json")
            return json.dumps(self.body).encode(), headers
        if isinstance(self.body, str):
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
            return self.body.encode(), headers
        return self.body or b"", headers


def parse_query(query: str) -> dict[str, list[str]]:
    """Decode a raw query strictly (``%20`` is a space, ``+`` stays ``+``), keeping repeated keys in order."""
    result: dict[str, list[str]] = {}
    for part in query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        result.setdefault(unquote(key), []).append(unquote(value))
    return result


@dataclass
class Sent:
    """One request as it reached the transport."""

    method: str
    url: str
    headers: CaseInsensitiveDict
    body: bytes
    transport_kwargs: dict

    @property
    def path(self) -> str:
        """The raw (still percent-encoded) path."""
        return urlsplit(self.url).path

    @property
    def raw_query(self) -> str:
        return urlsplit(self.url).query

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_query(self.raw_query)

    @property
    def origin(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def bearer(self) -> str:
        value = self.headers.get("Authorization", "")
        assert value.startswith("Bearer "), f"no bearer token on {self.method} {self.url}: {value!r}"
        return value[len("Bearer ") :]

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class Recorder:
    """Shared by a sync and an async transport: records requests, pops scripted replies."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self._script: deque[Union[Reply, Callable[[Sent], Reply]]] = deque()
        self.default: Optional[Reply] = None

    def script(self, *replies: Union[Reply, int, Callable[[Sent], Reply]]) -> None:
        """Queue replies (an int is a bare status code; a callable gets the recorded request)."""
        for reply in replies:
            self._script.append(Reply(reply) if isinstance(reply, int) else reply)

    def record(self, request: Any, body: bytes, kwargs: dict) -> Reply:
        sent = Sent(
            method=request.method,
            url=request.url,
            headers=CaseInsensitiveDict(dict(request.headers.items())),
            body=body,
            transport_kwargs=dict(kwargs),
        )
        self.sent.append(sent)
        if self._script:
            reply = self._script.popleft()
        elif self.default is not None:
            reply = self.default
        else:
            raise AssertionError(f"unscripted request: {sent.method} {sent.url}")
        return reply(sent) if callable(reply) else reply

    @property
    def last(self) -> Sent:
        assert self.sent, "no request was sent"
        return self.sent[-1]

    @property
    def only(self) -> Sent:
        assert len(self.sent) == 1, f"expected exactly one request, got {[(s.method, s.url) for s in self.sent]}"
        return self.sent[0]


def _body_of(request: Any) -> Any:
    content = getattr(request, "content", None)
    if content is None:
        content = getattr(request, "body", None)
    return content


def _bytes_from(content: Any) -> bytes:
    if content is None:
        return b""
    if isinstance(content, str):
        return content.encode("utf-8")
    if isinstance(content, (bytes, bytearray, memoryview)):
        return bytes(content)
    if hasattr(content, "read"):
        start = content.tell() if hasattr(content, "tell") else None
        data = content.read()
        if start is not None and hasattr(content, "seek"):
            content.seek(start)  # a retry must be able to send it again
        return _bytes_from(data)
    if isinstance(content, (list, tuple)) or inspect.isgenerator(content):
        return b"".join(_bytes_from(chunk) for chunk in content)
    raise AssertionError(f"cannot read a request body of type {type(content)!r}")


async def _bytes_from_async(content: Any) -> bytes:
    if hasattr(content, "__aiter__"):
        return b"".join([_bytes_from(chunk) async for chunk in content])
    return _bytes_from(content)


class _Internal:
    def close(self) -> None:
        pass


class _AsyncInternal:
    async def close(self) -> None:
        pass


def _no_stream(**_kwargs: Any) -> Any:
    raise AssertionError("the fake response has its content preloaded")


def _response(cls: type, request: Any, reply: Reply, internal: Any) -> Any:
    body, headers = reply.encode()
    headers = CaseInsensitiveDict(headers)
    try:
        reason = HTTPStatus(reply.status).phrase
    except ValueError:
        reason = ""
    response = cls(
        request=request,
        internal_response=internal,
        block_size=4096,
        status_code=reply.status,
        reason=reason,
        content_type=headers.get("Content-Type"),
        headers=headers,
        stream_download_generator=_no_stream,
    )
    response._content = body
    return response


class RecordingTransport(HttpTransport):
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def __enter__(self) -> RecordingTransport:
        return self

    def __exit__(self, *args: Any) -> None:
        pass

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def send(self, request: Any, **kwargs: Any) -> Any:
        reply = self.recorder.record(request, _bytes_from(_body_of(request)), kwargs)
        return _response(HttpResponseImpl, request, reply, _Internal())


class AsyncRecordingTransport(AsyncHttpTransport):
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    async def __aenter__(self) -> AsyncRecordingTransport:
        return self

    async def __aexit__(self, *args: Any) -> None:
        pass

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def send(self, request: Any, **kwargs: Any) -> Any:
        reply = self.recorder.record(request, await _bytes_from_async(_body_of(request)), kwargs)
        return _response(AsyncHttpResponseImpl, request, reply, _AsyncInternal())


# --------------------------------------------------------------------------------------------------------------------
# Fake Entra credentials


class FakeTokenCredential:
    """A sync TokenCredential that hands out a fixed token and remembers the scopes asked for."""

    def __init__(self, token: str = "entra-token-0123456789") -> None:
        self.token = token
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)


class FakeAsyncTokenCredential(FakeTokenCredential):
    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:  # type: ignore[override]
        self.scopes.append(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)

    async def close(self) -> None:
        pass

    async def __aenter__(self) -> FakeAsyncTokenCredential:
        return self

    async def __aexit__(self, *args: Any) -> None:
        pass


# --------------------------------------------------------------------------------------------------------------------
# JWT helpers


def decode_rest_jwt(sent: Sent, key: str = ACCESS_KEY, *, aud: Optional[str] = None) -> dict:
    """Verify the REST bearer JWT with the key and check its audience is the URL as sent (or ``aud``)."""
    token = sent.bearer
    claims = jwt.decode(token, key, algorithms=["HS256"], audience=aud or sent.url)
    assert claims["aud"] == (aud or sent.url)
    return claims


def check_rest_claims(claims: dict, *, user: Optional[str] = None) -> None:
    expected = {"aud", "exp"} | ({NAME_CLAIM} if user is not None else set())
    assert set(claims) == expected
    assert abs(claims["exp"] - (time.time() + 60)) <= 5
    if user is not None:
        assert claims[NAME_CLAIM] == user


def check_generate_token_request(sent: Sent) -> None:
    """The ``:generateToken`` request for user1, roles r1 and r2, 5 minutes, group g1 and the MQTT client type."""
    assert sent.method == "POST"
    assert sent.origin == ENDPOINT
    assert sent.path == f"/api/hubs/{HUB}/:generateToken"
    assert sent.query == {
        "userId": ["user1"],
        "role": ["r1", "r2"],
        "minutesToExpire": ["5"],
        "api-version": [API_VERSION],
        "group": ["g1"],
        "clientType": ["MQTT"],
    }
    assert sent.headers["Accept"] == "application/json, text/json"
    assert sent.body == b""


# --------------------------------------------------------------------------------------------------------------------
# The sync/aio harness


class Sdk:
    """One flavour of the SDK (``"sync"`` or ``"aio"``) plus a recorder that all its clients share."""

    def __init__(self, flavour: str) -> None:
        self.flavour = flavour
        self.is_aio = flavour == "aio"
        self.recorder = Recorder()
        self._clients: list[Any] = []

    def __repr__(self) -> str:
        return f"Sdk({self.flavour})"

    @property
    def module(self) -> Any:
        return sdk_module(".aio" if self.is_aio else "")

    @property
    def Client(self) -> Any:
        return self.module.WebPubSubServiceClient

    def transport(self) -> Any:
        return AsyncRecordingTransport(self.recorder) if self.is_aio else RecordingTransport(self.recorder)

    def token_credential(self, token: str = "entra-token-0123456789") -> FakeTokenCredential:
        return FakeAsyncTokenCredential(token) if self.is_aio else FakeTokenCredential(token)

    def _defaults(self, kwargs: dict) -> dict:
        kwargs.setdefault("transport", self.transport())
        kwargs.setdefault("retry_total", 0)  # error tests script one reply; retries are tested explicitly
        return kwargs

    def client(self, endpoint: str = ENDPOINT, hub: str = HUB, credential: Any = None, **kwargs: Any) -> Any:
        if credential is None:
            credential = AzureKeyCredential(ACCESS_KEY)
        client = self.Client(endpoint, hub, credential, **self._defaults(kwargs))
        self._clients.append(client)
        return client

    def from_connection_string(self, connection_string: str, hub: str = HUB, **kwargs: Any) -> Any:
        client = self.Client.from_connection_string(connection_string, hub, **self._defaults(kwargs))
        self._clients.append(client)
        return client

    @property
    def sent(self) -> list[Sent]:
        return self.recorder.sent

    def script(self, *replies: Any) -> None:
        self.recorder.script(*replies)

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def collect(self, pager: Any) -> list:
        if self.is_aio:
            return [item async for item in pager]
        return list(pager)

    async def pages(self, pager: Any, **by_page_kwargs: Any) -> list[list]:
        pages = pager.by_page(**by_page_kwargs)
        if self.is_aio:
            return [[item async for item in page] async for page in pages]
        return [list(page) for page in pages]

    async def close_all(self) -> None:
        for client in self._clients:
            await self.call(client.close)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Test keys are short on purpose (distinctive, easy to grep for); PyJWT 2.10.0 and later warn about HMAC keys under
    # 32 bytes. Older PyJWT, which the SDK's declared floor admits (tests/sdk runs there too), has no such warning.
    if not hasattr(jwt.warnings, "InsecureKeyLengthWarning"):
        return
    here = str(Path(__file__).parent)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.filterwarnings("ignore:The HMAC key is"))


@pytest.fixture(params=["sync", "aio"])
async def sdk(request: pytest.FixtureRequest) -> Any:
    harness = Sdk(request.param)
    yield harness
    await harness.close_all()


def stream(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)
