"""The catalog: every metric amas_telemetry defines, described once.

Each :class:`MetricSpec` pairs a name from :mod:`.semconv` with its instrument (kind, unit,
description, advised buckets), the attributes it carries and how several workers' readings
merge on ``/metrics``, the way the OpenTelemetry semantic-conventions package pairs each
metric name with its ``create_*`` factory. The span-metric rules, the state gauges, the
self-metrics and the psutil gauges build their instruments from here
(:meth:`MetricSpec.create`, :meth:`MetricSpec.observe`); the dashboards read the Prometheus
names from :func:`prometheus_name`; tests check the README tables, the rules and the
dashboards against :data:`CATALOG`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final, Literal

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from amas_telemetry import semconv as sc

__all__ = ["CATALOG", "InstrumentKind", "MetricSpec", "prometheus_name", "spec"]


# --- Advised bucket boundaries ----------------------------------------------------------------
HTTP_DURATION_BUCKETS: Final = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
    0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)
"""Advised by the HTTP semantic conventions."""
DB_DURATION_BUCKETS: Final = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)
"""Advised by the DB semantic conventions."""
GEN_AI_DURATION_BUCKETS: Final = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64,
    1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)
"""Advised by the GenAI semantic conventions."""
GEN_AI_TOKEN_BUCKETS: Final = (
    1, 4, 16, 64, 256, 1024, 4096,
    16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)
"""Advised by the GenAI semantic conventions."""
TASK_DURATION_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
"""The original plan's task buckets (0.5 s .. 600 s) plus sub-second ones."""
AGENT_DURATION_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0)
QUALITY_BUCKETS: Final = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


class InstrumentKind(Enum):
    HISTOGRAM = "histogram"
    COUNTER = "counter"
    UP_DOWN_COUNTER = "updowncounter"
    GAUGE = "gauge"


WorkerMerge = Literal["max", "sum"]


@dataclass(frozen=True)
class MetricSpec:
    name: str
    kind: InstrumentKind
    unit: str
    description: str
    attributes: tuple[str, ...] = ()
    buckets: tuple[float, ...] | None = None
    worker_merge: WorkerMerge | None = None
    """How the readings of several live workers become one value on ``/metrics`` (``"max"``,
    ``"sum"``). ``None``: a gauge keeps one series per live worker (label ``worker``: the pid),
    a counter or histogram is summed over every worker that ever ran."""

    def create(self, meter: Meter) -> Any:
        """The synchronous instrument (histogram or counter) of this spec."""
        if self.kind is InstrumentKind.HISTOGRAM:
            return meter.create_histogram(
                self.name,
                unit=self.unit,
                description=self.description,
                explicit_bucket_boundaries_advisory=list(self.buckets) if self.buckets else None,
            )
        if self.kind is InstrumentKind.COUNTER:
            return meter.create_counter(self.name, unit=self.unit, description=self.description)
        if self.kind is InstrumentKind.UP_DOWN_COUNTER:
            return meter.create_up_down_counter(self.name, unit=self.unit, description=self.description)
        raise TypeError(f"{self.name} is a {self.kind.value}: observe it instead")

    def observe(
        self, meter: Meter, callbacks: Sequence[Callable[[CallbackOptions], Iterable[Observation]]]
    ) -> Any:
        """The asynchronous instrument of this spec, read by ``callbacks`` at collection time."""
        factory = {
            InstrumentKind.COUNTER: meter.create_observable_counter,
            InstrumentKind.UP_DOWN_COUNTER: meter.create_observable_up_down_counter,
            InstrumentKind.GAUGE: meter.create_observable_gauge,
        }.get(self.kind)
        if factory is None:
            raise TypeError(f"{self.name} is a histogram: it cannot be observed")
        return factory(self.name, list(callbacks), unit=self.unit, description=self.description)


_UNIT_SUFFIXES: Final = {"s": "seconds", "By": "bytes", "ms": "milliseconds"}


