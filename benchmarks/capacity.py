"""Benchmark: the figures of the capacity model (amas_devstack.capacity), and its check.

Everything is measured as CPU seconds of the process under test (user + system, from
/proc/<pid>/stat) per item, minus what the process spends idle over the same time (measured
first), never as wall time: the machine is shared. The pipeline is the scaled one of
docs/scaling.md, on 127.0.0.1:

    load ──OTLP──> agent ──load_balancing, TLS + token──> gateway ─┬─ traces ─> Jaeger
       (agent-loadbalancing.yaml)                  (gateway.yaml)   ├─ metrics ─> Prometheus
                                                                    │   ─remote write─> Thanos router
                                                                    │   ─> 3 ingestors (RF 2)
                                                                    └─ logs ─> VictoriaLogs insert
                                                                        ─> 2 storage nodes

``measure`` (writes benchmarks/capacity_figures.json):

1. idle: every process's CPU over ``--idle`` seconds, the baseline subtracted below;
2. spans: OTLP/gRPC batches of AMAS-shaped spans (benchmarks.collector_throughput's clients);
   CPU of the agent and the gateway per span (the gateway until its queue drained);
3. logs: telemetrygen log records (body and attributes the size of the service's); agent,
   gateway, VictoriaLogs insert and storage nodes per record;
4. metrics: cumulative histograms with the HTTP duration buckets from an OTel SDK client,
   many series, under a name no rule reads; agent and gateway per data point, Prometheus per
   sample appended, the Thanos router per sample forwarded, the ingestors per sample stored
   (x2: replication factor 2);
5. the reference service (2 workers) through the same pipeline at sampling 1 and 0: exported
   spans, log records per request, metric points and samples per replica and export;
6. the export spool: the service with its Collector away (a closed port); bytes the spool
   holds per span, log record and metric point (file names carry the item counts).

``refit`` recomputes the figures from the raw measurements a ``measure --json`` saved.

``check``: the reference service at two other loads; the CPU every tier really spent against
what the model predicts from the requests served.

    python -m benchmarks.capacity measure [--quick] [--json run/capacity.json]
    python -m benchmarks.capacity refit run/capacity.json
    python -m benchmarks.capacity check
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest.mock import patch

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from amas_devstack.binaries import binary
from amas_devstack.capacity import FIGURES_FILE, Assumptions, Figures, Load, load_figures, plan
from amas_devstack.certgen import certgen_binary
from amas_devstack.demo.load import Load as TaskLoad
from amas_devstack.demo.metrics import Metrics
from amas_devstack.demo.service import Run, start_everything
from amas_devstack.native_stack import NativeStack
from amas_devstack.ports import Ports, free_port
from amas_devstack.thanos import ThanosCluster
from amas_devstack.vlcluster import VictoriaLogsCluster
from benchmarks import _common as c

EXPORT_INTERVAL_S = 10.0  # the app's default AMAS_METRIC_EXPORT_INTERVAL
#: the HTTP server duration buckets (semantic conventions' advice), as the app's histograms
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
LOG_BODY = "task 5f0c6a2e-61a4-4d5e-9a55-3b1c2f0d7e11 done in 1.42 s by researcher"
LOG_ATTRIBUTES = (
    'logger.name="amas_service.worker"',
    'code.function="run_task"',
    'amas.task.type="research"',
)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the pipeline ----------------------------------------------------------------------------------
@dataclass
class Pipeline:
    stack: NativeStack
    thanos: ThanosCluster
    logs: VictoriaLogsCluster
    idle_rate: dict[str, float] = field(default_factory=dict)  # process -> idle CPU s per s

    #: the processes whose CPU is measured, by the model's names
    def processes(self) -> dict[str, list[str]]:
        return {
            "agent": ["agent"],
            "gateway": ["gateway"],
            "prometheus": ["prometheus"],
            "jaeger": ["jaeger"],
            "thanos_router": ["thanos-router"],
            "thanos_ingestor": [n.component for n in self.thanos.ingestors],
            "victorialogs_insert": ["victorialogs-insert"],
            "victorialogs_storage": [n.component for n in self.logs.storage],
        }

    def cpu(self) -> dict[str, float]:
        return {
            name: sum(cpu_seconds(self.stack.pid(p)) for p in components)  # type: ignore[arg-type]
            for name, components in self.processes().items()
        }

    def rss_mib(self) -> dict[str, float]:
        return {
            name: max(c.peak_rss_bytes(self.stack.pid(p)) for p in components) / 2**20
            for name, components in self.processes().items()
        }

    @property
    def agent(self) -> Any:
        return self.stack.extra_collectors["agent"]

    @property
    def gateway(self) -> Any:
        return self.stack.extra_collectors["gateway"]

    def collector_counter(self, which: str, name: str, **labels: str) -> float:
        inst = self.stack.extra_collectors[which]
        return c.counter_total(c.scrape(f"http://127.0.0.1:{inst.metrics}/metrics"), name, **labels)

    def gateway_queue(self) -> float:
        text = c.scrape(f"http://127.0.0.1:{self.gateway.metrics}/metrics")
        return sum(v for _, v in c.prometheus_samples(text, "otelcol_exporter_queue_size"))

    def prometheus_counter(self, name: str) -> float:
        return c.counter_total(c.scrape(f"{self.stack.prometheus_url}/metrics"), name)


def secure_hop(directory: Path) -> dict[str, dict[str, str]]:
    """The agent -> gateway hop secured as shipped (collector/gateway.yaml): a private CA and
    server certificate for 127.0.0.1, and a bearer token, made by collector/certgen."""
    proc = subprocess.run(
        [str(certgen_binary()), "-dir", str(directory), "-hosts", "localhost,127.0.0.1", "-token"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"certgen failed: {proc.stdout}{proc.stderr}")
    gateway = {
        "AMAS_COLLECTOR_TLS_CERT_FILE": str(directory / "server.crt"),
        "AMAS_COLLECTOR_TLS_KEY_FILE": str(directory / "server.key"),
        "AMAS_COLLECTOR_TOKEN_FILE": str(directory / "token"),  # one accepted token: the agent's
    }
    agent = {
        "AMAS_GATEWAYS_CA_FILE": str(directory / "ca.crt"),
        "AMAS_GATEWAYS_TOKEN_FILE": str(directory / "token"),
    }
    return {"gateway": gateway, "agent": agent}


@contextlib.contextmanager
def pipeline(workdir: Path) -> Iterator[Pipeline]:
    thanos = ThanosCluster(workdir / "thanos")
    logs = VictoriaLogsCluster(workdir / "vlcluster")
    stack = NativeStack(
        workdir / "stack",
        Ports.random(),
        ("jaeger", "prometheus"),
        prometheus_config=thanos.prometheus_config(),
    )
    try:
        thanos.add_to(stack)
        logs.add_to(stack)
        stack.up(timeout=120)
        quiet = {"AMAS_COLLECTOR_LOG_LEVEL": "warn"}
        tls = secure_hop(workdir / "tls")
        gateway = stack.add_collector(
            "gateway",
            c.REPO_ROOT / "collector" / "gateway.yaml",
            {**quiet, **tls["gateway"], "AMAS_LOGS_ENDPOINT": logs.otlp_logs_url},
        )
        stack.add_collector(
            "agent",
            c.REPO_ROOT / "collector" / "agent-loadbalancing.yaml",
            {**quiet, **tls["agent"], "AMAS_GATEWAYS": f"[127.0.0.1:{gateway.grpc}]"},
        )
        yield Pipeline(stack, thanos, logs)
    finally:
        stack.down()


def measured(
    p: Pipeline, run: Callable[[], None], settle: Callable[[], bool], timeout: float = 300
) -> dict[str, float]:
    """CPU seconds each process spent on ``run`` and until ``settle()`` held, minus idle."""
    before, t0 = p.cpu(), time.monotonic()
    run()
    deadline = time.monotonic() + timeout
    while not settle():
        if time.monotonic() > deadline:
            raise TimeoutError("the pipeline did not settle (the gateway queue or its sent count)")
        time.sleep(0.5)
    time.sleep(2)  # the last exports and flushes
    after, elapsed = p.cpu(), time.monotonic() - t0
    return {name: max(0.0, after[name] - before[name] - p.idle_rate[name] * elapsed) for name in after}


def idle(p: Pipeline, seconds: float) -> None:
    before, t0 = p.cpu(), time.monotonic()
    time.sleep(seconds)
    after, elapsed = p.cpu(), time.monotonic() - t0
    p.idle_rate = {name: (after[name] - before[name]) / elapsed for name in after}


def _drained(p: Pipeline, signal: str) -> Callable[[], bool]:
    """Everything the agent took of ``signal`` has left the gateway (totals, not deltas:
    deltas read at two moments can never meet)."""

    def check() -> bool:
        accepted = p.collector_counter("agent", f"otelcol_receiver_accepted_{signal}")
        sent = p.collector_counter("gateway", f"otelcol_exporter_sent_{signal}")
        return p.gateway_queue() == 0 and sent >= accepted

    return check


# --- synthetic loads ---------------------------------------------------------------------------------
def send_spans(p: Pipeline, seconds: float, clients: int) -> None:
    """OTLP/gRPC batches of 512 AMAS-shaped spans (benchmarks.collector_throughput's clients)."""
    from benchmarks.collector_throughput import load_client

    with contextlib.ExitStack() as stack:
        conns = [
            stack.enter_context(c.child(load_client, f"127.0.0.1:{p.agent.grpc}", seconds, i))[1]
            for i in range(clients)
        ]
        for conn in conns:
            assert c.receive(conn, 120, "a span client") == "ready"
        for conn in conns:
            conn.send("go")
        for conn in conns:
            c.receive(conn, seconds + 120, "a span client")


def send_logs(p: Pipeline, count: int, workers: int) -> None:
    """telemetrygen log records, in batches of 512 as the app's batch processor sends them."""
    argv = [str(binary("telemetrygen")), "logs", "--otlp-endpoint", f"127.0.0.1:{p.agent.grpc}",
            "--otlp-insecure", "--workers", str(workers), "--logs", str(count // workers),
            "--rate", "0",  # unthrottled (telemetrygen's logs default to 1 per second per worker)
            "--batch", "--batch-size", "512", "--body", LOG_BODY, "--severity-text", "INFO",
            "--service", "amas-bench", "--trace-id", "5b8efff798038103d269b633813fc60c",
            "--span-id", "eee19b7ec3c1b174"]  # fmt: skip
    for attribute in LOG_ATTRIBUTES:
        argv += ["--telemetry-attributes", attribute]
    subprocess.run(argv, check=True, capture_output=True, timeout=600)


def metric_client(conn: Any, endpoint: str, series: int, seconds: float, interval_ms: int) -> None:
    """Cumulative histograms (HTTP duration buckets), ``series`` attribute sets, exported
    every ``interval_ms`` over OTLP/gRPC for ``seconds``."""
    import random

    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
    from opentelemetry.sdk.resources import Resource

    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=endpoint, insecure=True), export_interval_millis=interval_ms
    )
    provider = MeterProvider(
        resource=Resource.create({"service.name": "amas-bench-metrics"}),
        metric_readers=[reader],
        views=[View(instrument_name="*", aggregation=ExplicitBucketHistogramAggregation(HTTP_BUCKETS))],
    )
    # a name no rule or dashboard reads: the rules' cost is the service's to measure
    histogram = provider.get_meter("bench").create_histogram("bench.request.duration", unit="s")
    labels = [
        {"http.route": f"/route/{i // 4}", "http.response.status_code": 200 + i % 4} for i in range(series)
    ]
    conn.send("ready")
    conn.recv()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for attributes in labels:
            histogram.record(random.random() * 0.3, attributes)
        time.sleep(interval_ms / 1000 / 2)
    provider.shutdown()
    conn.send("done")


