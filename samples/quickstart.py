"""Quickstart: drive three WebSocket clients with the Web PubSub server SDK (this is what `make demo` runs).

What happens, step by step:

1. We need a Web PubSub service. Unless WEBPUBSUB_CONNECTION_STRING is set (then WEBPUBSUB_HUB, default "quickstart",
   names the hub; pick one nobody else is using, since the script checks exactly who receives what), the script
   starts the local emulator on a free port.
2. The server SDK mints one client access URL per client with `get_client_access_token(...)`, and three clients connect:
     * "raw"      - a plain WebSocket, no subprotocol, user "ann". It gets payloads as bare text/binary frames.
     * "json"     - subprotocol json.webpubsub.azure.v1, user "bob", no roles (so he must be granted permissions).
     * "reliable" - subprotocol json.reliable.webpubsub.azure.v1, user "carol", may join/leave any group.
3. The SDK then sends messages, manages groups and permissions and closes a connection. After every step we *wait* for
   exactly the deliveries we expect (with a timeout). Each client's messages arrive in order, so a message that
   should not have arrived shows up as a mismatch at the next step, and the script fails with a clear message.
4. The other half of the app: the demo's own event handler (``DemoEventHandler`` below, an ASGI app that the emulator
   calls in-process as the hub's event handler: no web server needed; in production you serve it like any app). It
   decides who connects (a ticket in the URL names the user and the groups; a forged ticket is refused), answers a
   client's event, and broadcasts what the client sent through the SDK. Against a real service these steps are
   skipped: its event handler is set on the resource.
5. Finally it prints a table of what each client received and exits 0.

Run it:  make demo      (or: .venv/bin/python samples/quickstart.py)
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any, Callable, Optional, Union

from _common import JSON, RELIABLE, Frame, SampleError, WebSocketClient, check, print_table, run, service_target
from azure.messaging.webpubsubservice import WebPubSubServiceClient, odata
from azure.messaging.webpubsubservice.eventhandler import (
    ConnectRequest,
    ConnectResponse,
    UnauthorizedError,
    UserEventRequest,
    WebPubSubEventHandler,
)
from azure.messaging.webpubsubservice.eventhandler.asgi import WebPubSubASGIApp
from azure.messaging.webpubsubservice.models import WebPubSubPermission

Cell = Union[Frame, str, None]
rows: list[list[str]] = []


def row(step: str, raw: Cell = None, json_client: Cell = None, reliable: Cell = None) -> None:
    """Remember what each client received in one step (None: nothing, as expected)."""

    def cell(value: Cell) -> str:
        if value is None:
            return "-"
        return value if isinstance(value, str) else value.describe()

    rows.append([step, cell(raw), cell(json_client), cell(reliable)])


def log(text: str) -> None:
    print(f"  {text}")


def eventually(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll a service-side condition until it holds (the service applies some changes asynchronously)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SampleError(f"expected {what} within {timeout:.0f} s")
        time.sleep(0.05)


class DemoEventHandler:
    """The demo app's event handler: the service calls it on connect and when a client sends an event."""

    TICKETS = {"bob-ticket": "bob"}  # in a real app: your session store or identity provider

    def __init__(self, hub: str) -> None:
        from webpubsub_emulator import DEFAULT_ACCESS_KEY  # only used with the local emulator

        self.service: Optional[WebPubSubServiceClient] = None
        self.handler = WebPubSubEventHandler(hub, access_key=DEFAULT_ACCESS_KEY)  # verifies every event's signature
        self.handler.on_connect(self.connect)
        self.handler.on_event("shout")(self.shout)

    def connect(self, request: ConnectRequest) -> Optional[ConnectResponse]:
        ticket = request.query.first("ticket")
        if ticket is None:
            return None  # no ticket: the access token alone decides (ann, bob and carol's first connections)
        user = self.TICKETS.get(ticket)
        if user is None:
            raise UnauthorizedError("unknown ticket")  # the client's handshake fails with 401
        return ConnectResponse(user_id=user, groups=["from-handler"], subprotocol=JSON)

    def shout(self, request: UserEventRequest) -> Any:
        assert self.service is not None
        self.service.send_to_all({"from": request.context.user_id, **request.json()})  # broadcast what they sent
        return f"heard you, {request.context.user_id}"  # a str goes back to the sender as text


