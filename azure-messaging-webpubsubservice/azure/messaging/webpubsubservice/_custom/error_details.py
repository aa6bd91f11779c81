# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""Error details: the status-to-exception mapping, and the service's error code on every ``HttpResponseError``.

azure-core reads the error only from a JSON body; the service also names it in ``x-ms-error-code``, which is all a
HEAD response (or a proxy's plain-text answer) carries. The functions here give the exception that code either way.
"""

import json
from types import ModuleType
from typing import Any, Dict, Mapping, MutableMapping

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ODataV4Format,
    ResourceExistsError,
    ResourceNotFoundError,
    ResourceNotModifiedError,
)
from azure.core.exceptions import map_error as _core_map_error
from azure.core.pipeline import PipelineResponse

from .models import ErrorDetail

__all__ = [
    "ERROR_CODE_HEADER",
    "ERROR_MAP",
    "add_error_details",
    "error_map_for",
    "expect_status",
    "install_error_details",
    "map_error",
    "response_error",
]

ERROR_CODE_HEADER = "x-ms-error-code"
"""The response header in which the service names the error, also when the response has no body."""

ERROR_MAP: Mapping[int, Any] = {
    401: ClientAuthenticationError,
    404: ResourceNotFoundError,
    409: ResourceExistsError,
    304: ResourceNotModifiedError,
}
"""The status codes mapped to azure-core's specific exceptions; any other failure is an ``HttpResponseError``."""


def _body_json(response: Any) -> Any:
    try:
        return json.loads(response.text())
    except Exception:  # a streamed, empty or non-JSON body simply has no JSON
        return None


def _body_text(response: Any) -> str:
    try:
        return str(response.text() or "")
    except Exception:  # a streamed response whose body was not read
        return ""


def add_error_details(error: BaseException) -> BaseException:
    """Give an :class:`~azure.core.exceptions.HttpResponseError` the service's error code and model.

    azure-core reads the error only from a JSON body. When there is none (a HEAD response never has one, and a proxy
    may answer with plain text) but the response carries ``x-ms-error-code``, ``error`` is built from that header
    (``error.code``), and the message becomes ``(<code>) <the body text, or the status>``. ``model`` is set to an
    :class:`~azure.messaging.webpubsubservice.models.ErrorDetail` of the JSON error object, or of the header.
    Anything else passes through unchanged.

    :param error: The exception about to be raised.
    :type error: BaseException
    :return: The same exception, amended in place.
    :rtype: BaseException
    """
    if not isinstance(error, HttpResponseError) or error.response is None:
        return error
    response: Any = error.response
    if error.error is None:
        code = response.headers.get(ERROR_CODE_HEADER)
        if code:
            message = _body_text(response).strip()[:2048] or error.message
            error.error = ODataV4Format({"code": code, "message": message})
            error.message = str(error.error)
            error.args = (error.message,)
    if error.model is None and error.error is not None:
        body = _body_json(response)
        detail = body.get("error", body) if isinstance(body, dict) else None
        if isinstance(detail, dict):
            error.model = ErrorDetail(detail)
        else:
            error.model = ErrorDetail(code=error.error.code, message=error.error.message)
    return error


def response_error(response: Any = None, **kwargs: Any) -> HttpResponseError:
    """Build the :class:`~azure.core.exceptions.HttpResponseError` for an unexpected status, with error details.

    It stands in for ``HttpResponseError(response=...)`` in the generated operations (see
    :func:`install_error_details`).

    :param response: The response.
    :type response: ~azure.core.rest.HttpResponse
    :return: The exception to raise.
    :rtype: ~azure.core.exceptions.HttpResponseError
    """
    error = HttpResponseError(response=response, **kwargs)
    add_error_details(error)
    return error


def map_error(status_code: int, response: Any, error_map: Mapping[int, Any]) -> None:
    """azure-core's :func:`~azure.core.exceptions.map_error`, with :func:`add_error_details` applied.

    :param int status_code: The status code.
    :param response: The response.
    :type response: ~azure.core.rest.HttpResponse
    :param error_map: Status code to exception type.
    :type error_map: ~collections.abc.Mapping[int, type]
    :raises ~azure.core.exceptions.HttpResponseError: The mapped exception, when the status is mapped.
    """
    try:
        _core_map_error(status_code=status_code, response=response, error_map=error_map)
    except HttpResponseError as error:
        add_error_details(error)
        raise


def install_error_details(generated_module: ModuleType) -> None:
    """Make a generated operations module raise errors with details (see :func:`add_error_details`).

    The generated operations call the module-level names ``map_error`` and ``HttpResponseError``; this rebinds them
    to :func:`map_error` and :func:`response_error`. The generated file itself is not changed. Called once by
    ``patch_sdk()``.

    :param generated_module: ``_operations._operations`` or ``aio._operations._operations``.
    :type generated_module: ~types.ModuleType
    """
    generated_module.map_error = map_error  # type: ignore[attr-defined]
    generated_module.HttpResponseError = response_error  # type: ignore[attr-defined]


def error_map_for(kwargs: MutableMapping[str, Any]) -> Dict[int, Any]:
    """Pop the caller's ``error_map`` from ``kwargs`` and merge it over the default mapping.

    :param kwargs: The per-call keyword arguments; ``error_map`` is removed.
    :type kwargs: ~collections.abc.MutableMapping
    :return: The error map to use.
    :rtype: dict[int, type]
    """
    merged = dict(ERROR_MAP)
    merged.update(kwargs.pop("error_map", None) or {})
    return merged


def expect_status(
    pipeline_response: PipelineResponse[Any, Any], status: int, error_map: Mapping[int, Any] = ERROR_MAP
) -> PipelineResponse[Any, Any]:
    """Return the response if it has the operation's success status; raise the mapped error otherwise.

    :param pipeline_response: The pipeline response.
    :type pipeline_response: ~azure.core.pipeline.PipelineResponse
    :param int status: The one success status of the operation.
    :param error_map: Status code to exception type. Default: :data:`ERROR_MAP`.
    :type error_map: ~collections.abc.Mapping[int, type]
    :return: The pipeline response.
    :rtype: ~azure.core.pipeline.PipelineResponse
    :raises ~azure.core.exceptions.HttpResponseError: For any other status (mapped, with error details).
    """
    response = pipeline_response.http_response
    if response.status_code != status:
        map_error(status_code=response.status_code, response=response, error_map=error_map)
        raise response_error(response=response)
    return pipeline_response
