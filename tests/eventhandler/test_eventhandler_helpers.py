"""The public test helpers, the adapters' missing-framework errors, and what each adapter refuses at start-up."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from azure.messaging.webpubsubservice.eventhandler import WebPubSubEventHandler, compute_signature
from azure.messaging.webpubsubservice.eventhandler import testing as build

KEY = "7aab239577fd4f24bc919802fb629f5f"


def test_builders_make_complete_signed_requests() -> None:
    request = build.user_event_request(
        "chat", {"a": 1}, hub="Hub1", connection_id="c1", user_id="u1", access_key=[KEY, "k2"], state={"n": 1}
    )
    headers = request.headers
    assert (request.method, request.path) == ("POST", "/eventhandler/chat")
    assert headers.get("ce-type") == "azure.webpubsub.user.chat" and headers.get("ce-eventName") == "chat"
    assert headers.get("ce-source") == "/hubs/Hub1/client/c1" and headers.get("ce-specversion") == "1.0"
    assert headers.get("ce-awpsversion") == "1.0" and headers.get("ce-time", "").endswith("Z")
    assert headers.get("ce-signature") == compute_signature("c1", [KEY, "k2"])
    assert headers.get("Content-Type") == "application/json" and json.loads(request.body) == {"a": 1}
    assert headers.get("WebHook-Request-Origin") == build.DEFAULT_ORIGIN
    unsigned = build.connected_request()
    assert "ce-signature" not in unsigned.headers and "ce-userId" not in unsigned.headers
    assert build.connect_request(physical_connection_id="p").headers.get("ce-source", "").endswith("/p")
    with pytest.raises(TypeError, match="unexpected keyword"):
        build.connected_request(hubb="typo")
    with pytest.raises(ValueError):
        build.user_event_request("e", "x", data_type="xml")
    assert "connection_id" in (build.connect_request.__doc__ or "")


def test_a_user_can_unit_test_a_handler_without_a_server() -> None:
    handler = WebPubSubEventHandler("chat", access_key=KEY)

    @handler.on_event("greet")
    def greet(request):  # type: ignore[no-untyped-def]
        return f"hello {request.context.user_id}"

    response = handler.handle(build.user_event_request("greet", "", hub="chat", user_id="ann", access_key=KEY))
    assert (response.status, response.body) == (200, b"hello ann")


@pytest.mark.parametrize(
    ("module", "framework", "extra"),
    [
        ("starlette", "starlette", "starlette"),
        ("flask", "flask", "flask"),
        ("django", "django", "django"),
        ("aiohttp", "aiohttp", "aiohttp"),
    ],
)
def test_a_missing_framework_names_the_extra(module: str, framework: str, extra: str) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules[{framework!r}] = None  # as if the framework were not installed
        try:
            import azure.messaging.webpubsubservice.eventhandler.{module}
        except ImportError as exc:
            print(exc)
        else:
            print("imported")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert f"pip install 'azure-messaging-webpubsubservice[{extra}]'" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "framework"),
    [("flask", "flask"), ("django", "django"), ("starlette", "starlette"), ("aiohttp", "aiohttp")],
)
def test_an_installed_framework_that_fails_to_import_keeps_its_own_error(
    module: str, framework: str, tmp_path: Path
) -> None:
    # e.g. Flask 2.2.0 beside Werkzeug 3: installed, but "cannot import name 'url_quote'"; not "not installed"
    broken = tmp_path / framework
    broken.mkdir()
    (broken / "__init__.py").write_text("from werkzeug_gone.urls import url_quote\n")
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        sys.modules.pop({framework!r}, None)
        try:
            import azure.messaging.webpubsubservice.eventhandler.{module}
        except ImportError as exc:
            print(type(exc).__name__, exc.name, exc)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.startswith("ModuleNotFoundError werkzeug_gone "), result.stdout + result.stderr
    assert "pip install" not in result.stdout


def test_the_core_and_the_plain_adapters_import_no_framework() -> None:
    script = textwrap.dedent(
        """
        import sys
        import azure.messaging.webpubsubservice.eventhandler
        import azure.messaging.webpubsubservice.eventhandler.asgi
        import azure.messaging.webpubsubservice.eventhandler.wsgi
        import azure.messaging.webpubsubservice.eventhandler.testing
        loaded = {"flask", "django", "starlette", "fastapi", "uvicorn", "waitress"} & set(sys.modules)
        print(sorted(loaded))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


async def _coroutine(request: object) -> None:
    return None


def test_sync_adapters_refuse_coroutine_callbacks_at_start_up() -> None:
    from azure.messaging.webpubsubservice.eventhandler import django as django_adapter
    from azure.messaging.webpubsubservice.eventhandler import flask as flask_adapter
    from azure.messaging.webpubsubservice.eventhandler.asgi import WebPubSubASGIApp
    from azure.messaging.webpubsubservice.eventhandler.wsgi import WebPubSubWSGIApp

    handler = WebPubSubEventHandler("hub", access_key=KEY)
    handler.on_connect(_coroutine)
    for make in (WebPubSubWSGIApp, flask_adapter.blueprint, flask_adapter.view, django_adapter.view):
        with pytest.raises(TypeError, match="'connect' callback is a coroutine function"):
            make(handler)
    WebPubSubASGIApp(handler)  # async adapters take them
    django_adapter.async_view(handler)
