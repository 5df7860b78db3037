"""Benchmark 6: the tail decision's cost per request and the trace bytes it exports.

Variants, each in its own process with its own OTLP sink (another process), all wired by
``amas_telemetry.configure(app, otlp_endpoint=<sink>)`` over OTLP/gRPC:

- ``bare``: the app without telemetry (for the µs of telemetry per request);
- ``head 0.01``: ``sampling_ratio=0.01``, tail decision off (``tail_keep_errors=False``);
- ``tail 0.01``: ``sampling_ratio=0.01`` with the tail decision (keep errors, keep slower
  than 0.5 s: none is, so every unsampled ordinary trace is held, then dropped);
- ``head 1.0``: every trace exported.

The workload: the AMAS-like route of ``benchmarks/_apps.py`` (4 spans, a log line, ~3 KB
JSON each way; its awaited I/O sleeps set to 0 so the ratio shows CPU cost), and every
50th request (2 %) a route that fails: a child span with an error status, then a 500.
A timed round is n sequential ASGI requests, then the variant's flush (span and log batch
export, deferred span metrics), so deferred work is charged to it. Rounds are interleaved
(ABC…CBA…); ratios are medians of per-round ratios.

Bytes: OTLP protobuf bytes of traces (and logs) each sink received, per 1,000 requests. The
Collector's ``tail_sampling`` processor is not in ``otelcol-amas`` (collector/builder-config.yaml),
so it is not run: fed every span, it makes the app ship what ``head 1.0`` ships (the
figure below), and with several app instances an agent tier must forward every span again to
one gateway per trace (``loadbalancing`` by trace id) before it decides. What it then keeps
is what ``tail 0.01`` exports.

    python -m benchmarks.tail_decision [--quick] [--json PATH]
"""

from __future__ import annotations

import asyncio
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as c
from benchmarks._sink import serve_in_child

VARIANTS: dict[str, dict[str, Any] | None] = {
    "bare": None,
    "head 0.01": {"sampling_ratio": 0.01, "tail_keep_errors": False},
    "tail 0.01": {"sampling_ratio": 0.01, "tail_keep_slower_than": 0.5},
    "head 1.0": {"sampling_ratio": 1.0},
}
FAIL_EVERY = 50
FULL = {"rounds": 15, "n": 250, "warmup": 100}
QUICK = {"rounds": 4, "n": 100, "warmup": 30}


def worker(conn: Any, variant: str, sink_endpoint: str) -> None:
    import contextlib
    import io
    import logging
    import os

    from fastapi import FastAPI, Response
    from opentelemetry import trace
    from opentelemetry.trace import Status, StatusCode

    from benchmarks import _apps

    _apps.CACHE_IO_SECONDS = _apps.PROVIDER_IO_SECONDS = 0.0
    app = FastAPI()
    _apps.add_routes(app)
    tracer = trace.get_tracer("benchmarks.tail_decision")

    @app.get("/v1/broken")
    async def broken() -> Response:
        with tracer.start_as_current_span("SELECT tasks") as span:
            span.set_status(Status(StatusCode.ERROR, "connection reset"))
        return Response(status_code=500)

    settings = VARIANTS[variant]
    flush = None
    if settings is None:
        logging.basicConfig(level=logging.INFO, stream=open(os.devnull, "w"))  # noqa: SIM115
    else:
        import amas_telemetry

        with contextlib.redirect_stdout(io.StringIO()):
            telemetry = amas_telemetry.configure(
                app,
                service_name="amas-bench-tail",
                otlp_endpoint=sink_endpoint,
                json_logs=False,
                system_metrics=False,
                **settings,
            )

        def flush() -> None:
            telemetry.tracer_provider.force_flush()
            if telemetry.logger_provider is not None:
                telemetry.logger_provider.force_flush()

    ordinary = ("POST", _apps.REALISTIC_PATH, _apps.REALISTIC_BODY)
    failing = ("GET", "/v1/broken", b"")
    loop = asyncio.new_event_loop()

    async def run(n: int) -> tuple[float, float, int]:
        failed = 0
        cpu = time.process_time()
        start = time.perf_counter()
        for i in range(n):
            failed += (
                await _apps.call_asgi(app, *(failing if i % FAIL_EVERY == FAIL_EVERY - 1 else ordinary))
                == 500
            )
        if flush is not None:
            flush()
        return (time.perf_counter() - start) / n, (time.process_time() - cpu) / n, failed

    sent = 0
    conn.send("ready")
    while True:
        command = conn.recv()
        if command[0] == "round":
            result = loop.run_until_complete(run(command[1]))
            sent += command[1]
            conn.send(result)
        elif command[0] == "sent":
            conn.send(sent)
        else:
            break


def hold_cost_worker(conn: Any, traces: int, rounds: int) -> None:
    """CPU µs per unsampled 4-span trace: a TracerProvider alone vs with the tail decision."""
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

    from amas_telemetry._internal.tracing.provider import RecordEverythingSampler
    from amas_telemetry._internal.tracing.tail import TailDecisionProcessor

    def provider(with_tail: bool) -> Any:
        tracer_provider = TracerProvider(sampler=RecordEverythingSampler(0.0))
        if with_tail:
            tracer_provider.add_span_processor(TailDecisionProcessor(SpanProcessor(), keep_slower_than=0.5))
        return tracer_provider.get_tracer("bench")

    tracers = {"provider alone": provider(False), "with the tail decision": provider(True)}

    def one(tracer: Any) -> float:
        start = time.process_time()
        for _ in range(traces):
            with tracer.start_as_current_span("root"):
                for name in ("cache", "agent", "chat"):
                    with tracer.start_as_current_span(name):
                        pass
        return (time.process_time() - start) / traces

    conn.send(c.interleaved({k: (lambda t=t: one(t)) for k, t in tracers.items()}, rounds))


