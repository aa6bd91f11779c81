"""What every event-handler sample does once its app is running: start the emulator with the app as the hub's
event handler, then play two chat clients against it and print what happens.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Callable, ContextManager

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # samples/, for _common

from _chat import HUB, ChatApp
from _common import JSON, WebSocketClient, check, run
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from webpubsub_emulator import DEFAULT_ACCESS_KEY, EmulatorThread

Serve = Callable[[ChatApp], ContextManager[str]]


@contextlib.contextmanager
def running(framework: str, serve: Serve) -> Iterator[tuple[ChatApp, WebPubSubServiceClient, EmulatorThread]]:
    """Start the app with ``serve`` and an emulator that sends the hub's events to it."""
    app = ChatApp(access_key=DEFAULT_ACCESS_KEY)
    with serve(app) as base_url:
        url = f"{base_url}{app.handler.path}/{{event}}"
        print(f"{framework} app serving the event handler at {url}")
        with (
            EmulatorThread(event_handlers={HUB: url}) as emulator,
            WebPubSubServiceClient.from_connection_string(emulator.connection_string, hub=HUB) as service,
        ):
            app.service = service
            yield app, service, emulator


def main(framework: str, serve: Serve) -> None:
    def demo() -> None:
        with running(framework, serve) as (app, _service, emulator):
            token_url = emulator.client_url(HUB)  # a token without a user: the handler decides who connects

            with (
                WebSocketClient(token_url + "&ticket=t-alice", protocol=JSON, name="alice") as alice,
                WebSocketClient(token_url + "&ticket=t-bob", protocol=JSON, name="bob") as bob,
            ):
                print(f"connect: the handler named the users {alice.user_id!r} and {bob.user_id!r}")
                check((alice.user_id, bob.user_id) == ("alice", "bob"), "the handler should name the users")

                refused = WebSocketClient(token_url + "&ticket=forged", protocol=JSON, name="mallory").expect_refused()
                check("401" in refused, f"expected a 401 refusal, got: {refused}")
                print("connect: a forged ticket was refused with 401")

                for text in ("hello", "anyone here?"):
                    reply = alice.request({"type": "event", "event": "chat", "dataType": "text", "data": text})
                    check(reply.data["success"], f"the chat event failed: {reply.describe()}")
                    answer = alice.take(lambda f: f.data.get("from") == "server", what="the handler's answer")
                    bob.expect_message({"from": "alice", "text": text}, data_type="json")
                    print(f"alice sent {text!r}: bob got it from the lobby, alice got {answer.data['data']}")
                check(answer.data["data"] == {"ok": True, "sent": 2}, "the state should count alice's messages")

            for goodbye in sorted(app.goodbyes.get(timeout=10) for _ in range(2)):
                print(f"disconnected: {goodbye}")
        print(f"{framework} event handler sample done.")

    run(demo)
