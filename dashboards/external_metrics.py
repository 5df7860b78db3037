"""Metric names the dashboards, rules and README use that amas_telemetry does not define.

They come from elsewhere, so the catalog (``amas_telemetry.catalog``) does not list them:

- the OpenTelemetry SDK's own self-metrics (``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED``);
- the Collector's receivers (hostmetrics, redis, pgstats, docker_stats), the Collector's own
  ``/metrics`` and Prometheus's, as :mod:`dashboards.boards.names` spells them.

tests/dashboards/test_metric_catalog.py accepts a name only if the catalog defines it, a
recording rule records it, or it is listed here.
"""

from __future__ import annotations

from typing import Final

from dashboards import metrics as m
from dashboards.boards import names as n

SDK_SELF_METRICS: Final = frozenset({*m.SDK_EXPORTED, *m.SDK_PROCESSED, m.SDK_EXPORT_ATTEMPTS})

_COUNTED_PER_SIGNAL: Final = (n.SENT, n.SEND_FAILED, n.ENQUEUE_FAILED, n.ACCEPTED, n.REFUSED)
"""``<prefix>_<signal>_total``: the Collector counts each of these per signal."""

COLLECTOR_AND_PROMETHEUS: Final = frozenset(
    {
        value
        for key, value in vars(n).items()
        if key.isupper() and isinstance(value, str) and not key.endswith("_JOB")
    }
    - {n.OTLP_HANDLER, n.STATE, n.MOUNTPOINT, n.DEVICE, n.DIRECTION, n.STATUS, n.DB, n.TABLE}
    - {n.LOCK_MODE, n.REDIS_DB, n.EXPORTER, n.RECEIVER, n.RULE_GROUP, n.CODE, *_COUNTED_PER_SIGNAL}
    | {f"{prefix}_{signal}_total" for prefix in _COUNTED_PER_SIGNAL for signal in n.SIGNALS}
)

README_ONLY: Final = frozenset(
    {
        # hostmetrics, listed in the README's infrastructure table
        "system_disk_operations_total",
        # docker_stats (compose stack only; the README derives the names from the translation rules)
        "container_cpu_utilization_ratio",
        "container_memory_usage_total_bytes",
        "container_memory_usage_limit_bytes",
        "container_network_io_usage_rx_bytes_total",
        "container_network_io_usage_tx_bytes_total",
        "container_blockio_io_service_bytes_recursive_bytes_total",
        "system_cpu_utilization",  # the direct /metrics name, without the OTLP _ratio suffix
    }
)

EXTERNAL_METRICS: Final = SDK_SELF_METRICS | COLLECTOR_AND_PROMETHEUS | README_ONLY
