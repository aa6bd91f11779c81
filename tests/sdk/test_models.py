"""The upstream names (sdk-compat §13, D3): the ``models`` module, the batch group requests as models, and
``generate_client_token`` (the raw ``:generateToken`` call) on both clients, wire-exact."""

from __future__ import annotations

import copy
import io
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

from .conftest import (
    API_VERSION,
    HUB,
    Reply,
    check_generate_token_request,
    check_rest_claims,
    decode_rest_jwt,
    sdk_module,
)

MODEL_NAMES = ["AddToGroupsRequest", "RemoveFromGroupsRequest", "ClientTokenResponse", "ErrorDetail", "InnerError"]
ENUM_NAMES = [
    "WebPubSubPermission",
    "WebPubSubClientType",
    "WebPubSubClientProtocol",
    "MessageContentType",
    "ResponseContentType",
]


def models() -> Any:
    return sdk_module(".models")


# ---------------------------------------------------------------------------------------------------------------------
# the module


def test_models_module_offers_the_upstream_names() -> None:
    module = models()
    for name in [*MODEL_NAMES, *ENUM_NAMES, "GroupMember"]:
        assert name in module.__all__, name
        assert hasattr(module, name), name


def test_enums_hold_the_wire_values_and_are_case_insensitive_strings() -> None:
    module = models()
    expected = {"application/json", "application/octet-stream", "text/plain"}
    assert {m.value for m in module.MessageContentType} == expected
    assert {m.value for m in module.ResponseContentType} >= {"application/json", "text/plain"}
    assert module.MessageContentType("TEXT/PLAIN") is module.MessageContentType.TEXT_PLAIN
    assert module.MessageContentType["text_plain"] is module.MessageContentType.TEXT_PLAIN
    for name in ENUM_NAMES:
        for member in getattr(module, name):
            assert isinstance(member, str)
            assert str(member) == member.value
            assert f"{member}" == member.value


@pytest.mark.parametrize("name", ["AddToGroupsRequest", "RemoveFromGroupsRequest"])
def test_groups_request_is_a_mutable_mapping_over_the_wire_json(name: str) -> None:
    cls = getattr(models(), name)

    request = cls(groups=["a", "b"], filter="userId eq 'x'")
    assert dict(request) == {"groups": ["a", "b"], "filter": "userId eq 'x'"}
    assert request == {"groups": ["a", "b"], "filter": "userId eq 'x'"}
    assert request.groups == ["a", "b"] and request.filter == "userId eq 'x'"

    request.filter = None  # an unset field is never sent as null
    assert "filter" not in request and request.filter is None
    request["filter"] = "'g' in groups"
    assert request.filter == "'g' in groups"
    request.groups = ("c",)
    assert request["groups"] == ["c"]
    assert len(request) == 2 and sorted(request) == ["filter", "groups"]

    assert cls({"groups": ["x"]}) == cls(groups=["x"])
    assert cls() == {}
    copied = request.as_dict()
    copied["groups"].append("mutated")
    assert request.groups == ["c"]
    assert name in repr(request)
    with pytest.raises(TypeError):
        cls({"groups": ["x"]}, filter="y")


def test_response_models_read_the_wire_json_with_nested_views() -> None:
    module = models()
    token = module.ClientTokenResponse({"token": "abc"})
    assert token.token == "abc" and token["token"] == "abc"

    body = {
        "code": "Outer",
        "message": "m",
        "target": "t",
        "details": [{"code": "D1", "message": "first"}],
        "inner": {"code": "I1", "inner": {"code": "I2"}},
    }
    detail = module.ErrorDetail(copy.deepcopy(body))
    assert (detail.code, detail.message, detail.target) == ("Outer", "m", "t")
    assert isinstance(detail.details[0], module.ErrorDetail) and detail.details[0].code == "D1"
    assert isinstance(detail.inner, module.InnerError)
    assert detail.inner.inner.code == "I2" and detail.inner.inner.inner is None
    detail.inner.code = "changed"  # a nested view shares the enclosing JSON
    assert detail["inner"]["code"] == "changed"
    built = module.ErrorDetail(code="X", inner=module.InnerError(code="Y"))
    assert built == {"code": "X", "inner": {"code": "Y"}}
    with pytest.raises(TypeError):
        module.ErrorDetail(no_such_field=1)