def send_metrics(p: Pipeline, seconds: float, series: int) -> None:
    with c.child(metric_client, f"127.0.0.1:{p.agent.grpc}", series, seconds, 500) as (_, conn):
        assert c.receive(conn, 120, "the metric client") == "ready"
        conn.send("go")
        c.receive(conn, seconds + 120, "the metric client")


SIGNALS = ("spans", "log_records", "metric_points")


def synthetic_phase(p: Pipeline, *loads: Callable[[], None]) -> dict[str, Any]:
    """Runs ``loads`` side by side; the items every signal brought and the CPU of every
    process until all of it left the gateway and Prometheus had remote-written its samples."""
    before = {n: p.collector_counter("agent", f"otelcol_receiver_accepted_{n}") for n in SIGNALS}
    appended0 = p.prometheus_counter("prometheus_tsdb_head_samples_appended")
    remote0 = p.prometheus_counter("prometheus_remote_storage_samples")
    counts: dict[str, float] = {}

    def run() -> None:
        threads = [threading.Thread(target=load) for load in loads]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def settled() -> bool:
        if not all(_drained(p, n)() for n in SIGNALS):
            return False
        counts.update(
            {n: p.collector_counter("agent", f"otelcol_receiver_accepted_{n}") - before[n] for n in SIGNALS}
        )
        counts["samples"] = p.prometheus_counter("prometheus_tsdb_head_samples_appended") - appended0
        counts["remote_samples"] = p.prometheus_counter("prometheus_remote_storage_samples") - remote0
        return counts["remote_samples"] >= counts["samples"] * 0.999

    t0 = time.monotonic()
    cpu = measured(p, run, settled)
    return {**counts, "seconds": time.monotonic() - t0, "cpu": cpu}


