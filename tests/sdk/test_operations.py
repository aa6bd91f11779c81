"""Every REST operation: the exact request on the wire, the success status, the return value and the error mapping."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)

from .conftest import API_VERSION, ENDPOINT, HUB, Reply, check_rest_claims, decode_rest_jwt, sdk_module

FILTER = "userId eq 'x'"


@dataclass
class Op:
    """One operation call and what 1.3.0 (plus our documented fixes) puts on the wire for it."""

    id: str
    method_name: str
    args: tuple
    kwargs: dict
    http: str
    path: str  # raw, percent-encoded, below the endpoint
    query: dict  # decoded; api-version is always added by the test
    status: int
    returns: Any = None
    content_type: Optional[str] = None
    body: bytes = b""
    json_body: Any = None
    extra: dict = field(default_factory=dict)

    @property
    def head(self) -> bool:
        return self.http == "HEAD"


H = f"/api/hubs/{HUB}"

OPERATIONS = [
    Op(
        "send_to_all",
        "send_to_all",
        ({"hello": "world"},),
        {"excluded": ["c1", "c2"], "filter": FILTER, "message_ttl_seconds": 10},
        "POST",
        f"{H}/:send",
        {"excluded": ["c1", "c2"], "filter": [FILTER], "messageTtlSeconds": ["10"]},
        202,
        content_type="application/json",
        body=b'{"hello": "world"}',
    ),
    Op(
        "send_to_user",
        "send_to_user",
        ("user 1/é", "Message to send"),
        {"filter": FILTER, "message_ttl_seconds": 15},
        "POST",
        f"{H}/users/user%201%2F%C3%A9/:send",
        {"filter": [FILTER], "messageTtlSeconds": ["15"]},
        202,
        content_type="text/plain",
        body=b"Message to send",
    ),
    Op(
        "send_to_group",
        "send_to_group",
        ("grp/1 ", b"\x00\x01\xff"),
        {"excluded": ["c1"], "filter": FILTER, "message_ttl_seconds": 300},
        "POST",
        f"{H}/groups/grp%2F1%20/:send",
        {"excluded": ["c1"], "filter": [FILTER], "messageTtlSeconds": ["300"]},
        202,
        content_type="application/octet-stream",
        body=b"\x00\x01\xff",
    ),
    Op(
        "send_to_connection",
        "send_to_connection",
        ("conn 1", [1, "two", None]),
        {"message_ttl_seconds": 1},
        "POST",
        f"{H}/connections/conn%201/:send",
        {"messageTtlSeconds": ["1"]},
        202,
        content_type="application/json",
        body=b'[1, "two", null]',
    ),
    Op(
        "close_all_connections",
        "close_all_connections",
        (),
        {"excluded": ["c1", "c2"], "reason": "bye now"},
        "POST",
        f"{H}/:closeConnections",
        {"excluded": ["c1", "c2"], "reason": ["bye now"]},
        204,
    ),
    Op(
        "close_group_connections",
        "close_group_connections",
        ("g 1",),
        {"excluded": ["c1"], "reason": "r"},
        "POST",
        f"{H}/groups/g%201/:closeConnections",
        {"excluded": ["c1"], "reason": ["r"]},
        204,
    ),
    Op(
        "close_user_connections",
        "close_user_connections",
        ("u/1",),
        {"excluded": ["c1", "c2"], "reason": "r"},
        "POST",
        f"{H}/users/u%2F1/:closeConnections",
        {"excluded": ["c1", "c2"], "reason": ["r"]},
        204,
    ),
    Op(
        "close_connection",
        "close_connection",
        ("c1",),
        {"reason": "idle"},
        "DELETE",
        f"{H}/connections/c1",
        {"reason": ["idle"]},
        204,
    ),
    Op("connection_exists", "connection_exists", ("c 1",), {}, "HEAD", f"{H}/connections/c%201", {}, 200, True),
    Op("group_exists", "group_exists", ("g/1",), {}, "HEAD", f"{H}/groups/g%2F1", {}, 200, True),
    Op("user_exists", "user_exists", ("user 1/é",), {}, "HEAD", f"{H}/users/user%201%2F%C3%A9", {}, 200, True),
    Op(
        "has_permission",
        "has_permission",
        ("sendToGroup", "c1"),
        {"target_name": "g 1"},
        "HEAD",
        f"{H}/permissions/sendToGroup/connections/c1",
        {"targetName": ["g 1"]},
        200,
        True,
    ),
    Op(
        "grant_permission",
        "grant_permission",
        ("joinLeaveGroup", "c1"),
        {"target_name": "g1"},
        "PUT",
        f"{H}/permissions/joinLeaveGroup/connections/c1",
        {"targetName": ["g1"]},
        200,
    ),
    Op(
        "revoke_permission",
        "revoke_permission",
        ("sendToGroup", "c1"),
        {"target_name": "g1"},
        "DELETE",
        f"{H}/permissions/sendToGroup/connections/c1",
        {"targetName": ["g1"]},
        204,
    ),
    Op(
        "add_connection_to_group",
        "add_connection_to_group",
        ("g1", "c1"),
        {},
        "PUT",
        f"{H}/groups/g1/connections/c1",
        {},
        200,
    ),
    Op(
        "remove_connection_from_group",
        "remove_connection_from_group",
        ("g1", "c1"),
        {},
        "DELETE",
        f"{H}/groups/g1/connections/c1",
        {},
        204,
    ),
    Op(
        "remove_connection_from_all_groups",
        "remove_connection_from_all_groups",
        ("c1",),
        {},
        "DELETE",
        f"{H}/connections/c1/groups",
        {},
        204,
    ),
    Op("add_user_to_group", "add_user_to_group", ("g1", "u1"), {}, "PUT", f"{H}/users/u1/groups/g1", {}, 200),
    Op(
        "remove_user_from_group",
        "remove_user_from_group",
        ("g1", "u1"),
        {},
        "DELETE",
        f"{H}/users/u1/groups/g1",
        {},
        204,
    ),
    Op(
        "remove_user_from_all_groups",
        "remove_user_from_all_groups",
        ("u1",),
        {},
        "DELETE",
        f"{H}/users/u1/groups",
        {},
        204,
    ),
    Op(
        "add_connections_to_groups(list)",
        "add_connections_to_groups",
        (["g1", "g2"],),
        {"filter": "startswith(userId, 'listener-')"},
        "POST",
        f"{H}/:addToGroups",
        {},
        200,
        content_type="application/json",
        json_body={"groups": ["g1", "g2"], "filter": "startswith(userId, 'listener-')"},
    ),
    Op(
        "add_connections_to_groups(dict)",
        "add_connections_to_groups",
        ({"groups": ["g1"], "filter": "userId eq 'a'"},),
        {},
        "POST",
        f"{H}/:addToGroups",
        {},
        200,
        content_type="application/json",
        json_body={"groups": ["g1"], "filter": "userId eq 'a'"},
    ),
    Op(
        "remove_connections_from_groups(list)",
        "remove_connections_from_groups",
        (["g1", "g2"],),
        {"filter": "'g3' in groups"},
        "POST",
        f"{H}/:removeFromGroups",
        {},
        200,
        content_type="application/json",
        json_body={"groups": ["g1", "g2"], "filter": "'g3' in groups"},
    ),
    Op(
        "remove_connections_from_groups(dict)",
        "remove_connections_from_groups",
        ({"groups": ["g2"], "filter": "userId ne null"},),
        {},
        "POST",
        f"{H}/:removeFromGroups",
        {},
        200,
        content_type="application/json",
        json_body={"groups": ["g2"], "filter": "userId ne null"},
    ),
    Op("get_service_status", "get_service_status", (), {}, "HEAD", "/api/health", {}, 200, True),
]

HEAD_OPS = [op for op in OPERATIONS if op.head]
BODY_OPS = [op for op in OPERATIONS if op.content_type]


def by_id(ops: list[Op]) -> Any:
    return pytest.mark.parametrize("op", ops, ids=[op.id for op in ops])


@by_id(OPERATIONS)
async def test_operation_sends_the_exact_request(sdk, op: Op) -> None:
    client = sdk.client()
    sdk.script(op.status)

    result = await sdk.call(getattr(client, op.method_name), *op.args, **op.kwargs)

    sent = sdk.recorder.only
    assert result is op.returns
    assert sent.method == op.http
    assert sent.origin == ENDPOINT
    assert sent.path == op.path
    assert sent.query == {**op.query, "api-version": [API_VERSION]}
    if op.head:
        assert "Accept" not in sent.headers
    else:
        assert sent.headers.get("Accept") == "application/json"
    if op.content_type is None:
        assert sent.body == b""
    else:
        # the exact Content-Type rules (parameters, verbatim values) are in test_content.py
        assert sent.headers["Content-Type"].split(";")[0] == op.content_type
        if op.json_body is not None:
            assert sent.json() == op.json_body
        else:
            assert sent.body == op.body
    check_rest_claims(decode_rest_jwt(sent))
    # keyword arguments the SDK understood must not leak into the transport (D1)
    assert "message_ttl_seconds" not in sent.transport_kwargs
    assert "content_type" not in sent.transport_kwargs


async def test_filter_and_excluded_are_encoded_like_the_wire_example(sdk) -> None:
    client = sdk.client()
    sdk.script(202)

    await sdk.call(client.send_to_all, {"hello": "world"}, excluded=["c1", "c2"], filter="userId eq 'x'")

    raw = sdk.recorder.only.raw_query.split("&")
    assert "filter=userId%20eq%20%27x%27" in raw
    assert [p for p in raw if p.startswith("excluded=")] == ["excluded=c1", "excluded=c2"]
    assert f"api-version={API_VERSION}" in raw


@pytest.mark.parametrize("name", ["send_to_all", "send_to_user", "send_to_group", "send_to_connection"])
async def test_message_ttl_seconds_zero_is_sent_and_absent_is_not(sdk, name: str) -> None:
    client = sdk.client()
    targets = {"send_to_all": (), "send_to_user": ("u1",), "send_to_group": ("g1",), "send_to_connection": ("c1",)}
    sdk.script(202, 202)

    await sdk.call(getattr(client, name), *targets[name], "hi", message_ttl_seconds=0)
    await sdk.call(getattr(client, name), *targets[name], "hi")

    with_ttl, without_ttl = sdk.sent
    assert with_ttl.query["messageTtlSeconds"] == ["0"]
    assert "messageTtlSeconds" not in without_ttl.query


async def test_optional_query_parameters_are_omitted_when_not_given(sdk) -> None:
    client = sdk.client()
    sdk.script(202, 204, 200)

    await sdk.call(client.send_to_group, "g1", {"a": 1})
    await sdk.call(client.close_all_connections)
    await sdk.call(client.grant_permission, "sendToGroup", "c1")

    for sent in sdk.sent:
        assert sent.query == {"api-version": [API_VERSION]}


async def test_api_version_kwarg_is_sent_on_every_operation(sdk) -> None:
    client = sdk.client(api_version="2023-07-01")
    sdk.script(202, 200)

    await sdk.call(client.send_to_all, {"a": 1})
    await sdk.call(client.group_exists, "g1")

    assert [s.query["api-version"] for s in sdk.sent] == [["2023-07-01"], ["2023-07-01"]]


async def test_permission_and_protocol_enums_are_accepted_where_a_str_is(sdk) -> None:
    models = sdk_module(".models")
    client = sdk.client()
    sdk.script(200, 200, 204)

    assert await sdk.call(client.has_permission, models.WebPubSubPermission("sendToGroup"), "c1") is True
    await sdk.call(client.grant_permission, models.WebPubSubPermission("joinLeaveGroup"), "c1", target_name="g")
    await sdk.call(client.revoke_permission, models.WebPubSubPermission("sendToGroup"), "c1", target_name="g")

    assert [s.path for s in sdk.sent] == [
        f"{H}/permissions/sendToGroup/connections/c1",
        f"{H}/permissions/joinLeaveGroup/connections/c1",
        f"{H}/permissions/sendToGroup/connections/c1",
    ]


# ---------------------------------------------------------------------------------------------------------------------
# per-call options


async def test_per_call_params_and_headers_are_merged(sdk) -> None:
    client = sdk.client()
    sdk.script(202)

    await sdk.call(client.send_to_all, {"a": 1}, params={"messageTtlSeconds": 10}, headers={"x-custom": "yes"})

    sent = sdk.recorder.only
    assert sent.query == {"messageTtlSeconds": ["10"], "api-version": [API_VERSION]}
    assert sent.headers["x-custom"] == "yes"


async def test_cls_hook_result_is_returned(sdk) -> None:
    client = sdk.client()
    sdk.script(202)
    seen = []

    def hook(pipeline_response, deserialized, headers):
        seen.append(pipeline_response.http_response.status_code)
        return "hooked"

    assert await sdk.call(client.send_to_all, {"a": 1}, cls=hook) == "hooked"
    assert seen == [202]


async def test_every_request_has_a_client_request_id_and_our_user_agent(sdk) -> None:
    client = sdk.client(user_agent="myapp/2.0")
    sdk.script(202)

    await sdk.call(client.send_to_all, {"a": 1})

    sent = sdk.recorder.only
    assert sent.headers.get("x-ms-client-request-id")
    user_agent = sent.headers["User-Agent"]
    assert user_agent.startswith("myapp/2.0 ")
    assert "azsdk-python-messaging-webpubsubservice/" in user_agent


# ---------------------------------------------------------------------------------------------------------------------
# status mapping


@by_id(HEAD_OPS)
async def test_head_operation_maps_404_to_false(sdk, op: Op) -> None:
    client = sdk.client()
    sdk.script(404)

    assert await sdk.call(getattr(client, op.method_name), *op.args, **op.kwargs) is False


@by_id(HEAD_OPS)
async def test_head_operation_raises_on_500(sdk, op: Op) -> None:
    client = sdk.client()
    sdk.script(500)

    with pytest.raises(HttpResponseError) as info:
        await sdk.call(getattr(client, op.method_name), *op.args, **op.kwargs)
    assert info.value.status_code == 500


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, HttpResponseError),
        (401, ClientAuthenticationError),
        (404, ResourceNotFoundError),
        (409, ResourceExistsError),
        (500, HttpResponseError),
    ],
)
@by_id([op for op in OPERATIONS if not op.head])
async def test_error_status_raises_the_azure_core_type_with_the_service_error(
    sdk, op: Op, status: int, error_type: type
) -> None:
    client = sdk.client()
    sdk.script(
        Reply(status, {"code": "InvalidRequest", "message": "bad"}, headers={"x-ms-error-code": "InvalidRequest"})
    )

    with pytest.raises(error_type) as info:
        await sdk.call(getattr(client, op.method_name), *op.args, **op.kwargs)

    error = info.value
    if error_type is HttpResponseError:
        assert not isinstance(error, (ClientAuthenticationError, ResourceNotFoundError, ResourceExistsError))
    assert error.status_code == status
    assert error.error is not None
    assert error.error.code == "InvalidRequest"
    assert "(InvalidRequest) bad" in str(error)
    assert error.response.json() == {"code": "InvalidRequest", "message": "bad"}


@pytest.mark.parametrize("status", [401, 404, 409])
async def test_head_operations_also_map_401_and_409_and_404_is_only_false_for_head(sdk, status: int) -> None:
    client = sdk.client()
    sdk.script(status, 404)

    if status == 404:
        assert await sdk.call(client.user_exists, "u1") is False
    else:
        with pytest.raises({401: ClientAuthenticationError, 409: ResourceExistsError}[status]):
            await sdk.call(client.user_exists, "u1")
    with pytest.raises(ResourceNotFoundError):
        await sdk.call(client.add_user_to_group, "g1", "u1")


async def test_wrapped_error_envelope_is_understood(sdk) -> None:
    client = sdk.client()
    sdk.script(Reply(400, {"error": {"code": "BadRequest", "message": "hub is wrong"}}))

    with pytest.raises(HttpResponseError) as info:
        await sdk.call(client.send_to_all, {"a": 1})

    assert info.value.status_code == 400
    assert info.value.error.code == "BadRequest"
    assert "hub is wrong" in str(info.value)


@pytest.mark.parametrize(
    "reply",
    [
        Reply(400, "The hub name must start with a letter.", headers={"Content-Type": "text/plain"}),
        Reply(400, b"{not json", headers={"Content-Type": "application/json"}),
        Reply(500, b""),
        Reply(
            400,
            {"errors": {"hub": ["The field hub must match the regular expression."]}, "status": 400, "title": "x"},
        ),
    ],
    ids=["text", "broken-json", "empty", "problem-details"],
)
async def test_non_standard_error_bodies_do_not_crash(sdk, reply: Reply) -> None:
    client = sdk.client()
    sdk.script(reply)

    with pytest.raises(HttpResponseError) as info:
        await sdk.call(client.send_to_all, {"a": 1})

    assert info.value.status_code == reply.status
    str(info.value)  # formatting the message must not raise either