def prometheus_name(spec: MetricSpec) -> str:
    """The name Prometheus 3 stores for this OTLP metric (``UnderscoreEscapingWithSuffixes``).

    Dots become underscores; the unit becomes a suffix (``s`` → ``_seconds``, ``By`` →
    ``_bytes``, ``1`` → ``_ratio`` on gauges; ``{annotation}`` units add nothing), unless
    the name already ends with it; monotonic counters end in ``_total``. Histograms are given
    by their base name (queries append ``_bucket``, ``_sum``, ``_count``).
    """
    name = re.sub(r"[^a-zA-Z0-9_:]", "_", spec.name)
    unit = re.sub(r"\{[^}]*\}", "", spec.unit)
    suffix = _UNIT_SUFFIXES.get(unit, "")
    if unit == "1" and spec.kind is InstrumentKind.GAUGE:
        suffix = "ratio"
    if suffix and not name.endswith(f"_{suffix}"):
        name = f"{name}_{suffix}"
    if spec.kind is InstrumentKind.COUNTER and not name.endswith("_total"):
        name = f"{name}_total"
    return name


H, C, U, G = (
    InstrumentKind.HISTOGRAM,
    InstrumentKind.COUNTER,
    InstrumentKind.UP_DOWN_COUNTER,
    InstrumentKind.GAUGE,
)
_HTTP: Final = (sc.HTTP_REQUEST_METHOD, sc.HTTP_ROUTE, sc.HTTP_RESPONSE_STATUS_CODE, sc.ERROR_TYPE)
_DB: Final = (sc.DB_SYSTEM_NAME, sc.DB_OPERATION_NAME, sc.DB_COLLECTION_NAME, sc.ERROR_TYPE)
_GENAI: Final = (
    sc.GEN_AI_OPERATION_NAME,
    sc.GEN_AI_PROVIDER_NAME,
    sc.GEN_AI_REQUEST_MODEL,
    sc.GEN_AI_RESPONSE_MODEL,
    sc.SERVER_ADDRESS,
    sc.SERVER_PORT,
)
_COST: Final = (sc.GEN_AI_PROVIDER_NAME, sc.GEN_AI_REQUEST_MODEL)
_SIGNAL: Final = (sc.AMAS_TELEMETRY_SIGNAL,)

