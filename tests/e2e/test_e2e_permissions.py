"""grant/has/revoke permission through the SDK, then what a real JSON client is actually allowed to do."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.messaging.webpubsubservice.models import WebPubSubPermission
from e2e_support import JSON, Service, WsClient, decoded


@pytest.fixture
async def pair(service: Service) -> AsyncIterator[tuple[WsClient, WsClient]]:
    """A JSON client without roles ("mallory") and a listener who may join any group."""
    mallory = await WsClient.open(await service.url(user_id="mallory"), JSON, "mallory")
    listener = await WsClient.open(
        await service.url(user_id="listener", roles=["webpubsub.joinLeaveGroup"]), JSON, "listener"
    )
    assert (await listener.join("stage"))["success"] is True
    yield mallory, listener
    await mallory.close()
    await listener.close()


def refused(ack: dict) -> bool:
    return ack["success"] is False and ack["error"]["name"] == "Forbidden" and ack["error"]["message"]


async def test_join_permission(service: Service, pair: tuple[WsClient, WsClient]) -> None:
    mallory, _ = pair
    conn = mallory.connection_id
    assert await service.has_permission("joinLeaveGroup", conn, target_name="stage") is False
    assert refused(await mallory.join("stage"))

    await service.grant_permission(WebPubSubPermission.JOIN_LEAVE_GROUP, conn, target_name="stage")
    assert await service.has_permission(WebPubSubPermission.JOIN_LEAVE_GROUP, conn, target_name="stage") is True
    assert await service.check_permission("joinLeaveGroup", conn, target_name="stage") is True  # the upstream name
    assert await service.has_permission("joinLeaveGroup", conn, target_name="backstage") is False
    assert (await mallory.join("stage"))["success"] is True
    assert refused(await mallory.join("backstage"))

    await service.revoke_permission("joinLeaveGroup", conn, target_name="stage")
    assert await service.has_permission("joinLeaveGroup", conn, target_name="stage") is False
    assert await service.check_permission(WebPubSubPermission.JOIN_LEAVE_GROUP, conn, target_name="stage") is False
    assert refused(await mallory.leave("stage"))
    assert conn in {m.connection_id for m in await service.list_connections(group="stage")}  # revoking keeps members


async def test_send_permission(service: Service, pair: tuple[WsClient, WsClient]) -> None:
    mallory, listener = pair
    conn = mallory.connection_id
    assert refused(await mallory.publish("stage", "denied", "text"))

    await service.grant_permission("sendToGroup", conn, target_name="stage")
    assert await service.has_permission("sendToGroup", conn, target_name="stage") is True
    assert (await mallory.publish("stage", {"k": "v"}))["success"] is True
    frame = await listener.next_message()
    assert frame.data["from"] == "group" and frame.data["group"] == "stage"
    assert frame.data["fromUserId"] == "mallory"
    assert decoded(frame) == ("json", {"k": "v"})

    await service.revoke_permission(WebPubSubPermission.SEND_TO_GROUP, conn, target_name="stage")
    assert await service.has_permission("sendToGroup", conn, target_name="stage") is False
    assert refused(await mallory.publish("stage", "denied again", "text"))
    await service.send_to_group("stage", "end")
    assert decoded(await listener.next_message()) == ("text", "end")  # nothing from mallory in between


async def test_permission_for_all_groups(service: Service, pair: tuple[WsClient, WsClient]) -> None:
    mallory, _ = pair
    conn = mallory.connection_id
    await service.grant_permission("joinLeaveGroup", conn)  # no target_name: every group
    assert await service.has_permission("joinLeaveGroup", conn) is True
    assert (await mallory.join("anything"))["success"] is True
    await service.revoke_permission("joinLeaveGroup", conn)
    assert await service.has_permission("joinLeaveGroup", conn) is False
    assert refused(await mallory.join("something-else"))


async def test_grant_to_unknown_connection_is_404(service: Service, pair: tuple[WsClient, WsClient]) -> None:
    with pytest.raises(ResourceNotFoundError):
        await service.grant_permission("sendToGroup", "no-such-connection", target_name="stage")
    await service.revoke_permission("sendToGroup", "no-such-connection", target_name="stage")  # 204 all the same
    assert await service.has_permission("sendToGroup", "no-such-connection", target_name="stage") is False
