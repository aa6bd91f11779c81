"""Permissions: what a JSON client may do with groups, granted by token roles or at runtime through the SDK.

A client needs `joinLeaveGroup` to join/leave a group and `sendToGroup` to publish to it. Roles in the token grant them
up front (`webpubsub.joinLeaveGroup`, `webpubsub.sendToGroup.<group>`, ...); `grant_permission` / `revoke_permission`
change them for one live connection, and `has_permission` checks them.

Run:  .venv/bin/python samples/permissions.py
"""

from _common import JSON, WebSocketClient, check, run, service_target
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice.models import WebPubSubPermission


def main() -> None:
    with (
        service_target("permissions") as target,
        WebPubSubServiceClient.from_connection_string(target.connection_string, hub=target.hub) as service,
    ):
        print(f"Using {target.where}, hub {target.hub!r}")
        # dave may join any group (token role); erin starts with no roles at all.
        dave_url = service.get_client_access_token(user_id="dave", roles=["webpubsub.joinLeaveGroup"])["url"]
        erin_url = service.get_client_access_token(user_id="erin")["url"]
        with (
            WebSocketClient(dave_url, protocol=JSON, name="dave") as dave,
            WebSocketClient(erin_url, protocol=JSON, name="erin") as erin,
        ):
            check(dave.join_group("news").data["success"], "dave's role should let him join")
            print("dave joinGroup news (token role)     ->", "allowed")

            refused = erin.join_group("news")
            print("erin joinGroup news (no role)        ->", refused.describe())
            check(not refused.data["success"], "erin has no role yet")

            service.grant_permission(WebPubSubPermission.JOIN_LEAVE_GROUP, erin.connection_id, target_name="news")
            has = service.has_permission(WebPubSubPermission.JOIN_LEAVE_GROUP, erin.connection_id, target_name="news")
            print("grant_permission(joinLeaveGroup)     -> has_permission:", has)
            check(has, "has_permission should be True after the grant")
            check(erin.join_group("news").data["success"], "erin should be able to join now")
            print("erin joinGroup news (granted)        -> allowed")

            refused = erin.send_to_group("news", "may I?", data_type="text")
            print("erin sendToGroup news (no permission)->", refused.describe())
            check(not refused.data["success"], "erin cannot publish yet")

            service.grant_permission("sendToGroup", erin.connection_id, target_name="news")  # a plain str works too
            check(erin.send_to_group("news", "breaking!", data_type="text").data["success"], "erin may publish now")
            got = dave.expect_message("breaking!", data_type="text")
            print("erin sendToGroup news (granted)      -> dave got", got.describe(), "from", got.data["fromUserId"])
            erin.expect_message("breaking!")  # her own copy (noEcho was false)

            service.revoke_permission(WebPubSubPermission.SEND_TO_GROUP, erin.connection_id, target_name="news")
            has = service.has_permission("sendToGroup", erin.connection_id, target_name="news")
            print("revoke_permission(sendToGroup)       -> has_permission:", has)
            check(not has, "has_permission should be False after the revoke")
            refused = erin.send_to_group("news", "again?", data_type="text")
            print("erin sendToGroup news (revoked)      ->", refused.describe())
            check(not refused.data["success"], "erin's publish should be refused after the revoke")

            service.send_to_group("news", "end")  # nothing else reached the group in between
            dave.expect_message("end")
            erin.expect_message("end")
        print("Permissions done.")


if __name__ == "__main__":
    run(main)
