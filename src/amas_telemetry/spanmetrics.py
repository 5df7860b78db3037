"""SpanMetricsProcessor: every finished span, sampled or not, becomes metric points.

What to derive is a table (:data:`DEFAULT_RULES`): which spans (a predicate), which
instrument (name, kind, unit, buckets), which attributes (getters) and which value.
Instruments are built once in ``__init__``; ``on_end`` only matches and queues the
measurements, which reach the SDK when a reader collects (see :mod:`.deferred`).

Attribute sets are looked up in a per-instrument cache keyed by the tuple of attribute
values, so the dict handed to the SDK is built (and scrubbed) once per distinct set. The
same cache enforces the cardinality limit: past ``cardinality_limit`` distinct sets, points
fold into one series labelled ``otel.metric.overflow="true"``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from time import time_ns
from typing import Any

from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.util.types import AttributeValue

from amas_telemetry import genai
from amas_telemetry import semconv as sc
from amas_telemetry.deferred import DeferredMeasurements
from amas_telemetry.genai_calls import current_agent, current_call
from amas_telemetry.redact import Scrubber

__all__ = ["DEFAULT_RULES", "InstrumentKind", "MetricRule", "SpanMetricsProcessor"]

_log = logging.getLogger(__name__)

Attributes = dict[str, AttributeValue]
Getter = Callable[[ReadableSpan, Any], AttributeValue | None]
Predicate = Callable[[ReadableSpan, Any], bool]
ValueFn = Callable[[ReadableSpan, Any], float | None]


class InstrumentKind(Enum):
    HISTOGRAM = "histogram"
    COUNTER = "counter"


@dataclass(frozen=True)
class MetricRule:
    """One row of the derivation table."""

    when: Predicate
    """Which spans this rule applies to."""
    metric: str
    kind: InstrumentKind
    unit: str
    description: str
    attributes: tuple[tuple[str, Getter], ...]
    """(metric attribute name, getter) pairs; a getter returning None leaves the key out."""
    value: ValueFn
    """The recorded value; None records nothing for this span."""
    buckets: tuple[float, ...] | None = None
    repeat: Callable[[ReadableSpan, Any], int] | None = None
    """How many points of ``value`` the span stands for (one per streamed chunk); None: one."""


# --- Predicates ------------------------------------------------------------------------------


def _first(attrs: Any, *keys: str) -> Any:
    for key in keys:
        value = attrs.get(key)
        if value is not None:
            return value
    return None


@dataclass(frozen=True)
class AttributeIs:
    """Predicate: the span has ``key`` set to ``value``.

    The processor indexes these by key, so any number of them costs one lookup per span.
    """

    key: str
    value: str

    def __call__(self, span: ReadableSpan, attrs: Any) -> bool:
        return attrs.get(self.key) == self.value


def amas_operation(operation: sc.AmasOperation) -> Predicate:
    return AttributeIs(sc.AMAS_OPERATION, operation.value)


def has_attribute(key: str) -> Predicate:
    return lambda span, attrs: key in attrs


def is_http_server(span: ReadableSpan, attrs: Any) -> bool:
    return span.kind is SpanKind.SERVER and (
        sc.HTTP_REQUEST_METHOD in attrs or sc.LEGACY_HTTP_METHOD in attrs
    )


def is_db_client(span: ReadableSpan, attrs: Any) -> bool:
    return span.kind is SpanKind.CLIENT and (sc.DB_SYSTEM_NAME in attrs or sc.LEGACY_DB_SYSTEM in attrs)


def is_cache_client(span: ReadableSpan, attrs: Any) -> bool:
    """Client spans the redis hooks marked as cache commands (queue traffic is not caching)."""
    return span.kind is SpanKind.CLIENT and sc.AMAS_CACHE_RESULT in attrs


def is_genai_fallback(span: ReadableSpan, attrs: Any) -> bool:
    return sc.AMAS_AI_FALLBACK_FROM in attrs and genai.is_model_call(span, attrs)


is_genai = genai.is_model_call

# --- Getters -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class attr:  # lowercase: reads as a function in the rule table
    """Getter: the first of ``keys`` present on the span (one key is read inline)."""

    keys: tuple[str, ...]

    def __init__(self, *keys: str) -> None:
        object.__setattr__(self, "keys", keys)

    def __call__(self, span: ReadableSpan, attrs: Any) -> Any:
        return _first(attrs, *self.keys)


def const(value: str) -> Getter:
    return lambda span, attrs: value


def error_type(span: ReadableSpan, attrs: Any) -> str | None:
    """``error.type`` as the conventions define it: the attribute, else the exception, else _OTHER."""
    value = attrs.get(sc.ERROR_TYPE)
    if value is not None:
        return str(value)
    if span.status.status_code is not StatusCode.ERROR:
        return None
    for event in reversed(span.events):
        if event.name == "exception" and event.attributes:
            exc_type = event.attributes.get("exception.type")
            if exc_type:
                return str(exc_type).rsplit(".", 1)[-1]
    return "_OTHER"


def http_error_type(span: ReadableSpan, attrs: Any) -> str | None:
    """The status code for a 5xx answer (as the HTTP conventions say), else as :func:`error_type`."""
    if sc.ERROR_TYPE not in attrs:
        status = _first(attrs, sc.HTTP_RESPONSE_STATUS_CODE, sc.LEGACY_HTTP_STATUS_CODE)
        if isinstance(status, int) and status >= 500:
            return str(status)
    return error_type(span, attrs)


_STATEMENT_CACHE: dict[str, tuple[str | None, str | None]] = {}
_STATEMENT = re.compile(
    r"^\s*(\w+)(?:.*?\b(?:FROM|INTO|UPDATE|TABLE|JOIN)\s+\"?([A-Za-z_][\w.]*)\"?)?", re.IGNORECASE | re.DOTALL
)


def _parse_statement(statement: str) -> tuple[str | None, str | None]:
    """(operation, collection) of a query text, cached: statements are parameterized."""
    parsed = _STATEMENT_CACHE.get(statement)
    if parsed is None:
        match = _STATEMENT.match(statement)
        parsed = (match.group(1).upper(), match.group(2)) if match else (None, None)
        if len(_STATEMENT_CACHE) < 4096:
            _STATEMENT_CACHE[statement] = parsed
    return parsed


def _statement(attrs: Any) -> str | None:
    value = _first(attrs, sc.DB_QUERY_TEXT, sc.LEGACY_DB_STATEMENT)
    return value if isinstance(value, str) else None


def db_operation(span: ReadableSpan, attrs: Any) -> str | None:
    value = _first(attrs, sc.DB_OPERATION_NAME, sc.LEGACY_DB_OPERATION)
    if value is not None:
        return str(value)
    statement = _statement(attrs)
    if statement:
        return _parse_statement(statement)[0]
    return span.name.split(" ", 1)[0] or None


def db_collection(span: ReadableSpan, attrs: Any) -> str | None:
    value = _first(attrs, sc.DB_COLLECTION_NAME, sc.LEGACY_DB_SQL_TABLE)
    if value is not None:
        return str(value)
    statement = _statement(attrs)
    return _parse_statement(statement)[1] if statement else None


def cache_result(span: ReadableSpan, attrs: Any) -> str:
    value = attrs.get(sc.AMAS_CACHE_RESULT)
    if value is not None:
        return str(value)
    return (
        sc.CacheResult.ERROR.value if span.status.status_code is StatusCode.ERROR else sc.CacheResult.OK.value
    )


# --- Values ------------------------------------------------------------------------------------


def duration_seconds(span: ReadableSpan, attrs: Any) -> float | None:
    if span.end_time is None or span.start_time is None:
        return None
    return (span.end_time - span.start_time) / 1e9


def one(span: ReadableSpan, attrs: Any) -> float:
    return 1.0


def number(key: str) -> ValueFn:
    def read(span: ReadableSpan, attrs: Any) -> float | None:
        value = attrs.get(key)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    return read


# --- The table -------------------------------------------------------------------------------

H, C = InstrumentKind.HISTOGRAM, InstrumentKind.COUNTER
_HTTP_ATTRS: tuple[tuple[str, Getter], ...] = (
    (sc.HTTP_REQUEST_METHOD, attr(sc.HTTP_REQUEST_METHOD, sc.LEGACY_HTTP_METHOD)),
    (sc.HTTP_ROUTE, attr(sc.HTTP_ROUTE)),
    (sc.HTTP_RESPONSE_STATUS_CODE, attr(sc.HTTP_RESPONSE_STATUS_CODE, sc.LEGACY_HTTP_STATUS_CODE)),
    (sc.ERROR_TYPE, http_error_type),
)
_DB_ATTRS: tuple[tuple[str, Getter], ...] = (
    (sc.DB_SYSTEM_NAME, attr(sc.DB_SYSTEM_NAME, sc.LEGACY_DB_SYSTEM)),
    (sc.DB_OPERATION_NAME, db_operation),
    (sc.DB_COLLECTION_NAME, db_collection),
    (sc.ERROR_TYPE, error_type),
)
_GENAI_ATTRS: tuple[tuple[str, Getter], ...] = (
    (sc.GEN_AI_OPERATION_NAME, attr(sc.GEN_AI_OPERATION_NAME)),
    (sc.GEN_AI_PROVIDER_NAME, genai.provider_name),
    (sc.GEN_AI_REQUEST_MODEL, attr(sc.GEN_AI_REQUEST_MODEL)),
    (sc.GEN_AI_RESPONSE_MODEL, attr(sc.GEN_AI_RESPONSE_MODEL)),
    (sc.SERVER_ADDRESS, attr(sc.SERVER_ADDRESS)),
    (sc.SERVER_PORT, attr(sc.SERVER_PORT)),
)
"""The attributes the GenAI conventions put on the gen_ai.client.* metrics."""
_COST_ATTRS: tuple[tuple[str, Getter], ...] = (
    (sc.GEN_AI_PROVIDER_NAME, genai.provider_name),
    (sc.GEN_AI_REQUEST_MODEL, attr(sc.GEN_AI_REQUEST_MODEL)),
)
_TASK = amas_operation(sc.AmasOperation.TASK)
_AGENT = AttributeIs(sc.GEN_AI_OPERATION_NAME, sc.GenAiOperation.INVOKE_AGENT.value)
_TOOL = AttributeIs(sc.GEN_AI_OPERATION_NAME, sc.GenAiOperation.EXECUTE_TOOL.value)
_AGENT_ATTRS: tuple[tuple[str, Getter], ...] = ((sc.GEN_AI_AGENT_NAME, attr(sc.GEN_AI_AGENT_NAME)),)


def _token_rules(
    when: Predicate,
    metric: str,
    kind: InstrumentKind,
    description: str,
    attributes: tuple[tuple[str, Getter], ...],
    buckets: tuple[float, ...] | None,
) -> tuple[MetricRule, ...]:
    """One rule per token type, sharing one instrument."""
    return tuple(
        MetricRule(
            when,
            metric,
            kind,
            "{token}",
            description,
            (*attributes, (sc.GEN_AI_TOKEN_TYPE, const(token_type.value))),
            number(key),
            buckets,
        )
        for token_type, key in (
            (sc.TokenType.INPUT, sc.GEN_AI_USAGE_INPUT_TOKENS),
            (sc.TokenType.OUTPUT, sc.GEN_AI_USAGE_OUTPUT_TOKENS),
        )
    )


DEFAULT_RULES: tuple[MetricRule, ...] = (
    MetricRule(
        is_http_server,
        sc.HTTP_SERVER_REQUEST_DURATION,
        H,
        "s",
        "Duration of HTTP server requests.",
        _HTTP_ATTRS,
        duration_seconds,
        sc.HTTP_DURATION_BUCKETS,
    ),
    MetricRule(
        is_db_client,
        sc.DB_CLIENT_OPERATION_DURATION,
        H,
        "s",
        "Duration of database client operations.",
        _DB_ATTRS,
        duration_seconds,
        sc.DB_DURATION_BUCKETS,
    ),
    MetricRule(
        is_cache_client,
        sc.AMAS_CACHE_OPERATIONS,
        C,
        "{operation}",
        "Cache operations by result (hit, miss, ok, error).",
        ((sc.DB_OPERATION_NAME, db_operation), (sc.AMAS_CACHE_RESULT, cache_result)),
        one,
    ),
    MetricRule(
        is_genai,
        sc.GEN_AI_CLIENT_OPERATION_DURATION,
        H,
        "s",
        "GenAI operation duration.",
        (*_GENAI_ATTRS, (sc.ERROR_TYPE, error_type)),
        duration_seconds,
        sc.GEN_AI_DURATION_BUCKETS,
    ),
    *_token_rules(
        is_genai,
        sc.GEN_AI_CLIENT_TOKEN_USAGE,
        H,
        "Number of input and output tokens used.",
        _GENAI_ATTRS,
        sc.GEN_AI_TOKEN_BUCKETS,
    ),
    MetricRule(
        genai.is_streamed_model_call,
        sc.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
        H,
        "s",
        "Time to receive the first chunk of a streamed response.",
        _GENAI_ATTRS,
        genai.time_to_first_chunk,
        sc.GEN_AI_DURATION_BUCKETS,
    ),
    MetricRule(
        genai.is_streamed_model_call,
        sc.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK,
        H,
        "s",
        "Time per output chunk after the first one, in streamed responses.",
        _GENAI_ATTRS,
        genai.time_per_output_chunk,
        sc.GEN_AI_DURATION_BUCKETS,
        repeat=genai.output_chunks_after_first,
    ),
    MetricRule(
        is_genai,
        sc.AMAS_AI_COST,
        C,
        "{USD}",
        "Cost of AI-provider calls in US dollars (the app's, else genai-prices').",
        _COST_ATTRS,
        genai.cost_usd,
    ),
    MetricRule(
        genai.is_unpriced,
        sc.AMAS_AI_UNPRICED_CALLS,
        C,
        "{call}",
        "AI-provider calls with no cost: no app price and no price in genai-prices.",
        _COST_ATTRS,
        one,
    ),
    MetricRule(
        is_genai,
        sc.AMAS_AI_CACHE_READ_INPUT_TOKENS,
        C,
        "{token}",
        "Input tokens served from the provider's prompt cache.",
        _COST_ATTRS,
        genai.cache_read_tokens,
    ),
    MetricRule(
        is_genai_fallback,
        sc.AMAS_AI_FALLBACKS,
        C,
        "{fallback}",
        "AI-provider calls served by a fallback provider.",
        (
            (sc.AMAS_AI_FALLBACK_FROM, attr(sc.AMAS_AI_FALLBACK_FROM)),
            (sc.GEN_AI_PROVIDER_NAME, genai.provider_name),
        ),
        one,
    ),
    MetricRule(
        _TASK,
        sc.AMAS_TASK_DURATION,
        H,
        "s",
        "Duration of AMAS tasks; count by error.type gives outcomes.",
        ((sc.AMAS_TASK_TYPE, attr(sc.AMAS_TASK_TYPE)), (sc.ERROR_TYPE, error_type)),
        duration_seconds,
        sc.TASK_DURATION_BUCKETS,
    ),
    MetricRule(
        _TASK,
        sc.AMAS_TASK_QUALITY,
        H,
        "{score}",
        "Quality score (0..1) of finished tasks.",
        ((sc.AMAS_TASK_TYPE, attr(sc.AMAS_TASK_TYPE)),),
        number(sc.AMAS_TASK_QUALITY_SCORE),
        sc.QUALITY_BUCKETS,
    ),
    MetricRule(
        _AGENT,
        sc.AMAS_AGENT_DURATION,
        H,
        "s",
        "Duration of agent runs.",
        (*_AGENT_ATTRS, (sc.ERROR_TYPE, error_type)),
        duration_seconds,
        sc.AGENT_DURATION_BUCKETS,
    ),
    *_token_rules(_AGENT, sc.AMAS_AGENT_TOKEN_USAGE, C, "Tokens used by agent runs.", _AGENT_ATTRS, None),
    MetricRule(
        _AGENT,
        sc.AMAS_AGENT_COST,
        C,
        "{USD}",
        "Cost of agent runs in US dollars.",
        _AGENT_ATTRS,
        number(sc.AMAS_AI_COST_USD),
    ),
    MetricRule(
        _TOOL,
        sc.AMAS_TOOL_DURATION,
        H,
        "s",
        "Duration of tool calls.",
        ((sc.GEN_AI_TOOL_NAME, attr(sc.GEN_AI_TOOL_NAME)), (sc.ERROR_TYPE, error_type)),
        duration_seconds,
        sc.AGENT_DURATION_BUCKETS,
    ),
    MetricRule(
        amas_operation(sc.AmasOperation.INTEGRATION),
        sc.AMAS_INTEGRATION_TRIGGERS,
        C,
        "{trigger}",
        "Integration events handled.",
        (
            (sc.AMAS_INTEGRATION_PLATFORM, attr(sc.AMAS_INTEGRATION_PLATFORM)),
            (sc.AMAS_INTEGRATION_EVENT_TYPE, attr(sc.AMAS_INTEGRATION_EVENT_TYPE)),
            (sc.ERROR_TYPE, error_type),
        ),
        one,
    ),
    MetricRule(
        amas_operation(sc.AmasOperation.LOGIN),
        sc.AMAS_USER_LOGINS,
        C,
        "{login}",
        "User logins by result.",
        ((sc.AMAS_LOGIN_RESULT, attr(sc.AMAS_LOGIN_RESULT)),),
        one,
    ),
)


def plain_attributes(span: ReadableSpan) -> Any:
    """The span's attributes as a plain dict, for cheap lookups.

    ``span.attributes`` is a read-only proxy over ``BoundedAttributes``, whose every ``get``
    and ``in`` goes through the generic Mapping methods (~0.5 µs each; a rule table asks
    a dozen). The underlying dict is read directly when the SDK has one, else copied.
    """
    raw = getattr(span, "_attributes", None)
    inner = getattr(raw, "_dict", None)
    if isinstance(inner, dict):
        return inner
    return dict(span.attributes or {})


_OVERFLOW: Attributes = {sc.OTEL_METRIC_OVERFLOW: "true"}


class _Series:
    """Instrument + the cache of attribute sets it has seen (the cardinality limiter)."""

    __slots__ = ("cache", "limit", "scrubber", "sink")

    def __init__(self, sink: Any, limit: int, scrubber: Scrubber) -> None:
        self.sink = sink
        self.cache: dict[tuple[Any, ...], Attributes] = {}
        self.limit = limit
        self.scrubber = scrubber

    def attributes(self, names: tuple[str, ...], values: tuple[Any, ...]) -> Attributes:
        cached = self.cache.get(values)
        if cached is not None:
            return cached
        if len(self.cache) >= self.limit:
            return _OVERFLOW
        built = {n: self.scrubber.value(n, v) for n, v in zip(names, values, strict=True) if v is not None}
        self.cache[values] = built
        return built


class _CompiledRule:
    __slots__ = ("getters", "names", "repeat", "series", "value")

    def __init__(self, rule: MetricRule, series: _Series) -> None:
        self.names = tuple(name for name, _ in rule.attributes)
        # A plain string stands for "read this key": the hot loop does attrs.get inline.
        self.getters = tuple(
            g.keys[0] if isinstance(g, attr) and len(g.keys) == 1 else g for _, g in rule.attributes
        )
        self.value = rule.value
        self.repeat = rule.repeat
        self.series = series


class SpanMetricsProcessor(SpanProcessor):
    """Derives metrics from every span that ends, including RECORD_ONLY (unsampled) ones.

    Exemplars are recorded with the span's own context (built at drain time), so they
    point at that span, and only when it is exported: sampled (the SDK's trace-based
    exemplar filter checks the flag) or in ``kept_traces``, the tail decision's kept set.
    """

    def __init__(
        self,
        meter: Meter,
        rules: Sequence[MetricRule] = DEFAULT_RULES,
        *,
        cardinality_limit: int = 2000,
        scrubber: Scrubber | None = None,
        kept_traces: Container[int] = frozenset(),
    ) -> None:
        scrubber = scrubber or Scrubber()
        self._pending = DeferredMeasurements(kept_traces=kept_traces)
        series: dict[str, _Series] = {}
        groups: dict[Predicate, list[_CompiledRule]] = {}
        for rule in rules:
            if rule.metric not in series:
                if rule.kind is InstrumentKind.HISTOGRAM:
                    instrument = meter.create_histogram(
                        rule.metric,
                        unit=rule.unit,
                        description=rule.description,
                        explicit_bucket_boundaries_advisory=list(rule.buckets) if rule.buckets else None,
                    )
                else:
                    instrument = meter.create_counter(
                        rule.metric, unit=rule.unit, description=rule.description
                    )
                series[rule.metric] = _Series(self._pending.sink_for(instrument), cardinality_limit, scrubber)
            groups.setdefault(rule.when, []).append(_CompiledRule(rule, series[rule.metric]))
        indexed: dict[str, dict[str, list[_CompiledRule]]] = {}
        for when, compiled in groups.items():
            if isinstance(when, AttributeIs):
                indexed.setdefault(when.key, {}).setdefault(when.value, []).extend(compiled)
        self._indexed = tuple((k, {v: tuple(c) for v, c in table.items()}) for k, table in indexed.items())
        self._groups = tuple((w, tuple(c)) for w, c in groups.items() if not isinstance(w, AttributeIs))
        # Active requests are counted in a dict and read at collection time.
        self._active: dict[Any, int] = {}
        self._active_lock = threading.Lock()
        meter.create_observable_up_down_counter(
            sc.HTTP_SERVER_ACTIVE_REQUESTS,
            [self._observe_active],
            unit="{request}",
            description="Number of active HTTP server requests.",
        )
        # Its callback runs first in every collection and drains the deferred measurements.
        meter.create_observable_counter(
            sc.AMAS_TELEMETRY_SPAN_METRICS_RECORDED,
            [self._drain],
            unit="{measurement}",
            description="Measurements derived from spans and recorded (self-observability).",
        )
        self._seen_responses = genai.SeenResponses()
        self._shutdown = False

    def _drain(self, options: CallbackOptions) -> Iterable[Observation]:
        self._pending.drain()
        return [Observation(self._pending.recorded)]

    def _observe_active(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._active_lock:
            counts = list(self._active.items())
        return [Observation(count, {sc.HTTP_REQUEST_METHOD: method}) for method, count in counts]

    def _count_active(self, attrs: Any, delta: int) -> None:
        method = _first(attrs, sc.HTTP_REQUEST_METHOD, sc.LEGACY_HTTP_METHOD)
        with self._active_lock:
            if method not in self._active and len(self._active) >= 64:
                method = "_OTHER"
            self._active[method] = self._active.get(method, 0) + delta

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if self._shutdown:
            return
        try:
            if span.kind is SpanKind.SERVER:
                attrs = plain_attributes(span)
                if sc.HTTP_REQUEST_METHOD in attrs or sc.LEGACY_HTTP_METHOD in attrs:
                    self._count_active(attrs, 1)
            elif (call := current_call()) is not None:
                # the GenAI span of the call; opentelemetry-util-genai starts it bare (its
                # attributes come at the end): then the call's first CLIENT span is it
                attrs = plain_attributes(span)
                if genai.is_model_call(span, attrs) or (call.span is None and span.kind is SpanKind.CLIENT):
                    call.span = span
                    added = {k: v for k, v in call.attributes.items() if k not in attrs}
                    added.update(call.overrides)
                    if added:
                        span.set_attributes(added)
        except Exception:
            _log.exception("amas_telemetry: span metrics failed on span start")

    @staticmethod
    def _add_to_agent(span: ReadableSpan, attrs: Any) -> None:
        """A model call ended inside an agent run: its tokens and cost go on the agent span."""
        totals = current_agent()
        if totals is None or not genai.is_model_call(span, attrs):
            return
        usage = genai.usage_of(attrs)
        if usage is not None:
            totals.add(usage.input_tokens, usage.output_tokens, genai.cost_usd(span, attrs))

    def on_end(self, span: ReadableSpan) -> None:
        if self._shutdown:
            return
        try:
            attrs = plain_attributes(span)
            add = self._pending.add
            end_time = span.end_time or time_ns()
            span_context = span.context
            get = attrs.get
            if sc.GEN_AI_RESPONSE_ID in attrs and self._seen_responses.is_duplicate(span, attrs):
                return
            matched = [table.get(get(key), ()) for key, table in self._indexed if key in attrs]
            matched.extend(compiled for when, compiled in self._groups if when(span, attrs))
            for compiled in matched:
                for rule in compiled:
                    value = rule.value(span, attrs)
                    if value is None:
                        continue
                    series = rule.series
                    key = tuple([get(g) if g.__class__ is str else g(span, attrs) for g in rule.getters])
                    labels = series.attributes(rule.names, key)
                    if rule.repeat is None:
                        add(series.sink, value, end_time, span_context, labels)
                    else:
                        for _ in range(rule.repeat(span, attrs)):
                            add(series.sink, value, end_time, span_context, labels)
            if span.kind is SpanKind.SERVER and is_http_server(span, attrs):
                self._count_active(attrs, -1)
            elif sc.GEN_AI_OPERATION_NAME in attrs:
                self._add_to_agent(span, attrs)
        except Exception:
            _log.exception("amas_telemetry: span metrics failed for span %r", span.name)

    def shutdown(self) -> None:
        self._pending.drain()
        self._shutdown = True

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Records what is queued; the next collection then sees every span ended so far."""
        self._pending.drain()
        return True

    def pending(self) -> int:
        """Measurements queued since the last collection (a worker flushes when there are some)."""
        return len(self._pending)
