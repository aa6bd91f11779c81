"""The chat event handler in an aiohttp web application.

Run: .venv/bin/python samples/event_handlers/aiohttp_app.py   (needs ``[aiohttp]``)
"""

from __future__ import annotations

from _chat import ChatApp
from _demo import main
from _servers import run_aiohttp
from aiohttp import web
from azure.messaging.webpubsubservice.eventhandler.aiohttp import add_routes


async def home(request: web.Request) -> web.Response:
    return web.Response(text="the rest of your app")


def serve(chat: ChatApp):  # type: ignore[no-untyped-def]
    def make_app() -> web.Application:
        app = web.Application()
        app.router.add_get("/", home)
        add_routes(app, chat.handler)
        return app

    return run_aiohttp(make_app)


if __name__ == "__main__":
    main("aiohttp", serve)