_SPECS: Final = (
    # --- derived from spans (spanmetrics.rules) ---------------------------------------------
    MetricSpec(
        sc.HTTP_SERVER_REQUEST_DURATION, H, "s", "Duration of HTTP server requests.",
        _HTTP, HTTP_DURATION_BUCKETS,
    ),
    MetricSpec(
        sc.HTTP_SERVER_ACTIVE_REQUESTS, U, "{request}", "Number of active HTTP server requests.",
        (sc.HTTP_REQUEST_METHOD,),
    ),
    MetricSpec(
        sc.DB_CLIENT_OPERATION_DURATION, H, "s", "Duration of database client operations.",
        _DB, DB_DURATION_BUCKETS,
    ),
    MetricSpec(
        sc.AMAS_CACHE_OPERATIONS, C, "{operation}", "Cache operations by result (hit, miss, ok, error).",
        (sc.DB_OPERATION_NAME, sc.AMAS_CACHE_RESULT),
    ),
    MetricSpec(
        sc.GEN_AI_CLIENT_OPERATION_DURATION, H, "s", "GenAI operation duration.",
        (*_GENAI, sc.ERROR_TYPE), GEN_AI_DURATION_BUCKETS,
    ),
    MetricSpec(
        sc.GEN_AI_CLIENT_TOKEN_USAGE, H, "{token}", "Number of input and output tokens used.",
        (*_GENAI, sc.GEN_AI_TOKEN_TYPE), GEN_AI_TOKEN_BUCKETS,
    ),
    MetricSpec(
        sc.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK, H, "s",
        "Time to receive the first chunk of a streamed response.", _GENAI, GEN_AI_DURATION_BUCKETS,
    ),
    MetricSpec(
        sc.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK, H, "s",
        "Time per output chunk after the first one, in streamed responses.", _GENAI,
        GEN_AI_DURATION_BUCKETS,
    ),
    MetricSpec(
        sc.AMAS_AI_COST, C, "{USD}",
        "Cost of AI-provider calls in US dollars (the app's, else genai-prices').", _COST,
    ),
    MetricSpec(
        sc.AMAS_AI_UNPRICED_CALLS, C, "{call}",
        "AI-provider calls with no cost: no app price and no price in genai-prices.", _COST,
    ),
    MetricSpec(
        sc.AMAS_AI_CACHE_READ_INPUT_TOKENS, C, "{token}",
        "Input tokens served from the provider's prompt cache.", _COST,
    ),
    MetricSpec(
        sc.AMAS_AI_FALLBACKS, C, "{fallback}", "AI-provider calls served by a fallback provider.",
        (sc.AMAS_AI_FALLBACK_FROM, sc.GEN_AI_PROVIDER_NAME),
    ),
    MetricSpec(
        sc.AMAS_TASK_DURATION, H, "s", "Duration of AMAS tasks; count by error.type gives outcomes.",
        (sc.AMAS_TASK_TYPE, sc.ERROR_TYPE), TASK_DURATION_BUCKETS,
    ),
    MetricSpec(
        sc.AMAS_TASK_QUALITY, H, "{score}", "Quality score (0..1) of finished tasks.",
        (sc.AMAS_TASK_TYPE,), QUALITY_BUCKETS,
    ),
    MetricSpec(
        sc.AMAS_AGENT_DURATION, H, "s", "Duration of agent runs.",
        (sc.GEN_AI_AGENT_NAME, sc.ERROR_TYPE), AGENT_DURATION_BUCKETS,
    ),
    MetricSpec(
        sc.AMAS_AGENT_TOKEN_USAGE, C, "{token}", "Tokens used by agent runs.",
        (sc.GEN_AI_AGENT_NAME, sc.GEN_AI_TOKEN_TYPE),
    ),
    MetricSpec(
        sc.AMAS_AGENT_COST, C, "{USD}", "Cost of agent runs in US dollars.", (sc.GEN_AI_AGENT_NAME,),
    ),
    MetricSpec(
        sc.AMAS_TOOL_DURATION, H, "s", "Duration of tool calls.",
        (sc.GEN_AI_TOOL_NAME, sc.ERROR_TYPE), AGENT_DURATION_BUCKETS,
    ),
    MetricSpec(
        sc.AMAS_INTEGRATION_TRIGGERS, C, "{trigger}", "Integration events handled.",
        (sc.AMAS_INTEGRATION_PLATFORM, sc.AMAS_INTEGRATION_EVENT_TYPE, sc.ERROR_TYPE),
    ),
    MetricSpec(
        sc.AMAS_USER_LOGINS, C, "{login}", "User logins by result.", (sc.AMAS_LOGIN_RESULT,),
    ),
    # --- self-observability -------------------------------------------------------------------
    MetricSpec(
        sc.AMAS_TELEMETRY_SPAN_METRICS_RECORDED, C, "{measurement}",
        "Measurements derived from spans and recorded (self-observability).",
    ),
    MetricSpec(
        sc.AMAS_TELEMETRY_TAIL_TRACES, C, "{trace}",
        "Unsampled local traces the tail decision kept or dropped.", (sc.AMAS_TAIL_DECISION,),
    ),
    MetricSpec(
        sc.AMAS_TELEMETRY_TAIL_OVERFLOW, C, "{span}",
        "Unsampled spans dropped undecided because the tail decision's hold was full.",
        (sc.AMAS_TAIL_OVERFLOW_BOUND,),
    ),
    MetricSpec(
        sc.AMAS_TELEMETRY_TAIL_HELD, G, "{span}", "Unsampled spans held until their local root ends.",
    ),
    MetricSpec(
        sc.AMAS_TELEMETRY_EXPORT_SPOOL_DROPPED, C, "{item}",
        "Items the export spool dropped (bound or disk).", _SIGNAL,
    ),
    MetricSpec(
        sc.AMAS_TELEMETRY_EXPORT_SPOOL_SIZE, G, "By", "OTLP requests waiting on disk for the Collector.",
        _SIGNAL,
    ),
    # --- state gauges (Telemetry.observe) -------------------------------------------------------
    MetricSpec(
        sc.AMAS_TASK_QUEUE_DEPTH, G, "{task}", "Tasks waiting in the queue, by priority.",
        (sc.AMAS_TASK_PRIORITY,),
        worker_merge="max",  # one shared queue: every worker reads the same depth
    ),
    MetricSpec(
        sc.AMAS_TASKS_ACTIVE, G, "{task}", "Tasks being executed now, by type.", (sc.AMAS_TASK_TYPE,),
        worker_merge="sum",  # each worker runs its own tasks
    ),
    MetricSpec(
        sc.AMAS_USERS_ACTIVE, G, "{user}", "Users seen in the recent activity window.",
        worker_merge="max",  # read from shared state
    ),
    MetricSpec(
        sc.AMAS_AI_BREAKER_STATE, G, "{state}",
        "Circuit breaker per AI provider: 0 closed, 1 open, 2 half-open.", (sc.GEN_AI_PROVIDER_NAME,),
        worker_merge="max",  # the worst breaker of any worker (1 open, 2 half-open)
    ),
    MetricSpec(
        sc.DB_CLIENT_CONNECTION_COUNT, G, "{connection}", "Database pool connections by state (idle, used).",
        (sc.DB_CLIENT_CONNECTION_STATE, sc.DB_CLIENT_CONNECTION_POOL_NAME),
        worker_merge="sum",  # each worker has its own pool
    ),
    MetricSpec(
        sc.DB_CLIENT_CONNECTION_MAX, G, "{connection}", "Maximum connections of the database pool.",
        (sc.DB_CLIENT_CONNECTION_POOL_NAME,),
        worker_merge="sum",  # each worker has its own pool
    ),
    # --- system and process (psutil) -----------------------------------------------------------
    MetricSpec(
        sc.SYSTEM_CPU_UTILIZATION, G, "1", "System-wide CPU utilization (0..1).",
        worker_merge="max",  # the machine's: the same in every worker
    ),
    MetricSpec(sc.PROCESS_CPU_UTILIZATION, G, "1", "CPU utilization of this process over all cores (0..1)."),
    MetricSpec(sc.PROCESS_MEMORY_USAGE, G, "By", "Resident memory of this process."),
    MetricSpec(
        sc.SYSTEM_MEMORY_USAGE, G, "By", "System memory in use and free.", (sc.SYSTEM_MEMORY_STATE,),
        worker_merge="max",  # the machine's
    ),
    MetricSpec(
        sc.SYSTEM_MEMORY_UTILIZATION, G, "1", "Fraction of system memory in use (0..1).",
        worker_merge="max",  # the machine's
    ),
    MetricSpec(
        sc.SYSTEM_FILESYSTEM_USAGE, G, "By", "Filesystem space used and free, per mount point.",
        (sc.SYSTEM_FILESYSTEM_MOUNTPOINT, sc.SYSTEM_FILESYSTEM_STATE),
        worker_merge="max",  # the machine's
    ),
    MetricSpec(
        sc.SYSTEM_NETWORK_IO, C, "By", "Bytes sent and received on all interfaces.",
        (sc.NETWORK_IO_DIRECTION,),
        worker_merge="max",  # a counter, but the machine's: not summed over workers
    ),
)  # fmt: skip

CATALOG: Final[dict[str, MetricSpec]] = {s.name: s for s in _SPECS}
"""Every metric amas_telemetry defines: OTel name → spec."""

STATE_GAUGE_NAMES: Final = (
    sc.AMAS_TASK_QUEUE_DEPTH,
    sc.AMAS_TASKS_ACTIVE,
    sc.AMAS_USERS_ACTIVE,
    sc.AMAS_AI_BREAKER_STATE,
    sc.DB_CLIENT_CONNECTION_COUNT,
    sc.DB_CLIENT_CONNECTION_MAX,
)
"""The gauges an app feeds with :meth:`Telemetry.observe`."""


def spec(name: str) -> MetricSpec:
    """The catalog entry of ``name``; a KeyError names a metric the catalog lacks."""
    return CATALOG[name]
