"""Benchmark 4: scale. /metrics scrape time and size at 10k series, 1 and 4 workers; memory under 1M ids.

Scrape: see :mod:`benchmarks.scrape_workers` (ours and prometheus_client holding the same
series, each variant in its own processes, interleaved; 4 workers: our snapshot files against
prometheus_client's multiprocess mode).

Memory: in a fresh process, ``configure()`` with its defaults (cardinality limit 2000), then 1M
HTTP server spans whose ``http.route`` is a raw id (``/users/<n>``, 1M distinct values), scraped
every 100k spans. RSS growth and tracemalloc growth after the warm-up are reported, and the count
is checked (overflow series included). For contrast, the plan's raw-path labels with 100k ids.

    python -m benchmarks.scale [--quick]
"""

from __future__ import annotations

import contextlib
import gc
import io
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as c

FULL = {"series": 10_000, "rounds": 9, "ids": 1_000_000, "plan_ids": 100_000, "budget_s": 150}
QUICK = {"series": 2_000, "rounds": 3, "ids": 100_000, "plan_ids": 20_000, "budget_s": 25}
TARGET_MB = 20.0


def _configure(**overrides: Any) -> Any:
    import amas_telemetry

    settings = {"service_name": "amas-bench-scale", "json_logs": False, "otlp_endpoint": None, **overrides}
    with contextlib.redirect_stdout(io.StringIO()):
        return amas_telemetry.configure(**settings)


def _server_span(tracer: Any, route: str, method: str = "GET", status: int = 200) -> None:
    from opentelemetry.trace import SpanKind

    from amas_telemetry import semconv as sc

    span = tracer.start_span(
        f"{method} {route}",
        kind=SpanKind.SERVER,
        attributes={sc.HTTP_REQUEST_METHOD: method, sc.HTTP_ROUTE: route, "url.path": route},
    )
    span.set_attribute(sc.HTTP_RESPONSE_STATUS_CODE, status)
    span.end()


# --- scrape: see benchmarks/scrape_workers.py ---------------------------------------------------


def scrape_part(plan: dict[str, Any]) -> dict[str, Any]:
    from benchmarks import scrape_workers

    return scrape_workers.run({"series": plan["series"], "rounds": plan["rounds"]})


# --- memory (fresh processes) ----------------------------------------------------------------------


def memory_ours(conn: Any, ids: int, use_tracemalloc: bool) -> None:
    telemetry = _configure()
    tracer = telemetry.tracer("bench")
    for i in range(20_000):  # warm-up: caches, the 2000-series limit reached, overflow series made
        _server_span(tracer, f"/warm/{i}")
    telemetry.render_metrics()
    gc.collect()
    rss0 = c.rss_bytes()
    if use_tracemalloc:
        tracemalloc.start(1)
    traced0 = tracemalloc.get_traced_memory()[0] if use_tracemalloc else 0
    start = time.perf_counter()
    trajectory = []
    for i in range(ids):
        _server_span(tracer, f"/users/{i}")
        if i % 100_000 == 99_999:
            telemetry.render_metrics()
            trajectory.append(c.rss_bytes() - rss0)
    exposition = telemetry.render_metrics().decode()
    elapsed = time.perf_counter() - start
    counts = c.prometheus_samples(exposition, "http_server_request_duration_seconds_count")
    overflow = sum(v for labels, v in counts if labels.get("otel_metric_overflow") == "true")
    count_total, series = sum(v for _, v in counts), len(counts)
    del exposition, counts  # ~8 MB of text and parsed samples: not state the library keeps
    gc.collect()
    traced1 = tracemalloc.get_traced_memory()[0] if use_tracemalloc else 0
    rss1 = c.rss_bytes()
    conn.send(
        {
            "ids": ids,
            "seconds": elapsed,
            "rss_growth": rss1 - rss0,
            "peak_rss_growth": max([*trajectory, rss1 - rss0]),
            "rss_trajectory": trajectory,
            "traced_growth": traced1 - traced0,
            "count_total": count_total,
            "expected_total": ids + 20_000,
            "series": series,
            "overflow_count": overflow,
        }
    )
    telemetry.shutdown()


