"""The ``send_to_*`` request memo sends exactly what the generated operations send.

A plain call (no caller ``headers``/``params``/``error_map``/``cls``) builds its request from the client's memo of
the generated builder's output; passing ``params={}`` (no effect on the request) forces the generated operation. Both
must reach the transport byte for byte alike, on the first call (memo miss) and the next ones (memo hits).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import HUB, Reply

SPECIAL = "a b/c?d&e=f%g#h+i'j\"k\u00e9\U0001f600"

SENDS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("send_to_all", ({"a": 1},), {}),
    ("send_to_all", ("text",), {"excluded": ["c1", SPECIAL, ""], "filter": f"userId eq '{SPECIAL}'"}),
    ("send_to_all", (b"\x00\x01",), {"message_ttl_seconds": 0}),
    ("send_to_all", ([1, 2],), {"content_type": "application/json; charset=utf-8", "message_ttl_seconds": 300}),
    ("send_to_user", (SPECIAL, "hi"), {"filter": "groups/any(g: g eq 'x')"}),
    ("send_to_user", ("user1", {"k": None}), {"message_ttl_seconds": 7}),
    ("send_to_group", (SPECIAL, "hi"), {"excluded": [SPECIAL], "filter": "userId ne null"}),
    ("send_to_group", ("g1", b"raw"), {"content_type": "text/plain"}),
    ("send_to_connection", (SPECIAL, "hi"), {}),
    ("send_to_connection", ("conn1", 3.5), {"message_ttl_seconds": 1}),
]


def _wire(sent: Any) -> tuple[str, str, list[tuple[str, str]], bytes]:
    headers = sorted(
        (name.lower(), value)
        for name, value in sent.headers.items()
        # per-request values; traceparent appears when azure-core traces (1.30 does once OpenTelemetry is imported)
        if name.lower() not in ("authorization", "x-ms-client-request-id", "user-agent", "traceparent")
    )
    return sent.method, sent.url, headers, sent.body


@pytest.mark.parametrize(("operation", "args", "kwargs"), SENDS)
async def test_memoised_request_equals_the_generated_one(sdk, operation: str, args: tuple, kwargs: dict) -> None:
    client = sdk.client()
    sdk.script(202, 202, 202)
    send = getattr(client, operation)

    await sdk.call(send, *args, params={}, **kwargs)  # generated operation
    await sdk.call(send, *args, **kwargs)  # memo miss
    await sdk.call(send, *args, **kwargs)  # memo hit

    generated, first, again = (_wire(sent) for sent in sdk.sent)
    assert first == generated
    assert again == generated


async def test_memo_follows_the_arguments_and_their_types(sdk) -> None:
    client = sdk.client()
    sdk.recorder.default = Reply(202)
    for ttl in (1, True, 1.0):
        await sdk.call(client.send_to_all, "x", message_ttl_seconds=ttl)
        await sdk.call(client.send_to_all, "x", message_ttl_seconds=ttl, params={})
    for excluded in (["1"], ["2"], [SPECIAL], None):
        await sdk.call(client.send_to_all, "x", excluded=excluded)
        await sdk.call(client.send_to_all, "x", excluded=excluded, params={})
    wires = [_wire(sent) for sent in sdk.sent]
    for memo, generated in zip(wires[0::2], wires[1::2]):
        assert memo == generated


async def test_memo_sees_a_changed_configuration(sdk) -> None:
    client = sdk.client()
    sdk.recorder.default = Reply(202)
    await sdk.call(client.send_to_all, "x")
    client._config.api_version = "2099-01-01"
    await sdk.call(client.send_to_all, "x")
    assert "api-version=2099-01-01" in sdk.sent[-1].url


async def test_memoised_send_streams_and_maps_errors_like_the_generated_one(sdk) -> None:
    from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

    client = sdk.client()
    sdk.script(202, Reply(404, headers={"x-ms-error-code": "Nope"}), Reply(500, body=b"boom"))
    await sdk.call(client.send_to_all, io.BytesIO(b"streamed"))
    assert sdk.sent[-1].body == b"streamed"
    with pytest.raises(ResourceNotFoundError) as not_found:
        await sdk.call(client.send_to_group, "g", "x")
    assert not_found.value.error is not None and not_found.value.error.code == "Nope"
    with pytest.raises(HttpResponseError) as failed:
        await sdk.call(client.send_to_user, "u", "x")
    assert failed.value.status_code == 500


async def test_cls_and_error_map_still_reach_the_generated_operation(sdk) -> None:
    from azure.core.exceptions import HttpResponseError

    client = sdk.client()
    sdk.script(202, 409)
    seen: list[int] = []
    result = await sdk.call(
        client.send_to_all, "x", cls=lambda response, *_: seen.append(response.http_response.status_code) or "cls"
    )
    assert result == "cls" and seen == [202]

    class Conflict(HttpResponseError):
        pass

    with pytest.raises(Conflict):
        await sdk.call(client.send_to_connection, "c", "x", error_map={409: Conflict})
    assert HUB in sdk.sent[-1].url


def test_memo_success_status_is_the_specs() -> None:
    """The memoised send path checks for 202 itself; it must stay the one success status the spec declares."""
    spec = json.loads((Path(__file__).resolve().parents[2] / "swagger" / "webpubsub.json").read_text(encoding="utf-8"))
    sends = [
        operation
        for methods in spec["paths"].values()
        for operation in methods.values()
        if isinstance(operation, dict) and operation.get("operationId", "").startswith("WebPubSub_SendTo")
    ]
    assert len(sends) == 4
    for operation in sends:
        assert sorted(operation["responses"]) == ["202", "default"], operation["operationId"]
