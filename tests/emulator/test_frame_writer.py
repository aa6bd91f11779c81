"""The frame writer's own pieces (frame headers, the write-pause flag it reads), the frame limits and the fault plan's
REST decisions; writing itself is tested over real sockets (test_ws_fanout, test_rest's slow-client tests)."""

from __future__ import annotations

import struct

import pytest
from aiohttp.base_protocol import BaseProtocol
from webpubsub_emulator import frame_writer, limits
from webpubsub_emulator.errors import ServiceUnavailable, TooManyRequests
from webpubsub_emulator.faults import FaultInjector, FaultPlan, is_faultable


@pytest.mark.parametrize(
    ("opcode", "length", "header"),
    [
        (0x1, 0, b"\x81\x00"),
        (0x2, 125, b"\x82\x7d"),
        (0x1, 126, b"\x81\x7e" + struct.pack("!H", 126)),
        (0x1, 65535, b"\x81\x7e" + struct.pack("!H", 65535)),
        (0x2, 65536, b"\x82\x7f" + struct.pack("!Q", 65536)),
    ],
)
def test_frame_headers_around_every_length_boundary(opcode: int, length: int, header: bytes) -> None:
    assert frame_writer.frame_header(opcode, length) == header


def test_the_pause_flag_is_the_one_this_aiohttp_has() -> None:
    protocol = BaseProtocol.__new__(BaseProtocol)
    protocol._paused = True
    assert getattr(protocol, frame_writer._PAUSED) is True  # writing_paused where public, _paused before
    protocol._paused = False
    assert getattr(protocol, frame_writer._PAUSED) is False


def test_frame_size_limit() -> None:
    limit = limits.MAX_FRAME_BYTES
    limits.check_frame_size(b"x" * limit)
    limits.check_frame_size("é" * (limit // 2))
    with pytest.raises(limits.FrameTooLarge) as too_big:
        limits.check_frame_size("é" * (limit // 2 + 1))  # few characters, too many UTF-8 bytes
    assert too_big.value.close_code == 1009 and str(limit) in too_big.value.message
    with pytest.raises(limits.FrameTooLarge):
        limits.check_frame_size(b"x" * (limit + 1))


def test_close_reasons_fit_in_a_close_frame() -> None:
    assert limits.close_reason("short") == "short"
    cut = limits.close_reason("é" * 100)
    assert cut.endswith("...") and len(cut.encode("utf-8")) <= limits.CLOSE_REASON_MAX_BYTES


def test_rest_fault_decisions() -> None:
    assert is_faultable("/api/hubs/h/:send") and not is_faultable("/api/health") and not is_faultable("/client")
    injector = FaultInjector(FaultPlan(rest_failure_rate=1.0, rest_failure_status=429, rest_retry_after=3))
    fault = injector.rest_fault("/api/hubs/h/:send")
    assert fault.logged and isinstance(fault.error, TooManyRequests) and fault.error.headers == {"Retry-After": "3"}
    health = injector.rest_fault("/api/health")
    assert not health.logged and health.error is None and health.delay == 0
    injector.set_plan(FaultPlan(rest_failure_rate=1.0, rest_delay=(0.1, 0.2), seed=1))
    fault = injector.rest_fault("/api/hubs/h/:send")
    assert isinstance(fault.error, ServiceUnavailable) and 0.1 <= fault.delay <= 0.2
    injector.set_plan(FaultPlan())
    assert injector.rest_fault("/api/hubs/h/:send") == (True, None, 0.0)
