"""Prometheus names of the AMAS metrics and labels: the one place the dashboards spell them.

The metric names are computed from ``amas_telemetry.catalog`` (the one description of each
metric) by its OTLP translation (``prometheus_name``: the names Prometheus 3 stores with
``UnderscoreEscapingWithSuffixes``). The alerting and recording rules in ``rules/`` are YAML
and spell the names themselves; tests/dashboards/test_metric_catalog.py checks that every
name they, the dashboards and the README use is in the catalog or in the documented list of
external names (:data:`EXTERNAL_METRICS`), and the end-to-end test runs every expression
against a live Prometheus.

Histograms are given by their base name; queries append ``_bucket``, ``_sum``, ``_count``.
"""

from __future__ import annotations

from typing import Final

from amas_telemetry import semconv as sc
from amas_telemetry.catalog import CATALOG
from amas_telemetry.catalog import prometheus_name as _prometheus_name


def prom(name: str) -> str:
    """The Prometheus name of the catalog metric ``name`` (KeyError: not in the catalog)."""
    return _prometheus_name(CATALOG[name])


# --- histograms --------------------------------------------------------------------------------
HTTP_SERVER_DURATION: Final = prom(sc.HTTP_SERVER_REQUEST_DURATION)
DB_CLIENT_DURATION: Final = prom(sc.DB_CLIENT_OPERATION_DURATION)
GEN_AI_DURATION: Final = prom(sc.GEN_AI_CLIENT_OPERATION_DURATION)
GEN_AI_TOKEN_USAGE: Final = prom(sc.GEN_AI_CLIENT_TOKEN_USAGE)
TASK_DURATION: Final = prom(sc.AMAS_TASK_DURATION)
TASK_QUALITY: Final = prom(sc.AMAS_TASK_QUALITY)
AGENT_DURATION: Final = prom(sc.AMAS_AGENT_DURATION)
# GenAI streaming (the GenAI conventions' names) and tools
GEN_AI_TIME_TO_FIRST_CHUNK: Final = prom(sc.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK)
GEN_AI_TIME_PER_OUTPUT_CHUNK: Final = prom(sc.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK)
TOOL_DURATION: Final = prom(sc.AMAS_TOOL_DURATION)

# --- counters ----------------------------------------------------------------------------------
CACHE_OPERATIONS: Final = prom(sc.AMAS_CACHE_OPERATIONS)
AI_COST: Final = prom(sc.AMAS_AI_COST)
AI_FALLBACKS: Final = prom(sc.AMAS_AI_FALLBACKS)
AGENT_TOKEN_USAGE: Final = prom(sc.AMAS_AGENT_TOKEN_USAGE)
AGENT_COST: Final = prom(sc.AMAS_AGENT_COST)
AI_UNPRICED_CALLS: Final = prom(sc.AMAS_AI_UNPRICED_CALLS)
AI_CACHE_READ_TOKENS: Final = prom(sc.AMAS_AI_CACHE_READ_INPUT_TOKENS)
INTEGRATION_TRIGGERS: Final = prom(sc.AMAS_INTEGRATION_TRIGGERS)
USER_LOGINS: Final = prom(sc.AMAS_USER_LOGINS)
SYSTEM_NETWORK_IO: Final = prom(sc.SYSTEM_NETWORK_IO)
SPAN_METRICS_RECORDED: Final = prom(sc.AMAS_TELEMETRY_SPAN_METRICS_RECORDED)  # self-observability
EXPORT_SPOOL_DROPPED: Final = prom(sc.AMAS_TELEMETRY_EXPORT_SPOOL_DROPPED)  # the alert reads it
TAIL_TRACES: Final = prom(sc.AMAS_TELEMETRY_TAIL_TRACES)
TAIL_OVERFLOW: Final = prom(sc.AMAS_TELEMETRY_TAIL_OVERFLOW)  # the alert reads it

