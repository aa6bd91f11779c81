"""WebSocket upgrade authentication on the emulator: forged, stale or missing client tokens get HTTP 401 before any
upgrade, and the refusal echoes neither the key nor the token (service-behaviour.md §2)."""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, Optional

import pytest
from security_support import (
    ACCESS_KEY,
    HUB,
    JSON_PROTOCOL,
    WRONG_KEY,
    now,
    secret_fragments,
    sign,
    tampered,
    unsigned,
)
from webpubsub_emulator import EmulatorThread
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect


def _aud(emu: EmulatorThread, hub: str = HUB) -> str:
    return f"{emu.endpoint}/client/hubs/{hub}"


def _ws_url(emu: EmulatorThread, token: Optional[str]) -> str:
    base = emu.endpoint.replace("http://", "ws://", 1) + f"/client/hubs/{HUB}"
    return base if token is None else f"{base}?access_token={token}"


def _assert_refused(emu: EmulatorThread, token: Optional[str], headers: Optional[Dict[str, str]] = None) -> None:
    with (
        pytest.raises(InvalidStatus) as info,
        connect(_ws_url(emu, token), subprotocols=[JSON_PROTOCOL], additional_headers=headers, open_timeout=10) as ws,
    ):
        ws.recv(timeout=5)  # pragma: no cover - reached only when the upgrade wrongly succeeded
    response = info.value.response
    assert response.status_code == 401, response.status_code
    exposed = (response.body or b"").decode("utf-8", "replace") + json.dumps(
        {k: v for k, v in response.headers.raw_items()}
    )
    for fragment in secret_fragments(token):
        assert fragment not in exposed, "the 401 response echoes a secret"


def _claims(emu: EmulatorThread, **extra: Any) -> Dict[str, Any]:
    return {"aud": _aud(emu), "iat": now(), "exp": now() + 600, **extra}


def test_control_a_valid_client_token_connects(emu: EmulatorThread) -> None:
    with connect(_ws_url(emu, sign(_claims(emu, sub="u1"))), subprotocols=[JSON_PROTOCOL], open_timeout=10) as ws:
        connected = json.loads(ws.recv(timeout=10))
    assert connected["type"] == "system" and connected["event"] == "connected"
    assert connected["userId"] == "u1"


def _forgeries(emu: EmulatorThread) -> Dict[str, Callable[[], str]]:
    valid_other_hub = sign({**_claims(emu), "aud": _aud(emu, "otherhub")})
    return {
        "alg-none": lambda: unsigned(_claims(emu)),
        "alg-none-uppercase": lambda: unsigned(_claims(emu), alg="NONE"),
        "wrong-key": lambda: sign(_claims(emu), key=WRONG_KEY),
        "key-prefix-only": lambda: sign(_claims(emu), key=ACCESS_KEY[:32]),
        "missing-aud": lambda: sign({"iat": now(), "exp": now() + 600}),
        "aud-other-hub": lambda: sign({**_claims(emu), "aud": _aud(emu, "otherhub")}),
        "aud-other-host": lambda: sign({**_claims(emu), "aud": f"http://evil.example/client/hubs/{HUB}"}),
        "aud-rest-path": lambda: sign({**_claims(emu), "aud": f"{emu.endpoint}/api/hubs/{HUB}"}),
        "expired": lambda: sign({**_claims(emu), "exp": now() - 3600}),
        "missing-exp": lambda: sign({"aud": _aud(emu), "iat": now()}),
        "tampered-aud": lambda: tampered(valid_other_hub, aud=_aud(emu)),
        "tampered-role-escalation": lambda: tampered(sign(_claims(emu)), role=["webpubsub.sendToGroup"]),
        "tampered-sub": lambda: tampered(sign(_claims(emu, sub="alice")), sub="admin"),
        "tampered-exp": lambda: tampered(sign({**_claims(emu), "exp": now() - 3600}), exp=now() + 3600),
        "garbage": lambda: "garbage",
        "empty": lambda: "",
    }


FORGERIES = [
    "alg-none",
    "alg-none-uppercase",
    "aud-other-host",
    "aud-other-hub",
    "aud-rest-path",
    "empty",
    "expired",
    "garbage",
    "key-prefix-only",
    "missing-aud",
    "missing-exp",
    "tampered-aud",
    "tampered-exp",
    "tampered-role-escalation",
    "tampered-sub",
    "wrong-key",
]


@pytest.mark.parametrize("name", FORGERIES)
def test_forged_client_tokens_are_refused(emu: EmulatorThread, name: str) -> None:
    forgeries = _forgeries(emu)
    assert sorted(forgeries) == FORGERIES
    _assert_refused(emu, forgeries[name]())


def test_no_token_is_refused(emu: EmulatorThread) -> None:
    _assert_refused(emu, None)


@pytest.mark.parametrize("kind", ["wrong-key", "alg-none"])
def test_forged_bearer_header_is_refused(emu: EmulatorThread, kind: str) -> None:
    token = sign(_claims(emu), key=WRONG_KEY) if kind == "wrong-key" else unsigned(_claims(emu))
    _assert_refused(emu, None, headers={"Authorization": f"Bearer {token}"})
