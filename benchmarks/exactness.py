"""Benchmark 3: exact request counts under sampling, vs the Collector's span-metrics connector.

An app wired by ``amas_telemetry.configure(app, sampling_ratio=R, otlp_endpoint=<sink>,
otlp_protocol="http/protobuf")`` serves N requests in-process (a mix of the minimal and the
AMAS-like route, I/O sleeps off). Then:

- ours: ``http_server_request_duration_seconds_count`` on /metrics, summed over series, vs N;
- Collector: the OTLP trace requests the app exported (kept by the sink) are replayed into
  ``otelcol-amas`` running ``benchmarks/collector-spanmetrics.yaml`` (OTLP/HTTP receiver ->
  span_metrics connector -> otlp_http -> the sink); its ``traces.span.metrics.calls`` for SERVER
  spans is read from the metrics it exports, and ``otelcol_receiver_accepted_spans`` from its
  own telemetry;
- bytes: OTLP protobuf bytes the app sent per signal (uncompressed, as the sink received them).

Runs at R = 0.01 and at R = 1.0 (what the Collector needs to be exact).

    python -m benchmarks.exactness [--quick] [--requests N]
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import io
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from benchmarks import _common as c
from benchmarks._sink import Sink

CONFIG = c.REPO_ROOT / "benchmarks" / "collector-spanmetrics.yaml"
RATIOS = (0.01, 1.0)
CALLS = "traces.span.metrics.calls"


def drive_app(ratio: float, n: int, sink: Sink) -> dict[str, Any]:
    """N requests through a configured app; returns our derived count and the app's export sizes."""
    from fastapi import FastAPI

    import amas_telemetry
    from benchmarks import _apps

    _apps.CACHE_IO_SECONDS = _apps.PROVIDER_IO_SECONDS = 0.0
    app = FastAPI(telemetry=_apps.FASTAPI_TELEMETRY_OFF)
    _apps.add_routes(app, routes=2)  # the two probed routes only
    service = f"amas-bench-exact-{ratio:g}"
    with contextlib.redirect_stdout(io.StringIO()):
        telemetry = amas_telemetry.configure(
            app,
            service_name=service,
            sampling_ratio=ratio,
            otlp_endpoint=sink.http_endpoint,
            otlp_protocol="http/protobuf",
            json_logs=False,
        )
    try:
        minimal = ("GET", _apps.MINIMAL_PATH, b"")
        realistic = ("POST", _apps.REALISTIC_PATH, _apps.REALISTIC_BODY)

        async def go() -> int:
            ok = 0
            for i in range(n):
                ok += await _apps.call_asgi(app, *(minimal if i % 4 == 0 else realistic)) == 200
                if i % 500 == 499:
                    # back-pressure for this tight loop: the batch queue (4096) never overflows,
                    # so the Collector gets every sampled span and differences are not drops
                    telemetry.tracer_provider.force_flush()
            return ok

        started = time.perf_counter()
        ok = asyncio.new_event_loop().run_until_complete(go())
        seconds = time.perf_counter() - started
        # scrape before Telemetry.force_flush(): a MeterProvider.force_flush() leaves collected
        # data queued in the Prometheus reader and the next scrape repeats every series
        exposition = telemetry.render_metrics().decode()
        telemetry.force_flush()
        after_flush = telemetry.render_metrics().decode()
        dropped = c.counter_total(
            telemetry.render_metrics().decode(), "otel_sdk_processor_span_processed", error_type="queue_full"
        )
    finally:
        telemetry.shutdown()
    count = "http_server_request_duration_seconds_count"
    derived = sum(v for _, v in c.prometheus_samples(exposition, count))
    series = [tuple(sorted(labels.items())) for labels, _ in c.prometheus_samples(exposition, count)]
    repeated = [tuple(sorted(labels.items())) for labels, _ in c.prometheus_samples(after_flush, count)]
    return {
        "service": service,
        "ok": ok,
        "derived": derived,
        "seconds": seconds,
        "dropped_spans": dropped,
        "series_in_scrape": len(series),
        "series_in_scrape_after_force_flush": len(repeated),
        "distinct_series_after_force_flush": len(set(repeated)),
    }


