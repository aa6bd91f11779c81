"""Reverse proxy: send the SDK's REST calls through a gateway (e.g. Azure API Management) in front of the service.

`reverse_proxy_endpoint=` makes the SDK send every request to the proxy instead of the service, while the JWT it signs
still names the *service* URL in its `aud` claim: the proxy forwards the request untouched and the service accepts it.
Client access URLs are not affected (clients connect to the service directly).

The sample runs a tiny proxy itself (aiohttp, on a free local port) that logs each request and forwards it to the
service (the local emulator unless WEBPUBSUB_CONNECTION_STRING is set).

Run:  .venv/bin/python samples/reverse_proxy.py
"""

import asyncio
import threading
from typing import Any

import aiohttp
import jwt
from _common import JSON, WebSocketClient, check, run, service_target
from aiohttp import web
from azure.messaging.webpubsubservice import WebPubSubServiceClient

HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection"}


class TinyProxy:
    """Forward every request to `origin`; remember (method, path, aud of the bearer token) for each one."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.seen: list[tuple[str, str, str]] = []
        self.endpoint = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    async def _forward(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        aud = jwt.decode(auth[7:], options={"verify_signature": False}).get("aud", "") if auth else ""
        self.seen.append((request.method, request.path, aud))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        async with (
            aiohttp.ClientSession(auto_decompress=False) as session,
            session.request(
                request.method, self.origin + request.path_qs, headers=headers, data=await request.read()
            ) as upstream,
        ):
            body = await upstream.read()
            out = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
            return web.Response(status=upstream.status, headers=out, body=body)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        port = self._runner.addresses[0][1]
        self.endpoint = f"http://127.0.0.1:{port}"
        self._ready.set()
        self._loop.run_forever()

    def __enter__(self) -> "TinyProxy":
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: Any) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def main() -> None:
    with service_target("reverse_proxy") as target, TinyProxy(target.endpoint) as proxy:
        print(f"Service (origin): {target.endpoint}   proxy: {proxy.endpoint}")
        with WebPubSubServiceClient.from_connection_string(
            target.connection_string, hub=target.hub, reverse_proxy_endpoint=proxy.endpoint
        ) as service:
            token = service.get_client_access_token(user_id="pat")
            print("client URL (not proxied):", token["baseUrl"])
            check(not token["baseUrl"].endswith(proxy.endpoint.split("//")[1]), "client URLs name the service")
            with WebSocketClient(token["url"], protocol=JSON, name="pat") as pat:
                service.send_to_all({"via": "proxy"})
                print("client received:", pat.expect_message({"via": "proxy"}).describe())
                print("user_exists('pat') via the proxy:", service.user_exists("pat"))

        for method, path, aud in proxy.seen:
            print(f"proxy saw {method:<4} {path}  aud={aud}")
        check(len(proxy.seen) >= 2, "the REST calls should have gone through the proxy")
        check(all(aud.startswith(target.endpoint) for _, _, aud in proxy.seen), "aud should name the origin")
        print("Every request went through the proxy, and every token's aud names the origin service.")


if __name__ == "__main__":
    run(main)
