"""The async client: the same operations, awaited (`azure.messaging.webpubsubservice.aio`).

Install the `aio` extra (`pip install "azure-messaging-webpubsubservice[aio]"`) for the aiohttp transport. Only the
operation calls are awaited: `from_connection_string` stays a plain classmethod and `list_connections` returns an
async iterator (use `async for`). Here the WebSocket client is aiohttp too, on the same event loop.

Run:  .venv/bin/python samples/async_client.py
"""

import asyncio
import base64

import aiohttp
from _common import JSON, TIMEOUT, check, run, service_target
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient


async def next_message(ws: aiohttp.ClientWebSocketResponse) -> dict:
    """Wait (with a timeout) for the next data message, skipping system messages and acks."""
    while True:
        message = await asyncio.wait_for(ws.receive_json(), TIMEOUT)
        if message.get("type") == "message":
            return message


async def main(connection_string: str, hub: str) -> None:
    async with WebPubSubServiceClient.from_connection_string(connection_string, hub=hub) as service:
        token = await service.get_client_access_token(user_id="una", groups=["async"])
        async with aiohttp.ClientSession() as session, session.ws_connect(token["url"], protocols=[JSON]) as ws:
            connected = await asyncio.wait_for(ws.receive_json(), TIMEOUT)
            print("connected:", connected["connectionId"], "as", connected["userId"])

            await service.send_to_all({"hello": "async"})
            print("send_to_all(JSON)   ->", (await next_message(ws))["data"])
            await service.send_to_group("async", "text to the group")
            print("send_to_group(text) ->", (await next_message(ws))["data"])
            await service.send_to_user("una", b"\x01\x02")
            message = await next_message(ws)
            print("send_to_user(bytes) ->", message["dataType"], base64.b64decode(message["data"]))
            check(message["dataType"] == "binary", "bytes arrive as binary")

            members = [member async for member in service.list_connections(group="async")]
            print("list_connections    ->", [(m.connection_id, m.user_id) for m in members])
            check(len(members) == 1, "una is the only member")
            print("user_exists('una')  ->", await service.user_exists("una"))

            await service.close_connection(connected["connectionId"], reason="async goodbye")
            while True:  # the disconnected system message comes before the socket closes
                message = await asyncio.wait_for(ws.receive_json(), TIMEOUT)
                if message.get("event") == "disconnected":
                    print("close_connection    ->", message)
                    break
    print("Async client done.")


def sync_main() -> None:
    with service_target("async_client") as target:
        print(f"Using {target.where}, hub {target.hub!r}")
        asyncio.run(main(target.connection_string, target.hub))


if __name__ == "__main__":
    run(sync_main)