def replay(bodies: list[bytes], url: str) -> None:
    for body in bodies:
        request = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/x-protobuf"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()


def collector_calls(sink: Sink, service: str) -> float:
    """Latest cumulative traces.span.metrics.calls of SERVER spans of ``service``, summed over series."""
    latest: dict[tuple[Any, ...], float] = {}
    with sink.lock:
        bodies = list(sink.bodies["metrics"])
    for body in bodies:
        request = ExportMetricsServiceRequest.FromString(body)
        for rm in request.resource_metrics:
            resource = {a.key: a.value.string_value for a in rm.resource.attributes}
            if resource.get("service.name") != service:
                continue
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name != CALLS:
                        continue
                    for point in metric.sum.data_points:
                        attrs = {a.key: a.value.string_value for a in point.attributes}
                        if attrs.get("span.kind") != "SPAN_KIND_SERVER":
                            continue
                        key = tuple(sorted(attrs.items()))
                        latest[key] = float(point.as_int or point.as_double)
    return sum(latest.values())


def accepted_spans(metrics_url: str) -> float:
    return c.counter_total(c.scrape(metrics_url), "otelcol_receiver_accepted_spans")


def wait_stable(read: Any, expected: float, timeout: float) -> float:
    """Reads until the value equals ``expected`` or stops changing for 3 s."""
    deadline = time.monotonic() + timeout
    last, since = read(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        value = read()
        if value != last:
            last, since = value, time.monotonic()
        elif value == expected or time.monotonic() - since > 3:
            break
    return last


def run(args: Any) -> dict[str, Any]:
    n = args.requests or (2000 if args.quick else 20000)
    collector_bin = c.binary("otelcol-amas")
    results: dict[str, Any] = {"requests": n, "runs": {}}
    with Sink(keep=True) as app_sink, Sink(keep=True, count=False) as collector_sink:
        ports = {"otlp": c.free_port(), "health": c.free_port(), "metrics": c.free_port()}
        env = {
            "BENCH_COLLECTOR_OTLP_HTTP": f"127.0.0.1:{ports['otlp']}",
            "BENCH_COLLECTOR_HEALTH": f"127.0.0.1:{ports['health']}",
            "BENCH_COLLECTOR_METRICS_PORT": str(ports["metrics"]),
            "BENCH_SINK_HTTP": collector_sink.http_endpoint,
        }
        log = Path(tempfile.gettempdir()) / "amas-bench" / "exactness-collector.log"
        with c.popen([str(collector_bin), "--config", str(CONFIG)], env, log) as collector:
            c.wait_http(f"http://127.0.0.1:{ports['health']}/", 30, collector)
            metrics_url = f"http://127.0.0.1:{ports['metrics']}/metrics"
            for ratio in RATIOS:
                app_sink.reset()
                app = drive_app(ratio, n, app_sink)
                stats = app_sink.snapshot()
                bodies = list(app_sink.bodies["traces"])
                accepted_before = accepted_spans(metrics_url)
                replay(bodies, f"http://127.0.0.1:{ports['otlp']}/v1/traces")
                exported_server_spans = _server_spans(bodies)
                calls = wait_stable(
                    lambda s=app["service"]: collector_calls(collector_sink, s), exported_server_spans, 30
                )
                accepted = accepted_spans(metrics_url) - accepted_before
                results["runs"][f"{ratio:g}"] = {
                    **app,
                    "exported_spans": stats["traces"]["items"],
                    "exported_server_spans": exported_server_spans,
                    "collector_calls": calls,
                    "collector_accepted_spans": accepted,
                    "bytes": {s: stats[s]["bytes"] for s in ("traces", "metrics", "logs")},
                    "requests_by_signal": {s: stats[s]["requests"] for s in ("traces", "metrics", "logs")},
                    "traces_gzip_bytes": sum(len(gzip.compress(b)) for b in bodies),
                    "metrics_one_export_bytes": _last_size(app_sink, "metrics"),
                }
                print(f"  ratio {ratio:g}: {n} requests in {app['seconds']:.1f} s", file=sys.stderr)
    return results


def _server_spans(bodies: list[bytes]) -> int:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    count = 0
    for body in bodies:
        for rs in ExportTraceServiceRequest.FromString(body).resource_spans:
            for ss in rs.scope_spans:
                count += sum(1 for s in ss.spans if s.kind == Span.SPAN_KIND_SERVER)
    return count


def _last_size(sink: Sink, signal: str) -> int:
    with sink.lock:
        return len(sink.bodies[signal][-1]) if sink.bodies[signal] else 0


def report(results: dict[str, Any]) -> str:
    n = results["requests"]
    rows, byte_rows = [], []
    for ratio, run in results["runs"].items():
        r = float(ratio)
        estimate = run["collector_calls"] / r
        rows.append(
            [
                ratio,
                n,
                f"{run['derived']:.0f}",
                c.verdict(run["derived"] == n).replace("met", "equal").replace("NOT equal", "DIFFERENT"),
                run["exported_server_spans"],
                f"{run['collector_calls']:.0f}",
                f"{estimate:.0f} ({(estimate - n) / n * 100:+.1f}%; 1 sd ≈ "
                f"{100 / max(run['exported_server_spans'], 1) ** 0.5:.0f}%)",
                f"{run['collector_accepted_spans']:.0f}",
                f"{run['dropped_spans']:.0f}",
            ]
        )
        b = run["bytes"]
        byte_rows.append(
            [
                ratio,
                run["exported_spans"],
                f"{b['traces']:,}",
                f"{run['traces_gzip_bytes']:,}",
                f"{b['traces'] / n:.0f}",
                f"{b['metrics']:,} in {run['requests_by_signal']['metrics']} export(s)",
                f"{run['metrics_one_export_bytes']:,}",
                f"{b['logs']:,}",
            ]
        )
    out = ["## Request counts", ""]
    out.append(
        c.table(
            [
                "sampling",
                "true count",
                "ours (/metrics)",
                "ours vs true",
                "server spans exported",
                "Collector spanmetrics calls",
                "Collector x 1/ratio (error)",
                "Collector accepted spans",
                "app spans dropped",
            ],
            rows,
        )
    )
    out += ["", "## OTLP bytes sent by the app (protobuf, uncompressed unless noted)", ""]
    out.append(
        c.table(
            [
                "sampling",
                "spans exported",
                "trace bytes",
                "trace bytes gzip",
                "trace bytes/request",
                "metric bytes",
                "one metric export",
                "log bytes",
            ],
            byte_rows,
        )
    )
    for ratio, run in results["runs"].items():
        if run["series_in_scrape_after_force_flush"] != run["distinct_series_after_force_flush"]:
            out += [
                "",
                f"NOTE (sampling {ratio}): after Telemetry.force_flush() the next /metrics scrape lists "
                f"{run['series_in_scrape_after_force_flush']} request-count series for "
                f"{run['distinct_series_after_force_flush']} distinct ones (every family repeated).",
            ]
    low, full = results["runs"].get("0.01"), results["runs"].get("1")
    if low and full:
        ours_bytes = low["bytes"]["traces"] + low["metrics_one_export_bytes"]
        out += [
            "",
            f"Exact counts cost: ours at 0.01 = {low['bytes']['traces']:,} trace bytes + "
            f"{low['metrics_one_export_bytes']:,} bytes per metric export; the Collector needs every span: "
            f"{full['bytes']['traces']:,} trace bytes ({full['bytes']['traces'] / max(ours_bytes, 1):.0f}x).",
        ]
    return "\n".join(out)


def main() -> None:
    def extra(parser: Any) -> None:
        parser.add_argument("--requests", type=int, default=0, help="requests per run (default 20000)")

    args = c.parse_args(__doc__.splitlines()[0], extra)
    c.print_header("Benchmark 3: exactness under sampling")
    started = time.monotonic()
    results = run(args)
    print(report(results))
    print(f"\n(total {time.monotonic() - started:.0f} s)")
    c.write_json(args.json, {"benchmark": "exactness", **results})


if __name__ == "__main__":
    main()
