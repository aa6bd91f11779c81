"""The chat event handler in a Flask app.

Run: .venv/bin/python samples/event_handlers/flask_app.py   (needs ``[flask]``)
"""

from __future__ import annotations

from _chat import ChatApp
from _demo import main
from _servers import run_wsgi
from azure.messaging.webpubsubservice.eventhandler.flask import blueprint
from flask import Flask


def serve(chat: ChatApp):  # type: ignore[no-untyped-def]
    app = Flask(__name__)

    @app.get("/")
    def home() -> str:
        return "the rest of your app"

    app.register_blueprint(blueprint(chat.handler))  # registers OPTIONS itself: Flask's automatic one would not do
    return run_wsgi(app)


if __name__ == "__main__":
    main("Flask", serve)
