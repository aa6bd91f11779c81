"""The chat event handler in a FastAPI app, served by uvicorn.

Run: .venv/bin/python samples/event_handlers/fastapi_app.py   (needs ``[fastapi]``)
"""

from __future__ import annotations

from _chat import ChatApp
from _demo import main
from _servers import run_asgi
from azure.messaging.webpubsubservice.eventhandler.starlette import add_routes
from fastapi import FastAPI


def serve(chat: ChatApp):  # type: ignore[no-untyped-def]
    app = FastAPI()

    @app.get("/")
    def home() -> dict[str, str]:
        return {"the rest of": "your app"}

    add_routes(app, chat.handler)  # the Starlette adapter serves FastAPI apps too
    return run_asgi(app)


if __name__ == "__main__":
    main("FastAPI", serve)
