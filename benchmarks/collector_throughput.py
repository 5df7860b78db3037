"""Benchmark 5: spans/s the Collector (otelcol-amas, the real collector/config.yaml) accepts.

The Collector runs ``collector/config.yaml`` unchanged (memory_limiter, persistent
sending_queue on file_storage in a temporary folder, retry), every endpoint set through its env
placeholders to free 127.0.0.1 ports. Its trace exporter points at either

- ``sink``: a fast local OTLP/gRPC sink (another process; acknowledges without decoding), or
- ``jaeger``: a real Jaeger v2 with badger storage (scripts/native/jaeger.yaml, as the native
  stack starts it).

Load: several client processes, each sending pre-encoded OTLP/gRPC ExportTraceServiceRequests of
512 spans (HTTP server and GenAI spans with realistic attributes; every send gets fresh trace ids)
with a window of 4 requests in flight, for a bounded time. Reported: spans/s acknowledged to the
clients, the Collector's own accepted / refused / sent counters, its RSS (peak sampled every
0.25 s, and at the end), its CPU, and the time to drain the persistent queue after the load.
Targets alternate (sink, jaeger, sink, jaeger) with a fresh Collector each time.

    python -m benchmarks.collector_throughput [--quick] [--clients 3] [--seconds 20]
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as c
from benchmarks._sink import serve_in_child

CONFIG = c.REPO_ROOT / "collector" / "config.yaml"
JAEGER_CONFIG = c.REPO_ROOT / "scripts" / "native" / "jaeger.yaml"
BATCH = 512
WINDOW = 4
MARKER_LEN = 8
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


# --- load generator (client processes) ---------------------------------------------------------


def _batches(count: int, marker: bytes) -> list[bytes]:
    """``count`` encoded requests of BATCH spans; every trace id starts with ``marker``."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    from benchmarks.span_metrics_cost import make_spans

    class MarkedIds(RandomIdGenerator):
        def generate_trace_id(self) -> int:
            return int.from_bytes(marker + random.getrandbits(64).to_bytes(8, "big"), "big")

    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "amas-bench-load"}), id_generator=MarkedIds()
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("bench")
    bodies = []
    for i in range(count):
        exporter.clear()
        make_spans(tracer, "http" if i % 2 == 0 else "genai", BATCH)
        bodies.append(encode_spans(exporter.get_finished_spans()).SerializeToString())
    provider.shutdown()
    return bodies


def load_client(conn: Any, target: str, seconds: float, seed: int) -> None:
    import grpc

    random.seed(seed)
    marker = random.getrandbits(64).to_bytes(MARKER_LEN, "big")
    bodies = _batches(8, marker)
    channel = grpc.insecure_channel(target)
    grpc.channel_ready_future(channel).result(timeout=30)
    export = channel.unary_unary(EXPORT, request_serializer=None, response_deserializer=None)
    conn.send("ready")
    conn.recv()  # go
    sent = acked = refused = 0
    errors: dict[str, int] = {}
    in_flight: deque[Any] = deque()
    deadline = time.monotonic() + seconds
    counter = 0

    def settle(future: Any) -> None:
        nonlocal acked, refused
        try:
            future.result()
            acked += BATCH
        except grpc.RpcError as error:
            refused += BATCH
            code = str(error.code())
            errors[code] = errors.get(code, 0) + 1

    started = time.monotonic()
    while time.monotonic() < deadline:
        counter += 1
        fresh = counter.to_bytes(MARKER_LEN, "big")  # new trace ids for every send
        body = bodies[counter % len(bodies)].replace(marker, fresh)
        in_flight.append(export.future(body, timeout=10))
        sent += BATCH
        if len(in_flight) >= WINDOW:
            settle(in_flight.popleft())
    while in_flight:
        settle(in_flight.popleft())
    elapsed = time.monotonic() - started
    channel.close()
    conn.send({"sent": sent, "acked": acked, "refused": refused, "errors": errors, "seconds": elapsed})


# --- one run ---------------------------------------------------------------------------------------


