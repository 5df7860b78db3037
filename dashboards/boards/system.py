"""AMAS / System: host and process resources of the service; the telemetry pipeline itself."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards import metrics as m
from dashboards.panels import (
    Target,
    assemble,
    graph,
    instances_variable,
    ratio,
    service_board,
)
from dashboards.promql import (
    INSTANCES,
    any_of,
    eq,
    has,
    lacks,
    rate,
    selector,
    sum_by,
)

UID = "amas-system"
TITLE = "AMAS / System"

CPU_BUSY = ((0.8, "orange"), (0.95, "red"))
MEMORY_FULL = ((0.85, "orange"), (0.95, "red"))


def instance_variable() -> dashboard.QueryVariable:
    """``$instance``: the service's processes (service.instance.id)."""
    query = f'label_values({m.SYSTEM_CPU_UTILIZATION}{{{m.JOB}="$job"}}, {m.INSTANCE})'
    return instances_variable("instance", "Instance", "service.instance.id", query)


def system() -> dashboard.Dashboard:
    host = (INSTANCES,)
    by_mount = [m.INSTANCE, m.FS_MOUNTPOINT]
    host_and_process = [
        ratio(
            "CPU utilization",
            Target(selector(m.SYSTEM_CPU_UTILIZATION, *host), "{{instance}} host"),
            Target(selector(m.PROCESS_CPU_UTILIZATION, *host), "{{instance}} process"),
            thresholds=CPU_BUSY,
        ),
        ratio(
            "Memory utilization",
            Target(selector(m.SYSTEM_MEMORY_UTILIZATION, *host), "{{instance}}"),
            thresholds=MEMORY_FULL,
        ),
        graph(
            "Memory by state, process RSS",
            Target(
                sum_by([m.INSTANCE, m.MEMORY_STATE], selector(m.SYSTEM_MEMORY_USAGE, *host)),
                "{{instance}} {{system_memory_state}}",
            ),
            Target(selector(m.PROCESS_MEMORY_USAGE, *host), "{{instance}} process RSS"),
            unit="bytes",
            span=8,
        ),
        ratio(
            "Filesystem usage",
            Target(
                f"{sum_by(by_mount, selector(m.SYSTEM_FILESYSTEM_USAGE, eq(m.FS_STATE, 'used'), *host))}"
                f"\n/\n{sum_by(by_mount, selector(m.SYSTEM_FILESYSTEM_USAGE, *host))}",
                "{{instance}} {{system_filesystem_mountpoint}}",
            ),
            span=8,
            thresholds=[(0.9, "red")],
        ),
        graph(
            "Network I/O",
            Target(
                sum_by([m.INSTANCE, m.NETWORK_DIRECTION], rate(m.SYSTEM_NETWORK_IO, *host)),
                "{{instance}} {{network_io_direction}}",
            ),
            unit="Bps",
            span=8,
        ),
    ]
    telemetry_pipeline = [
        graph(
            "Span-derived measurements/s",
            Target(sum_by([m.INSTANCE], rate(m.SPAN_METRICS_RECORDED, *host)), "{{instance}}"),
            description="Measurements derived from finished spans (every span, sampled or not).",
            unit="ops",
            span=6,
        ),
        graph(
            "Telemetry exported/s",
            Target(
                sum_by(
                    [m.SDK_COMPONENT_TYPE],
                    f"rate({any_of(m.SDK_EXPORTED, lacks(m.ERROR_TYPE), *host)}[$__rate_interval])",
                ),
                "{{otel_component_type}}",
            ),
            description="Spans, log records and metric points the SDK exported to the Collector.",
            unit="ops",
            span=6,
        ),
        graph(
            "Telemetry dropped/s",
            Target(
                sum_by(
                    [m.INSTANCE, m.SDK_COMPONENT_TYPE, m.ERROR_TYPE],
                    f"rate({any_of((*m.SDK_PROCESSED, *m.SDK_EXPORTED), has(m.ERROR_TYPE), *host)}"
                    "[$__rate_interval])",
                ),
                "{{instance}} {{otel_component_type}}: {{error_type}}",
            ),
            description="Items a batch processor dropped (queue full) or an exporter failed to send.",
            unit="ops",
            span=6,
            no_value="0",
        ),
        graph(
            "Export spool",
            Target(
                sum_by([m.INSTANCE, m.TELEMETRY_SIGNAL], selector(m.EXPORT_SPOOL_SIZE, *host)),
                "{{instance}} {{amas_telemetry_signal}}: bytes waiting",
            ),
            Target(
                sum_by([m.INSTANCE, m.TELEMETRY_SIGNAL], rate(m.EXPORT_SPOOL_DROPPED, *host)),
                "{{instance}} {{amas_telemetry_signal}}: dropped/s",
            ),
            description="OTLP exports waiting on disk while the Collector is away (replayed in "
            "order when it answers), and items dropped past export_spool_max_mb.",
            span=6,
            no_value="0",
        ),
        graph(
            "Tail decision",
            Target(
                sum_by([m.INSTANCE, m.TAIL_DECISION], rate(m.TAIL_TRACES, *host)),
                "{{instance}} {{amas_tail_decision}}/s",
            ),
            Target(sum_by([m.INSTANCE], selector(m.TAIL_HELD, *host)), "{{instance}}: spans held"),
            Target(
                sum_by([m.INSTANCE, m.TAIL_OVERFLOW_BOUND], rate(m.TAIL_OVERFLOW, *host)),
                "{{instance}} overflow ({{amas_tail_overflow_bound}})/s",
            ),
            description="Unsampled local traces the tail decision kept (an error, slow, a rule) or "
            "dropped, the spans it holds until their root ends, and spans dropped past its bounds.",
            span=6,
            no_value="0",
        ),
        graph(
            "Series over the cardinality limit",
            Target(
                f'count by (__name__) ({{{m.JOB}="$job",{m.OVERFLOW}="true"}})',
                "{{__name__}}",
            ),
            description='Series labelled otel_metric_overflow="true": attribute sets past the limit.',
            span=6,
            no_value="0",
        ),
    ]
    board = service_board(
        UID, TITLE, "Host and process resources; the telemetry pipeline itself."
    ).with_variable(instance_variable())
    return assemble(board, ("Host and process", host_and_process), ("Telemetry pipeline", telemetry_pipeline))