# ---------------------------------------------------------------------------------------------------------------------
# the batch group operations take the models


@pytest.mark.parametrize(
    ("method", "model", "keyword", "path"),
    [
        ("add_connections_to_groups", "AddToGroupsRequest", "groups_to_add", ":addToGroups"),
        ("remove_connections_from_groups", "RemoveFromGroupsRequest", "groups_to_remove", ":removeFromGroups"),
    ],
)
@pytest.mark.parametrize("how", ["positional", "keyword"])
async def test_batch_group_operations_send_a_model_exactly_like_the_dict(
    sdk, method: str, model: str, keyword: str, path: str, how: str
) -> None:
    client = sdk.client()
    request = getattr(models(), model)(groups=["g1", "g2"], filter="userId eq 'a'")
    sdk.script(200, 200)

    if how == "positional":
        await sdk.call(getattr(client, method), request)
    else:
        await sdk.call(getattr(client, method), **{keyword: request})
    await sdk.call(getattr(client, method), {"groups": ["g1", "g2"], "filter": "userId eq 'a'"})

    from_model, from_dict = sdk.sent
    assert from_model.method == "POST"
    assert from_model.path == f"/api/hubs/{HUB}/{path}"
    assert from_model.query == {"api-version": [API_VERSION]}
    assert from_model.headers["Content-Type"] == "application/json"
    assert from_model.json() == {"groups": ["g1", "g2"], "filter": "userId eq 'a'"}
    assert from_model.body == from_dict.body
    check_rest_claims(decode_rest_jwt(from_model))
    assert dict(request) == {"groups": ["g1", "g2"], "filter": "userId eq 'a'"}  # the caller's model is untouched


async def test_batch_group_operation_filter_keyword_completes_a_model_without_one(sdk) -> None:
    client = sdk.client()
    sdk.script(200)

    await sdk.call(client.add_connections_to_groups, models().AddToGroupsRequest(groups=["g"]), filter="userId ne null")

    assert sdk.recorder.only.json() == {"groups": ["g"], "filter": "userId ne null"}
    with pytest.raises(ValueError):
        await sdk.call(
            client.remove_connections_from_groups,
            models().RemoveFromGroupsRequest(groups=["g"], filter="a"),
            filter="b",
        )


async def test_message_content_type_enum_is_sent_as_its_value(sdk) -> None:
    client = sdk.client()
    sdk.script(202, 202)

    await sdk.call(client.send_to_all, "hi", content_type=models().MessageContentType.TEXT_PLAIN)
    await sdk.call(client.send_to_all, {"a": 1}, content_type=models().MessageContentType.APPLICATION_JSON)

    text, as_json = sdk.sent
    assert text.headers["Content-Type"] == "text/plain" and text.body == b"hi"
    assert as_json.headers["Content-Type"] == "application/json" and as_json.json() == {"a": 1}


async def test_a_mapping_message_such_as_a_model_is_sent_as_a_json_object(sdk) -> None:
    from types import MappingProxyType

    client = sdk.client()
    sdk.script(202, 202)

    await sdk.call(client.send_to_all, models().ErrorDetail(code="c", inner=models().InnerError(code="i")))
    await sdk.call(client.send_to_all, [MappingProxyType({"a": 1})])

    model, nested = sdk.sent
    assert model.headers["Content-Type"] == "application/json"
    assert model.body == b'{"code": "c", "inner": {"code": "i"}}'
    assert nested.body == b'[{"a": 1}]'


# ---------------------------------------------------------------------------------------------------------------------
# generate_client_token