def main() -> None:
    local = not os.environ.get("WEBPUBSUB_CONNECTION_STRING")
    demo = DemoEventHandler(os.environ.get("WEBPUBSUB_HUB") or "quickstart") if local else None
    with contextlib.ExitStack() as stack:
        app = WebPubSubASGIApp(demo.handler) if demo is not None else None  # answers under /eventhandler
        target = stack.enter_context(service_target("quickstart", event_handler=app))
        print(f"Using {target.where}, hub {target.hub!r}")
        if app is not None:
            print("Event handler: this script's ASGI app, called by the emulator in-process at /eventhandler/{event}")

        # -- 1. The server SDK client: one per hub. Create it once and reuse it; it keeps its HTTP connections open.
        with WebPubSubServiceClient.from_connection_string(target.connection_string, hub=target.hub) as service:
            # -- 2. Client access URLs. The SDK signs them locally with the access key; hand them to your clients.
            ann_url = service.get_client_access_token(user_id="ann")["url"]
            bob_url = service.get_client_access_token(user_id="bob")["url"]
            carol_url = service.get_client_access_token(user_id="carol", roles=["webpubsub.joinLeaveGroup"])["url"]
            print(f"Client URL for ann: {ann_url.split('?')[0]}?access_token=<jwt>")

            with (
                WebSocketClient(ann_url, name="raw") as raw,
                WebSocketClient(bob_url, protocol=JSON, name="json") as bob,
                WebSocketClient(carol_url, protocol=RELIABLE, name="reliable") as carol,
            ):
                # JSON clients learn their connection id from the "connected" system message.
                print(f"Connected: raw (ann), json (bob, {bob.connection_id}), reliable (carol, {carol.connection_id})")
                run_steps(service, raw, bob, carol)
                if demo is not None:
                    demo.service = service
                    run_event_handler_steps(service, target.emulator, raw, carol)
                else:
                    print("\nEvent handler steps skipped: a real service calls the handler set on the resource.")

    print()
    print_table(["step", "raw client (ann)", "json client (bob)", "reliable client (carol)"], rows)
    print("\nAll expected messages arrived. Done.")


