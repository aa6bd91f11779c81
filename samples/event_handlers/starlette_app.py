"""The chat event handler in a Starlette app, served by uvicorn.

Run: .venv/bin/python samples/event_handlers/starlette_app.py   (needs ``[starlette]``)
"""

from __future__ import annotations

from _chat import ChatApp
from _demo import main
from _servers import run_asgi
from azure.messaging.webpubsubservice.eventhandler.starlette import routes
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def home(request):  # type: ignore[no-untyped-def]
    return PlainTextResponse("the rest of your app")


def serve(chat: ChatApp):  # type: ignore[no-untyped-def]
    app = Starlette(routes=[Route("/", home), *routes(chat.handler)])  # POST, OPTIONS and GET under /eventhandler
    return run_asgi(app)


if __name__ == "__main__":
    main("Starlette", serve)