class Sampler(threading.Thread):
    """Samples a process's RSS every 0.25 s."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, c.rss_bytes(self.pid))
            except (OSError, ValueError):
                return
            self.stop.wait(0.25)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _collector_counters(metrics_url: str) -> dict[str, float]:
    text = c.scrape(metrics_url)
    return {
        "accepted": c.counter_total(text, "otelcol_receiver_accepted_spans"),
        "refused": c.counter_total(text, "otelcol_receiver_refused_spans"),
        "sent": c.counter_total(text, "otelcol_exporter_sent_spans"),
        "send_failed": c.counter_total(text, "otelcol_exporter_send_failed_spans"),
        "queue": sum(
            v
            for labels, v in c.prometheus_samples(text, "otelcol_exporter_queue_size")
            if labels.get("data_type") == "traces"
        ),
    }


def one_run(
    target_kind: str, clients: int, seconds: float, drain_window: float, workdir: Path, log_dir: Path
) -> dict[str, Any]:
    from contextlib import ExitStack

    with ExitStack() as stack:
        if target_kind == "sink":
            _, sink = stack.enter_context(c.child(serve_in_child, False))
            grpc_port, http_port = c.receive(sink, 30, "the OTLP sink")
        else:
            jaeger_ports = {k: c.free_port() for k in ("grpc", "http", "query", "query_grpc", "metrics")}
            badger = workdir / "jaeger"
            env = {
                "JAEGER_OTLP_GRPC": f"127.0.0.1:{jaeger_ports['grpc']}",
                "JAEGER_OTLP_HTTP": f"127.0.0.1:{jaeger_ports['http']}",
                "JAEGER_QUERY_HTTP": f"127.0.0.1:{jaeger_ports['query']}",
                "JAEGER_QUERY_GRPC": f"127.0.0.1:{jaeger_ports['query_grpc']}",
                "JAEGER_METRICS_PORT": str(jaeger_ports["metrics"]),
                "JAEGER_BADGER_DIR": str(badger),
                "JAEGER_LOG_LEVEL": "warn",
            }
            jaeger = stack.enter_context(
                c.popen(
                    [str(c.binary("jaeger")), "--config", str(JAEGER_CONFIG)], env, log_dir / "jaeger.log"
                )
            )
            c.wait_http(f"http://127.0.0.1:{jaeger_ports['query']}/api/services", 60, jaeger)
            grpc_port, http_port = jaeger_ports["grpc"], jaeger_ports["http"]
        ports = {k: c.free_port() for k in ("grpc", "http", "health", "metrics")}
        env = {
            "AMAS_COLLECTOR_OTLP_GRPC": f"127.0.0.1:{ports['grpc']}",
            "AMAS_COLLECTOR_OTLP_HTTP": f"127.0.0.1:{ports['http']}",
            "AMAS_COLLECTOR_HEALTH": f"127.0.0.1:{ports['health']}",
            "AMAS_COLLECTOR_METRICS_HOST": "127.0.0.1",
            "AMAS_COLLECTOR_METRICS_PORT": str(ports["metrics"]),
            "AMAS_COLLECTOR_STORAGE_DIR": str(workdir / "collector-storage"),
            "AMAS_TRACES_ENDPOINT": f"127.0.0.1:{grpc_port}",
            "AMAS_METRICS_ENDPOINT": f"http://127.0.0.1:{http_port}",
            "AMAS_LOGS_ENDPOINT": f"http://127.0.0.1:{http_port}/v1/logs",
            "AMAS_COLLECTOR_LOG_LEVEL": "warn",
        }
        collector = stack.enter_context(
            c.popen([str(c.binary("otelcol-amas")), "--config", str(CONFIG)], env, log_dir / "collector.log")
        )
        c.wait_http(f"http://127.0.0.1:{ports['health']}/", 60, collector)
        metrics_url = f"http://127.0.0.1:{ports['metrics']}/metrics"
        idle_rss = c.rss_bytes(collector.pid)

        conns = []
        for i in range(clients):
            _, conn = stack.enter_context(c.child(load_client, f"127.0.0.1:{ports['grpc']}", seconds, i))
            conns.append(conn)
        for conn in conns:
            if c.receive(conn, 60, "a load client") != "ready":
                raise RuntimeError("load client failed to start")
        sampler = Sampler(collector.pid)
        sampler.start()
        cpu0, t0 = _cpu_seconds(collector.pid), time.monotonic()
        for conn in conns:
            conn.send("go")
        reports = [c.receive(conn, seconds + 60, "a load client") for conn in conns]
        load_seconds = time.monotonic() - t0
        cpu1 = _cpu_seconds(collector.pid)
        at_end = _collector_counters(metrics_url)
        rss_end = c.rss_bytes(collector.pid)
        drain_start = time.monotonic()
        drained = at_end
        while drained["queue"] > 0 and time.monotonic() - drain_start < drain_window:
            time.sleep(0.25)
            drained = _collector_counters(metrics_url)
        drain_seconds = time.monotonic() - drain_start
        sampler.stop.set()
        sampler.join()
    errors: dict[str, int] = {}
    for r in reports:
        for code, n in r["errors"].items():
            errors[code] = errors.get(code, 0) + n
    return {
        "target": target_kind,
        "clients": clients,
        "load_seconds": load_seconds,
        "acked": sum(r["acked"] for r in reports),
        "refused_by_client": sum(r["refused"] for r in reports),
        "errors": errors,
        "collector_at_end": at_end,
        "collector_after_drain": drained,
        "drain_seconds": drain_seconds,
        "queue_drained": drained["queue"] == 0,
        "rss_idle": idle_rss,
        "rss_peak": sampler.peak,
        "rss_end": rss_end,
        "cpu_cores": (cpu1 - cpu0) / load_seconds,
    }


def run(args: Any) -> dict[str, Any]:
    seconds = args.seconds or (4 if args.quick else 10)
    drain_window = 4 if args.quick else 10
    order = ("sink", "jaeger") if args.quick else ("sink", "jaeger", "sink", "jaeger")
    results: dict[str, Any] = {"seconds": seconds, "clients": args.clients, "runs": []}
    log_dir = Path(tempfile.gettempdir()) / "amas-bench" / "collector_throughput"
    for kind in order:
        workdir = Path(tempfile.mkdtemp(prefix=f"amas-bench-{kind}-"))
        try:
            result = one_run(kind, args.clients, seconds, drain_window, workdir, log_dir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        results["runs"].append(result)
        rate = result["acked"] / result["load_seconds"]
        print(f"  {kind}: {rate:,.0f} spans/s acknowledged", file=sys.stderr)
    return results


def report(results: dict[str, Any]) -> str:
    mb = 1024 * 1024
    rows = []
    rates: dict[str, list[float]] = {}
    exports: dict[str, list[float]] = {}
    for r in results["runs"]:
        t = r["load_seconds"]
        end, drained = r["collector_at_end"], r["collector_after_drain"]
        rate = r["acked"] / t
        rates.setdefault(r["target"], []).append(rate)
        drain_rate = (drained["sent"] - end["sent"]) / r["drain_seconds"] if r["drain_seconds"] else 0.0
        export_rate = drained["sent"] / (t + r["drain_seconds"])
        exports.setdefault(r["target"], []).append(export_rate)
        if r["queue_drained"]:
            drain = f"drained in {r['drain_seconds']:.1f} s"
        else:
            left = drained["queue"] / drain_rate if drain_rate else float("inf")
            drain = f"{drained['queue']:,.0f} left after {r['drain_seconds']:.0f} s (~{left:.0f} s more)"
        rows.append(
            [
                r["target"],
                f"{rate:,.0f}",
                f"{end['accepted'] / t:,.0f}",
                f"{end['refused']:,.0f}" + (f" {r['errors']}" if r["errors"] else ""),
                f"{end['sent'] / t:,.0f}",
                f"{end['queue']:,.0f}",
                drain,
                f"{export_rate:,.0f}",
                f"{r['rss_idle'] / mb:.0f} / {r['rss_peak'] / mb:.0f} / {r['rss_end'] / mb:.0f}",
                f"{r['cpu_cores']:.2f}",
            ]
        )
    out = [
        f"{results['clients']} client processes x {WINDOW} requests in flight x {BATCH} spans/request, "
        f"{results['seconds']} s of load per run",
        "",
        c.table(
            [
                "exporter target",
                "acked spans/s",
                "Collector accepted/s",
                "refused",
                "sent/s during load",
                "queue at end of load",
                "persistent queue drain",
                "exported spans/s (load+drain)",
                "RSS MB idle / peak / end",
                "Collector CPU (cores)",
            ],
            rows,
        ),
    ]
    for target in rates:
        out += [
            "",
            f"{target}: median acknowledged {c.median(rates[target]):,.0f} spans/s "
            "(into the persistent queue); "
            f"median exported {c.median(exports[target]):,.0f} spans/s "
            f"(exported/acknowledged = {c.median(exports[target]) / c.median(rates[target]):.2f})",
        ]
    return "\n".join(out)


def main() -> None:
    def extra(parser: Any) -> None:
        parser.add_argument("--clients", type=int, default=3)
        parser.add_argument("--seconds", type=float, default=0, help="load per run (default 20, quick 5)")

    args = c.parse_args(__doc__.splitlines()[0], extra)
    c.print_header("Benchmark 5: Collector throughput")
    started = time.monotonic()
    results = run(args)
    print(report(results))
    print(f"\n(total {time.monotonic() - started:.0f} s)")
    c.write_json(args.json, {"benchmark": "collector_throughput", **results})


if __name__ == "__main__":
    main()