def run_steps(
    service: WebPubSubServiceClient, raw: WebSocketClient, bob: WebSocketClient, carol: WebSocketClient
) -> None:
    print("\nSteps:")
    everyone = (raw, bob, carol)

    # -- 3. Broadcast. The SDK picks the content type from the Python type: dict/list -> JSON, str -> text,
    #       bytes -> binary. Raw clients get the payload itself; JSON clients get it wrapped in a "message".
    greeting = {"greeting": "hello"}
    service.send_to_all(greeting)
    log("send_to_all({...})  -> application/json")
    row("send_to_all JSON", *[c.expect_message(greeting) for c in everyone])

    service.send_to_all("hello, world")
    log("send_to_all('hello, world')  -> text/plain")
    row("send_to_all text", *[c.expect_message("hello, world") for c in everyone])

    service.send_to_all(b"\x00\x01\x02")
    log("send_to_all(b'\\x00\\x01\\x02')  -> application/octet-stream")
    row("send_to_all binary", *[c.expect_message(b"\x00\x01\x02") for c in everyone])

    # -- 4. One user (all of their connections) and one group.
    service.send_to_user("bob", "just for bob")
    log("send_to_user('bob', ...)")
    row("send_to_user bob", json_client=bob.expect_message("just for bob", data_type="text"))

    service.add_user_to_group("lobby", "ann")  # every connection of user ann joins "lobby"
    service.add_connection_to_group("lobby", carol.connection_id)  # exactly this one connection joins
    log("add_user_to_group('lobby', 'ann'); add_connection_to_group('lobby', <carol>)")
    service.send_to_group("lobby", {"room": "lobby"})
    row(
        "send_to_group lobby",
        raw=raw.expect_message({"room": "lobby"}),
        reliable=carol.expect_message({"room": "lobby"}, data_type="json"),
    )

    # -- 5. Who is in a group? list_connections pages through the members (GroupMember objects).
    members = list(service.list_connections(group="lobby"))
    for member in members:
        log(f"list_connections(group='lobby'): {member.connection_id} (user {member.user_id})")
    check(len(members) == 2, f"expected 2 members in lobby, got {members}")
    # The raw client never sees a "connected" message, so this is how we learn its connection id.
    raw_id = next(m.connection_id for m in members if m.user_id == "ann")

    # -- 6. Narrowing the audience: exclude connections, or filter them with OData. `odata()` quotes the values.
    service.send_to_group("lobby", "not for ann", excluded=[raw_id])
    log("send_to_group('lobby', ..., excluded=[<ann>])")
    row("send_to_group excluded=ann", reliable=carol.expect_message("not for ann"))

    bob_only = odata("userId eq {}", "bob")
    service.send_to_all("filtered", filter=bob_only)
    log(f"send_to_all(..., filter={bob_only!r})")
    row("send_to_all filter", json_client=bob.expect_message("filtered"))

    # -- 7. Group membership by filter, and removal.
    service.add_connections_to_groups(["vip"], filter=odata("userId eq {} or userId eq {}", "ann", "bob"))
    log("add_connections_to_groups(['vip'], filter=ann or bob)")
    service.send_to_group("vip", "vip news")
    row("send_to_group vip", raw=raw.expect_message("vip news"), json_client=bob.expect_message("vip news"))

    service.remove_connections_from_groups(["vip"], filter=odata("userId eq {}", "ann"))
    log("remove_connections_from_groups(['vip'], filter=ann)")
    service.send_to_group("vip", "vip news 2")
    row("send_to_group vip (ann removed)", json_client=bob.expect_message("vip news 2"))

    service.remove_connection_from_group("lobby", raw_id)
    service.remove_user_from_group("lobby", "carol")
    log("remove_connection_from_group('lobby', <ann>); remove_user_from_group('lobby', 'carol')")
    eventually(lambda: not service.group_exists("lobby"), "group 'lobby' to be gone")
    log("group_exists('lobby') -> False (a group exists only while it has members)")
    service.send_to_group("lobby", "nobody hears this")  # proven by the next step: nobody's next message is this one
    row("send_to_group lobby (empty)")

    # -- 8. Permissions. Bob's token has no roles, so joining a group is refused until we grant it.
    denied = bob.join_group("stage")
    check(not denied.data["success"], "bob should not be allowed to join 'stage' yet")
    row("bob joinGroup stage (no role)", json_client=denied)

    service.grant_permission(WebPubSubPermission.JOIN_LEAVE_GROUP, bob.connection_id, target_name="stage")
    allowed = service.has_permission("joinLeaveGroup", bob.connection_id, target_name="stage")
    log(f"grant_permission(joinLeaveGroup, <bob>, target_name='stage'); has_permission -> {allowed}")
    check(allowed, "has_permission should be True after grant_permission")
    joined = bob.join_group("stage")
    check(joined.data["success"], f"bob should now be allowed to join 'stage': {joined.describe()}")
    carol_joined = carol.join_group("stage")  # carol's token role lets her join any group
    row("joinGroup stage (after grant)", json_client=joined, reliable=carol_joined)

    service.grant_permission(WebPubSubPermission.SEND_TO_GROUP, bob.connection_id, target_name="stage")
    log("grant_permission(sendToGroup, <bob>, target_name='stage')")
    sent = bob.send_to_group("stage", {"text": "hi from bob"})
    check(sent.data["success"], f"bob should be allowed to send to 'stage': {sent.describe()}")
    bob_echo = bob.expect_message({"text": "hi from bob"})  # noEcho is false, so bob gets his own message too
    carol_got = carol.expect_message({"text": "hi from bob"})
    check(carol_got.data.get("fromUserId") == "bob", f"expected fromUserId 'bob': {carol_got.data}")
    row("bob sendToGroup stage", json_client=bob_echo, reliable=carol_got)

    service.revoke_permission(WebPubSubPermission.SEND_TO_GROUP, bob.connection_id, target_name="stage")
    still = service.has_permission(WebPubSubPermission.SEND_TO_GROUP, bob.connection_id, target_name="stage")
    log(f"revoke_permission(sendToGroup, <bob>, target_name='stage'); has_permission -> {still}")
    check(not still, "has_permission should be False after revoke_permission")
    refused = bob.send_to_group("stage", {"text": "am I muted?"})
    check(not refused.data["success"], "bob's send should be refused after the revoke")
    row("bob sendToGroup (revoked)", json_client=refused)

    # -- 9. Existence checks (HEAD requests that return True/False).
    checks: dict[str, bool] = {
        "connection_exists(<bob>)": service.connection_exists(bob.connection_id),
        "user_exists('carol')": service.user_exists("carol"),
        "group_exists('stage')": service.group_exists("stage"),
        "user_exists('nobody')": service.user_exists("nobody"),
    }
    for call, answer in checks.items():
        log(f"{call} -> {answer}")
    check(list(checks.values()) == [True, True, True, False], f"unexpected exists answers: {checks}")

    # -- 10. Close a connection. JSON clients are told why (the "disconnected" system message).
    service.close_connection(bob.connection_id, reason="demo finished")
    log("close_connection(<bob>, reason='demo finished')")
    goodbye = bob.wait_disconnected()
    check(goodbye.data.get("message") == "demo finished", f"unexpected reason: {goodbye.data}")
    bob.wait_closed()
    bob_id: Optional[str] = bob.connection_id
    eventually(lambda: not service.connection_exists(bob_id or ""), "bob's connection to be gone")
    log("connection_exists(<bob>) -> False")
    row("close_connection bob", json_client=goodbye)

    # -- 11. A last broadcast: the two remaining clients get it as their very next message.
    service.send_to_all("goodbye")
    row("send_to_all text (bob gone)", raw=raw.expect_message("goodbye"), reliable=carol.expect_message("goodbye"))