# --- the reference service --------------------------------------------------------------------------
def _drive(url: str, tasks: int, rate: float, seed: int) -> TaskLoad:
    async def go() -> TaskLoad:
        load = TaskLoad(tasks, rate=rate, seed=seed)
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            await load.run(client)
        return load

    load = asyncio.run(go())
    assert not load.errors, load.errors[:3]
    return load


@contextlib.contextmanager
def service(workdir: Path, env: dict[str, str], workers: int = 2) -> Iterator[Run]:
    with patch.dict(os.environ, {"AMAS_METRIC_EXPORT_INTERVAL": str(EXPORT_INTERVAL_S), **env}):
        run = start_everything(workdir, workers=workers, latency_scale=0.2)
    try:
        yield run
    finally:
        run.stop()


def _app_requests(run: Run) -> float:
    return Metrics(httpx.get(run.url + "/metrics", timeout=10).text).total(
        "http_server_request_duration_seconds_count"
    )


def service_phase(p: Pipeline, workdir: Path, sampling: float, tasks: int, rate: float) -> dict[str, Any]:
    """The service through the pipeline: what a request and a replica export, and the CPU of
    every tier (the check compares it with the model)."""
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{p.agent.grpc}",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": str(sampling),
        "AMAS_EXPORT_SPOOL_DIR": str(workdir / "spool"),
    }
    names = ("spans", "log_records", "metric_points")
    with service(workdir / "service", env) as run:
        time.sleep(2 * EXPORT_INTERVAL_S)
        before = {n: p.collector_counter("agent", f"otelcol_receiver_accepted_{n}") for n in names}
        appended0 = p.prometheus_counter("prometheus_tsdb_head_samples_appended")
        requests0 = _app_requests(run)
        t0 = time.monotonic()
        result: dict[str, Any] = {}

        def drive() -> None:
            load = _drive(run.url, tasks, rate, seed=int(sampling * 100) + tasks)

            def done() -> bool:
                m = Metrics(httpx.get(run.url + "/metrics", timeout=10).text)
                return m.total("amas_task_duration_seconds_count") >= len(load.accepted)

            while not done():
                time.sleep(0.5)
            time.sleep(EXPORT_INTERVAL_S + 2)  # the batch processors' 5 s schedule, one more metric export
            result["requests"] = _app_requests(run) - requests0
            result["seconds"] = time.monotonic() - t0
            for n in names:
                result[n] = p.collector_counter("agent", f"otelcol_receiver_accepted_{n}") - before[n]
            result["samples"] = p.prometheus_counter("prometheus_tsdb_head_samples_appended") - appended0

        result["cpu"] = measured(p, drive, _drained(p, "spans"))
    result["exports"] = result["seconds"] / EXPORT_INTERVAL_S
    return result


