"""``python -m bench`` (``make bench``): every benchmark, a table each, and ``results.json``.

Options: ``--quick`` (tiny scale, a few seconds; what tests/bench runs), ``--no-plot`` (skip the matplotlib PNG),
``--output DIR`` (where results.json and scaling.png go; default: this directory), ``--only a,b,c,d,e,f,g`` (f: MQTT,
g: the trace page) and
``--max-connections N`` (cap the largest connection count, e.g. on a machine with a low open-file limit).
The plot needs matplotlib (see docs/performance.md).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

from . import fanout, mqtt, sdk_overhead, throughput, trace_cost
from ._common import print_table, raise_nofile, safe_ratio, status

HERE = Path(__file__).resolve().parent

#: Every key results.json carries (tests/bench checks the file against its own copy of this list).
RESULT_KEYS = [
    # (a)
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
    # (b)
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
    # (c)
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
    # (d)
    "scale_connections_count",
    "scale_emulator_rss_kib_per_connection",
    "scale_raw_rss_kib_per_connection",
    "scale_rss_ratio",
    "scale_emulator_connect_s",
    "scale_raw_connect_s",
    "scale_connect_time_ratio",
    "scale_emulator_connections_per_s",
    # (g) the live trace page
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
    # (e) lists, one entry per curve_connections_count entry
    "curve_connections_count",
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
    # (f) MQTT
    *mqtt.RESULT_KEYS,
]


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN; a missing figure shows as null
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def _curves(quick: bool, max_connections: int) -> Dict[str, Any]:
    counts = [5, 10, 20] if quick else [10, 100, 1000, 10000]
    counts = [n for n in counts if n <= max_connections] or [min(max_connections, counts[0])]
    fanout_n = counts[-2] if len(counts) > 1 else counts[-1]
    if not quick and 1000 in counts:
        fanout_n = 1000
    scale_n = counts[-1]
    points: List[Dict[str, fanout.Point]] = []
    for n in counts:
        points.append(fanout.pair(n, fanout.messages_for(n, quick)))
    by_n = dict(zip(counts, points))
    fan, scale = by_n[fanout_n], by_n[scale_n]
    res: Dict[str, Any] = {
        "fanout_clients_count": fanout_n,
        "fanout_emulator_msgs_per_s": fan["emulator"].msgs_per_s,
        "fanout_raw_msgs_per_s": fan["raw"].msgs_per_s,
        "fanout_throughput_ratio": safe_ratio(fan["emulator"].msgs_per_s, fan["raw"].msgs_per_s),
        "fanout_emulator_latency_p50_ms": fan["emulator"].latency_p50_ms,
        "fanout_emulator_latency_p99_ms": fan["emulator"].latency_p99_ms,
        "fanout_raw_latency_p50_ms": fan["raw"].latency_p50_ms,
        "fanout_raw_latency_p99_ms": fan["raw"].latency_p99_ms,
        "fanout_latency_p99_ratio": safe_ratio(fan["emulator"].latency_p99_ms, fan["raw"].latency_p99_ms),
        "fanout_emulator_delivered_fraction": fan["emulator"].delivered_fraction,
        "scale_connections_count": scale_n,
        "scale_emulator_rss_kib_per_connection": scale["emulator"].rss_delta_kib_per_connection,
        "scale_raw_rss_kib_per_connection": scale["raw"].rss_delta_kib_per_connection,
        "scale_rss_ratio": safe_ratio(
            scale["emulator"].rss_delta_kib_per_connection, scale["raw"].rss_delta_kib_per_connection
        ),
        "scale_emulator_connect_s": scale["emulator"].connect_s,
        "scale_raw_connect_s": scale["raw"].connect_s,
        "scale_connect_time_ratio": safe_ratio(scale["emulator"].connect_s, scale["raw"].connect_s),
        "scale_emulator_connections_per_s": safe_ratio(scale_n - 1, scale["emulator"].connect_s),
        "curve_connections_count": counts,
    }
    for kind in ("emulator", "raw"):
        res[f"curve_{kind}_msgs_per_s"] = [p[kind].msgs_per_s for p in points]
        res[f"curve_{kind}_latency_p50_ms"] = [p[kind].latency_p50_ms for p in points]
        res[f"curve_{kind}_latency_p99_ms"] = [p[kind].latency_p99_ms for p in points]
        res[f"curve_{kind}_rss_kib_per_connection"] = [p[kind].rss_delta_kib_per_connection for p in points]
        res[f"curve_{kind}_connect_s"] = [p[kind].connect_s for p in points]
    res["curve_throughput_ratio"] = [safe_ratio(p["emulator"].msgs_per_s, p["raw"].msgs_per_s) for p in points]

    print_table(
        f"(c) fan-out to {fanout_n} raw WebSocket clients (goal: throughput ratio >= 0.7)",
        ["server", "msgs/s", "p50 ms", "p99 ms", "delivered"],
        [
            [k, fan[k].msgs_per_s, fan[k].latency_p50_ms, fan[k].latency_p99_ms, fan[k].delivered_fraction]
            for k in ("emulator", "raw")
        ]
        + [["ratio", res["fanout_throughput_ratio"], float("nan"), res["fanout_latency_p99_ratio"], float("nan")]],
    )
    print_table(
        f"(d) {scale_n} idle connections (goal: emulator < 20 KiB RSS per connection)",
        ["server", "KiB/conn", "connect s", "conn/s"],
        [
            [k, scale[k].rss_delta_kib_per_connection, scale[k].connect_s, safe_ratio(scale_n - 1, scale[k].connect_s)]
            for k in ("emulator", "raw")
        ],
    )
    print_table(
        "(e) scaling curves (emulator / raw)",
        [
            "connections",
            "emu msgs/s",
            "raw msgs/s",
            "ratio",
            "emu p99 ms",
            "raw p99 ms",
            "emu KiB/conn",
            "raw KiB/conn",
        ],
        [
            [
                n,
                p["emulator"].msgs_per_s,
                p["raw"].msgs_per_s,
                safe_ratio(p["emulator"].msgs_per_s, p["raw"].msgs_per_s),
                p["emulator"].latency_p99_ms,
                p["raw"].latency_p99_ms,
                p["emulator"].rss_delta_kib_per_connection,
                p["raw"].rss_delta_kib_per_connection,
            ]
            for n, p in zip(counts, points)
        ],
    )
    return res


def plot(results: Dict[str, Any], path: Path) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = results["curve_connections_count"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    series = [
        ("delivered messages/s", "msgs_per_s"),
        ("REST call to receipt, p99 (ms)", "latency_p99_ms"),
        ("server RSS per idle connection (KiB)", "rss_kib_per_connection"),
    ]
    for ax, (title, key) in zip(axes, series):
        for kind, style in (("emulator", "o-"), ("raw", "s--")):
            values = [float("nan") if v is None else v for v in results[f"curve_{kind}_{key}"]]
            ax.plot(counts, values, style, label="emulator" if kind == "emulator" else "raw aiohttp baseline")
        ax.set_xscale("log")
        ax.set_xticks(counts)
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("connected WebSocket clients")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    axes[2].axhline(20, color="red", linewidth=0.8, linestyle=":", label="goal: 20 KiB")
    axes[2].legend()
    fig.suptitle("webpubsub-emulator fan-out and memory vs a raw aiohttp broadcast server (loopback)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny scale, a few seconds")
    parser.add_argument("--no-plot", action="store_true", help="do not draw scaling.png")
    parser.add_argument("--output", default=str(HERE), help="directory for results.json and scaling.png")
    parser.add_argument("--only", default="a,b,c,d,e,f,g", help="comma-separated subset of a,b,c,d,e,f,g")
    parser.add_argument("--max-connections", type=int, default=10000)
    args = parser.parse_args(argv)
    only = {part.strip() for part in args.only.split(",") if part.strip()}
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    raise_nofile(2 * args.max_connections + 1024)

    started = time.time()
    results: Dict[str, Any] = {}
    if "a" in only:
        status("(a) SDK per-call overhead")
        results.update(sdk_overhead.run(args.quick))
    if "b" in only:
        status("(b) throughput against the emulator")
        results.update(throughput.run(args.quick))
    if only & {"c", "d", "e"}:
        status("(c)(d)(e) fan-out, scale and curves")
        results.update(_curves(args.quick, args.max_connections))
    if "f" in only:
        status("(f) MQTT broadcast and idle connections, the emulator against Mosquitto")
        results.update(mqtt.run(args.quick))

    if "g" in only:
        status("(g) the live trace page's cost")
        results.update(trace_cost.run(args.quick))

    results["meta"] = {
        "quick": args.quick,
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "duration_s": round(time.time() - started, 1),
    }
    path = out / "results.json"
    path.write_text(json.dumps(_clean(results), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    status(f"wrote {path}")
    if not args.no_plot and "curve_connections_count" in results:
        png = out / "scaling.png"
        try:
            plot(results, png)
        except ImportError:
            status("matplotlib is not installed: no scaling.png (pip install matplotlib, or pass --no-plot)")
            return 2
        status(f"wrote {png}")
    missing = [k for k in RESULT_KEYS if k not in results] if only == {"a", "b", "c", "d", "e", "f", "g"} else []
    if missing:
        status(f"missing keys: {missing}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