# --- gauges ------------------------------------------------------------------------------------
HTTP_ACTIVE_REQUESTS: Final = prom(sc.HTTP_SERVER_ACTIVE_REQUESTS)
TASK_QUEUE_DEPTH: Final = prom(sc.AMAS_TASK_QUEUE_DEPTH)
TASKS_ACTIVE: Final = prom(sc.AMAS_TASKS_ACTIVE)
USERS_ACTIVE: Final = prom(sc.AMAS_USERS_ACTIVE)
AI_BREAKER_STATE: Final = prom(sc.AMAS_AI_BREAKER_STATE)
DB_CONNECTION_COUNT: Final = prom(sc.DB_CLIENT_CONNECTION_COUNT)
DB_CONNECTION_MAX: Final = prom(sc.DB_CLIENT_CONNECTION_MAX)
SYSTEM_CPU_UTILIZATION: Final = prom(sc.SYSTEM_CPU_UTILIZATION)
PROCESS_CPU_UTILIZATION: Final = prom(sc.PROCESS_CPU_UTILIZATION)
SYSTEM_MEMORY_USAGE: Final = prom(sc.SYSTEM_MEMORY_USAGE)
SYSTEM_MEMORY_UTILIZATION: Final = prom(sc.SYSTEM_MEMORY_UTILIZATION)
SYSTEM_FILESYSTEM_USAGE: Final = prom(sc.SYSTEM_FILESYSTEM_USAGE)
PROCESS_MEMORY_USAGE: Final = prom(sc.PROCESS_MEMORY_USAGE)
EXPORT_SPOOL_SIZE: Final = prom(sc.AMAS_TELEMETRY_EXPORT_SPOOL_SIZE)
TAIL_HELD: Final = prom(sc.AMAS_TELEMETRY_TAIL_HELD)

AMAS_METRICS: Final = tuple(_prometheus_name(spec) for spec in CATALOG.values())
"""Every metric amas_telemetry itself defines (the catalog), as Prometheus names it."""

# --- OpenTelemetry SDK self-metrics (OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED) ---------------
# Counted per processor/exporter; the items lost carry error_type.
SDK_EXPORTED: Final = (
    "otel_sdk_exporter_span_exported_total",
    "otel_sdk_exporter_log_exported_total",
    "otel_sdk_exporter_metric_data_point_exported_total",
)
SDK_PROCESSED: Final = (
    "otel_sdk_processor_span_processed_total",
    "otel_sdk_processor_log_processed_total",
)
SDK_EXPORT_ATTEMPTS: Final = "otel_sdk_exporter_operation_duration_seconds_count"
"""Every export attempt, a failed one with ``error_type`` and the gRPC or HTTP status."""

# --- labels ------------------------------------------------------------------------------------
JOB: Final = "job"  # service.name
INSTANCE: Final = "instance"  # service.instance.id
SERVICE_VERSION: Final = "service_version"
ERROR_TYPE: Final = "error_type"  # set only on failures
OVERFLOW: Final = "otel_metric_overflow"  # "true" on the series past the cardinality limit
LE: Final = "le"

HTTP_METHOD: Final = "http_request_method"
HTTP_ROUTE: Final = "http_route"
HTTP_STATUS: Final = "http_response_status_code"
DB_SYSTEM: Final = "db_system_name"
DB_OPERATION: Final = "db_operation_name"
DB_COLLECTION: Final = "db_collection_name"
POOL_NAME: Final = "db_client_connection_pool_name"
POOL_STATE: Final = "db_client_connection_state"  # idle | used
GEN_AI_OPERATION: Final = "gen_ai_operation_name"
PROVIDER: Final = "gen_ai_provider_name"
MODEL: Final = "gen_ai_request_model"
RESPONSE_MODEL: Final = "gen_ai_response_model"
TOKEN_TYPE: Final = "gen_ai_token_type"  # input | output
TASK_TYPE: Final = "amas_task_type"
TASK_PRIORITY: Final = "amas_task_priority"
AGENT: Final = "gen_ai_agent_name"  # from invoke_agent spans
TOOL: Final = "gen_ai_tool_name"  # from execute_tool spans
CACHE_RESULT: Final = "amas_cache_result"  # hit | miss | ok | error
FALLBACK_FROM: Final = "amas_ai_fallback_from"
INTEGRATION_PLATFORM: Final = "amas_integration_platform"
INTEGRATION_EVENT: Final = "amas_integration_event_type"
LOGIN_RESULT: Final = "amas_login_result"  # success | failure
MEMORY_STATE: Final = "system_memory_state"  # used | free
FS_MOUNTPOINT: Final = "system_filesystem_mountpoint"
FS_STATE: Final = "system_filesystem_state"  # used | free
NETWORK_DIRECTION: Final = "network_io_direction"  # transmit | receive
SDK_COMPONENT_TYPE: Final = "otel_component_type"
TELEMETRY_SIGNAL: Final = "amas_telemetry_signal"  # traces | logs | metrics (export spool)
TAIL_DECISION: Final = "amas_tail_decision"  # kept | dropped (tail decision)
TAIL_OVERFLOW_BOUND: Final = "amas_tail_overflow_bound"  # total | trace
