"""The chat event handler as a plain ASGI app (no framework), served by uvicorn.

Run: .venv/bin/python samples/event_handlers/asgi_app.py
In your app: ``uvicorn main:app`` with ``app = WebPubSubASGIApp(handler)`` (or ``app=other_app`` to sit in front of it).
"""

from __future__ import annotations

from _chat import ChatApp
from _demo import main
from _servers import run_asgi
from azure.messaging.webpubsubservice.eventhandler.asgi import WebPubSubASGIApp


def serve(chat: ChatApp):  # type: ignore[no-untyped-def]
    app = WebPubSubASGIApp(chat.handler)  # answers under handler.path (/eventhandler), 404 elsewhere
    return run_asgi(app)


if __name__ == "__main__":
    main("ASGI", serve)