def memory_plan(conn: Any, ids: int) -> None:
    from benchmarks.plan_baseline import PlanMetrics

    metrics = PlanMetrics()
    for i in range(1000):
        metrics.record_http_request("GET", f"/warm/{i}", 200, 0.01)
    gc.collect()
    rss0 = c.rss_bytes()
    start = time.perf_counter()
    for i in range(ids):
        endpoint = f"/users/{i}"
        metrics.http_requests_active.labels(method="GET", endpoint=endpoint).inc()
        metrics.record_http_request("GET", endpoint, 200, 0.012)
        metrics.http_requests_active.labels(method="GET", endpoint=endpoint).dec()
    elapsed = time.perf_counter() - start
    gc.collect()
    conn.send({"ids": ids, "seconds": elapsed, "rss_growth": c.rss_bytes() - rss0})


def memory_part(plan: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    timeout = plan["budget_s"] * 2
    with c.child(memory_ours, plan["ids"], False) as (_, conn):
        out["ours_rss"] = c.receive(conn, timeout, "memory (RSS)")
    print(f"  {plan['ids']} ids through ours (RSS run)", file=sys.stderr)
    with c.child(memory_ours, plan["ids"] // 5, True) as (_, conn):
        out["ours_tracemalloc"] = c.receive(conn, timeout, "memory (tracemalloc)")
    print(f"  {plan['ids'] // 5} ids through ours (tracemalloc run)", file=sys.stderr)
    with c.child(memory_plan, plan["plan_ids"]) as (_, conn):
        out["plan"] = c.receive(conn, timeout, "memory (plan)")
    print(f"  {plan['plan_ids']} ids through the plan's metrics", file=sys.stderr)
    return out


def report(results: dict[str, Any]) -> str:
    from benchmarks import scrape_workers

    out = ["## /metrics scrape, 1 and 4 workers (ratio to prometheus_client holding the same series)", ""]
    out.append(scrape_workers.report(results["scrape"]))
    m = results["memory"]
    rss, traced, planned = m["ours_rss"], m["ours_tracemalloc"], m["plan"]
    mb = 1024 * 1024
    out += ["", "## Memory with distinct raw ids in http.route (cardinality limit 2000)", ""]
    out.append(
        c.table(
            ["run", "distinct ids", "growth", "s", "µs/span", "count check"],
            [
                [
                    "ours, RSS",
                    f"{rss['ids']:,}",
                    f"{rss['rss_growth'] / mb:+.1f} MB (peak {rss['peak_rss_growth'] / mb:+.1f} MB)",
                    f"{rss['seconds']:.0f}",
                    f"{rss['seconds'] / rss['ids'] * 1e6:.1f}",
                    f"{rss['count_total']:.0f} of {rss['expected_total']} in {rss['series']} series, "
                    f"{rss['overflow_count']:.0f} in overflow",
                ],
                [
                    "ours, tracemalloc",
                    f"{traced['ids']:,}",
                    f"{traced['traced_growth'] / mb:+.2f} MB traced "
                    f"({traced['rss_growth'] / mb:+.1f} MB RSS)",
                    f"{traced['seconds']:.0f}",
                    f"{traced['seconds'] / traced['ids'] * 1e6:.1f}",
                    f"{traced['count_total']:.0f} of {traced['expected_total']}",
                ],
                [
                    "plan (raw path labels), RSS",
                    f"{planned['ids']:,}",
                    f"{planned['rss_growth'] / mb:+.1f} MB "
                    f"({planned['rss_growth'] / planned['ids']:,.0f} B/id)",
                    f"{planned['seconds']:.0f}",
                    f"{planned['seconds'] / planned['ids'] * 1e6:.1f}",
                    "unbounded: one child per id in 3 metrics",
                ],
            ],
        )
    )
    growth = max(rss["rss_growth"], rss["peak_rss_growth"]) / mb
    if rss["rss_trajectory"]:
        steps = ", ".join(f"{g / mb:+.1f}" for g in rss["rss_trajectory"])
        out += ["", f"RSS growth (MB) after each 100k ids (scraped each time): {steps}"]
    out += [
        "",
        f"Target: memory growth ≤ +{TARGET_MB:g} MB with {rss['ids']:,} distinct values: "
        f"{growth:+.1f} MB (RSS, peak) -> {c.verdict(growth <= TARGET_MB)}; exact count: "
        f"{c.verdict(rss['count_total'] == rss['expected_total'])}",
    ]
    return "\n".join(out)


def main() -> None:
    args = c.parse_args(__doc__.splitlines()[0])
    plan = QUICK if args.quick else FULL
    c.print_header("Benchmark 4: scale")
    started = time.monotonic()
    results = {"plan": plan, "scrape": scrape_part(plan), "memory": memory_part(plan)}
    print(report(results))
    print(f"\n(total {time.monotonic() - started:.0f} s)")
    c.write_json(args.json, {"benchmark": "scale", **results})


if __name__ == "__main__":
    main()
