"""``list_connections``: the first request, following nextLinks, re-signing every page, GroupMember items."""

from __future__ import annotations

import inspect

import pytest
from azure.core.async_paging import AsyncItemPaged
from azure.core.paging import ItemPaged

from .conftest import API_VERSION, ENDPOINT, HUB, Reply, check_rest_claims, decode_rest_jwt, sdk_module

LIST_PATH = f"/api/hubs/{HUB}/groups/g%201/connections"
NEXT_1 = f"{ENDPOINT}{LIST_PATH}?continuationToken=tok1&maxpagesize=2"  # absolute, no api-version
NEXT_2 = f"{LIST_PATH}?continuationToken=tok2&maxpagesize=2"  # relative

PAGE_1 = {"value": [{"connectionId": "c1", "userId": "u1"}, {"connectionId": "c2"}], "nextLink": NEXT_1}
PAGE_2 = {"value": [{"connectionId": "c3", "userId": None}, {"connectionId": "c4", "userId": "u4"}], "nextLink": NEXT_2}
PAGE_3 = {"value": [{"connectionId": "c5", "userId": "u5"}], "nextLink": None}
EXPECTED = [("c1", "u1"), ("c2", None), ("c3", None), ("c4", "u4"), ("c5", "u5")]


def members(items: list) -> list[tuple]:
    group_member = sdk_module().GroupMember
    assert all(isinstance(item, group_member) for item in items), items
    return [(item.connection_id, item.user_id) for item in items]


def script_three_pages(sdk) -> None:
    sdk.script(Reply(200, PAGE_1), Reply(200, PAGE_2), Reply(200, PAGE_3))


def check_follow_up_requests(sdk) -> None:
    """Pages 2 and 3 come from the nextLinks with api-version re-added, each signed for its own URL."""
    _, second, third = sdk.sent
    for sent in sdk.sent:
        assert sent.method == "GET"
        assert sent.origin == ENDPOINT
        assert sent.path == LIST_PATH
        assert sent.headers.get("Accept") == "application/json"
        check_rest_claims(decode_rest_jwt(sent))
    assert second.query == {"continuationToken": ["tok1"], "maxpagesize": ["2"], "api-version": [API_VERSION]}
    assert third.query == {"continuationToken": ["tok2"], "maxpagesize": ["2"], "api-version": [API_VERSION]}
    assert len({s.bearer for s in sdk.sent}) == 3  # three different audiences, three different tokens


async def test_list_connections_follows_absolute_and_relative_next_links(sdk) -> None:
    client = sdk.client()
    script_three_pages(sdk)

    pager = client.list_connections(group="g 1", top=5, maxpagesize=2)
    items = await sdk.collect(pager)

    assert members(items) == EXPECTED
    assert sdk.sent[0].query == {"maxpagesize": ["2"], "top": ["5"], "api-version": [API_VERSION]}
    check_follow_up_requests(sdk)


async def test_list_connections_accepts_the_group_positionally(sdk) -> None:
    client = sdk.client()
    script_three_pages(sdk)

    items = await sdk.collect(client.list_connections("g 1", maxpagesize=2))

    assert members(items) == EXPECTED
    assert sdk.sent[0].query == {"maxpagesize": ["2"], "api-version": [API_VERSION]}
    check_follow_up_requests(sdk)


async def test_list_connections_sends_no_paging_query_when_none_is_given(sdk) -> None:
    client = sdk.client()
    sdk.script(Reply(200, {"value": [{"connectionId": "only"}]}))

    items = await sdk.collect(client.list_connections(group="g1"))

    assert members(items) == [("only", None)]
    assert sdk.recorder.only.query == {"api-version": [API_VERSION]}
    assert sdk.recorder.only.path == f"/api/hubs/{HUB}/groups/g1/connections"


async def test_list_connections_passes_continuation_token_parameter_through(sdk) -> None:
    client = sdk.client()
    sdk.script(Reply(200, {"value": []}))

    await sdk.collect(client.list_connections(group="g1", continuation_token_parameter="tok 0", maxpagesize=3))

    assert sdk.recorder.only.query == {
        "continuationToken": ["tok 0"],
        "maxpagesize": ["3"],
        "api-version": [API_VERSION],
    }


async def test_list_connections_returns_a_pager_without_sending_anything_yet(sdk) -> None:
    client = sdk.client()

    pager = client.list_connections(group="g1")

    assert not inspect.isawaitable(pager)
    assert isinstance(pager, AsyncItemPaged if sdk.is_aio else ItemPaged)
    assert sdk.sent == []


async def test_by_page_yields_one_list_of_group_members_per_page(sdk) -> None:
    client = sdk.client()
    script_three_pages(sdk)

    pages = await sdk.pages(client.list_connections(group="g 1", top=5, maxpagesize=2))

    assert [members(page) for page in pages] == [EXPECTED[:2], EXPECTED[2:4], EXPECTED[4:]]
    check_follow_up_requests(sdk)


async def test_by_page_resumes_from_a_continuation_token(sdk) -> None:
    client = sdk.client()
    sdk.script(Reply(200, PAGE_2), Reply(200, PAGE_3))

    pages = await sdk.pages(client.list_connections(group="g 1"), continuation_token=NEXT_1)

    assert [members(page) for page in pages] == [EXPECTED[2:4], EXPECTED[4:]]
    assert [s.query.get("continuationToken") for s in sdk.sent] == [["tok1"], ["tok2"]]
    for sent in sdk.sent:
        assert sent.path == LIST_PATH
        assert sent.query["api-version"] == [API_VERSION]
        decode_rest_jwt(sent)


async def test_list_connections_maps_errors(sdk) -> None:
    from azure.core.exceptions import ResourceNotFoundError

    client = sdk.client()
    sdk.script(Reply(404, {"code": "NotFound", "message": "no such hub"}))

    with pytest.raises(ResourceNotFoundError) as info:
        await sdk.collect(client.list_connections(group="g1"))
    assert info.value.error.code == "NotFound"


async def test_list_connections_requires_a_group(sdk) -> None:
    client = sdk.client()

    with pytest.raises(TypeError):
        client.list_connections()


def test_group_member_is_keyword_only_read_only_and_readable() -> None:
    group_member = sdk_module().GroupMember

    member = group_member(connection_id="c1", user_id="u1")
    anonymous = group_member(connection_id="c2")

    assert (member.connection_id, member.user_id) == ("c1", "u1")
    assert (anonymous.connection_id, anonymous.user_id) == ("c2", None)
    assert "c1" in repr(member) and "u1" in repr(member)
    with pytest.raises(TypeError):
        group_member("c1")  # type: ignore[misc]
    with pytest.raises(AttributeError):
        member.connection_id = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        member.user_id = "other"  # type: ignore[misc]
