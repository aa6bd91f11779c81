"""Users and groups: address every connection of a user, or every connection in a group, and manage membership.

A *user* is the `sub` of the client's token (`get_client_access_token(user_id=...)`); a user may have several
connections. A *group* is a named set of connections; it exists while it has members. Membership can be changed per
connection, per user, or for every connection matching an OData filter.

Run:  .venv/bin/python samples/users_and_groups.py
"""

from _common import JSON, WebSocketClient, check, run, service_target
from azure.messaging.webpubsubservice import WebPubSubServiceClient, odata


def main() -> None:
    with (
        service_target("users_and_groups") as target,
        WebPubSubServiceClient.from_connection_string(target.connection_string, hub=target.hub) as service,
    ):
        print(f"Using {target.where}, hub {target.hub!r}")

        def connect(user: str, name: str) -> WebSocketClient:
            return WebSocketClient(service.get_client_access_token(user_id=user)["url"], protocol=JSON, name=name)

        # alice has two connections (say, phone and laptop); bob has one.
        with (
            connect("alice", "alice-phone") as phone,
            connect("alice", "alice-laptop") as laptop,
            connect("bob", "bob") as bob,
        ):
            service.send_to_user("alice", "hi alice")
            print("send_to_user('alice')       ->", phone.expect_message("hi alice").describe(), "on both devices")
            laptop.expect_message("hi alice")

            service.add_user_to_group("team", "alice")  # both of alice's connections
            service.add_connection_to_group("team", bob.connection_id)  # just this connection
            service.send_to_group("team", {"standup": "10:00"})
            for client in (phone, laptop, bob):
                got = client.expect_message({"standup": "10:00"})
                print(f"send_to_group('team')       -> {client.name}: {got.describe()}")

            # Page through the members, two at a time (maxpagesize); `top` would cap the total.
            pages = [list(page) for page in service.list_connections(group="team", maxpagesize=2).by_page()]
            for number, page in enumerate(pages, 1):
                print(f"list_connections page {number}: {[(m.user_id, m.connection_id) for m in page]}")
            check(sum(len(page) for page in pages) == 3 and len(pages) >= 2, f"expected 3 members on 2 pages: {pages}")

            service.send_to_group("team", "not for bob", excluded=[bob.connection_id])
            phone.expect_message("not for bob")
            laptop.expect_message("not for bob")
            print("send_to_group(excluded=bob) -> alice's two connections only")

            # Everyone except alice joins "others" in one call, by filter.
            service.add_connections_to_groups(["others"], filter=odata("userId ne {}", "alice"))
            service.send_to_group("others", "hello others")
            print("add_connections_to_groups   ->", bob.expect_message("hello others").describe(), "(bob only)")

            service.remove_user_from_group("team", "alice")
            members = [m.user_id for m in service.list_connections(group="team")]
            print("remove_user_from_group('team', 'alice') -> members:", members)
            check(members == ["bob"], f"expected only bob left in 'team', got {members}")

            service.remove_connection_from_all_groups(bob.connection_id)
            team_exists = service.group_exists("team")
            print("remove_connection_from_all_groups(<bob>) -> group_exists('team'):", team_exists)
            check(not team_exists, "'team' should be empty, and empty groups do not exist")

            service.add_user_to_group("alpha", "alice")
            service.add_user_to_group("beta", "alice")
            service.remove_user_from_all_groups("alice")
            gone = not service.group_exists("alpha") and not service.group_exists("beta")
            print("remove_user_from_all_groups('alice') -> 'alpha' and 'beta' gone:", gone)
            check(gone, "alice should have left every group")

            service.remove_connections_from_groups(["others"], filter=odata("userId eq {}", "bob"))
            others_exists = service.group_exists("others")
            print("remove_connections_from_groups(['others'], filter=bob) -> group_exists('others'):", others_exists)
            check(not others_exists, "bob should have left 'others'")

            users = {user: service.user_exists(user) for user in ("alice", "zoe")}
            print("user_exists:", users)
            check(users == {"alice": True, "zoe": False}, f"unexpected user_exists answers: {users}")

            # Every message above was checked as it arrived; a last broadcast proves nothing else was delivered.
            service.send_to_all("end")
            for client in (phone, laptop, bob):
                client.expect_message("end")
        print("Users and groups done.")


if __name__ == "__main__":
    run(main)