def run(args: Any) -> dict[str, Any]:
    plan = QUICK if args.quick else FULL
    n = plan["n"]
    results: dict[str, Any] = {"plan": plan, "fail_every": FAIL_EVERY}
    with ExitStack() as stack:
        sinks, workers = {}, {}
        for variant in VARIANTS:
            _, sink = stack.enter_context(c.child(serve_in_child))
            grpc_port, _ = c.receive(sink, 30, "the sink")
            sinks[variant] = sink
            _, conn = stack.enter_context(c.child(worker, variant, f"http://127.0.0.1:{grpc_port}"))
            c.receive(conn, 60, variant)
            workers[variant] = conn

        cpu: dict[Any, list[float]] = {}

        def one_round(conn: Any, requests: int) -> float:
            conn.send(("round", requests))
            seconds, cpu_seconds, failed = c.receive(conn, 300, "a round")
            cpu.setdefault(conn, []).append(cpu_seconds)
            assert failed == requests // FAIL_EVERY, f"{failed} failed of {requests}"
            return seconds

        for conn in workers.values():
            one_round(conn, plan["warmup"])
        cpu.clear()
        for sink in sinks.values():
            sink.send("reset")
            c.receive(sink, 30, "the sink")
        sent_before = {}
        for variant, conn in workers.items():
            conn.send(("sent",))
            sent_before[variant] = c.receive(conn, 30, variant)
        samples = c.interleaved(
            {v: (lambda conn=conn: one_round(conn, n)) for v, conn in workers.items()}, plan["rounds"]
        )
        time.sleep(1.0)  # the last batch reaches the sinks
        stats = {}
        for variant, conn in workers.items():
            conn.send(("sent",))
            sent = c.receive(conn, 30, variant) - sent_before[variant]
            sinks[variant].send("stats")
            stats[variant] = {"requests": sent, **c.receive(sinks[variant], 30, "the sink")}
        for conn in workers.values():
            conn.send(("stop",))
    results["seconds_per_request"] = samples
    results["cpu_seconds_per_request"] = {v: cpu[conn] for v, conn in workers.items()}
    results["sinks"] = stats
    with c.child(hold_cost_worker, 500 if args.quick else 5000, plan["rounds"]) as (_, conn):
        results["seconds_per_unsampled_trace"] = c.receive(conn, 600, "the hold-cost worker")
    return results


def _timing_table(samples: dict[str, list[float]]) -> str:
    base = "bare"
    rows = []
    for variant in VARIANTS:
        median = c.median(samples[variant])
        rows.append(
            [
                variant,
                c.us(median),
                c.spread(samples[variant]),
                f"{c.ratio(samples, variant, base):.2f}",
                c.us(median - c.median(samples[base])) if variant != base else "-",
                f"{c.ratio(samples, variant, 'tail 0.01'):.2f}",
            ]
        )
    headers = ["variant", "µs/request", "spread", "ratio to bare", "telemetry µs", "ratio to tail 0.01"]
    return c.table(headers, rows)


def report(results: dict[str, Any]) -> str:
    stats = results["sinks"]

    def per_1000(variant: str, signal: str, field: str) -> float:
        sent = stats[variant]["requests"]
        return stats[variant][signal][field] * 1000 / sent if sent else float("nan")

    exported = [
        [v, f"{per_1000(v, 'traces', 'items'):,.0f}", f"{per_1000(v, 'traces', 'bytes') / 1000:,.1f}"]
        for v in VARIANTS
        if v != "bare"
    ]
    table = "\n".join(
        [
            "wall clock per request:",
            _timing_table(results["seconds_per_request"]),
            "",
            "CPU time of the app's process per request (less sensitive to other processes' load):",
            _timing_table(results["cpu_seconds_per_request"]),
            "",
            c.table(["variant", "spans exported/1k req", "trace KB/1k req (OTLP protobuf)"], exported),
        ]
    )
    tail_bytes = per_1000("tail 0.01", "traces", "bytes")
    head_bytes = per_1000("head 0.01", "traces", "bytes")
    all_bytes = per_1000("head 1.0", "traces", "bytes")
    log_kb = per_1000("tail 0.01", "logs", "bytes") / 1000
    lines = [
        table,
        "",
        f"trace bytes, tail 0.01 vs head 0.01: {tail_bytes / head_bytes:.1f} times;"
        f" vs head 1.0: {tail_bytes / all_bytes:.3f} times",
        "the Collector's tail_sampling, fed every span: the app ships the 'head 1.0' bytes"
        f" ({all_bytes / tail_bytes:.0f} times what the in-process decision ships);"
        " not run: otelcol-amas has no tail_sampling processor",
        f"logs (every request, any decision): {log_kb:,.1f} KB/1k req",
        "",
    ]
    hold = results["seconds_per_unsampled_trace"]
    alone, held = (c.median(hold[k]) for k in ("provider alone", "with the tail decision"))
    times = c.ratio(hold, "with the tail decision", "provider alone")
    lines.append(
        f"hold and drop of an unsampled 4-span trace (no app, CPU time): {c.us(held - alone)} µs"
        f" ({(held - alone) / 4 * 1e6:.1f} µs per span; {times:.2f} times the provider alone,"
        f" {c.us(alone)} µs)"
    )
    return "\n".join(lines)


def main() -> None:
    args = c.parse_args(__doc__.splitlines()[0])
    c.print_header("Benchmark 6: the tail decision")
    results = run(args)
    print(report(results))
    c.write_json(args.json, results)


if __name__ == "__main__":
    main()
