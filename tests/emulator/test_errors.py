"""The error model: every kind's status, code and close code, how it renders, and the pure modules' kinds."""

from __future__ import annotations

import json

import pytest
from webpubsub_emulator import errors
from webpubsub_emulator.auth import AuthError
from webpubsub_emulator.errors import EmulatorError
from webpubsub_emulator.limits import FrameTooLarge
from webpubsub_emulator.odata import FilterError
from webpubsub_emulator.protocol import MalformedMessage
from webpubsub_emulator.roles import RoleError
from webpubsub_emulator.validation import ValidationError

KINDS = [
    (errors.EmulatorError, 500, "InternalServerError", 1011),
    (errors.BadRequest, 400, "BadRequest", 1007),
    (errors.MethodNotAllowed, 405, "BadRequest", 1007),
    (errors.Unauthorized, 401, "Unauthorized", 1008),
    (errors.Forbidden, 403, "Forbidden", 1008),
    (errors.NotFound, 404, "NotFound", 1008),
    (errors.PayloadTooLarge, 413, "PayloadTooLarge", 1009),
    (errors.UnsupportedMediaType, 415, "UnsupportedMediaType", 1003),
    (errors.InternalError, 500, "InternalServerError", 1011),
    (errors.UpstreamError, 500, "InternalServerError", 1011),
    (errors.ServiceUnavailable, 503, "ServiceUnavailable", 1011),
]


@pytest.mark.parametrize(("kind", "status", "code", "close_code"), KINDS, ids=lambda v: getattr(v, "__name__", v))
def test_each_kind_decides_status_code_and_close_code(kind: type, status: int, code: str, close_code: int) -> None:
    exc = kind("What went wrong.")
    assert (exc.status, exc.code, exc.close_code) == (status, code, close_code)
    assert exc.message == exc.close_reason == str(exc) == "What went wrong."
    answer = exc.http()
    assert answer.status == status
    assert answer.headers == {"x-ms-error-code": code, "Content-Type": "application/json"}
    assert answer.body is not None and json.loads(answer.body) == {"code": code, "message": "What went wrong."}
    head = exc.http(head=True)
    assert (head.status, head.headers, head.body) == (status, {"x-ms-error-code": code}, None)


def test_a_close_reason_can_differ_from_the_message() -> None:
    exc = errors.InternalError("Internal error.", close_reason="Internal error")
    assert (exc.message, exc.close_reason) == ("Internal error.", "Internal error")


def test_too_many_requests_carries_retry_after() -> None:
    answer = errors.TooManyRequests("slow down", retry_after=7).http()
    assert answer.status == 429 and answer.headers["Retry-After"] == "7"
    assert answer.headers["x-ms-error-code"] == "TooManyRequests"


def test_a_handler_refusal_is_passed_on_as_the_handler_answered() -> None:
    exc = errors.HandlerRefused(403, b"<nope>", "text/html")
    assert exc.status == 403 and "403" in exc.message
    assert exc.http() == errors.HttpAnswer(403, {"Content-Type": "text/html"}, b"<nope>")
    assert errors.HandlerRefused(401, b"", None).http(head=True) == errors.HttpAnswer(401, {}, None)


def test_non_ascii_messages_render_as_utf8() -> None:
    body = errors.BadRequest("Groupe « é » invalide.").http().body
    assert body is not None and json.loads(body.decode("utf-8"))["message"] == "Groupe « é » invalide."


@pytest.mark.parametrize(
    ("kind", "base", "also"),
    [
        (ValidationError, errors.BadRequest, ValueError),
        (FilterError, errors.BadRequest, ValueError),
        (RoleError, errors.BadRequest, ValueError),
        (MalformedMessage, errors.BadRequest, ValueError),
        (AuthError, errors.Unauthorized, EmulatorError),
        (FrameTooLarge, errors.PayloadTooLarge, EmulatorError),
    ],
)
def test_the_pure_modules_raise_kinds_of_the_model(kind: type, base: type, also: type) -> None:
    exc = kind("bad")
    assert isinstance(exc, base) and isinstance(exc, also) and isinstance(exc, EmulatorError)
    assert exc.status == base.status and exc.code == base.code
