"""TracerProvider, the record-everything sampler and the export path.

Unsampled traces are RECORD_ONLY, not dropped, so every span reaches the span-metrics
processor; the export path (:class:`RedactingProcessor` → ``BatchSpanProcessor``) looks at
sampled spans only. The export path is a chain of small processors so that a tail
decision (:mod:`amas_telemetry._internal.tracing.tail`: hold an unsampled trace, export it when it errs)
sits in front of them when ``sampling_ratio`` is below 1.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.metrics import Meter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import (
    ReadableSpan,
    SpanProcessor,
    SynchronousMultiSpanProcessor,
    TracerProvider,
)
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult, TraceIdRatioBased
from opentelemetry.util.types import Attributes

from amas_telemetry import semconv as sc
from amas_telemetry._internal.config.settings import Settings
from amas_telemetry._internal.redact.otel import scrubbed_span
from amas_telemetry._internal.redact.scrubber import Scrubber
from amas_telemetry._internal.tracing.tail import (
    KEEP_HINT_KEY,
    KEEP_HINT_VALUE,
    KeptTraces,
    TailDecisionProcessor,
)

__all__ = ["RecordEverythingSampler", "RedactingProcessor"]

_log = logging.getLogger(__name__)


class RecordEverythingSampler(Sampler):
    """Parent-based ratio sampling whose "no" is RECORD_ONLY instead of DROP.

    Unlike the SDK's ``AlwaysRecordSampler`` it keeps the span's start attributes on a
    RECORD_ONLY decision (the ratio sampler returns none for a DROP), so unsampled spans
    carry the same attributes as sampled ones and derive the same metric series.

    The tail decision's hint (see :mod:`amas_telemetry._internal.tracing.tail`): a span whose *remote* parent
    carries ``amas=keep`` in its ``tracestate`` is sampled; a new span of an unsampled trace
    that ``will_keep`` says is bound to be kept gets ``amas=keep`` in its own, so the calls it
    makes carry it downstream.
    """

    def __init__(self, ratio: float, will_keep: Callable[[int], bool] | None = None) -> None:
        self._root = ParentBased(TraceIdRatioBased(ratio))
        self._bound = TraceIdRatioBased.get_bound_for_rate(ratio)
        self._will_keep = will_keep

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: trace.SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[trace.Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        # ParentBased(TraceIdRatioBased(ratio))'s decision, taken directly (the SDK's asks for
        # the parent three times and builds two results per span): a valid parent decides by
        # its flag, a root by its trace id; tests/unit/test_sampler.py compares the two.
        parent = trace.get_current_span(parent_context).get_span_context()
        if parent.is_valid:
            state = parent.trace_state
            if parent.trace_flags.sampled:
                return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, state)
            if parent.is_remote and state.get(KEEP_HINT_KEY) == KEEP_HINT_VALUE:
                # the caller's trace is bound to be kept: sample this service's part of it
                marked = {**(attributes or {}), sc.AMAS_TAIL_KEPT_BY: "upstream"}
                return SamplingResult(Decision.RECORD_AND_SAMPLE, marked, state)
        else:
            if trace_id & TraceIdRatioBased.TRACE_ID_LIMIT < self._bound:
                return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, None)
            state = None
        if self._will_keep is not None and self._will_keep(trace_id):
            return SamplingResult(Decision.RECORD_ONLY, attributes, _with_keep_hint(state))
        return SamplingResult(Decision.RECORD_ONLY, attributes, state)

    def get_description(self) -> str:
        return f"RecordEverything{{{self._root.get_description()}}}"


def _with_keep_hint(state: trace.TraceState | None) -> trace.TraceState:
    if state is None:
        return trace.TraceState([(KEEP_HINT_KEY, KEEP_HINT_VALUE)])
    if KEEP_HINT_KEY in state:
        return state.update(KEEP_HINT_KEY, KEEP_HINT_VALUE)
    return state.add(KEEP_HINT_KEY, KEEP_HINT_VALUE)


class RedactingProcessor(SpanProcessor):
    """Hands a scrubbed copy of each sampled span to the next processor.

    Unsampled spans stop here: nothing after this processor exports them.
    """

    def __init__(self, next_processor: SpanProcessor, scrubber: Scrubber) -> None:
        self._next = next_processor
        self._scrubber = scrubber
        self._shutdown = False

    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        if self._shutdown or not span.context.trace_flags.sampled:
            return
        try:
            self._next.on_end(self._scrubbed(span))
        except Exception:  # never raise into the app
            _log.exception("amas_telemetry: redacting a span failed; the span was not exported")

    def _scrubbed(self, span: ReadableSpan) -> ReadableSpan:
        return scrubbed_span(span, self._scrubber)

    def shutdown(self) -> None:
        self._shutdown = True
        self._next.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._next.force_flush(timeout_millis)


def build_tracer_provider(
    resource: Resource,
    sampling_ratio: float,
    processors: Sequence[SpanProcessor],
    will_keep: Callable[[int], bool] | None = None,
) -> TracerProvider:
    sampler = RecordEverythingSampler(sampling_ratio, will_keep)
    provider = TracerProvider(resource=resource, sampler=sampler)
    for processor in processors:
        provider.add_span_processor(processor)
    return provider


def export_processor(exporter: SpanExporter, scrubber: Scrubber, meter_provider: Any) -> SpanProcessor:
    """Redact → batch → export. Bounded queue: a dead Collector drops (and counts) spans."""
    return RedactingProcessor(
        BatchSpanProcessor(
            exporter, max_queue_size=4096, export_timeout_millis=5000, meter_provider=meter_provider
        ),
        scrubber,
    )


def tail_decision_wanted(settings: Settings) -> bool:
    """Only unsampled traces are held, and only when something could keep them."""
    return settings.sampling_ratio < 1.0 and (
        settings.tail_keep_errors
        or settings.tail_keep_slower_than is not None
        or settings.tail_keep_rule is not None
    )


def tail_decision_processor(
    settings: Settings, exports: Sequence[SpanProcessor], kept: KeptTraces, meter: Meter
) -> TailDecisionProcessor:
    """Tail decision → the export chains (each: redaction → batch → exporter)."""
    next_processor = exports[0] if len(exports) == 1 else SynchronousMultiSpanProcessor()
    if len(exports) > 1:
        for processor in exports:
            next_processor.add_span_processor(processor)  # type: ignore[attr-defined]
    return TailDecisionProcessor(
        next_processor,
        keep_errors=settings.tail_keep_errors,
        keep_slower_than=settings.tail_keep_slower_than,
        keep_rule=settings.tail_keep_rule,
        max_held_spans=settings.tail_max_held_spans,
        max_spans_per_trace=settings.tail_max_spans_per_trace,
        kept=kept,
        meter=meter,
    )


# --- The global tracer provider: one delegate that follows the active configure() ----------


class _DelegatingTracer(trace.Tracer):
    """A tracer that asks the active provider for the real tracer on every use.

    Module-level ``tracer = trace.get_tracer(__name__)`` keeps working across
    ``configure()``/``shutdown()`` cycles (tests make many independent instances).
    """

    def __init__(self, owner: DelegatingTracerProvider, args: tuple[Any, ...]) -> None:
        self._owner = owner
        self._args = args
        self._generation = -1
        self._tracer: trace.Tracer = trace.NoOpTracer()

    def _real(self) -> trace.Tracer:
        owner = self._owner
        if self._generation != owner.generation:
            provider = owner.active
            suppressed = self._args[0] in owner.suppressed
            self._tracer = (
                provider.get_tracer(*self._args) if provider and not suppressed else trace.NoOpTracer()
            )
            self._generation = owner.generation
        return self._tracer

    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        return self._real().start_span(*args, **kwargs)

    @contextmanager
    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Iterator[trace.Span]:
        with self._real().start_as_current_span(*args, **kwargs) as span:
            yield span


class DelegatingTracerProvider(trace.TracerProvider):
    """Installed once as the OTel global; delegates to the most recent live provider."""

    def __init__(self) -> None:
        self._stack: list[TracerProvider] = []
        self._lock = threading.Lock()
        self.generation = 0
        self._suppressions: dict[str, int] = {}
        self.suppressed: frozenset[str] = frozenset()
        """Instrumentation scopes handed a no-op tracer (reference-counted)."""

    def suppress(self, scope_name: str) -> None:
        with self._lock:
            self._suppressions[scope_name] = self._suppressions.get(scope_name, 0) + 1
            self._update_suppressed()

    def unsuppress(self, scope_name: str) -> None:
        with self._lock:
            left = self._suppressions.get(scope_name, 0) - 1
            if left > 0:
                self._suppressions[scope_name] = left
            else:
                self._suppressions.pop(scope_name, None)
            self._update_suppressed()

    def _update_suppressed(self) -> None:
        self.suppressed = frozenset(self._suppressions)
        self.generation += 1

    @property
    def active(self) -> TracerProvider | None:
        return self._stack[-1] if self._stack else None

    def push(self, provider: TracerProvider) -> None:
        with self._lock:
            self._stack.append(provider)
            self.generation += 1

    def remove(self, provider: TracerProvider) -> None:
        with self._lock:
            if provider in self._stack:
                self._stack.remove(provider)
                self.generation += 1

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes | None = None,
    ) -> trace.Tracer:
        return _DelegatingTracer(
            self, (instrumenting_module_name, instrumenting_library_version, schema_url, attributes)
        )


_DELEGATE = DelegatingTracerProvider()
_INSTALL_LOCK = threading.Lock()
_installed = False


def tracer_delegate() -> DelegatingTracerProvider:
    """The delegate, whether or not it is the OTel global: our own spans (the domain helpers,
    the server span, the instrumented clients) always reach the live handle through it."""
    return _DELEGATE


def global_tracer_provider() -> DelegatingTracerProvider:
    """The delegate, installed as the OTel global tracer provider on first use, unless the
    process set one before: then ``trace.get_tracer()`` keeps handing out that provider's
    tracers, whose spans amas_telemetry neither sees nor derives metrics from."""
    global _installed
    with _INSTALL_LOCK:
        if not _installed:
            _installed = True
            current = trace.get_tracer_provider()
            if isinstance(current, trace.ProxyTracerProvider):
                trace.set_tracer_provider(_DELEGATE)
            else:
                _log.warning(
                    "amas_telemetry: a global TracerProvider (%s) was set before configure(): "
                    "spans made with trace.get_tracer() go to it, not to amas_telemetry (no derived "
                    "metrics, no tail decision); the server span, the span helpers and the "
                    "instrumented clients are amas_telemetry's",
                    type(current).__name__,
                )
        return _DELEGATE
