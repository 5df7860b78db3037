"""Benchmark: the cost of one INFO log line, plain and through ``configure()``'s handlers.

Variants, each in its own process (they set the root logger's handlers):

``plain``       ``logging.basicConfig`` to /dev/null: what any service pays
``ours:json``   ``configure()``: JSON line (trace ids, scrubbed) to /dev/null, no OTLP
``ours:otlp``   the same plus the OTLP log export to a local sink (another process)

A round logs n lines (a message with two extra fields) inside one span, then flushes the
log export, so the batch thread's encoding and gRPC work is charged to the variant. The
cost is the CPU time of the variant's process over the round (all its threads), which
other processes on a loaded machine disturb far less than wall time. Rounds are
interleaved; per-line cost is the median µs of the rounds.

    python -m benchmarks.log_cost [--quick] [--profile ours:otlp]
"""

from __future__ import annotations

import logging
import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as c
from benchmarks._sink import serve_in_child

VARIANTS = ("plain", "ours:json", "ours:otlp")
BASE = "plain"
TARGET_US = 25.0
"""One INFO line with OTLP export, in µs (issue 12)."""
FULL = {"rounds": 21, "n": 2000, "seconds": 40}
QUICK = {"rounds": 5, "n": 500, "seconds": 5}


def _wire(variant: str, endpoint: str) -> Any:
    """Sets up logging for ``variant``; returns the flush to call after each round."""
    devnull = open(os.devnull, "w")  # noqa: SIM115 (lives as long as the process)
    if variant == "plain":
        logging.basicConfig(level=logging.INFO, stream=devnull)
        return lambda: None
    from amas_telemetry._internal.telemetry import Extras, configure_with

    telemetry = configure_with(
        None,
        Extras(json_log_stream=devnull),
        service_name="amas-bench",
        system_metrics=False,
        otlp_endpoint=endpoint if variant == "ours:otlp" else False,
    )
    provider = telemetry.logger_provider
    return (lambda: provider.force_flush()) if provider is not None else (lambda: None)


def worker(conn: Any, variant: str, endpoint: str) -> None:
    from opentelemetry import trace

    flush = _wire(variant, endpoint)
    log = logging.getLogger("amas.bench.logs")
    tracer = trace.get_tracer("amas.bench.logs")

    def round_(n: int) -> float:
        start = time.process_time()
        with tracer.start_as_current_span("round"):
            for _ in range(n):
                log.info("agent step done", extra={"task_id": "7f3c9a2e", "agent": "planner"})
        flush()
        return (time.process_time() - start) / n

    conn.send("ready")
    while True:
        command = conn.recv()
        if command[0] == "round":
            conn.send(round_(command[1]))
        elif command[0] == "profile":
            import cProfile
            import io
            import pstats

            profiler = cProfile.Profile()
            profiler.runcall(round_, command[1])
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
            conn.send(out.getvalue())
        else:
            break


def run(args: Any) -> dict[str, Any]:
    plan = QUICK if args.quick else FULL
    with ExitStack() as stack:
        _, sink = stack.enter_context(c.child(serve_in_child, False))
        grpc_port, _ = c.receive(sink, 30, "the OTLP sink")
        endpoint = f"http://127.0.0.1:{grpc_port}"
        if args.profile:
            _, conn = stack.enter_context(c.child(worker, args.profile, endpoint))
            c.receive(conn, 60, args.profile)
            conn.send(("round", 2000))
            c.receive(conn, 60, args.profile)
            conn.send(("profile", 20000))
            print(c.receive(conn, 300, args.profile))
            return {}
        workers = {v: stack.enter_context(c.child(worker, v, endpoint))[1] for v in VARIANTS}
        for v, conn in workers.items():
            c.receive(conn, 60, v)

        def sample(variant: str, n: int) -> float:
            workers[variant].send(("round", n))
            return c.receive(workers[variant], 120, variant)

        for v in VARIANTS:
            sample(v, plan["n"] // 2)  # warm-up
        deadline = time.monotonic() + plan["seconds"]
        samples = c.interleaved(
            {v: (lambda v=v: sample(v, plan["n"])) for v in VARIANTS}, plan["rounds"], deadline=deadline
        )
    return {"plan": plan, "samples": samples}


def report(results: dict[str, Any]) -> str:
    samples = results["samples"]
    base = c.median(samples[BASE])
    rows = [
        [v, c.us(c.median(s)), c.spread(s), f"{c.ratio(samples, v, BASE):.2f}", c.us(c.median(s) - base)]
        for v, s in samples.items()
    ]
    ours = c.median(samples["ours:otlp"]) * 1e6
    return "\n".join(
        [
            f"## One INFO log line ({len(samples[BASE])} rounds x {results['plan']['n']} lines)",
            c.table(["variant", "µs/line", "IQR", "ratio to plain", "added µs"], rows),
            "",
            c.table(
                ["target", "measured", "verdict"],
                [
                    [
                        f"one INFO line with OTLP export ≤ {TARGET_US:.0f} µs",
                        f"{ours:.1f} µs",
                        c.verdict(ours <= TARGET_US),
                    ]
                ],
            ),
        ]
    )


def main() -> None:
    def extra(parser: Any) -> None:
        parser.add_argument("--profile", choices=VARIANTS, help="print a cProfile of one variant instead")

    args = c.parse_args(__doc__.splitlines()[0], extra)
    c.print_header("Benchmark: log line cost")
    results = run(args)
    if results:
        print(report(results))
        c.write_json(args.json, {"benchmark": "log_cost", **results})


if __name__ == "__main__":
    main()