def spool_phase(workdir: Path, tasks: int, rate: float) -> dict[str, float]:
    """Bytes the export spool holds per item while the Collector is away."""
    spool = workdir / "spool"
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}",  # nothing listens
        "OTEL_TRACES_SAMPLER_ARG": "1.0",
        "AMAS_EXPORT_SPOOL_DIR": str(spool),
    }
    with service(workdir / "service-spool", env) as run:
        _drive(run.url, tasks, rate, seed=3)
        time.sleep(8)
    sizes: dict[str, list[float]] = {"traces": [0, 0], "logs": [0, 0], "metrics": [0, 0]}
    for path in spool.rglob("*.otlp"):
        signal, items = path.name.split("-", 1)[0], int(path.stem.rsplit("-", 1)[1])
        sizes[signal][0] += path.stat().st_size
        sizes[signal][1] += items
    return {item: b / n for item, (b, n) in zip(("span", "log", "point"), sizes.values(), strict=True) if n}


# --- the two commands -------------------------------------------------------------------------------
def measure(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="amas-capacity-"))
    workdir.chmod(0o755)  # PostgreSQL runs as its own user and must enter it
    q = args.quick
    try:
        with pipeline(workdir / "pipeline") as p:
            c.print_header("idle")
            idle(p, 10 if q else args.idle)
            print("  " + ", ".join(f"{k} {v * 100:.2f} %" for k, v in p.idle_rate.items()))
            # the service first, on fresh stores: its per-replica and per-node figures must
            # not pay for the synthetic phases' leftovers (heads, compactions)
            c.print_header("service at sampling 1 and 0")
            at1 = service_phase(p, workdir / "s1", 1.0, 20 if q else 180, 4.0)
            at0 = service_phase(p, workdir / "s0", 0.0, 20 if q else 180, 4.0)
            c.print_header("spans")
            spans = synthetic_phase(p, lambda: send_spans(p, 5 if q else 30, clients=2))
            c.print_header("logs")
            logs = synthetic_phase(p, lambda: send_logs(p, 20_000 if q else 200_000, workers=4))
            c.print_header("metrics")
            metrics = synthetic_phase(p, lambda: send_metrics(p, 10 if q else 45, series=200 if q else 1000))
            rss = p.rss_mib()
        c.print_header("export spool")
        spool = spool_phase(workdir, 10 if q else 60, 6.0)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    raw = {"idle": p.idle_rate, "spans": spans, "logs": logs, "metrics": metrics, "at_1": at1, "at_0": at0}
    return {"figures": fit(raw, spool, rss), "raw": raw}


