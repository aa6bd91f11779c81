"""Group membership (connection, user, all groups, by filter) and list_connections paging (sync and aio SDK)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.messaging.webpubsubservice import GroupMember, odata
from e2e_support import JSON, Clients, Service, WsClient, assert_nothing_else, decoded


async def members(service: Service, group: str) -> set[str]:
    return {m.connection_id for m in await service.list_connections(group=group)}


async def test_connection_membership(service: Service, clients: Clients) -> None:
    await service.add_connection_to_group("g1", clients.json.connection_id)
    await service.add_connection_to_group("g2", clients.json.connection_id)
    await service.add_connection_to_group("g1", clients.raw.connection_id)
    assert await members(service, "g1") == {clients.json.connection_id, clients.raw.connection_id}

    await service.send_to_group("g1", "to g1")
    assert decoded(await clients.json.next_message()) == ("text", "to g1")
    assert decoded(await clients.raw.next_message()) == ("text", "to g1")

    await service.remove_connection_from_group("g1", clients.raw.connection_id)
    await service.remove_connection_from_group("g1", clients.reliable.connection_id)  # not a member: still fine
    assert await members(service, "g1") == {clients.json.connection_id}

    await service.remove_connection_from_all_groups(clients.json.connection_id)
    assert await service.group_exists("g1") is False
    assert await service.group_exists("g2") is False
    await service.send_to_group("g1", "nobody")
    await assert_nothing_else(service, *clients)


async def test_user_membership(service: Service, clients: Clients) -> None:
    second = await WsClient.open(await service.url(user_id="json-user"), JSON, "json-2")
    await service.add_user_to_group("team", "json-user")  # every connection of the user
    await service.add_user_to_group("other", "json-user")
    assert await members(service, "team") == {clients.json.connection_id, second.connection_id}
    await service.send_to_group("team", {"hi": "team"})
    for client in (clients.json, second):
        frame = await client.next_message()
        assert frame.data["group"] == "team" and frame.data["data"] == {"hi": "team"}

    await service.remove_user_from_group("team", "json-user")
    assert await service.group_exists("team") is False
    assert await service.group_exists("other") is True
    await service.remove_user_from_all_groups("json-user")
    assert await service.group_exists("other") is False
    await assert_nothing_else(service, *clients, second)
    await second.close()


async def test_add_user_without_connections_is_404(service: Service, clients: Clients) -> None:
    with pytest.raises(ResourceNotFoundError):
        await service.add_user_to_group("team", "nobody")


async def test_add_unknown_connection_is_404(service: Service, clients: Clients) -> None:
    with pytest.raises(ResourceNotFoundError):
        await service.add_connection_to_group("team", "no-such-connection")


async def test_add_and_remove_connections_by_filter(service: Service, clients: Clients) -> None:
    await service.add_connections_to_groups(["vip", "staff"], filter=odata("userId ne {}", "raw-user"))
    assert await members(service, "vip") == {clients.json.connection_id, clients.reliable.connection_id}
    assert await members(service, "staff") == {clients.json.connection_id, clients.reliable.connection_id}

    await service.remove_connections_from_groups(["vip"], filter=odata("userId eq {}", "json-user"))
    assert await members(service, "vip") == {clients.reliable.connection_id}
    assert await members(service, "staff") == {clients.json.connection_id, clients.reliable.connection_id}

    # The request-body form that upstream uses: a dict {"groups", "filter"}.
    await service.add_connections_to_groups({"groups": ["by-group"], "filter": odata("{} in groups", "home-raw")})
    assert await members(service, "by-group") == {clients.raw.connection_id}
    await service.remove_connections_from_groups({"groups": ["by-group", "staff"]})  # no filter: every connection
    assert await service.group_exists("by-group") is False
    assert await service.group_exists("staff") is False

    # The keyword names upstream uses.
    await service.add_connections_to_groups(
        groups_to_add={"groups": ["kw"], "filter": odata("userId eq {}", "json-user")}
    )
    assert await members(service, "kw") == {clients.json.connection_id}
    await service.remove_connections_from_groups(groups_to_remove={"groups": ["kw"]})
    assert await service.group_exists("kw") is False


async def test_add_connections_to_groups_bad_filter_is_400(service: Service, clients: Clients) -> None:
    with pytest.raises(HttpResponseError) as info:
        await service.add_connections_to_groups(["g"], filter="userId eq eq")
    assert info.value.status_code == 400


@pytest.fixture
async def seven(service: Service) -> AsyncIterator[list[WsClient]]:
    """Seven JSON clients in group "crowd", joined in a known order."""
    crowd = []
    for i in range(7):
        crowd.append(await WsClient.open(await service.url(user_id=f"user{i}", groups=["crowd"]), JSON, f"c{i}"))
    yield crowd
    for client in crowd:
        await client.close()


async def test_list_connections_pages(service: Service, seven: list[WsClient]) -> None:
    everyone = {c.connection_id: c.user_id for c in seven}

    listed = await service.list_connections(group="crowd")
    assert all(isinstance(m, GroupMember) for m in listed)
    assert {m.connection_id: m.user_id for m in listed} == everyone

    pages = await service.pages(group="crowd", maxpagesize=3)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert {m.connection_id for p in pages for m in p} == set(everyone)

    pages = await service.pages(group="crowd", maxpagesize=2, top=5)
    assert [len(p) for p in pages] == [2, 2, 1]

    assert len(await service.list_connections(group="crowd", top=3)) == 3
    assert [len(p) for p in await service.pages(group="crowd", top=3)] == [3]  # one page: the default page is big
    assert len(await service.list_connections(group="crowd", top=100)) == 7
    assert await service.list_connections(group="empty-group") == []


async def test_list_connections_group_positional(service: Service, seven: list[WsClient]) -> None:
    assert len(await service.list_connections("crowd")) == 7


async def test_list_connections_in_group(service: Service, seven: list[WsClient]) -> None:
    """The upstream name for the same operation."""
    if service.flavour == "aio":
        listed = [m async for m in service.client.list_connections_in_group("crowd", top=4)]
    else:
        listed = await asyncio.to_thread(lambda: list(service.client.list_connections_in_group("crowd", top=4)))
    assert [m.connection_id for m in listed] == [c.connection_id for c in seven[:4]]  # join order


async def test_list_connections_bad_page_size_is_400(service: Service, seven: list[WsClient]) -> None:
    with pytest.raises(HttpResponseError) as info:
        await service.list_connections(group="crowd", maxpagesize=500)
    assert info.value.status_code == 400


async def test_list_connections_resumes_from_a_continuation_token(service: Service, seven: list[WsClient]) -> None:
    if service.flavour == "aio":
        pager = service.client.list_connections(group="crowd", maxpagesize=3).by_page()
        first = [m async for m in await pager.__anext__()]
        token = pager.continuation_token
        rest = []
        async for page in service.client.list_connections(group="crowd", maxpagesize=3).by_page(
            continuation_token=token
        ):
            rest.append([m async for m in page])
    else:
        pager = service.client.list_connections(group="crowd", maxpagesize=3).by_page()
        first = list(next(pager))
        token = pager.continuation_token
        resumed = service.client.list_connections(group="crowd", maxpagesize=3).by_page(continuation_token=token)
        rest = [list(page) for page in resumed]
    assert token
    assert [len(first), *[len(p) for p in rest]] == [3, 3, 1]
    assert {m.connection_id for m in first + [m for p in rest for m in p]} == {c.connection_id for c in seven}
