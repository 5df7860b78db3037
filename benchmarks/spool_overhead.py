"""Benchmark: request latency with the export spool on vs off, Collector up and Collector away.

Four processes, each a FastAPI app wired by ``amas_telemetry.configure()`` (sampling 1.0, JSON
logs to /dev/null, no system metrics), driven in-process over ASGI (``call_asgi``):

- ``up/off`` and ``up/on``: OTLP/gRPC to a local sink (benchmarks/_sink.py, its own process);
  spool off (``export_spool_max_mb=0``: the SDK's OTLP exporters) vs on (our transport).
- ``away/off`` and ``away/on``: the endpoint is a closed port (a Collector that is away);
  off, the SDK retries each batch within its 5 s timeout and drops it; on, each batch is
  written to the spool on disk (and replay is tried every second).

A timed round is ``n`` sequential requests of one route, with no flush: batch export, spooling
and replay run on their own threads meanwhile, so what they cost the request path (the GIL,
the disk) shows in the request latency, which is what the spool must not raise. Rounds of the
four variants are interleaved (ABCD, DCBA, ...) and each ratio (on/off, same Collector state)
is the median of per-round ratios.

    python -m benchmarks.spool_overhead [--quick]
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as c
from benchmarks._sink import serve_in_child

VARIANTS = ("up/off", "up/on", "away/off", "away/on")
ROUTES = ("minimal", "realistic")
FULL = {"rounds": 15, "n": {"minimal": 600, "realistic": 200}, "seconds_per_cell": 60, "warmup": 50}
QUICK = {"rounds": 4, "n": {"minimal": 200, "realistic": 60}, "seconds_per_cell": 6, "warmup": 20}


def worker(conn: Any, variant: str, endpoint: str, spool_dir: str) -> None:
    """The variant's process: build the app, then answer ("round", route, n) with s/request."""
    from fastapi import FastAPI

    import amas_telemetry
    from benchmarks._apps import MINIMAL_PATH, REALISTIC_BODY, REALISTIC_PATH, add_routes, call_asgi

    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (the JSON log lines go nowhere)
    app = FastAPI()
    add_routes(app)
    spool_on = variant.endswith("/on")
    telemetry = amas_telemetry.configure(
        app,
        service_name="amas-bench",
        otlp_endpoint=endpoint,
        system_metrics=False,
        export_spool_dir=spool_dir,
        export_spool_max_mb=32 if spool_on else 0,
    )
    requests = {"minimal": ("GET", MINIMAL_PATH, b""), "realistic": ("POST", REALISTIC_PATH, REALISTIC_BODY)}
    loop = asyncio.new_event_loop()

    async def run(route: str, n: int) -> tuple[float, int]:
        method, path, body = requests[route]
        bad = 0
        start = time.perf_counter()
        for _ in range(n):
            bad += await call_asgi(app, method, path, body) != 200
        return (time.perf_counter() - start) / n, bad

    conn.send("ready")
    while True:
        command = conn.recv()
        if command[0] != "round":
            break
        conn.send(loop.run_until_complete(run(command[1], command[2])))
    spooled = sum(e.spool.pending_bytes for e in telemetry.spools.exports.values()) if telemetry.spools else 0
    conn.send(spooled)
    telemetry.shutdown()


def run(args: Any) -> dict[str, Any]:
    plan = QUICK if args.quick else FULL
    results: dict[str, Any] = {"plan": plan, "cells": {}, "spooled_bytes_at_end": {}}
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="amas-bench-spool-") as tmp:
        _, sink = stack.enter_context(c.child(serve_in_child))
        grpc_port, _ = c.receive(sink, 30, "the OTLP sink")
        endpoints = {"up": f"http://127.0.0.1:{grpc_port}", "away": f"http://127.0.0.1:{c.free_port()}"}
        workers = {}
        for variant in VARIANTS:
            state = variant.split("/")[0]
            spool_dir = str(Path(tmp) / variant.replace("/", "-"))
            workers[variant] = stack.enter_context(c.child(worker, variant, endpoints[state], spool_dir))[1]
        for variant, conn in workers.items():
            assert c.receive(conn, 60, variant) == "ready"

        def one_round(variant: str, route: str, n: int) -> float:
            workers[variant].send(("round", route, n))
            per_request, bad = c.receive(workers[variant], 300, variant)
            if bad:
                raise RuntimeError(f"{variant}: {bad} of {n} requests did not answer 200")
            return per_request

        for variant in VARIANTS:
            for route in ROUTES:
                one_round(variant, route, plan["warmup"])
        for route in ROUTES:
            n = plan["n"][route]
            deadline = time.monotonic() + plan["seconds_per_cell"]
            samples = c.interleaved(
                {v: (lambda v=v, r=route, k=n: one_round(v, r, k)) for v in VARIANTS},
                plan["rounds"],
                deadline=deadline,
            )
            results["cells"][route] = samples
            print(f"  measured {route}: {len(samples['up/off'])} rounds x {n} requests", file=sys.stderr)
        for variant, conn in workers.items():
            conn.send(("stop",))
            results["spooled_bytes_at_end"][variant] = c.receive(conn, 60, variant)
    return results


def report(results: dict[str, Any]) -> str:
    out = []
    for route, samples in results["cells"].items():
        rows = [[v, c.us(c.median(values)), c.spread(values)] for v, values in samples.items()]
        out.append(f"## {route} route ({len(samples['up/off'])} rounds)")
        out.append(c.table(["variant", "µs/request", "IQR"], rows))
        out.append("")
        out.append(
            c.table(
                ["Collector", "spool on / off (median of per-round ratios)"],
                [
                    ["up", f"{c.ratio(samples, 'up/on', 'up/off'):.3f}"],
                    ["away", f"{c.ratio(samples, 'away/on', 'away/off'):.3f}"],
                ],
            )
        )
        out.append("")
    out.append(f"Spooled bytes at the end: {results['spooled_bytes_at_end']}")
    return "\n".join(out)


def main() -> None:
    args = c.parse_args(__doc__.splitlines()[0])
    c.print_header("Benchmark: request latency, export spool on vs off")
    started = time.monotonic()
    results = run(args)
    print(report(results))
    print(f"\n(total {time.monotonic() - started:.0f} s)")
    c.write_json(args.json, {"benchmark": "spool_overhead", **results})


if __name__ == "__main__":
    main()
