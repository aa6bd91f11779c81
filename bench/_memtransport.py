"""An in-memory azure-core transport: every request is answered at once with a fixed status and no body.

Used to measure what a call costs *in the client* (pipeline, serialisation, signing) with no network at all.
"""

from __future__ import annotations

from typing import Any, Optional

from azure.core.pipeline.transport import AsyncHttpTransport, HttpTransport
from azure.core.rest._http_response_impl import HttpResponseImpl
from azure.core.rest._http_response_impl_async import AsyncHttpResponseImpl
from azure.core.utils import case_insensitive_dict


class _Internal:
    def close(self) -> None:
        pass


def _response_kwargs(request: Any, status: int) -> dict:
    return {
        "request": request,
        "internal_response": _Internal(),
        "status_code": status,
        "reason": "Accepted" if status == 202 else "OK",
        "content_type": None,
        "headers": case_insensitive_dict({"Content-Length": "0"}),
        "stream_download_generator": None,
    }


class _MemoryResponse(HttpResponseImpl):
    def __init__(self, request: Any, status: int) -> None:
        super().__init__(**_response_kwargs(request, status))
        self._content = b""


class _AsyncMemoryResponse(AsyncHttpResponseImpl):
    def __init__(self, request: Any, status: int) -> None:
        super().__init__(**_response_kwargs(request, status))
        self._content = b""


class MemoryTransport(HttpTransport):
    """Answers every request with ``status`` (default 202) immediately. Counts the requests it saw."""

    def __init__(self, status: int = 202) -> None:
        self.status = status
        self.count = 0
        self.last_request: Optional[Any] = None

    def send(self, request: Any, **kwargs: Any) -> Any:
        self.count += 1
        self.last_request = request
        return _MemoryResponse(request, self.status)

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> MemoryTransport:
        return self

    def __exit__(self, *args: Any) -> None:
        pass


class AsyncMemoryTransport(AsyncHttpTransport):
    def __init__(self, status: int = 202) -> None:
        self.status = status
        self.count = 0
        self.last_request: Optional[Any] = None

    async def send(self, request: Any, **kwargs: Any) -> Any:
        self.count += 1
        self.last_request = request
        return _AsyncMemoryResponse(request, self.status)

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def __aenter__(self) -> AsyncMemoryTransport:
        return self

    async def __aexit__(self, *args: Any) -> None:
        pass
