"""The chat event handler as a plain WSGI app (no framework), served by the standard library's wsgiref.

Run: .venv/bin/python samples/event_handlers/wsgi_app.py
In your app: ``gunicorn main:application`` with ``application = WebPubSubWSGIApp(handler)``.
"""

from __future__ import annotations

from _chat import ChatApp
from _demo import main
from _servers import run_wsgi
from azure.messaging.webpubsubservice.eventhandler.wsgi import WebPubSubWSGIApp


def serve(chat: ChatApp):  # type: ignore[no-untyped-def]
    application = WebPubSubWSGIApp(chat.handler)  # callbacks must be plain functions under WSGI
    return run_wsgi(application)


if __name__ == "__main__":
    main("WSGI", serve)
