"""Prometheus names of the AMAS metrics and labels: the one place the dashboards spell them.

These are the names Prometheus 3 stores for our OTLP metrics (translation strategy
``UnderscoreEscapingWithSuffixes``: dots become underscores, the unit becomes a suffix,
counters end in ``_total``). Each metric's OTel name and instrument live in
``src/amas_telemetry/semconv.py``, whose docstrings give the same Prometheus names (a test
checks that they agree). The alerting and recording rules in ``rules/`` are YAML and spell
the names themselves; the end-to-end test runs every expression of both against a live
Prometheus, so a wrong name fails there.

Histograms are given by their base name; queries append ``_bucket``, ``_sum``, ``_count``.
"""

from __future__ import annotations

from typing import Final

# --- histograms --------------------------------------------------------------------------------
HTTP_SERVER_DURATION: Final = "http_server_request_duration_seconds"
DB_CLIENT_DURATION: Final = "db_client_operation_duration_seconds"
GEN_AI_DURATION: Final = "gen_ai_client_operation_duration_seconds"
GEN_AI_TOKEN_USAGE: Final = "gen_ai_client_token_usage"
TASK_DURATION: Final = "amas_task_duration_seconds"
TASK_QUALITY: Final = "amas_task_quality_score"
AGENT_DURATION: Final = "amas_agent_duration_seconds"
# GenAI streaming (the GenAI conventions' names) and tools
GEN_AI_TIME_TO_FIRST_CHUNK: Final = "gen_ai_client_operation_time_to_first_chunk_seconds"
GEN_AI_TIME_PER_OUTPUT_CHUNK: Final = "gen_ai_client_operation_time_per_output_chunk_seconds"
TOOL_DURATION: Final = "amas_tool_duration_seconds"

# --- counters ----------------------------------------------------------------------------------
CACHE_OPERATIONS: Final = "amas_cache_operations_total"
AI_COST: Final = "amas_ai_cost_usd_total"
AI_FALLBACKS: Final = "amas_ai_fallbacks_total"
AGENT_TOKEN_USAGE: Final = "amas_agent_token_usage_total"
AGENT_COST: Final = "amas_agent_cost_usd_total"
AI_UNPRICED_CALLS: Final = "amas_ai_unpriced_calls_total"
AI_CACHE_READ_TOKENS: Final = "amas_ai_cache_read_input_tokens_total"
INTEGRATION_TRIGGERS: Final = "amas_integration_triggers_total"
USER_LOGINS: Final = "amas_user_logins_total"
SYSTEM_NETWORK_IO: Final = "system_network_io_bytes_total"
SPAN_METRICS_RECORDED: Final = "amas_telemetry_span_metrics_recorded_total"  # self-observability
EXPORT_SPOOL_DROPPED: Final = "amas_telemetry_export_spool_dropped_total"  # the alert reads it
TAIL_TRACES: Final = "amas_telemetry_tail_traces_total"
TAIL_OVERFLOW: Final = "amas_telemetry_tail_overflow_total"  # the alert reads it

# --- gauges ------------------------------------------------------------------------------------
HTTP_ACTIVE_REQUESTS: Final = "http_server_active_requests"
TASK_QUEUE_DEPTH: Final = "amas_task_queue_depth"
TASKS_ACTIVE: Final = "amas_tasks_active"
USERS_ACTIVE: Final = "amas_users_active"
AI_BREAKER_STATE: Final = "amas_ai_breaker_state"
DB_CONNECTION_COUNT: Final = "db_client_connection_count"
DB_CONNECTION_MAX: Final = "db_client_connection_max"
SYSTEM_CPU_UTILIZATION: Final = "system_cpu_utilization_ratio"
PROCESS_CPU_UTILIZATION: Final = "process_cpu_utilization_ratio"
SYSTEM_MEMORY_USAGE: Final = "system_memory_usage_bytes"
SYSTEM_MEMORY_UTILIZATION: Final = "system_memory_utilization_ratio"
SYSTEM_FILESYSTEM_USAGE: Final = "system_filesystem_usage_bytes"
PROCESS_MEMORY_USAGE: Final = "process_memory_usage_bytes"
EXPORT_SPOOL_SIZE: Final = "amas_telemetry_export_spool_size_bytes"
TAIL_HELD: Final = "amas_telemetry_tail_held"

AMAS_METRICS: Final = (
    HTTP_SERVER_DURATION, DB_CLIENT_DURATION, GEN_AI_DURATION, GEN_AI_TOKEN_USAGE, TASK_DURATION,
    TASK_QUALITY, AGENT_DURATION, CACHE_OPERATIONS, AI_COST, AI_FALLBACKS, AGENT_TOKEN_USAGE, AGENT_COST,
    INTEGRATION_TRIGGERS, USER_LOGINS, SYSTEM_NETWORK_IO, SPAN_METRICS_RECORDED, HTTP_ACTIVE_REQUESTS,
    TASK_QUEUE_DEPTH, TASKS_ACTIVE, USERS_ACTIVE, AI_BREAKER_STATE, DB_CONNECTION_COUNT, DB_CONNECTION_MAX,
    SYSTEM_CPU_UTILIZATION, PROCESS_CPU_UTILIZATION, SYSTEM_MEMORY_USAGE, SYSTEM_MEMORY_UTILIZATION,
    SYSTEM_FILESYSTEM_USAGE, PROCESS_MEMORY_USAGE,
    GEN_AI_TIME_TO_FIRST_CHUNK, GEN_AI_TIME_PER_OUTPUT_CHUNK, TOOL_DURATION, AI_UNPRICED_CALLS,
    AI_CACHE_READ_TOKENS, EXPORT_SPOOL_DROPPED, EXPORT_SPOOL_SIZE, TAIL_TRACES, TAIL_OVERFLOW, TAIL_HELD,
)  # fmt: skip
"""Every metric amas_telemetry itself defines (each documented in semconv.py)."""

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
