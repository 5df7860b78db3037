"""The native stack behind the demo: started when its binaries are built, and links into it."""

from __future__ import annotations

import os
from pathlib import Path

from amas_devstack import links
from amas_devstack.binaries import BinaryMissing, binary
from amas_devstack.demo import say
from amas_devstack.demo.service import Run
from amas_devstack.native_stack import NativeStack
from amas_devstack.ports import Ports, port_in_use

STACK_COMPONENTS = ("victorialogs", "jaeger", "prometheus", "collector")


def start_stack(stack_dir: Path) -> NativeStack | None:
    """The native stack (amas_devstack.native_stack) when its binaries are built, else None.

    Standard ports when they are free, random ones otherwise. The service then exports
    OTLP to its Collector, and the summary ends with links into Jaeger, VictoriaLogs and
    Prometheus.
    """
    try:
        for component in STACK_COMPONENTS:
            binary(component)
    except BinaryMissing:
        say("native stack not built (bash scripts/build_binaries.sh): telemetry stays on /metrics and stdout")
        return None
    ports = Ports()
    if any(port_in_use(port) for port in ports.as_dict().values()):
        ports = Ports.random()
    stack = NativeStack(stack_dir, ports, STACK_COMPONENTS)
    say(f"starting the native stack (Collector, Prometheus, Jaeger, VictoriaLogs) in {stack_dir} ...")
    stack.up(timeout=120)
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://{stack.otlp_grpc_endpoint}"
    os.environ.setdefault("AMAS_METRIC_EXPORT_INTERVAL", "5")
    return stack


#: the demo's Prometheus links: a dashboard's task-rate panel, its latency panel, and the
#: latency histogram whose exemplars lead to traces
TASK_RATE_QUERY = "sum by (amas_task_type) (rate(amas_task_duration_seconds_count[5m]))"
LATENCY_QUERY = (
    "histogram_quantile(0.95, sum by (le, http_route) "
    "(rate(http_server_request_duration_seconds_bucket[5m])))"
)
EXEMPLAR_SERIES = "http_server_request_duration_seconds_bucket"


def stack_links(trace_id: str | None, stack_dir: Path, keep_running: bool = True) -> list[str]:
    """Links into the stack's UIs (amas_devstack.links) when the native stack runs: the
    sample trace, its logs, two Prometheus graphs and the exemplars of the latency series."""
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return []
    lines = [f"Telemetry also went to {os.environ['OTEL_EXPORTER_OTLP_ENDPOINT']}"]
    try:
        stack = NativeStack.load(stack_dir)
    except Exception:  # no native stack state: only the endpoint is known
        return lines
    if not keep_running:
        lines.append("The stack stops with the demo; run it with --keep-running to open these:")
    if trace_id:
        lines.append(f"  trace:     {links.trace(stack.jaeger_url, trace_id)}")
        lines.append(f"  logs:      {links.trace_logs(stack.victorialogs_url, trace_id)}")
    lines.append(f"  metrics:   {links.prometheus_graph(stack.prometheus_url, TASK_RATE_QUERY)}")
    lines.append(f"  latency:   {links.prometheus_graph(stack.prometheus_url, LATENCY_QUERY)}")
    lines.append(f"  exemplars: {links.exemplars(stack.prometheus_url, EXEMPLAR_SERIES)}")
    lines.append(f"  traces:    {stack.jaeger_url}/search   (the stack's trace view: docs/ui.md)")
    return lines


def infrastructure_env(run: Run, interval: str = "15s") -> dict[str, str]:
    """Collector settings that point its pgstats and redis receivers at the PostgreSQL and
    Redis of ``run`` (credentials by environment, as in compose)."""
    return {
        "AMAS_INFRA_INTERVAL": interval,
        "AMAS_POSTGRES_ENDPOINT": f"127.0.0.1:{run.postgres.port}",
        "AMAS_POSTGRES_USER": run.postgres.user,
        "AMAS_POSTGRES_PASSWORD": run.postgres.password,
        "AMAS_POSTGRES_DATABASE": run.postgres.database,
        "AMAS_REDIS_ENDPOINT": f"127.0.0.1:{run.redis.port}",
        "AMAS_REDIS_PASSWORD": run.redis.password,
    }
