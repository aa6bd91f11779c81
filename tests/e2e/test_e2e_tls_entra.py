"""TLS and Entra (issue 8, item 4): the emulator serving https/wss with a self-signed certificate it made, and code
written with a ``TokenCredential`` running end to end against it (``send_to_all``, ``:generateToken`` and a wss client),
with the SDK (sync and aio) and a small fake credential. azure-core sends bearer tokens only over https, so these
exercise the real TLS path; the credential's tokens are RS256 JWTs signed by a throwaway key nobody verifies.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import aiohttp
import jwt
import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient as AsyncWebPubSubServiceClient
from cryptography.hazmat.primitives.asymmetric import rsa
from webpubsub_emulator import Emulator, EmulatorThread
from websockets.asyncio.client import connect

try:
    from azure.core.credentials import AccessTokenInfo
except ImportError:  # azure-core before 1.31 (the SDK's floor is 1.30) asks credentials for get_token only
    AccessTokenInfo = None  # type: ignore[assignment,misc]

JSON = "json.webpubsub.azure.v1"
ENTRA = "https://webpubsub.azure.com"
TIMEOUT = 10.0
_SIGNER = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # stands in for Entra's signing key


def entra_token(*, aud: str = ENTRA, lifetime: int = 3600, **claims: Any) -> str:
    now = int(time.time())
    payload = {"aud": aud, "iss": "https://sts.windows.net/fake-tenant/", "iat": now, "nbf": now, "exp": now + lifetime}
    payload.update(claims)
    return jwt.encode(payload, _SIGNER, algorithm="RS256", headers={"kid": "fake"})


class FakeCredential:
    """A TokenCredential (sync and async in one) handing out Entra-shaped tokens; remembers the scopes it was asked."""

    def __init__(self, **claims: Any) -> None:
        self.claims = claims
        self.scopes: list[str] = []

    def _token(self, scopes: tuple[str, ...]) -> tuple[str, int]:
        self.scopes.extend(scopes)
        # what the credential says of its token's expiry: azure-core caches the token until then
        return entra_token(**self.claims), int(time.time()) + 3600

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(*self._token(scopes))

    def get_token_info(self, *scopes: str, options: Optional[dict[str, Any]] = None) -> AccessTokenInfo:
        return AccessTokenInfo(*self._token(scopes))

    def close(self) -> None:
        pass

    def __enter__(self) -> FakeCredential:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


class AsyncFakeCredential(FakeCredential):
    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:  # type: ignore[override]
        return AccessToken(*self._token(scopes))

    async def get_token_info(  # type: ignore[override]
        self, *scopes: str, options: Optional[dict[str, Any]] = None
    ) -> AccessTokenInfo:
        return AccessTokenInfo(*self._token(scopes))

    async def close(self) -> None:  # type: ignore[override]
        pass

    async def __aenter__(self) -> AsyncFakeCredential:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        pass


@pytest.fixture(scope="module")
def tls_emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread(tls_self_signed=True, accept_entra_tokens=True) as emu:
        yield emu


def trusting(emu: Any) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=emu.tls_cert_file)


async def first_message(url: str, emu: Any, *, expect: int = 1) -> list[dict[str, Any]]:
    async with connect(url, subprotocols=[JSON], ssl=trusting(emu), open_timeout=TIMEOUT) as ws:  # type: ignore[list-item]
        return [json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT)) for _ in range(expect)]


def test_the_endpoint_and_client_urls_say_https_and_wss(tls_emulator: EmulatorThread) -> None:
    emu = tls_emulator
    assert emu.scheme == "https" and emu.endpoint == f"https://127.0.0.1:{emu.port}"
    assert emu.connection_string.startswith(f"Endpoint=https://127.0.0.1:{emu.port};")
    assert emu.client_url("h").startswith(f"wss://127.0.0.1:{emu.port}/client/hubs/h?access_token=")
    assert emu.tls_cert_file is not None and Path(emu.tls_cert_file).read_text().startswith("-----BEGIN CERTIFICATE")


async def test_plain_http_is_not_served_on_a_tls_port(tls_emulator: EmulatorThread) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError):
            async with session.head(f"http://127.0.0.1:{tls_emulator.port}/api/health") as resp:
                await resp.read()
        async with session.head(f"{tls_emulator.endpoint}/api/health", ssl=trusting(tls_emulator)) as resp:
            assert resp.status == 200
        for name in ("localhost", "127.0.0.1"):  # the certificate names both
            url = f"https://{name}:{tls_emulator.port}/api/health"
            async with session.head(url, ssl=trusting(tls_emulator)) as resp:
                assert resp.status == 200


def test_sync_sdk_with_a_token_credential_end_to_end(tls_emulator: EmulatorThread) -> None:
    emu = tls_emulator
    hub = "entra_" + uuid.uuid4().hex[:8]
    credential = FakeCredential()
    with WebPubSubServiceClient(emu.endpoint, hub, credential, connection_verify=emu.tls_cert_file) as service:
        token = service.get_client_access_token(user_id="entra-user", roles=["webpubsub.joinLeaveGroup"])
        assert token["url"].startswith(f"wss://127.0.0.1:{emu.port}/client/hubs/{hub}?access_token=")

        async def scenario() -> list[dict[str, Any]]:
            async with connect(token["url"], subprotocols=[JSON], ssl=trusting(emu), open_timeout=TIMEOUT) as ws:  # type: ignore[list-item]
                hello = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
                await asyncio.to_thread(service.send_to_all, {"over": "wss"})
                return [hello, json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))]

        hello, message = asyncio.run(scenario())
    assert hello["event"] == "connected" and hello["userId"] == "entra-user"
    assert message == {"type": "message", "from": "server", "dataType": "json", "data": {"over": "wss"}}
    assert credential.scopes and set(credential.scopes) == {"https://webpubsub.azure.com/.default"}


async def test_aio_sdk_with_a_token_credential_end_to_end(tls_emulator: EmulatorThread) -> None:
    emu = tls_emulator
    hub = "entra_" + uuid.uuid4().hex[:8]
    async with AsyncWebPubSubServiceClient(
        emu.endpoint, hub, AsyncFakeCredential(), connection_verify=emu.tls_cert_file
    ) as service:
        token = await service.get_client_access_token(user_id="aio-user", groups=["g"])
        async with connect(token["url"], subprotocols=[JSON], ssl=trusting(emu), open_timeout=TIMEOUT) as ws:  # type: ignore[list-item]
            hello = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            assert hello["userId"] == "aio-user"
            assert await service.group_exists("g")
            await service.send_to_group("g", "hi", content_type="text/plain")
            message = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            assert message["group"] == "g" and message["data"] == "hi"
            await service.close_connection(hello["connectionId"], reason="bye")
            assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["message"] == "bye"


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"aud": "https://management.azure.com"}, id="another-audience"),
        pytest.param({"lifetime": -3600}, id="expired"),
        pytest.param({"nbf": int(time.time()) + 3600}, id="not-yet-valid"),
        pytest.param({"exp": "tomorrow"}, id="exp-not-a-number"),
    ],
)
def test_entra_tokens_outside_the_rules_are_refused(tls_emulator: EmulatorThread, claims: dict[str, Any]) -> None:
    emu = tls_emulator
    with (
        WebPubSubServiceClient(
            emu.endpoint, "hub", FakeCredential(**claims), connection_verify=emu.tls_cert_file, retry_total=0
        ) as service,
        pytest.raises(ClientAuthenticationError),
    ):
        service.send_to_all("x", content_type="text/plain")


async def test_without_the_opt_in_an_entra_token_is_refused_with_a_hint() -> None:
    async with Emulator(tls_self_signed=True) as emu, aiohttp.ClientSession() as session:
        url = f"{emu.endpoint}/api/hubs/h/:send?api-version=2024-12-01"
        headers = {"Authorization": f"Bearer {entra_token()}", "Content-Type": "text/plain"}
        context = ssl.create_default_context(cafile=emu.tls_cert_file)
        async with session.post(url, data=b"x", headers=headers, ssl=context) as resp:
            assert resp.status == 401
            assert "--accept-entra-tokens" in (await resp.json())["message"]
        assert emu.tls_cert_file is not None
        cert_dir = Path(emu.tls_cert_file).parent
    assert not cert_dir.exists()  # a temporary certificate goes with the emulator


def test_entra_needs_tls() -> None:
    with pytest.raises(ValueError, match="needs TLS"):
        Emulator(accept_entra_tokens=True)
    proc = subprocess.run(
        [sys.executable, "-m", "webpubsub_emulator", "--port", "0", "--accept-entra-tokens"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 2 and "needs TLS" in proc.stderr


async def test_a_certificate_of_your_own(tmp_path: Path) -> None:
    from webpubsub_emulator import tls

    files = tls.self_signed(str(tmp_path), ["proxy.test"])
    async with Emulator(tls_cert=files.cert_file, tls_key=files.key_file) as emu, aiohttp.ClientSession() as session:
        assert emu.tls_cert_file == files.cert_file
        async with session.head(f"{emu.endpoint}/api/health", ssl=trusting(emu)) as resp:
            assert resp.status == 200
        messages = await first_message(emu.client_url("h", user_id="u"), emu)
        assert messages[0]["userId"] == "u"
    assert Path(files.cert_file).exists()  # yours: kept
    with pytest.raises(ValueError, match="go together"):
        Emulator(tls_cert=files.cert_file)


def _cli_start(tmp_path: Path) -> tuple[subprocess.Popen[str], str, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "webpubsub_emulator", "--port", "0", "--tls-self-signed", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    line = proc.stdout.readline().strip()
    note = proc.stderr.readline().strip()
    return proc, line, note


def test_the_cli_makes_a_certificate_says_where_and_reuses_it(tmp_path: Path) -> None:
    cert = tmp_path / "webpubsub-emulator-cert.pem"
    seen: list[bytes] = []
    for _ in range(2):
        proc, line, note = _cli_start(tmp_path)
        try:
            assert line.startswith("Endpoint=https://127.0.0.1:"), line
            assert note == f"webpubsub-emulator: TLS certificate (trust it to connect): {cert}"
            assert oct(os.stat(tmp_path / "webpubsub-emulator-key.pem").st_mode & 0o777) == "0o600"
            seen.append(cert.read_bytes())
            endpoint = line.split(";")[0].split("=", 1)[1]
            context = ssl.create_default_context(cafile=str(cert))

            async def probe(url: str = endpoint, ctx: ssl.SSLContext = context) -> int:
                async with aiohttp.ClientSession() as session, session.head(f"{url}/api/health", ssl=ctx) as resp:
                    return resp.status

            assert asyncio.run(probe()) == 200
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
    assert seen[0] == seen[1]  # still valid for the same names: reused, so a browser that trusts it keeps trusting it


def test_without_cryptography_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from webpubsub_emulator import tls

    monkeypatch.setitem(sys.modules, "cryptography", None)  # as if it were not installed
    with pytest.raises(RuntimeError, match=r"webpubsub-emulator\[tls\]"):
        tls.self_signed(str(tmp_path))


def test_stopping_cuts_tls_connections_whose_peer_never_answers_the_closing_handshake() -> None:
    """aiohttp's shutdown closes a kept-alive TLS connection with close_notify and waits for the peer's; a peer that
    never answers must not keep the server's socket open past the stop (it would outlive the emulator's event loop,
    and on Python 3.13.0 its garbage collection raises inside asyncio)."""
    emu = EmulatorThread(tls_self_signed=True)
    emu.start()
    raw = socket.create_connection(("127.0.0.1", emu.port), timeout=TIMEOUT)
    try:
        tls = trusting(emu).wrap_socket(raw, server_hostname="127.0.0.1")
        tls.sendall(b"HEAD /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n")
        assert tls.recv(4096).startswith(b"HTTP/1.1 200")
        emu.stop()  # the server sends close_notify; this peer reads nothing and never answers it
        plain = socket.socket(fileno=tls.detach())  # the TCP connection under the TLS session, left unanswered
        plain.settimeout(TIMEOUT)
        try:
            rest = plain.recv(65536)  # the close_notify record, then the end of the connection
            while rest:
                rest = plain.recv(65536)
        except ConnectionResetError:
            pass  # cut rather than closed: just as good
        except socket.timeout:
            pytest.fail("the emulator stopped but kept the TLS connection open")
        finally:
            plain.close()
    finally:
        raw.close()
        emu.stop()
