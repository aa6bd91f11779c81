"""REST authentication on the emulator: every forged, stale or missing token is refused with 401, and the refusal
echoes neither the access key nor the token (service-behaviour.md §11, rest-api.md §2.2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import pytest
import requests
from security_support import (
    ACCESS_KEY,
    API_VERSION,
    HUB,
    WRONG_KEY,
    now,
    rest_url,
    secret_fragments,
    sign,
    tampered,
    unsigned,
)
from webpubsub_emulator import EmulatorThread

SPEC = Path(__file__).resolve().parents[2] / "swagger" / "webpubsub.json"
SEND_PATH = "/:send"
PATH_VALUES = {
    "{hub}": HUB,
    "{group}": "grp1",
    "{connectionId}": "conn1",
    "{userId}": "user1",
    "{permission}": "sendToGroup",
}


def _operations() -> List[Tuple[str, str, str]]:
    """(operationId, METHOD, path) for every operation in our spec except the health check."""
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    out = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method == "parameters" or not path.startswith("/api/hubs/"):
                continue
            out.append((op["operationId"], method.upper(), path))
    return sorted(out)


OPERATIONS = _operations()


def _concrete(path: str) -> str:
    for placeholder, value in PATH_VALUES.items():
        path = path.replace(placeholder, value)
    return path


def _body_for(path: str) -> Tuple[Optional[bytes], Dict[str, str]]:
    if path.endswith(":send"):
        return b"hello", {"Content-Type": "text/plain"}
    if path.endswith(("addToGroups", "removeFromGroups")):
        return json.dumps({"groups": ["grp1"]}).encode(), {"Content-Type": "application/json"}
    return None, {}


def _assert_refused(response: requests.Response, token: Optional[str]) -> None:
    assert response.status_code == 401, (response.status_code, response.text[:500])
    assert response.headers.get("x-ms-error-code"), dict(response.headers)
    exposed = response.text + json.dumps(dict(response.headers))
    for fragment in secret_fragments(token):
        assert fragment not in exposed, "the 401 response echoes a secret"


def _send(emu: EmulatorThread, token: Optional[str], scheme: str = "Bearer") -> requests.Response:
    url = rest_url(emu.endpoint, SEND_PATH)
    headers = {"Content-Type": "text/plain"}
    if token is not None:
        headers["Authorization"] = f"{scheme} {token}".strip()
    return requests.post(url, data=b"hello", headers=headers, timeout=10)


def test_control_a_valid_token_is_accepted(emu: EmulatorThread) -> None:
    url = rest_url(emu.endpoint, SEND_PATH)
    assert _send(emu, sign({"aud": url, "exp": now() + 60})).status_code == 202
    assert requests.head(f"{emu.endpoint}/api/health?api-version={API_VERSION}", timeout=10).status_code == 200


@pytest.mark.parametrize(("operation_id", "method", "path"), OPERATIONS, ids=[op[0] for op in OPERATIONS])
def test_every_operation_requires_auth(emu: EmulatorThread, operation_id: str, method: str, path: str) -> None:
    url = f"{emu.endpoint}{_concrete(path)}?api-version={API_VERSION}"
    body, headers = _body_for(path)
    response = requests.request(method, url, data=body, headers=headers, timeout=10)
    _assert_refused(response, None)


def _other_port(url: str) -> str:
    scheme, rest = url.split("://", 1)
    host, tail = rest.split("/", 1)
    name, port = host.rsplit(":", 1)
    return f"{scheme}://{name}:{int(port) + 1}/{tail}"


def _forgeries(url: str) -> Dict[str, Callable[[], str]]:
    other_hub_url = url.replace(f"/hubs/{HUB}/", "/hubs/otherhub/")
    valid_for_other = sign({"aud": other_hub_url, "exp": now() + 60})
    return {
        "alg-none": lambda: unsigned({"aud": url, "exp": now() + 60}),
        "alg-none-uppercase": lambda: unsigned({"aud": url, "exp": now() + 60}, alg="None"),
        "alg-none-with-hs256-signature": lambda: (
            unsigned({"aud": url, "exp": now() + 60}).rsplit(".", 1)[0]
            + "."
            + sign({"aud": url, "exp": now() + 60}).rsplit(".", 1)[1]
        ),
        "wrong-key": lambda: sign({"aud": url, "exp": now() + 60}, key=WRONG_KEY),
        "key-with-extra-byte": lambda: sign({"aud": url, "exp": now() + 60}, key=ACCESS_KEY + "x"),
        "missing-aud": lambda: sign({"exp": now() + 60}),
        "aud-other-hub": lambda: sign({"aud": other_hub_url, "exp": now() + 60}),
        "aud-other-host": lambda: sign({"aud": url.replace("127.0.0.1", "attacker.example"), "exp": now() + 60}),
        "aud-other-port": lambda: sign({"aud": _other_port(url), "exp": now() + 60}),
        "aud-client-path": lambda: sign({"aud": url.split("/api/")[0] + f"/client/hubs/{HUB}", "exp": now() + 60}),
        "aud-list-of-other": lambda: sign({"aud": [other_hub_url], "exp": now() + 60}),
        "expired": lambda: sign({"aud": url, "exp": now() - 3600}),
        "tampered-aud": lambda: tampered(valid_for_other, aud=url),
        "tampered-exp": lambda: tampered(sign({"aud": url, "exp": now() - 3600}), exp=now() + 3600),
        "truncated-signature": lambda: sign({"aud": url, "exp": now() + 60})[:-4],
        "garbage": lambda: "not-a-jwt",
        "two-segments": lambda: ".".join(sign({"aud": url, "exp": now() + 60}).split(".")[:2]),
    }


FORGERY_NAMES = sorted(_forgeries("http://127.0.0.1:1/api/hubs/x/:send"))


@pytest.mark.parametrize("name", FORGERY_NAMES)
def test_forged_rest_tokens_are_refused(emu: EmulatorThread, name: str) -> None:
    token = _forgeries(rest_url(emu.endpoint, SEND_PATH))[name]()
    _assert_refused(_send(emu, token), token)


@pytest.mark.parametrize(
    ("scheme", "value"),
    [("Bearer", ""), ("Basic", "dXNlcjpwYXNz"), ("", "eyJhbGciOiJIUzI1NiJ9.e30.x"), ("Bearer", "a b c")],
    ids=["empty-bearer", "basic", "no-scheme", "spaces"],
)
def test_malformed_authorization_headers_are_refused(emu: EmulatorThread, scheme: str, value: str) -> None:
    _assert_refused(_send(emu, value, scheme=scheme), value or None)


def test_a_valid_token_for_another_operation_is_refused(emu: EmulatorThread) -> None:
    """The aud pins the path: a token signed for a harmless HEAD cannot be replayed against a close."""
    head_url = rest_url(emu.endpoint, "/groups/grp1")
    token = sign({"aud": head_url, "exp": now() + 60})
    close_url = rest_url(emu.endpoint, "/:closeConnections")
    response = requests.post(close_url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    _assert_refused(response, token)


def test_generate_token_is_refused_without_auth_and_mints_nothing(emu: EmulatorThread) -> None:
    url = rest_url(emu.endpoint, "/:generateToken", "userId=admin&role=webpubsub.sendToGroup")
    token = sign({"aud": url, "exp": now() + 60}, key=WRONG_KEY)
    response = requests.post(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    _assert_refused(response, token)
    assert "token" not in (response.json() if response.content else {})
