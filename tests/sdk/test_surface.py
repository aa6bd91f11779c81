"""The public surface is a superset of 1.3.0's (sdk-compat §1-§4, §7, §11, D1, D3, D8, D13), plus hub validation,
``send_request``, the private send builder and the OData helper."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from azure.core.rest import HttpRequest
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import API_VERSION, ENDPOINT, HUB, decode_rest_jwt, sdk_module

P = inspect.Parameter
POS, KW, REQUIRED = P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY, P.empty


class Param(NamedTuple):
    name: str
    kind: Any
    default: Any = REQUIRED


def send(target: list[Param], excluded: bool, filter_: bool) -> list[Param]:
    params = [*target, Param("message", POS)]
    if excluded:
        params.append(Param("excluded", KW, None))
    if filter_:
        params.append(Param("filter", KW, None))
    return [*params, Param("content_type", KW, None), Param("message_ttl_seconds", KW, None)]  # D1


def close(target: list[Param], excluded: bool) -> list[Param]:
    return [*target, *([Param("excluded", KW, None)] if excluded else []), Param("reason", KW, None)]


CONN, GROUP, USER, PERM = (
    Param("connection_id", POS),
    Param("group", POS),
    Param("user_id", POS),
    Param("permission", POS),
)
TARGET = Param("target_name", KW, None)
TOKEN_PARAMS = [  # D8: explicit keyword-only in both clients, with 1.3.0's names and defaults
    Param("user_id", KW, None),
    Param("roles", KW, None),
    Param("minutes_to_expire", KW, 60),
    Param("jwt_headers", KW, None),
    Param("groups", KW, None),
    Param("client_protocol", KW, "Default"),
]

# method -> 1.3.0 parameters (plus D1/D8). Every one of them also takes **kwargs.
METHODS: dict[str, list[Param]] = {
    "send_to_all": send([], excluded=True, filter_=True),
    "send_to_user": send([USER], excluded=False, filter_=True),
    "send_to_group": send([GROUP], excluded=True, filter_=True),
    "send_to_connection": send([CONN], excluded=False, filter_=False),
    "close_all_connections": close([], excluded=True),
    "close_group_connections": close([GROUP], excluded=True),
    "close_user_connections": close([USER], excluded=True),
    "close_connection": close([CONN], excluded=False),
    "connection_exists": [CONN],
    "group_exists": [GROUP],
    "user_exists": [USER],
    "has_permission": [PERM, CONN, TARGET],
    "grant_permission": [PERM, CONN, TARGET],
    "revoke_permission": [PERM, CONN, TARGET],
    "add_connection_to_group": [GROUP, CONN],
    "remove_connection_from_group": [GROUP, CONN],
    "remove_connection_from_all_groups": [CONN],
    "add_user_to_group": [GROUP, USER],
    "remove_user_from_group": [GROUP, USER],
    "remove_user_from_all_groups": [USER],
    "list_connections": [Param("group", KW), Param("top", KW, None)],  # D13 also allows group positionally
    "get_client_access_token": TOKEN_PARAMS,
    "send_request": [Param("request", POS), Param("stream", KW, False)],
}
NEW_METHODS = [  # D3 and the upstream names of §13
    "add_connections_to_groups",
    "remove_connections_from_groups",
    "get_service_status",
    "generate_client_token",
    "check_permission",
]
PLAIN_IN_AIO = {"list_connections", "send_request"}  # everything else is `async def` in .aio


def check_superset(signature: inspect.Signature, expected: list[Param], *, var_keyword: bool = True) -> None:
    """Every call that 1.3.0 accepted must still bind the same way."""
    params = signature.parameters
    positional = [p.name for p in params.values() if p.kind in (P.POSITIONAL_ONLY, POS)]
    expected_positional = [e.name for e in expected if e.kind is POS]
    assert positional[: len(expected_positional)] == expected_positional, signature
    for e in expected:
        assert e.name in params, f"{e.name} missing from {signature}"
        ours = params[e.name]
        if e.kind is KW:
            assert ours.kind in (POS, KW), f"{e.name} must be passable by keyword in {signature}"
        else:
            assert ours.kind is POS, f"{e.name} must stay positional-or-keyword in {signature}"
        if e.default is not REQUIRED:
            assert ours.default == e.default, f"default of {e.name} in {signature}"
    known = {e.name for e in expected}
    for p in params.values():
        if p.name not in known and p.kind in (POS, KW):
            assert p.default is not REQUIRED, f"new parameter {p.name} must be optional in {signature}"
    if var_keyword:
        assert any(p.kind is P.VAR_KEYWORD for p in params.values()), f"**kwargs missing from {signature}"


@pytest.mark.parametrize("name", list(METHODS))
async def test_method_signature_is_a_superset_of_1_3_0(sdk, name: str) -> None:
    client = sdk.client()

    method = getattr(client, name)

    check_superset(inspect.signature(method), METHODS[name])
    if sdk.is_aio and name not in PLAIN_IN_AIO:
        assert inspect.iscoroutinefunction(method), f"aio {name} must be async def"
    else:
        assert not inspect.iscoroutinefunction(method), f"{name} must be a plain def"


@pytest.mark.parametrize("name", NEW_METHODS)
async def test_new_operations_exist(sdk, name: str) -> None:
    client = sdk.client()

    method = getattr(client, name)

    assert inspect.iscoroutinefunction(method) is sdk.is_aio


def test_sync_and_aio_methods_have_the_same_signatures() -> None:
    """The two clients declare their methods separately; they must not drift apart."""
    sync_client = sdk_module().WebPubSubServiceClient
    aio_client = sdk_module(".aio").WebPubSubServiceClient
    public = sorted(
        name for name in dir(sync_client) if not name.startswith("_") and callable(getattr(sync_client, name))
    )
    assert public == sorted(
        name for name in dir(aio_client) if not name.startswith("_") and callable(getattr(aio_client, name))
    )
    for name in public:
        sync_params = inspect.signature(getattr(sync_client, name)).parameters
        aio_params = inspect.signature(getattr(aio_client, name)).parameters
        shape = [(p.name, p.kind, p.default) for p in sync_params.values()]
        assert shape == [(p.name, p.kind, p.default) for p in aio_params.values()], name


async def test_constructor_and_from_connection_string_signatures(sdk) -> None:
    check_superset(inspect.signature(sdk.Client), [Param("endpoint", POS), Param("hub", POS), Param("credential", POS)])
    check_superset(
        inspect.signature(sdk.Client.from_connection_string), [Param("connection_string", POS), Param("hub", POS)]
    )
    raw = inspect.getattr_static(sdk.Client, "from_connection_string")
    assert isinstance(raw, classmethod)
    assert not inspect.iscoroutinefunction(raw.__func__)  # a plain classmethod in .aio too


async def test_clients_are_context_managers(sdk) -> None:
    client = sdk.client()
    sdk.script(204)

    if sdk.is_aio:
        async with client as entered:
            assert entered is client
            await client.close_all_connections()
    else:
        with client as entered:
            assert entered is client
            client.close_all_connections()
    assert len(sdk.sent) == 1


def test_package_exports() -> None:
    pkg = sdk_module()
    aio = sdk_module(".aio")
    models = sdk_module(".models")

    assert {"WebPubSubServiceClient", "GroupMember"} <= set(dir(pkg))
    assert isinstance(pkg.__version__, str)
    major, minor, patch = (int(x) for x in re.match(r"(\d+)\.(\d+)\.(\d+)", pkg.__version__).groups())
    assert (major, minor, patch) >= (1, 3, 0)
    assert aio.WebPubSubServiceClient is not pkg.WebPubSubServiceClient
    assert aio.WebPubSubServiceClient.__name__ == "WebPubSubServiceClient"
    assert callable(pkg.odata)
    for name in ("GroupMember", "WebPubSubPermission", "WebPubSubClientType", "WebPubSubClientProtocol"):
        assert hasattr(models, name), name
    assert models.GroupMember is pkg.GroupMember


def test_wheel_layout_ships_py_typed_and_no_namespace_init() -> None:
    package_dir = Path(sdk_module().__file__).parent
    assert (package_dir / "py.typed").is_file()
    assert not (package_dir.parent / "__init__.py").exists()  # azure/messaging
    assert not (package_dir.parent.parent / "__init__.py").exists()  # azure


def test_enums_are_strings_with_the_wire_values() -> None:
    models = sdk_module(".models")

    assert models.WebPubSubPermission("sendToGroup") == "sendToGroup"
    assert models.WebPubSubPermission("joinLeaveGroup") == "joinLeaveGroup"
    assert {str(m.value) for m in models.WebPubSubPermission} == {"sendToGroup", "joinLeaveGroup"}
    assert {str(m.value) for m in models.WebPubSubClientType} >= {"Default", "MQTT"}
    protocol = models.WebPubSubClientProtocol
    assert {m.name for m in protocol} >= {"DEFAULT", "MQTT", "SOCKETIO"}
    assert protocol["mqtt"] is protocol.MQTT  # case-insensitive names
    for enum in (models.WebPubSubPermission, models.WebPubSubClientType, protocol):
        assert all(isinstance(member, str) for member in enum)


# ---------------------------------------------------------------------------------------------------------------------
# hub validation at construction

GOOD_HUBS = ["a", "Hub_1", "h`,.[]x", "A" * 128, "chat.v2"]
BAD_HUBS = ["1 bad hub/x", "my-hub", "", "1hub", "_hub", "A" * 129, "hub name", "hüb", "hub\n"]


@pytest.mark.parametrize("hub", GOOD_HUBS)
async def test_valid_hub_names_are_accepted(sdk, hub: str) -> None:
    client = sdk.client(hub=hub)
    sdk.script(202)

    await sdk.call(client.send_to_all, "x")

    assert sdk.recorder.only.path.startswith("/api/hubs/")


@pytest.mark.parametrize("hub", BAD_HUBS, ids=repr)
async def test_invalid_hub_names_are_rejected_at_construction(sdk, hub: str) -> None:
    with pytest.raises(ValueError) as info:
        sdk.client(hub=hub)
    assert "hub" in str(info.value).lower()

    with pytest.raises(ValueError):
        sdk.from_connection_string(f"Endpoint={ENDPOINT};AccessKey=k", hub=hub)


# ---------------------------------------------------------------------------------------------------------------------
# send_request and the private builder


async def test_send_request_joins_a_relative_url_onto_the_endpoint_with_its_prefix(sdk) -> None:
    client = sdk.client(endpoint="https://h.example.com/prefix")
    sdk.script(200)
    request = HttpRequest("HEAD", "/api/health", params={"api-version": API_VERSION})

    pending = client.send_request(request)
    assert not inspect.iscoroutinefunction(client.send_request)
    response = await pending if sdk.is_aio else pending

    assert response.status_code == 200
    sent = sdk.recorder.only
    assert sent.url == f"https://h.example.com/prefix/api/health?api-version={API_VERSION}"
    decode_rest_jwt(sent)
    assert "Authorization" not in request.headers  # the caller's request is copied, not mutated


async def test_send_request_leaves_an_absolute_url_alone_and_adds_no_api_version(sdk) -> None:
    client = sdk.client()
    sdk.script(202)

    response = await sdk.call(
        client.send_request, HttpRequest("POST", f"{ENDPOINT}/api/hubs/{HUB}/:send", json={"a": 1})
    )

    assert response.status_code == 202
    sent = sdk.recorder.only
    assert sent.url == f"{ENDPOINT}/api/hubs/{HUB}/:send"
    assert sent.json() == {"a": 1}
    decode_rest_jwt(sent)


@pytest.mark.parametrize("status", [400, 404, 500])
async def test_send_request_does_not_check_the_status(sdk, status: int) -> None:
    client = sdk.client()
    sdk.script(status)

    response = await sdk.call(client.send_request, HttpRequest("GET", "/api/hubs/hub1/groups/g/connections"))

    assert response.status_code == status


async def test_private_send_to_all_builder_works_with_send_request(sdk) -> None:
    from azure.messaging.webpubsubservice._operations._operations import (
        build_web_pub_sub_service_send_to_all_request,
    )

    request = build_web_pub_sub_service_send_to_all_request("OtherHub", content="hello", content_type="text/plain")

    assert request.method == "POST"
    assert request.url.split("?")[0] == "/api/hubs/OtherHub/:send"
    assert f"api-version={API_VERSION}" in request.url.split("?", 1)[1]

    client = sdk.client()
    sdk.script(202)
    response = await sdk.call(client.send_request, request)

    assert response.status_code == 202
    sent = sdk.recorder.only
    assert sent.url == f"{ENDPOINT}/api/hubs/OtherHub/:send?api-version={API_VERSION}"
    assert sent.body == b"hello"
    assert sent.headers["Content-Type"] == "text/plain"
    decode_rest_jwt(sent)


# ---------------------------------------------------------------------------------------------------------------------
# the OData helper


def read_literal(text: str) -> tuple[str, str]:
    """Read one OData string literal at the start of ``text``; return its value and the rest."""
    assert text.startswith("'"), text
    value, i = [], 1
    while True:
        assert i < len(text), f"unterminated literal in {text!r}"
        if text[i] == "'":
            if text[i + 1 : i + 2] == "'":
                value.append("'")
                i += 2
                continue
            return "".join(value), text[i + 1 :]
        value.append(text[i])
        i += 1


def test_odata_quotes_and_escapes_values() -> None:
    odata = sdk_module().odata

    assert odata("userId eq {}", "o'brien") == "userId eq 'o''brien'"
    assert odata("userId eq {}", "x' or userId ne 'x") == "userId eq 'x'' or userId ne ''x'"
    assert odata("{} in groups and userId ne {}", "g1", None) == "'g1' in groups and userId ne null"
    assert odata("length(userId) gt {}", 5) == "length(userId) gt 5"
    assert odata("userId in {users}", users=["alice", "o'brien"]) == "userId in ('alice','o''brien')"


@settings(deadline=None)  # the machine is shared; correctness, not speed, is under test
@given(user=st.text(), group=st.text())
def test_odata_quotes_never_change_the_filter_structure(user: str, group: str) -> None:
    odata = sdk_module().odata

    result = odata("userId eq {} and {} in groups", user, group)

    assert result.startswith("userId eq ")
    first, rest = read_literal(result[len("userId eq ") :])
    assert first == user
    assert rest.startswith(" and ")
    second, rest = read_literal(rest[len(" and ") :])
    assert second == group
    assert rest == " in groups"


async def test_odata_filter_goes_on_the_wire_intact(sdk) -> None:
    odata = sdk_module().odata
    client = sdk.client()
    sdk.script(202)
    expression = odata("userId eq {}", "o'brien & co/1")

    await sdk.call(client.send_to_all, {"a": 1}, filter=expression)

    assert sdk.recorder.only.query["filter"] == ["userId eq 'o''brien & co/1'"]