#: the store nodes of the pipeline (ThanosCluster and VictoriaLogsCluster defaults)
NODES = {"thanos_router": 1, "thanos_ingestor": 3, "victorialogs_insert": 1, "victorialogs_storage": 2}

#: process -> item -> which count of a service run feeds it (see fit)
_SERVICE_ITEMS = {
    "agent": {"span": "spans", "log": "log_records", "point": "metric_points"},
    "gateway": {"span": "spans", "log": "log_records", "point": "metric_points"},
    "prometheus": {"sample": "samples"},
    "thanos_router": {"sample": "samples"},
    "thanos_ingestor": {"sample": "samples"},
    "victorialogs_insert": {"line": "log_records"},
    "victorialogs_storage": {"line": "log_records"},
}


def fit(raw: dict[str, Any], spool: dict[str, float], rss: dict[str, float]) -> dict[str, Any]:
    """The model's figures from the phases' raw measurements.

    Per item: a synthetic phase's CPU over its items (the ingestors store every sample twice).
    Per replica: what the two service runs (one replica each) cost a process beyond their
    items at those per-item figures, per second: small requests at a replica's rate (its
    exports are not the full batches of the synthetic phases), and Prometheus's rule
    evaluation, which grows with the series, not with the samples."""
    spans, logs, metrics, at1, at0 = (raw[k] for k in ("spans", "logs", "metrics", "at_1", "at_0"))

    def per(phase: dict[str, Any], process: str, count: str, copies: int = 1) -> float:
        return phase["cpu"][process] / (copies * phase[count])

    cpu = {
        process: {
            "span": per(spans, process, "spans"),
            "log": per(logs, process, "log_records"),
            "point": per(metrics, process, "metric_points"),
        }
        for process in ("agent", "gateway")
    }
    cpu |= {
        "prometheus": {"sample": per(metrics, "prometheus", "samples")},
        "thanos_router": {"sample": per(metrics, "thanos_router", "remote_samples")},
        "thanos_ingestor": {"sample": per(metrics, "thanos_ingestor", "remote_samples", copies=2)},
        "victorialogs_insert": {"line": per(logs, "victorialogs_insert", "log_records")},
        "victorialogs_storage": {"line": per(logs, "victorialogs_storage", "log_records")},
    }

    def residual(run: dict[str, Any], process: str) -> float:
        """CPU per second of a service run beyond its items at the per-item figures."""
        copies = 2 if process == "thanos_ingestor" else 1
        items = sum(
            run[count] * copies * cpu[process][item] for item, count in _SERVICE_ITEMS[process].items()
        )
        return max(0.0, run["cpu"][process] - items) / run["seconds"]

    def mean_residual(process: str, nodes: int = 1) -> float:
        return (residual(at1, process) + residual(at0, process)) / 2 / nodes

    exports = at1["exports"] + at0["exports"]
    return {
        "spans_per_request_sampled": at1["spans"] / at1["requests"],
        "spans_per_request_unsampled": at0["spans"] / at0["requests"],
        "logs_per_request": (at1["log_records"] + at0["log_records"]) / (at1["requests"] + at0["requests"]),
        "points_per_replica_export": (at1["metric_points"] + at0["metric_points"]) / exports,
        "samples_per_replica_export": (at1["samples"] + at0["samples"]) / exports,
        "cpu": cpu,
        # the service runs had one replica, one agent, one gateway, and the nodes of NODES
        "cpu_per_replica": {k: mean_residual(k) for k in ("agent", "gateway", "prometheus")},
        "cpu_per_node": {k: mean_residual(k, n) for k, n in NODES.items()},
        "jaeger_cpu_per_span": per(spans, "jaeger", "spans"),
        "spool_bytes": spool,
        "rss_mib": rss,
    }