def run_event_handler_steps(
    service: WebPubSubServiceClient, emulator: Any, raw: WebSocketClient, carol: WebSocketClient
) -> None:
    print("\nEvent handler steps:")
    # -- 12. The handler decides a connect: bob comes back with a token that names nobody, plus a ticket.
    anonymous = service.get_client_access_token()["url"]
    with WebSocketClient(anonymous + "&ticket=bob-ticket", protocol=JSON, name="json") as bob:
        check(bob.user_id == "bob", f"the handler should name the user bob, got {bob.user_id!r}")
        log("connect ?ticket=bob-ticket -> the handler answered user 'bob', groups ['from-handler']")
        row("handler connect bob (ticket)", json_client=f"connected as {bob.user_id!r}")
        service.send_to_group("from-handler", "group set by the handler")
        row("send_to_group from-handler", json_client=bob.expect_message("group set by the handler"))

        refused = WebSocketClient(anonymous + "&ticket=forged", protocol=JSON, name="mallory").expect_refused()
        check("401" in refused, f"expected a 401 refusal, got: {refused}")
        log("connect ?ticket=forged -> the handler raised UnauthorizedError: 401")
        row("handler refuses a forged ticket", json_client="refused: 401")

        # -- 13. A client's event: the handler answers carol and broadcasts what she sent through the SDK.
        ack = carol.request({"type": "event", "event": "shout", "dataType": "json", "data": {"text": "hi all"}})
        check(ack.data["success"], f"the shout event failed: {ack.describe()}")
        shout = {"from": "carol", "text": "hi all"}
        broadcast = carol.expect_message(shout)  # the handler broadcast before it answered, so this comes first
        answer = carol.expect_message("heard you, carol", data_type="text")
        log("carol sends event 'shout' {'text': 'hi all'} -> the handler answers her")
        row("carol event shout (answered)", reliable=answer)
        log("the handler broadcast it: send_to_all({'from': 'carol', 'text': 'hi all'})")
        row(
            "handler broadcasts it (SDK)",
            raw=raw.expect_message(shout),
            json_client=bob.expect_message(shout),
            reliable=broadcast,
        )


if __name__ == "__main__":
    run(main)