async def test_generate_client_token_sends_the_raw_call_and_answers_a_model(sdk) -> None:
    client = sdk.client()
    sdk.script(Reply(200, {"token": "minted.by.service"}))

    result = await sdk.call(
        client.generate_client_token,
        user_id="user1",
        role=["r1", "r2"],
        minutes_to_expire=5,
        group=["g1"],
        client_type=models().WebPubSubClientType.MQTT,
    )

    sent = sdk.recorder.only
    check_generate_token_request(sent)
    check_rest_claims(decode_rest_jwt(sent))  # the key signs the REST call; the token itself comes from the service
    assert isinstance(result, models().ClientTokenResponse)
    assert result.token == "minted.by.service"
    assert result["token"] == "minted.by.service"
    assert dict(result) == {"token": "minted.by.service"}


async def test_generate_client_token_defaults_and_the_plural_synonyms(sdk) -> None:
    client = sdk.client(credential=sdk.token_credential("entra-abc"))
    sdk.script(Reply(200, {"token": "a"}), Reply(200, {"token": "b"}))

    await sdk.call(client.generate_client_token)
    await sdk.call(client.generate_client_token, roles=["r"], groups="solo", client_type="mqtt")

    bare, plural = sdk.sent
    assert bare.query == {"minutesToExpire": ["60"], "api-version": [API_VERSION], "clientType": ["Default"]}
    assert bare.headers["Authorization"] == "Bearer entra-abc"
    assert plural.query == {
        "role": ["r"],
        "minutesToExpire": ["60"],
        "api-version": [API_VERSION],
        "group": ["solo"],
        "clientType": ["MQTT"],
    }


@pytest.mark.parametrize(
    ("client_type", "sent"),
    [(None, None), ("default", ["Default"]), ("SocketIO", ["SocketIO"]), ("FutureType", ["FutureType"])],
)
async def test_generate_client_token_client_type_is_extensible(sdk, client_type: Any, sent: Any) -> None:
    client = sdk.client()
    sdk.script(Reply(200, {"token": "t"}))

    await sdk.call(client.generate_client_token, client_type=client_type, minutes_to_expire=None)

    assert sdk.recorder.only.query.get("clientType") == sent
    assert "minutesToExpire" not in sdk.recorder.only.query


@pytest.mark.parametrize("pair", [("role", "roles"), ("group", "groups")])
async def test_generate_client_token_refuses_both_spellings(sdk, pair: tuple) -> None:
    client = sdk.client()

    with pytest.raises(TypeError):
        await sdk.call(client.generate_client_token, **{pair[0]: ["a"], pair[1]: ["b"]})
    assert sdk.sent == []


async def test_generate_client_token_errors_and_cls(sdk) -> None:
    client = sdk.client()
    sdk.script(Reply(401, {"code": "Unauthorized", "message": "no"}), Reply(200, {"token": "t"}))

    with pytest.raises(ClientAuthenticationError) as info:
        await sdk.call(client.generate_client_token)
    assert info.value.error.code == "Unauthorized"

    raw = await sdk.call(client.generate_client_token, cls=lambda response, body, headers: ("hooked", body))
    assert raw == ("hooked", {"token": "t"})


# ---------------------------------------------------------------------------------------------------------------------
# error details without a JSON body (x-ms-error-code)


async def test_head_error_without_body_exposes_the_error_code(sdk) -> None:
    client = sdk.client()
    sdk.script(Reply(500, headers={"x-ms-error-code": "ServiceUnavailable"}))

    with pytest.raises(HttpResponseError) as info:
        await sdk.call(client.group_exists, "g1")

    error = info.value
    assert error.status_code == 500
    assert error.error is not None and error.error.code == "ServiceUnavailable"
    assert "(ServiceUnavailable)" in str(error)
    assert isinstance(error.model, models().ErrorDetail) and error.model.code == "ServiceUnavailable"
    assert error.response.text() == ""  # the response itself is not touched


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(500, HttpResponseError), (401, ClientAuthenticationError)],
)
async def test_mapped_and_unmapped_errors_without_body_expose_the_code(sdk, status: int, error_type: type) -> None:
    client = sdk.client()
    sdk.script(
        Reply(status, headers={"x-ms-error-code": "Code1"}),
        Reply(status, headers={"x-ms-error-code": "Code2"}),
        Reply(status, headers={"x-ms-error-code": "Code3"}),
    )

    for call, code in [
        (lambda: client.send_to_all({"a": 1}), "Code1"),
        (lambda: client.get_service_status(), "Code2"),
        (lambda: sdk.collect(client.list_connections("g")), "Code3"),
    ]:
        with pytest.raises(error_type) as info:
            await sdk.call(call)
        assert info.value.status_code == status
        assert info.value.error.code == code
        assert f"({code})" in str(info.value)


