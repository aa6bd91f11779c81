"""The client's own transport reads the environment once: per-request lookups only when the environment sets something.

azure-core's transports default to ``use_env_settings=True`` and then consult the environment on every request. The
client checks it when it is created: a proxy or a netrc file keeps azure-core's default; otherwise the transport is
built with ``use_env_settings=False``, and (requests only) a CA bundle from the environment is passed as
``connection_verify``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AzureKeyCredential

from .conftest import ENDPOINT, HUB, sdk_module

VARIABLES = ["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "NETRC", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in VARIABLES + [name.lower() for name in VARIABLES]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("USERPROFILE", str(tmp_path))
    return monkeypatch


def _uses_env(flavour: str, **kwargs: Any) -> bool:
    module = sdk_module(".aio" if flavour == "aio" else "")
    client = module.WebPubSubServiceClient(ENDPOINT, HUB, AzureKeyCredential("k" * 44), **kwargs)
    return bool(client._client._pipeline._transport._use_env_settings)


@pytest.mark.parametrize("flavour", ["sync", "aio"])
def test_nothing_in_the_environment_skips_the_per_request_lookups(clean_env: Any, flavour: str) -> None:
    assert _uses_env(flavour) is False
    assert _uses_env(flavour, use_env_settings=True) is True  # the caller's choice wins


@pytest.mark.parametrize("flavour", ["sync", "aio"])
@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "http_proxy", "NO_PROXY", "NETRC"])
def test_a_proxy_or_netrc_in_the_environment_keeps_azure_cores_default(
    clean_env: Any, flavour: str, variable: str
) -> None:
    clean_env.setenv(variable, "http://proxy.example:3128")
    assert _uses_env(flavour) is True
    assert _uses_env(flavour, use_env_settings=False) is False


@pytest.mark.parametrize("flavour", ["sync", "aio"])
def test_a_netrc_file_keeps_azure_cores_default(clean_env: Any, tmp_path: Path, flavour: str) -> None:
    (tmp_path / ".netrc").write_text("machine example.com login u password p\n")
    assert _uses_env(flavour) is True


def _verify(**kwargs: Any) -> Any:
    client = sdk_module().WebPubSubServiceClient(ENDPOINT, HUB, AzureKeyCredential("k" * 44), **kwargs)
    return client._client._pipeline._transport.connection_config.verify


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_a_ca_bundle_is_read_once_and_given_to_requests(clean_env: Any, variable: str) -> None:
    clean_env.setenv(variable, "/etc/ssl/certs/ca-certificates.crt")
    assert _uses_env("sync") is False
    assert _verify() == "/etc/ssl/certs/ca-certificates.crt"  # the bundle requests would have picked per request
    assert _uses_env("aio") is False  # aiohttp does not read these variables


def test_requests_precedence_between_the_bundle_variables_and_the_callers_choice(clean_env: Any) -> None:
    clean_env.setenv("CURL_CA_BUNDLE", "/curl.pem")
    clean_env.setenv("REQUESTS_CA_BUNDLE", "/requests.pem")
    assert _verify() == "/requests.pem"
    assert _verify(connection_verify="/mine.pem") == "/mine.pem"
    assert _verify(connection_verify=False) is False


def test_without_a_bundle_requests_verifies_with_its_default(clean_env: Any) -> None:
    assert _verify() is True
