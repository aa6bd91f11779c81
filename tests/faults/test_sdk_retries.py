"""The server SDK (sync and aio) against REST faults: it retries 503 and 429, signs every attempt afresh, and raises
HttpResponseError once its retry budget is spent.

The emulator logs every REST request it saw (``Emulator.rest_log``), with the Authorization header and whether the
answer was an injected fault, so the test can look at each attempt's token. The SDK's REST tokens carry ``aud`` and
``exp`` (whole seconds), so two attempts within the same second would carry the same bytes even when signed twice: the
SDK's clock is advanced by one second at every signature, which makes a reused token visible as a repeated ``exp``.
"""

from __future__ import annotations

import itertools
import time
import types
from typing import Any, Iterator, List

import jwt
import pytest
from azure.core.exceptions import HttpResponseError
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice._custom import jwt_signing as sdk_signing
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient as AsyncServiceClient
from webpubsub_emulator import EmulatorThread, FaultPlan, RestRecord

HUB = "retries"
CALLS = 12
#: with this seed and a 50 % failure rate some calls fail more than once and the first one fails (checked below)
SEED = 3


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread() as emu:
        yield emu


@pytest.fixture
def emu(emulator: EmulatorThread) -> Iterator[EmulatorThread]:
    emulator.emulator.fault_injector.clear_log()
    yield emulator
    emulator.set_faults(None)


@pytest.fixture(autouse=True)
def ticking_sdk_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every token the SDK signs reads a clock one second later than the one before."""
    ticks = itertools.count()
    start = time.time()
    monkeypatch.setattr(sdk_signing, "time", types.SimpleNamespace(time=lambda: start + next(ticks)))


def check_attempts(emu: EmulatorThread, records: List[RestRecord], *, faults: int) -> None:
    """Each attempt carried its own valid token: signed with the key, ``aud`` = the URL it went to, a new ``exp``."""
    assert len([r for r in records if r.fault]) == faults
    expiries = []
    for record in records:
        assert record.authorization is not None and record.authorization.startswith("Bearer ")
        claims: dict[str, Any] = jwt.decode(
            record.authorization[7:], emu.access_key, algorithms=["HS256"], options={"verify_aud": False}
        )
        assert claims["aud"] == f"{emu.endpoint}{record.path}?{record.query}"
        expiries.append(claims["exp"])
    assert len(set(expiries)) == len(expiries), "a token was reused for a retry"
    assert expiries == sorted(expiries)


def sdk_options() -> dict[str, Any]:
    return {"retry_backoff_factor": 0.001, "retry_backoff_max": 0.01}


@pytest.mark.parametrize("status", [503, 429])
def test_sync_client_retries_until_it_succeeds(emu: EmulatorThread, status: int) -> None:
    emu.set_faults(FaultPlan(rest_failure_rate=0.5, rest_failure_status=status, rest_retry_after=0, seed=SEED))
    with WebPubSubServiceClient.from_connection_string(emu.connection_string, hub=HUB, **sdk_options()) as service:
        for number in range(CALLS):
            service.send_to_all(str(number), content_type="text/plain")
    records = emu.rest_log
    assert [r.status for r in records if not r.fault] == [202] * CALLS  # each call went through exactly once
    assert all(r.status == status for r in records if r.fault)
    assert records[0].fault is not None  # the seed makes the very first attempt fail
    check_attempts(emu, records, faults=len(records) - CALLS)
    assert len(records) - CALLS >= 3


async def test_async_client_retries_until_it_succeeds(emu: EmulatorThread) -> None:
    emu.set_faults(FaultPlan(rest_failure_rate=0.5, seed=SEED))
    async with AsyncServiceClient.from_connection_string(emu.connection_string, hub=HUB, **sdk_options()) as service:
        for number in range(CALLS):
            await service.send_to_all(str(number), content_type="text/plain")
            assert await service.group_exists("nobody") is False  # HEAD is retried too
    records = emu.rest_log
    assert [r.status for r in records if not r.fault] == [202, 404] * CALLS
    check_attempts(emu, records, faults=len(records) - 2 * CALLS)
    assert len(records) - 2 * CALLS >= 3


@pytest.mark.parametrize("use_async", [False, True])
async def test_retry_after_is_honoured(emu: EmulatorThread, use_async: bool) -> None:
    # a 429 says "Retry-After: 1": the SDK waits that long (not its tiny backoff), so the attempts are a second apart
    emu.set_faults(FaultPlan(rest_failure_rate=1.0, rest_failure_status=429, rest_retry_after=1))
    options = {**sdk_options(), "retry_total": 1}
    started = time.monotonic()
    with pytest.raises(HttpResponseError) as caught:
        if use_async:
            async with AsyncServiceClient.from_connection_string(emu.connection_string, hub=HUB, **options) as aio:
                await aio.send_to_all("x", content_type="text/plain")
        else:
            with WebPubSubServiceClient.from_connection_string(emu.connection_string, hub=HUB, **options) as sync:
                sync.send_to_all("x", content_type="text/plain")
    assert caught.value.status_code == 429
    records = emu.rest_log
    assert len(records) == 2
    assert records[1].at - records[0].at >= 0.9
    assert time.monotonic() - started >= 0.9
    check_attempts(emu, records, faults=2)


@pytest.mark.parametrize("status", [503, 429])
def test_sync_client_raises_after_its_retry_budget(emu: EmulatorThread, status: int) -> None:
    emu.set_faults(FaultPlan(rest_failure_rate=1.0, rest_failure_status=status, rest_retry_after=0))
    options = {**sdk_options(), "retry_total": 3}
    with WebPubSubServiceClient.from_connection_string(emu.connection_string, hub=HUB, **options) as service:
        with pytest.raises(HttpResponseError) as caught:
            service.send_to_all("lost", content_type="text/plain")
        assert caught.value.status_code == status
        with pytest.raises(HttpResponseError) as caught_head:  # a HEAD is not read as "does not exist"
            service.connection_exists("nobody")
        assert caught_head.value.status_code == status
    records = emu.rest_log
    assert [r.method for r in records] == ["POST"] * 4 + ["HEAD"] * 4  # the first try and 3 retries each
    check_attempts(emu, records, faults=8)


async def test_async_client_raises_after_its_retry_budget(emu: EmulatorThread) -> None:
    emu.set_faults(FaultPlan(rest_failure_rate=1.0))
    options = {**sdk_options(), "retry_total": 2}
    async with AsyncServiceClient.from_connection_string(emu.connection_string, hub=HUB, **options) as service:
        with pytest.raises(HttpResponseError) as caught:
            await service.send_to_user("someone", "lost", content_type="text/plain")
    assert caught.value.status_code == 503
    assert caught.value.error is not None and caught.value.error.code == "ServiceUnavailable"
    check_attempts(emu, emu.rest_log, faults=3)


def test_faults_can_be_lifted_at_runtime(emu: EmulatorThread) -> None:
    emu.set_faults(FaultPlan(rest_failure_rate=1.0))
    assert emu.faults.rest_failure_rate == 1.0
    with WebPubSubServiceClient.from_connection_string(emu.connection_string, hub=HUB, retry_total=0) as service:
        with pytest.raises(HttpResponseError):
            service.send_to_all("no", content_type="text/plain")
        emu.set_faults(None)
        service.send_to_all("yes", content_type="text/plain")
    assert [(r.status, r.fault) for r in emu.rest_log] == [(503, "rest-fail:503"), (202, None)]
