"""Schemathesis, driven by our own ``swagger/webpubsub.json``, against a running emulator.

For every operation, schema-conforming requests (positive mode) and schema-violating ones (negative mode) are sent
with a correctly signed JWT (``aud`` = the full request URL, added by a ``requests`` auth hook after the URL is final).
The emulator must never answer 5xx, and every response must match the spec: a declared status code (or ``default``),
the declared headers, and a body that validates against the declared schema. Negative requests must be refused
with a 4xx. Most generated requests carry the real ``api-version`` (otherwise nearly all stop at that check).

One deliberate exception: ``HEAD /api/health`` without ``api-version``. The spec requires the parameter (the SDK
always sends it), but the emulator's start-up contract is that a bare ``HEAD /api/health`` answers 200, so readiness
probes and scripts need no version. For that one case the test asserts the 200 instead of a rejection.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, List

import pytest
import requests
import schemathesis
from fuzz_support import API_VERSION, fuzz_settings, rest_token
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis import checks as sc
from schemathesis.specs.openapi import checks as _openapi_checks  # noqa: F401  (see _checks)
from webpubsub_emulator import EmulatorThread

SPEC = Path(__file__).resolve().parents[2] / "swagger" / "webpubsub.json"
SCHEMA = schemathesis.openapi.from_path(str(SPEC))
HEALTH = "HEAD /api/health"
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}


class _JwtAuth(requests.auth.AuthBase):
    """Sign each request like the SDK does, with the URL exactly as it will be sent."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = "Bearer " + rest_token(str(request.url))
        return request


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.auth = _JwtAuth()
        yield s


def _checks(response: Any, mode: GenerationMode) -> List[Any]:
    # schemathesis 4.4 (the newest for Python 3.9) has the OpenAPI checks in ``sc`` only once their module is imported
    checks = [sc.not_a_server_error, sc.status_code_conformance, sc.response_headers_conformance]
    checks.append(sc.response_schema_conformance)
    if response.content:  # HEAD and 202/204 answers have no body, so no content type to conform
        checks.append(sc.content_type_conformance)
    if mode is GenerationMode.NEGATIVE:
        checks.append(sc.negative_data_rejection)
    return checks


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_operation_conforms_to_spec(
    emu: EmulatorThread, session: requests.Session, label: str, mode: GenerationMode
) -> None:
    operation = OPERATIONS[label]

    @fuzz_settings(max_examples=25 if mode is GenerationMode.POSITIVE else 10)
    @given(case=operation.as_strategy(generation_mode=mode), real_version=st.sampled_from([True, True, True, False]))
    def run(case: Any, real_version: bool) -> None:
        if real_version and isinstance(case.query, dict):
            case.query["api-version"] = API_VERSION
        response = case.call(base_url=emu.endpoint, session=session, timeout=10)
        if label == HEALTH and "api-version" not in (case.query or {}):
            assert response.status_code == 200, "a bare HEAD /api/health is the emulator's readiness probe"
            return
        case.validate_response(response, checks=_checks(response, mode))

    run()
    health = requests.head(f"{emu.endpoint}/api/health", timeout=10)
    assert health.status_code == 200
