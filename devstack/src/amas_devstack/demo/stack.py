"""The native stack behind the demo: started when its binaries are built, and links into it."""

from __future__ import annotations

import os
from pathlib import Path

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


def stack_links(trace_id: str | None, stack_dir: Path) -> list[str]:
    """Jaeger / Prometheus / VictoriaLogs links when the native stack runs."""
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return []
    links = [f"Telemetry also went to {os.environ['OTEL_EXPORTER_OTLP_ENDPOINT']}"]
    try:
        stack = NativeStack.load(stack_dir)
    except Exception:  # no native stack state: only the endpoint is known
        return links
    if trace_id:
        links.append(f"  trace:   {stack.jaeger_url}/trace/{trace_id}")
        links.append(f'  logs:    {stack.victorialogs_url}/select/vmui/#/?query=trace_id:"{trace_id}"')
    links.append(
        f"  metrics: {stack.prometheus_url}/query?g0.expr="
        "sum+by+(amas_task_type)(rate(amas_task_duration_seconds_count[5m]))"
    )
    return links


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
