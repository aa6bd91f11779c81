"""Keeps the benchmark harness from rotting: run ``python -m bench --quick`` and check that every figure is there.

No timing is asserted; only that each benchmark ran end to end and produced a number (or, for the scaling curves, one
number per connection count).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCALAR_KEYS = [
    "send_to_all_sdk_us_per_call",
    "send_to_all_raw_us_per_call",
    "send_to_all_minimal_pipeline_us_per_call",
    "send_to_all_distinct_urls_sdk_us_per_call",
    "send_to_all_distinct_urls_raw_us_per_call",
    "send_to_all_distinct_urls_overhead_ratio",
    "send_to_all_full_pipeline_us_per_call",
    "send_to_all_vs_full_pipeline_ratio",
    "send_to_all_overhead_ratio",
    "aio_send_to_all_sdk_us_per_call",
    "aio_send_to_all_raw_us_per_call",
    "aio_send_to_all_overhead_ratio",
    "get_client_access_token_sdk_us_per_call",
    "get_client_access_token_raw_us_per_call",
    "get_client_access_token_overhead_ratio",
    "sync_sdk_requests_per_s",
    "sync_raw_requests_per_s",
    "sync_throughput_ratio",
    "sync_requests_lib_requests_per_s",
    "sync_vs_requests_lib_ratio",
    "sync_sdk_no_env_settings_requests_per_s",
    "sync_no_env_settings_throughput_ratio",
    "aio_sdk_requests_per_s",
    "aio_raw_requests_per_s",
    "aio_throughput_ratio",
    "aio_sdk_no_env_settings_requests_per_s",
    "aio_no_env_settings_throughput_ratio",
    "aio_core_jwt_requests_per_s",
    "aio_core_jwt_throughput_ratio",
    "aio_core_policies_requests_per_s",
    "aio_core_policies_throughput_ratio",
    "aio_vs_core_policies_ratio",
    "rest_emulator_cpu_us_per_call",
    "rest_emulator_cpu_us_per_call_fresh_tokens",
    "fanout_clients_count",
    "fanout_emulator_msgs_per_s",
    "fanout_raw_msgs_per_s",
    "fanout_throughput_ratio",
    "fanout_emulator_latency_p50_ms",
    "fanout_emulator_latency_p99_ms",
    "fanout_raw_latency_p50_ms",
    "fanout_raw_latency_p99_ms",
    "fanout_latency_p99_ratio",
    "fanout_emulator_delivered_fraction",
    "scale_connections_count",
    "scale_emulator_rss_kib_per_connection",
    "scale_raw_rss_kib_per_connection",
    "scale_rss_ratio",
    "scale_emulator_connect_s",
    "scale_raw_connect_s",
    "scale_connect_time_ratio",
    "scale_emulator_connections_per_s",
    "trace_rest_unobserved_calls_per_s",
    "trace_rest_unobserved_control_calls_per_s",
    "trace_rest_no_watcher_calls_per_s",
    "trace_rest_one_watcher_calls_per_s",
    "trace_rest_stalled_watcher_calls_per_s",
    "trace_rest_unobserved_cpu_us_per_call",
    "trace_rest_unobserved_control_cpu_us_per_call",
    "trace_rest_no_watcher_cpu_us_per_call",
    "trace_rest_one_watcher_cpu_us_per_call",
    "trace_rest_stalled_watcher_cpu_us_per_call",
    "trace_fanout_unobserved_msgs_per_s",
    "trace_fanout_unobserved_control_msgs_per_s",
    "trace_fanout_no_watcher_msgs_per_s",
    "trace_fanout_one_watcher_msgs_per_s",
    "trace_fanout_stalled_watcher_msgs_per_s",
    "trace_fanout_unobserved_cpu_us_per_msg",
    "trace_fanout_unobserved_control_cpu_us_per_msg",
    "trace_fanout_no_watcher_cpu_us_per_msg",
    "trace_fanout_one_watcher_cpu_us_per_msg",
    "trace_fanout_stalled_watcher_cpu_us_per_msg",
    "trace_rest_unobserved_control_ratio",
    "trace_rest_no_watcher_ratio",
    "trace_rest_unobserved_control_cpu_ratio",
    "trace_rest_no_watcher_cpu_ratio",
    "trace_rest_one_watcher_ratio",
    "trace_rest_one_watcher_cpu_ratio",
    "trace_rest_stalled_watcher_ratio",
    "trace_rest_stalled_watcher_cpu_ratio",
    "trace_fanout_unobserved_control_ratio",
    "trace_fanout_no_watcher_ratio",
    "trace_fanout_unobserved_control_cpu_ratio",
    "trace_fanout_no_watcher_cpu_ratio",
    "trace_fanout_one_watcher_ratio",
    "trace_fanout_one_watcher_cpu_ratio",
    "trace_fanout_stalled_watcher_ratio",
    "trace_fanout_stalled_watcher_cpu_ratio",
    "trace_rounds",
    "trace_fanout_clients_count",
    "trace_watcher_entries",
    "trace_watcher_lost",
    "mqtt_clients_count",
    "mqtt_emulator_msgs_per_s",
    "mqtt_mosquitto_msgs_per_s",
    "mqtt_throughput_ratio",
    "mqtt_emulator_latency_p50_ms",
    "mqtt_emulator_latency_p99_ms",
    "mqtt_mosquitto_latency_p50_ms",
    "mqtt_mosquitto_latency_p99_ms",
    "mqtt_latency_p99_ratio",
    "mqtt_emulator_delivered_fraction",
    "mqtt_mosquitto_delivered_fraction",
    "mqtt_emulator_rss_kib_per_connection",
    "mqtt_mosquitto_rss_kib_per_connection",
]
# RSS deltas can legitimately be zero or negative at tiny scale (the allocator reuses freed pages), so they and the
# ratio built from them are only required to be finite numbers.
MAY_BE_NONPOSITIVE = {
    "scale_emulator_rss_kib_per_connection",
    "scale_raw_rss_kib_per_connection",
    "scale_rss_ratio",
    "trace_watcher_lost",  # the watcher may well keep up at this scale
    "mqtt_emulator_rss_kib_per_connection",
    "mqtt_mosquitto_rss_kib_per_connection",
}
CURVE_KEYS = [
    "curve_emulator_msgs_per_s",
    "curve_raw_msgs_per_s",
    "curve_throughput_ratio",
    "curve_emulator_latency_p50_ms",
    "curve_emulator_latency_p99_ms",
    "curve_raw_latency_p50_ms",
    "curve_raw_latency_p99_ms",
    "curve_emulator_rss_kib_per_connection",
    "curve_raw_rss_kib_per_connection",
    "curve_emulator_connect_s",
    "curve_raw_connect_s",
]


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def test_bench_quick_writes_every_figure(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--no-plot", "--output", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    log = proc.stderr[-2000:]  # the harness's progress and NOTE lines, shown with any failure below

    missing = [k for k in [*SCALAR_KEYS, "curve_connections_count", *CURVE_KEYS] if k not in results]
    assert not missing, f"results.json lacks {missing}"
    for key in SCALAR_KEYS:
        if key == "scale_rss_ratio" and results["scale_raw_rss_kib_per_connection"] == 0:
            # undefined when the raw baseline grew no measurable RSS (seen at --quick scale on Python 3.12 and 3.13)
            assert results[key] is None, f"{key} = {results[key]!r}\n{log}"
            continue
        assert _is_number(results[key]), f"{key} = {results[key]!r}\n{log}"
        if key not in MAY_BE_NONPOSITIVE:
            assert results[key] > 0, f"{key} = {results[key]!r}\n{log}"
    assert results["fanout_emulator_delivered_fraction"] == 1.0, log
    assert results["mqtt_emulator_delivered_fraction"] == 1.0, log
    assert results["mqtt_mosquitto_delivered_fraction"] == 1.0, log

    counts = results["curve_connections_count"]
    assert counts and all(isinstance(n, int) and n > 0 for n in counts)
    for key in CURVE_KEYS:
        assert isinstance(results[key], list) and len(results[key]) == len(counts), key
        assert all(_is_number(v) for v in results[key]), f"{key} = {results[key]!r}\n{log}"
    assert results["meta"]["quick"] is True
    assert not (tmp_path / "scaling.png").exists()