def check(args: argparse.Namespace) -> dict[str, Any]:
    """The service at two loads; each tier's measured CPU against the model's prediction."""
    figures = load_figures()
    workdir = Path(tempfile.mkdtemp(prefix="amas-capacity-check-"))
    workdir.chmod(0o755)
    points = [(0.1, 200, 8.0), (0.6, 120, 4.0)]  # sampling, tasks, tasks/s
    results = []
    try:
        with pipeline(workdir / "pipeline") as p:
            idle(p, args.idle)
            for i, (sampling, tasks, rate) in enumerate(points):
                c.print_header(f"check {i + 1}: sampling {sampling}, {tasks} tasks at {rate}/s")
                got = service_phase(p, workdir / f"check{i}", sampling, tasks, rate)
                results.append(compare(figures, sampling, got))
                print(report_check(results[-1]))
            c.print_header("check 3: spans, logs and metrics at once, at other rates than measured")
            got = synthetic_phase(
                p,
                lambda: send_spans(p, 15, clients=1),
                lambda: send_logs(p, 60_000, workers=2),
                lambda: send_metrics(p, 20, series=500),
            )
            results.append(compare_synthetic(figures, got))
            print(report_check(results[-1]))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {"check": results}


def compare(figures: Figures, sampling: float, got: dict[str, Any]) -> dict[str, Any]:
    seconds = got["seconds"]
    predicted = plan(
        Load(
            replicas=1,
            rps=got["requests"] / seconds,
            sampling=sampling,
            nodes=1,
            export_interval_s=EXPORT_INTERVAL_S,
        ),
        figures,
        # the pipeline's own counts: one gateway, one router (the model's minimums are two)
        Assumptions(min_gateways=1, min_routers=1),
    )
    items = {
        "spans": (got["spans"], predicted.rates["spans"] * seconds),
        "log_records": (got["log_records"], predicted.rates["log_records"] * seconds),
        "metric_points": (got["metric_points"], predicted.rates["metric_points"] * seconds),
        "samples": (got["samples"], predicted.rates["samples"] * seconds),
    }
    cpu = {t.name: (got["cpu"].get(t.name, 0.0), t.cores * seconds) for t in predicted.tiers}
    return {
        "sampling": sampling,
        "requests": got["requests"],
        "seconds": seconds,
        "items": items,
        "cpu_seconds": cpu,
        "raw": got,
    }