async def test_text_body_with_error_code_becomes_the_message(sdk) -> None:
    client = sdk.client()
    sdk.script(Reply(400, "The hub name is wrong.", headers={"x-ms-error-code": "InvalidHub"}))

    with pytest.raises(HttpResponseError) as info:
        await sdk.call(client.close_all_connections)

    assert info.value.error.code == "InvalidHub"
    assert info.value.error.message == "The hub name is wrong."
    assert str(info.value).startswith("(InvalidHub) The hub name is wrong.")


async def test_json_error_body_wins_over_the_header_and_fills_the_model(sdk) -> None:
    client = sdk.client()
    body = {"code": "FromBody", "message": "bad", "details": [{"code": "D", "message": "d"}]}
    sdk.script(Reply(400, body, headers={"x-ms-error-code": "FromHeader"}))

    with pytest.raises(HttpResponseError) as info:
        await sdk.call(client.send_to_user, "u", "hi")

    assert info.value.error.code == "FromBody"
    assert "(FromBody) bad" in str(info.value)
    assert info.value.model == body
    assert info.value.model.details[0].code == "D"


async def test_errors_without_body_or_header_are_unchanged(sdk) -> None:
    client = sdk.client()
    sdk.script(500)

    with pytest.raises(HttpResponseError) as info:
        await sdk.call(client.user_exists, "u1")

    assert info.value.error is None
    assert info.value.model is None
    assert "Internal Server Error" in str(info.value)


async def test_send_request_is_still_raw_with_an_error_code(sdk) -> None:
    from azure.core.rest import HttpRequest

    client = sdk.client()
    sdk.script(Reply(500, headers={"x-ms-error-code": "Boom"}))

    response = await sdk.call(client.send_request, HttpRequest("HEAD", "/api/health", params={"api-version": "x"}))

    assert response.status_code == 500
    assert response.headers["x-ms-error-code"] == "Boom"


def test_generated_modules_raise_through_the_error_details_hook() -> None:
    details = sdk_module("._custom.error_details")
    for name in ("._operations._operations", ".aio._operations._operations"):
        generated = sdk_module(name)
        assert generated.map_error is details.map_error
        assert generated.HttpResponseError is details.response_error


async def test_binary_batch_body_still_passes_through(sdk) -> None:
    client = sdk.client()
    sdk.script(200)

    await sdk.call(client.add_connections_to_groups, io.BytesIO(b'{"groups":["g"]}'))

    assert sdk.recorder.only.body == b'{"groups":["g"]}'


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_hand_written_models_match_the_spec_definitions(name: str) -> None:
    """The models are written by hand (the generator runs without models); they must follow swagger/webpubsub.json."""
    import json
    from pathlib import Path

    spec = json.loads((Path(__file__).parents[2] / "swagger" / "webpubsub.json").read_text(encoding="utf-8"))
    cls = getattr(models(), name)
    fields = {
        attr: getattr(cls, attr).wire_name
        for attr in dir(cls)
        if type(getattr(cls, attr, None)).__name__ == "_Field"  # the class-level descriptor
    }
    assert set(fields.values()) == set(spec["definitions"][name]["properties"])
    assert all(attr == wire for attr, wire in fields.items())  # one-word wire names keep their spelling
