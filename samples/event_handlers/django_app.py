"""The chat event handler in a (single-file) Django project.

Run: .venv/bin/python samples/event_handlers/django_app.py   (needs ``[django]``)
In a project: add ``*urlpatterns(handler)`` to your ``urls.py``; the view is exempt from CSRF checks.
"""

from __future__ import annotations

import sys

import django
from _chat import ChatApp
from _demo import main
from _servers import run_wsgi
from azure.messaging.webpubsubservice.eventhandler.django import urlpatterns as event_handler_urls
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpResponse
from django.urls import path

urlpatterns: list = []  # this module is the project's URLconf


def home(request):  # type: ignore[no-untyped-def]
    return HttpResponse("the rest of your app")


def serve(chat: ChatApp):  # type: ignore[no-untyped-def]
    settings.configure(
        DEBUG=False,
        SECRET_KEY="sample-only",
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=sys.modules[__name__],
        MIDDLEWARE=["django.middleware.common.CommonMiddleware", "django.middleware.csrf.CsrfViewMiddleware"],
    )
    django.setup()
    urlpatterns[:] = [path("", home), *event_handler_urls(chat.handler)]
    return run_wsgi(WSGIHandler())


if __name__ == "__main__":
    main("Django", serve)