def compare_synthetic(figures: Figures, got: dict[str, Any]) -> dict[str, Any]:
    """Items alone (no replica): each process's CPU against items x its per-item figures
    (and its per-node figure for the store nodes)."""
    f, seconds = figures, got["seconds"]
    per_item = {
        "span": "spans",
        "log": "log_records",
        "point": "metric_points",
        "sample": "samples",
        "line": "log_records",
    }
    cpu = {}
    for process, items in f.cpu.items():
        copies = 2 if process == "thanos_ingestor" else 1
        predicted = sum(got[per_item[item]] * copies * cost for item, cost in items.items())
        predicted += f.cpu_per_node.get(process, 0.0) * NODES.get(process, 0) * seconds
        cpu[process] = (got["cpu"].get(process, 0.0), predicted)
    items = {n: (got[n], got[n]) for n in (*SIGNALS, "samples")}
    return {
        "sampling": None,
        "requests": 0,
        "seconds": seconds,
        "items": items,
        "cpu_seconds": cpu,
        "raw": got,
    }


def report_check(result: dict[str, Any]) -> str:
    rows = [
        [k, f"{m:,.0f}", f"{p:,.0f}", f"{m / p:.2f}" if p else "-"] for k, (m, p) in result["items"].items()
    ]
    rows += [
        [k, f"{m:.2f} s", f"{p:.2f} s", f"{m / p:.2f}" if p else "-"]
        for k, (m, p) in result["cpu_seconds"].items()
    ]
    head = (
        f"sampling {result['sampling']}, {result['requests']:.0f} requests in {result['seconds']:.0f} s"
        if result["sampling"] is not None
        else f"synthetic, {result['seconds']:.0f} s"
    )
    return head + "\n" + c.table(["", "measured", "model", "measured/model"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["measure", "refit", "check"])
    parser.add_argument("raw", nargs="?", help="refit: a JSON written by `measure --json PATH`")
    parser.add_argument("--quick", action="store_true", help="a small run, for a smoke check (not written)")
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of the idle baseline")
    parser.add_argument("--json", metavar="PATH", help="also write everything measured to PATH")
    args = parser.parse_args()
    if args.command in ("measure", "refit"):
        if args.command == "refit":
            saved = json.loads(Path(args.raw).read_text())
            result = {
                **saved,
                "figures": fit(saved["raw"], saved["figures"]["spool_bytes"], saved["figures"]["rss_mib"]),
            }
        else:
            result = measure(args)
        print(json.dumps(result["figures"], indent=2))
        if not args.quick:
            machine = result.get("machine") or c.machine_info()
            FIGURES_FILE.write_text(
                json.dumps({"machine": machine, **result["figures"]}, indent=2, default=str) + "\n"
            )
            print(f"written: {FIGURES_FILE}")
    else:
        result = check(args)
    c.write_json(args.json, result)


if __name__ == "__main__":
    main()
