"""Tracing through azure-core-tracing-opentelemetry, recorded by the OpenTelemetry SDK's in-memory exporter.

Every public method of both clients opens one span named ``WebPubSubServiceClient.<method>`` (INTERNAL), with
``az.namespace`` = ``Microsoft.WebPubSub``, and its HTTP requests are CLIENT spans under it with the same attribute.
List operations trace each page they fetch. A failing call leaves its exception type and an ERROR status on its span.
"""

from __future__ import annotations

import inspect
from typing import Any, Iterator

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.settings import settings
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from .conftest import Reply, sdk_module
from .test_operations import OPERATIONS

NAMESPACE = {"az.namespace": "Microsoft.WebPubSub"}
EXPORTER = InMemorySpanExporter()
_PROVIDER = TracerProvider()
_PROVIDER.add_span_processor(SimpleSpanProcessor(EXPORTER))
trace.set_tracer_provider(_PROVIDER)  # once per process: OpenTelemetry refuses to replace a global provider

NOT_OPERATIONS = {"send_request", "close", "from_connection_string"}
PAGE = {"value": [{"connectionId": "c1", "userId": "u1"}], "nextLink": None}


@pytest.fixture(autouse=True)
def spans() -> Iterator[InMemorySpanExporter]:
    settings.tracing_implementation = "opentelemetry"
    EXPORTER.clear()
    try:
        yield EXPORTER
    finally:
        settings.tracing_implementation = None
        EXPORTER.clear()


def sdk_spans() -> list[ReadableSpan]:
    return [s for s in EXPORTER.get_finished_spans() if s.kind == SpanKind.INTERNAL]


def http_spans() -> list[ReadableSpan]:
    return [s for s in EXPORTER.get_finished_spans() if s.kind == SpanKind.CLIENT]


def assert_one_operation_span(method: str, requests: int = 1) -> ReadableSpan:
    spans = sdk_spans()
    assert [s.name for s in spans] == [f"WebPubSubServiceClient.{method}"]
    span = spans[0]
    assert dict(span.attributes or {}).items() >= NAMESPACE.items()
    children = http_spans()
    assert len(children) == requests
    for child in children:
        assert child.parent is not None and child.parent.span_id == span.context.span_id
        assert dict(child.attributes or {}).items() >= NAMESPACE.items()
    return span


# Calls of the public methods that OPERATIONS (the wire table of test_operations) does not hold.
EXTRA_CALLS: list[tuple[str, tuple, dict, Reply, int]] = [
    ("get_client_access_token", (), {"user_id": "u1"}, Reply(200), 0),  # signed locally: no request
    ("generate_client_token", (), {"user_id": "u1"}, Reply(200, {"token": "t"}), 1),
    ("check_permission", ("sendToGroup", "c1"), {}, Reply(200), 1),
    ("list_connections", ("g1",), {}, Reply(200, PAGE), 1),
    ("list_connections_in_group", ("g1",), {}, Reply(200, PAGE), 1),
]
CALLS = [(op.method_name, op.args, op.kwargs, Reply(op.status), 1) for op in OPERATIONS] + EXTRA_CALLS


def test_every_public_method_is_called_below() -> None:
    for module in (sdk_module(), sdk_module(".aio")):
        client = module.WebPubSubServiceClient
        public = {name for name, _ in inspect.getmembers(client, callable) if not name.startswith("_")}
        assert public - NOT_OPERATIONS == {name for name, *_ in CALLS}


@pytest.mark.parametrize(("method", "args", "kwargs", "reply", "requests"), CALLS, ids=[c[0] for c in CALLS])
async def test_each_public_method_has_one_span_named_for_the_client(
    sdk: Any, method: str, args: tuple, kwargs: dict, reply: Reply, requests: int
) -> None:
    client = sdk.client()
    sdk.script(reply)

    result = await sdk.call(getattr(client, method), *args, **kwargs)
    if method.startswith("list_connections"):
        assert [m.connection_id for m in await sdk.collect(result)] == ["c1"]

    assert_one_operation_span(method, requests)


async def test_a_list_operation_traces_each_page(sdk: Any) -> None:
    client = sdk.client()
    sdk.script(
        Reply(200, {"value": [{"connectionId": "c1"}], "nextLink": "/api/hubs/hub1/groups/g/connections?page=2"}),
        Reply(200, {"value": [{"connectionId": "c2"}]}),
    )

    pager = client.list_connections("g")
    assert sdk_spans() == []  # creating the pager does no IO
    assert [m.connection_id for m in await sdk.collect(pager)] == ["c1", "c2"]

    pages = sdk_spans()
    assert [s.name for s in pages] == ["WebPubSubServiceClient.list_connections"] * 2
    parents = [s.parent.span_id for s in http_spans() if s.parent is not None]
    assert parents == [page.context.span_id for page in pages]


async def test_a_failed_request_is_recorded_on_the_span(sdk: Any) -> None:
    client = sdk.client(retry_total=0)
    sdk.script(Reply(500, {"code": "Boom", "message": "broken"}))

    with pytest.raises(HttpResponseError):
        await sdk.call(client.send_to_all, {"a": 1})

    span = assert_one_operation_span("send_to_all")
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes["error.type"] == "azure.core.exceptions.HttpResponseError"


async def test_a_mapped_error_of_a_generated_operation_is_recorded(sdk: Any) -> None:
    client = sdk.client()
    sdk.script(Reply(404, {"code": "NotFound", "message": "no such connection"}))

    with pytest.raises(ResourceNotFoundError):
        await sdk.call(client.add_connection_to_group, "g", "c-missing")

    span = assert_one_operation_span("add_connection_to_group")
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes["error.type"] == "azure.core.exceptions.ResourceNotFoundError"


async def test_bad_input_is_recorded_on_the_span_without_a_request(sdk: Any) -> None:
    client = sdk.client()

    with pytest.raises(ValueError, match="Unsupported content type"):
        await sdk.call(client.send_to_all, "hi", content_type="text/html")

    span = assert_one_operation_span("send_to_all", requests=0)
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes["error.type"] == "ValueError"


async def test_caller_tracing_attributes_are_kept_next_to_the_namespace(sdk: Any) -> None:
    client = sdk.client(tracing_attributes={"app.tenant": "contoso"})
    sdk.script(202)

    await sdk.call(client.send_to_all, {"a": 1})

    (http,) = http_spans()
    assert dict(http.attributes or {}).items() >= {**NAMESPACE, "app.tenant": "contoso"}.items()


async def test_no_span_is_recorded_when_tracing_is_off(sdk: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import azure.core.settings

    # azure-core before 1.31 picks the OpenTelemetry plugin by itself once OpenTelemetry is imported: hide it
    monkeypatch.setattr(
        azure.core.settings, "_get_opentelemetry_span_if_opentelemetry_is_imported", lambda: None, raising=False
    )
    settings.tracing_implementation = None
    assert settings.tracing_implementation() is None
    client = sdk.client()
    sdk.script(202)

    await sdk.call(client.send_to_all, {"a": 1})

    assert EXPORTER.get_finished_spans() == ()
