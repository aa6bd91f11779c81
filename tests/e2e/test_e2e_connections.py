"""Closing connections and the exists checks, observed by real WebSocket clients (sync and aio SDK)."""

from __future__ import annotations

import asyncio

from e2e_support import JSON, RELIABLE, Clients, Service, WsClient, assert_nothing_else


async def open_json(service: Service, name: str, protocol: str = JSON, **token: object) -> WsClient:
    return await WsClient.open(await service.url(**token), protocol, name)


async def assert_closed_with_reason(service: Service, client: WsClient, reason: str) -> None:
    disconnected = await client.disconnected()
    assert disconnected["message"] == reason
    # 1008 tells a reliable client not to try to recover a session the service closed on purpose
    assert await client.wait_closed() == (1008 if client.protocol == RELIABLE else 1000)
    assert await service.connection_exists(client.connection_id) is False


async def test_close_connection_reason_reaches_json_and_reliable_clients(service: Service, clients: Clients) -> None:
    await service.close_connection(clients.json.connection_id, reason="bye json")
    await assert_closed_with_reason(service, clients.json, "bye json")
    await service.close_connection(clients.reliable.connection_id, reason="bye reliable")
    await assert_closed_with_reason(service, clients.reliable, "bye reliable")
    await service.close_connection(clients.raw.connection_id, reason="raw clients get no system message")
    assert await clients.raw.wait_closed() == 1000
    assert clients.raw.inbox == []


async def test_close_connection_without_reason(service: Service, clients: Clients) -> None:
    await service.close_connection(clients.json.connection_id)
    await clients.json.wait_closed()
    assert await service.connection_exists(clients.json.connection_id) is False
    assert await service.connection_exists(clients.reliable.connection_id) is True


async def test_close_unknown_connection_is_not_an_error(service: Service, clients: Clients) -> None:
    await service.close_connection("no-such-connection", reason="x")


async def test_close_user_connections(service: Service) -> None:
    a = await open_json(service, "a", user_id="gina")
    b = await open_json(service, "b", RELIABLE, user_id="gina")
    c = await open_json(service, "c", user_id="gina")
    other = await open_json(service, "other", user_id="hank")
    await service.close_user_connections("gina", excluded=[c.connection_id], reason="signed out")
    await assert_closed_with_reason(service, a, "signed out")
    await assert_closed_with_reason(service, b, "signed out")
    assert await service.connection_exists(c.connection_id) is True
    assert await service.user_exists("gina") is True
    await assert_nothing_else(service, c, other)
    for client in (a, b, c, other):
        await client.close()


async def test_close_group_connections(service: Service) -> None:
    a = await open_json(service, "a", groups=["room"])
    b = await open_json(service, "b", groups=["room"])
    c = await open_json(service, "c", groups=["room"])
    outsider = await open_json(service, "outsider")
    await service.close_group_connections("room", excluded=[b.connection_id], reason="room closed")
    await assert_closed_with_reason(service, a, "room closed")
    await assert_closed_with_reason(service, c, "room closed")
    await assert_nothing_else(service, b, outsider)
    assert [m.connection_id for m in await service.list_connections(group="room")] == [b.connection_id]
    for client in (a, b, c, outsider):
        await client.close()


async def test_close_all_connections(service: Service, clients: Clients) -> None:
    await service.close_all_connections(excluded=[clients.reliable.connection_id], reason="maintenance")
    await assert_closed_with_reason(service, clients.json, "maintenance")
    assert await clients.raw.wait_closed() == 1000
    await assert_nothing_else(service, clients.reliable)
    await service.close_all_connections()
    await clients.reliable.wait_closed()
    assert await service.connection_exists(clients.reliable.connection_id) is False


async def test_exists_checks(service: Service, clients: Clients) -> None:
    results = await asyncio.gather(
        service.connection_exists(clients.json.connection_id),
        service.connection_exists(clients.raw.connection_id),
        service.connection_exists("nope"),
        service.user_exists("json-user"),
        service.user_exists("raw-user"),
        service.user_exists("nobody"),
        service.group_exists("home-raw"),
        service.group_exists("never-joined"),
    )
    assert results == [True, True, False, True, True, False, True, False]

    await service.close_connection(clients.raw.connection_id)
    await clients.raw.wait_closed()
    assert await service.user_exists("raw-user") is False
    assert await service.group_exists("home-raw") is False  # empty groups do not exist
