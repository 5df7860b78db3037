"""Every attribute and metric name amas_telemetry uses, in one place.

OpenTelemetry semantic-convention names are re-exported from ``opentelemetry.semconv``
where they exist; the ``amas.*`` namespace covers what the conventions do not (tasks,
agents, cost, fallbacks, queue, breaker). No other module spells a raw key.

A metric's docstring says what its name means; its instrument (kind, unit, description,
attributes, buckets) and its Prometheus name are in :mod:`.catalog`, the one description
of each metric.
"""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import Final

from opentelemetry.semconv._incubating.attributes.deployment_attributes import (  # pyright: ignore[reportMissingTypeStubs]
    DEPLOYMENT_ENVIRONMENT_NAME,
)
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (  # pyright: ignore[reportMissingTypeStubs]
    GEN_AI_AGENT_ID,
    GEN_AI_AGENT_NAME,
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_REQUEST_STREAM,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
    GEN_AI_TOKEN_TYPE,
    GEN_AI_TOOL_CALL_ID,
    GEN_AI_TOOL_NAME,
    GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
)
from opentelemetry.semconv._incubating.metrics.gen_ai_metrics import (  # pyright: ignore[reportMissingTypeStubs]
    GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK,
    GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
)
from opentelemetry.semconv.attributes.client_attributes import CLIENT_ADDRESS, CLIENT_PORT
from opentelemetry.semconv.attributes.db_attributes import (
    DB_COLLECTION_NAME,
    DB_OPERATION_NAME,
    DB_QUERY_TEXT,
    DB_SYSTEM_NAME,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.http_attributes import (
    HTTP_REQUEST_METHOD,
    HTTP_REQUEST_METHOD_ORIGINAL,
    HTTP_RESPONSE_STATUS_CODE,
    HTTP_ROUTE,
)
from opentelemetry.semconv.attributes.network_attributes import NETWORK_PROTOCOL_VERSION
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS, SERVER_PORT
from opentelemetry.semconv.attributes.service_attributes import (
    SERVICE_INSTANCE_ID,
    SERVICE_NAME,
    SERVICE_VERSION,
)
from opentelemetry.semconv.attributes.url_attributes import URL_PATH, URL_QUERY, URL_SCHEME
from opentelemetry.semconv.attributes.user_agent_attributes import USER_AGENT_ORIGINAL

__all__ = [
    "CLIENT_ADDRESS",
    "CLIENT_PORT",
    "DB_COLLECTION_NAME",
    "DB_OPERATION_NAME",
    "DB_QUERY_TEXT",
    "DB_SYSTEM_NAME",
    "DEPLOYMENT_ENVIRONMENT_NAME",
    "ERROR_TYPE",
    "GEN_AI_AGENT_ID",
    "GEN_AI_AGENT_NAME",
    "GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK",
    "GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK",
    "GEN_AI_OPERATION_NAME",
    "GEN_AI_PROVIDER_NAME",
    "GEN_AI_REQUEST_MODEL",
    "GEN_AI_REQUEST_STREAM",
    "GEN_AI_RESPONSE_MODEL",
    "GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK",
    "GEN_AI_TOKEN_TYPE",
    "GEN_AI_TOOL_CALL_ID",
    "GEN_AI_TOOL_NAME",
    "GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS",
    "GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS",
    "GEN_AI_USAGE_INPUT_TOKENS",
    "GEN_AI_USAGE_OUTPUT_TOKENS",
    "GEN_AI_USAGE_REASONING_OUTPUT_TOKENS",
    "HTTP_REQUEST_METHOD",
    "HTTP_REQUEST_METHOD_ORIGINAL",
    "HTTP_RESPONSE_STATUS_CODE",
    "HTTP_ROUTE",
    "NETWORK_PROTOCOL_VERSION",
    "SERVER_ADDRESS",
    "SERVER_PORT",
    "SERVICE_INSTANCE_ID",
    "SERVICE_NAME",
    "SERVICE_VERSION",
    "URL_PATH",
    "URL_QUERY",
    "URL_SCHEME",
    "USER_AGENT_ORIGINAL",
]

# --- HTTP server span: header capture and the opt-in per-message spans ---------------------
HTTP_REQUEST_HEADER_PREFIX: Final = "http.request.header."
"""``http.request.header.<lower-case name>``: a captured request header (a list of strings)."""
HTTP_RESPONSE_HEADER_PREFIX: Final = "http.response.header."
"""``http.response.header.<lower-case name>``: a captured response header (a list of strings)."""
OTEL_COMPONENT_TYPE: Final = "otel.component.type"
"""Which SDK-style component counted an item (on ``otel.sdk.*`` self-metrics)."""
ASGI_EVENT_TYPE: Final = "asgi.event.type"
"""The ASGI message type on an ``http send``/``http receive`` span (the contrib instrumentor's key)."""

# --- Older (pre-stable) names that instrumentations still emit by default -----------------
# The contrib instrumentations write these unless OTEL_SEMCONV_STABILITY_OPT_IN says
# otherwise; the span-metric rules read the stable name first and fall back to these.
LEGACY_HTTP_METHOD: Final = "http.method"
LEGACY_HTTP_STATUS_CODE: Final = "http.status_code"
LEGACY_DB_SYSTEM: Final = "db.system"
LEGACY_DB_STATEMENT: Final = "db.statement"
LEGACY_DB_OPERATION: Final = "db.operation"
LEGACY_DB_SQL_TABLE: Final = "db.sql.table"
LEGACY_GEN_AI_SYSTEM: Final = "gen_ai.system"
"""Older name of ``gen_ai.provider.name`` (openai-v2 still sets it unless opted in to the latest)."""
LEGACY_GEN_AI_PROVIDERS: Final = {
    "vertex_ai": "gcp.vertex_ai",
    "gemini": "gcp.gemini",
    "az.ai.inference": "azure.ai.inference",
    "az.ai.openai": "azure.ai.openai",
    "xai": "x_ai",
}
"""Older ``gen_ai.system`` values renamed by the conventions (the rest kept their spelling)."""
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: Final = "gen_ai.usage.cache_write.input_tokens"
"""What the anthropic SDK's own tracing calls ``gen_ai.usage.cache_creation.input_tokens``."""

# --- amas.* span attributes ----------------------------------------------------------------
AMAS_OPERATION: Final = "amas.operation"
"""Marks an AMAS domain span; one of :class:`AmasOperation`. Selects the span-metric rules."""

AMAS_TASK_ID: Final = "amas.task.id"
"""Task identifier. Span attribute only: never a metric label (unbounded)."""
AMAS_TASK_TYPE: Final = "amas.task.type"
AMAS_TASK_PRIORITY: Final = "amas.task.priority"
AMAS_TASK_QUALITY_SCORE: Final = "amas.task.quality_score"
"""Quality score of a finished task, 0..1."""

AMAS_AI_COST_USD: Final = "amas.ai.cost_usd"
"""Cost in US dollars of one AI-provider call (or the sum over an agent run). Set by the app, it
wins over the price table (genai-prices)."""
AMAS_AI_RESPONSE_CHUNKS: Final = "amas.ai.response.chunks"
"""Chunks received in a streamed response (with ``gen_ai.response.time_to_first_chunk``, the
time per output chunk is derived from it)."""
AMAS_AI_FALLBACK_FROM: Final = "amas.ai.fallback_from"
"""Set on a GenAI span served by a fallback provider: the provider that failed first."""

AMAS_CACHE_RESULT: Final = "amas.cache.result"
"""Outcome of a cache call: one of :class:`CacheResult`."""

AMAS_INTEGRATION_PLATFORM: Final = "amas.integration.platform"
AMAS_INTEGRATION_EVENT_TYPE: Final = "amas.integration.event_type"

AMAS_LOGIN_RESULT: Final = "amas.login.result"
"""``success`` or ``failure``: a refused login is not a span error."""

AMAS_BREAKER_STATE: Final = "amas.ai.breaker.state"

OTEL_METRIC_OVERFLOW: Final = "otel.metric.overflow"
"""Label of the one series that absorbs attribute sets past the cardinality limit."""
AMAS_TAIL_DECISION: Final = "amas.tail.decision"
"""On :data:`AMAS_TELEMETRY_TAIL_TRACES`: ``kept`` or ``dropped``."""
AMAS_TAIL_OVERFLOW_BOUND: Final = "amas.tail.overflow.bound"
"""On :data:`AMAS_TELEMETRY_TAIL_OVERFLOW`: ``total`` (all held spans) or ``trace`` (one trace)."""
AMAS_TAIL_KEPT_BY: Final = "amas.tail.kept_by"
"""On the local root of a trace the tail decision kept: ``error``, ``slow`` or ``rule``;
``upstream`` on a server span sampled because its caller sent the ``amas=keep`` hint."""
AMAS_TELEMETRY_SIGNAL: Final = "amas.telemetry.signal"
"""``traces``, ``logs`` or ``metrics``: the OTLP signal a self-metric of the export path is about."""

DB_CLIENT_CONNECTION_STATE: Final = "db.client.connection.state"
DB_CLIENT_CONNECTION_POOL_NAME: Final = "db.client.connection.pool.name"
SYSTEM_MEMORY_STATE: Final = "system.memory.state"
SYSTEM_FILESYSTEM_MOUNTPOINT: Final = "system.filesystem.mountpoint"
SYSTEM_FILESYSTEM_STATE: Final = "system.filesystem.state"
NETWORK_IO_DIRECTION: Final = "network.io.direction"

# Attributes that carry prompt or completion text: dropped unless record_prompts=True.
# The forms of the current GenAI conventions, their older names, and those other
# instrumentations use (Traceloop/OpenLLMetry, OpenInference).
PROMPT_ATTRIBUTES: Final = frozenset(
    {
        "gen_ai.prompt",
        "gen_ai.completion",
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.request.messages",
        "gen_ai.response.messages",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "llm.prompts",
        "llm.prompt",
        "llm.completions",
        "input.value",
        "output.value",
        "traceloop.entity.input",
        "traceloop.entity.output",
        "amas.ai.prompt",
        "amas.ai.completion",
    }
)
PROMPT_ATTRIBUTE_PREFIXES: Final = (
    "gen_ai.prompt.",  # gen_ai.prompt.0.content, gen_ai.prompt.0.role
    "gen_ai.completion.",
    "gen_ai.request.messages.",
    "llm.prompts.",
    "llm.input_messages.",
    "llm.output_messages.",
    "llm.prompt_template.variables",
)
# Events (span events or OTLP log records) whose body and attributes are prompt text.
PROMPT_EVENTS: Final = frozenset(
    {
        "gen_ai.user.message",
        "gen_ai.system.message",
        "gen_ai.assistant.message",
        "gen_ai.tool.message",
        "gen_ai.choice",
        "gen_ai.content.prompt",
        "gen_ai.content.completion",
    }
)


class AmasOperation(StrEnum):
    """Values of :data:`AMAS_OPERATION`. Agents and tools are GenAI operations instead."""

    TASK = "task"
    INTEGRATION = "integration"
    LOGIN = "login"


class CacheResult(StrEnum):
    HIT = "hit"
    MISS = "miss"
    OK = "ok"
    ERROR = "error"


class BreakerState(int, Enum):
    """Values of the breaker-state gauge; ``== 1`` is what the alert looks for."""

    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


class GenAiOperation(StrEnum):
    """Values of ``gen_ai.operation.name`` this library produces or treats specially."""

    CHAT = "chat"
    INVOKE_AGENT = "invoke_agent"
    EXECUTE_TOOL = "execute_tool"
    CREATE_AGENT = "create_agent"
    INVOKE_WORKFLOW = "invoke_workflow"


NOT_A_MODEL_CALL: Final = frozenset(
    {
        GenAiOperation.INVOKE_AGENT,
        GenAiOperation.EXECUTE_TOOL,
        GenAiOperation.CREATE_AGENT,
        GenAiOperation.INVOKE_WORKFLOW,
    }
)
"""Operations that wrap model calls (their tokens are the sum of the calls inside): the
``gen_ai.client.*`` metrics leave them out, so no token is counted twice."""


class TokenType(StrEnum):
    INPUT = "input"
    OUTPUT = "output"


# --- Metrics derived from spans ------------------------------------------------------------
HTTP_SERVER_REQUEST_DURATION: Final = "http.server.request.duration"
"""How long each HTTP request the app served took, from its server span."""
HTTP_SERVER_ACTIVE_REQUESTS: Final = "http.server.active_requests"
"""HTTP requests being served now (server spans started and not yet ended)."""
DB_CLIENT_OPERATION_DURATION: Final = "db.client.operation.duration"
"""How long each database or Redis operation took, from its client span."""
AMAS_CACHE_OPERATIONS: Final = "amas.cache.operations"
"""Cache operations, by result (hit, miss, ok, error)."""
GEN_AI_CLIENT_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"
"""How long each GenAI model call took, from its client span."""
GEN_AI_CLIENT_TOKEN_USAGE: Final = "gen_ai.client.token.usage"
"""Input and output tokens of each GenAI model call."""
# GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK (imported above): streamed calls only.
# GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK (imported above): one point per chunk after the first.
AMAS_AI_COST: Final = "amas.ai.cost_usd"
"""What AI-provider calls cost, in US dollars."""
AMAS_AI_UNPRICED_CALLS: Final = "amas.ai.unpriced_calls"
"""GenAI calls with neither an app cost nor a price in genai-prices (counted, never guessed)."""
AMAS_AI_CACHE_READ_INPUT_TOKENS: Final = "amas.ai.cache_read.input_tokens"
"""Input tokens served from the provider's prompt cache (part of the input tokens)."""
AMAS_AI_FALLBACKS: Final = "amas.ai.fallbacks"
"""AI-provider calls served by a fallback provider."""
AMAS_TASK_DURATION: Final = "amas.task.duration"
"""How long each AMAS task took; its count by error.type gives the outcomes."""
AMAS_TASK_QUALITY: Final = "amas.task.quality_score"
"""The quality score (0..1) of each finished task."""
AMAS_AGENT_DURATION: Final = "amas.agent.duration"
"""How long each agent run took, from its ``invoke_agent`` span."""
AMAS_AGENT_TOKEN_USAGE: Final = "amas.agent.token.usage"
"""Tokens used by agent runs."""
AMAS_AGENT_COST: Final = "amas.agent.cost_usd"
"""What agent runs cost, in US dollars."""
AMAS_TOOL_DURATION: Final = "amas.tool.duration"
"""How long each tool call took, from its ``execute_tool`` span."""
AMAS_INTEGRATION_TRIGGERS: Final = "amas.integration.triggers"
"""Integration events handled."""
AMAS_USER_LOGINS: Final = "amas.user.logins"
"""User logins, by result."""

AMAS_TELEMETRY_SPAN_METRICS_RECORDED: Final = "amas.telemetry.span_metrics.recorded"
"""Measurements derived from spans so far (self-observability)."""
AMAS_TELEMETRY_TAIL_TRACES: Final = "amas.telemetry.tail.traces"
"""Unsampled local traces the tail decision settled, kept or dropped."""
AMAS_TELEMETRY_TAIL_OVERFLOW: Final = "amas.telemetry.tail.overflow"
"""Unsampled spans dropped undecided because the tail decision's hold was full."""
AMAS_TELEMETRY_TAIL_HELD: Final = "amas.telemetry.tail.held"
"""Unsampled spans held now, waiting for their local root to end."""
AMAS_TELEMETRY_EXPORT_SPOOL_DROPPED: Final = "amas.telemetry.export.spool.dropped"
"""Spans, log records or metric points the export spool dropped (its bound reached, or the disk refused)."""
AMAS_TELEMETRY_EXPORT_SPOOL_SIZE: Final = "amas.telemetry.export.spool.size"
"""OTLP requests waiting on disk for the Collector."""

# --- State gauges, read at collection time from callbacks the app registers ----------------
AMAS_TASK_QUEUE_DEPTH: Final = "amas.task.queue.depth"
"""Tasks waiting in the queue."""
AMAS_TASKS_ACTIVE: Final = "amas.tasks.active"
"""Tasks being executed now."""
AMAS_USERS_ACTIVE: Final = "amas.users.active"
"""Users seen in the recent activity window."""
AMAS_AI_BREAKER_STATE: Final = "amas.ai.breaker.state"
"""Each AI provider's circuit breaker (:class:`BreakerState`)."""
DB_CLIENT_CONNECTION_COUNT: Final = "db.client.connection.count"
"""Database pool connections, idle or used."""
DB_CLIENT_CONNECTION_MAX: Final = "db.client.connection.max"
"""The most connections the database pool may open."""

# --- System and process gauges (psutil) ----------------------------------------------------
SYSTEM_CPU_UTILIZATION: Final = "system.cpu.utilization"
"""The machine's CPU utilization (0..1)."""
SYSTEM_MEMORY_USAGE: Final = "system.memory.usage"
"""The machine's memory in use and free."""
SYSTEM_MEMORY_UTILIZATION: Final = "system.memory.utilization"
"""The fraction of the machine's memory in use (0..1)."""
SYSTEM_FILESYSTEM_USAGE: Final = "system.filesystem.usage"
"""Filesystem space used and free, per mount point."""
SYSTEM_NETWORK_IO: Final = "system.network.io"
"""Bytes the machine sent and received on all interfaces."""
PROCESS_CPU_UTILIZATION: Final = "process.cpu.utilization"
"""This process's CPU utilization over all cores (0..1)."""
PROCESS_MEMORY_USAGE: Final = "process.memory.usage"
"""This process's resident memory."""
