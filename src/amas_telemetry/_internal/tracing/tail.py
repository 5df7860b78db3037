"""The tail decision: keep the unsampled traces that matter, decided when their local root ends.

Head sampling (``sampling_ratio``) decides when a trace starts, before anyone knows whether
it will fail. Unsampled traces are RECORD_ONLY here (every span still derives metrics), so
their spans reach ``on_end`` anyway; :class:`TailDecisionProcessor` holds them, grouped by
trace, until the trace's *local* root ends (a span without a parent, or with a remote one),
then hands the whole local trace to the export chain if any span erred, the root was
slower than a threshold, or the app's rule says keep; else it drops them. Sampled traces
pass through untouched.

Kept spans are re-issued as sampled copies (a ``ReadableSpan``'s context is immutable and
the SDK's export processors skip unsampled spans), parents included, so a kept trace looks
like any sampled one in the trace store. :class:`KeptTraces` remembers the ids of recently
kept traces, for the two consumers that learn about the decision later: the deferred
metric drain (exemplars point at kept traces) and :class:`MarkKeptLogs` (OTLP log records
still in the batch get the sampled flag).

Memory is bounded: at most ``max_held_spans`` spans (and as many traces) in total and
``max_spans_per_trace`` per trace. Past the total, the oldest trace goes first: exported
if it already erred, else dropped; every dropped span is counted
(:data:`~amas_telemetry.semconv.AMAS_TELEMETRY_TAIL_OVERFLOW`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.trace import SpanContext, StatusCode, TraceFlags

from amas_telemetry import semconv as sc
from amas_telemetry._internal.compat.sdk import plain_attributes
from amas_telemetry.catalog import spec

__all__ = [
    "KEEP_HINT_KEY",
    "KEEP_HINT_VALUE",
    "KeepRule",
    "KeptTraces",
    "MarkKeptLogs",
    "TailDecisionProcessor",
    "as_sampled",
]

_log = logging.getLogger(__name__)

KEEP_HINT_KEY = "amas"
KEEP_HINT_VALUE = "keep"
"""The ``tracestate`` entry (``amas=keep``) on spans started after their unsampled trace was
already bound to be kept (a span erred): a downstream amas_telemetry service samples its part."""

KeepRule = Callable[[ReadableSpan], bool]
"""Called with every unsampled span as it ends; ``True`` keeps its whole local trace."""


class KeptTraces:
    """The ids of the most recently kept traces (bounded, oldest forgotten first).

    Read without a lock (``in`` on a dict is atomic in CPython); written by the processor.
    """

    def __init__(self, capacity: int = 16_384) -> None:
        self._ids: dict[int, None] = {}
        self._capacity = capacity
        self._lock = threading.Lock()

    def add(self, trace_id: int) -> None:
        with self._lock:
            self._ids[trace_id] = None
            while len(self._ids) > self._capacity:
                del self._ids[next(iter(self._ids))]

    def __contains__(self, trace_id: object) -> bool:
        return trace_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)


def sampled_context(context: SpanContext) -> SpanContext:
    """The same span context with the sampled flag set."""
    return SpanContext(
        context.trace_id,
        context.span_id,
        context.is_remote,
        TraceFlags(context.trace_flags | TraceFlags.SAMPLED),
        context.trace_state,
    )


def as_sampled(span: ReadableSpan, kept_by: str | None = None) -> ReadableSpan:
    """A copy of ``span`` whose context (and parent's) say sampled; ``kept_by`` marks the root."""
    attributes: Any = span.attributes
    if kept_by is not None:
        attributes = {**(attributes or {}), sc.AMAS_TAIL_KEPT_BY: kept_by}
    parent = span.parent
    return ReadableSpan(
        name=span.name,
        context=sampled_context(span.context),
        parent=sampled_context(parent) if parent is not None else None,
        resource=span.resource,
        attributes=attributes,
        events=span.events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def _is_local_root(span: ReadableSpan) -> bool:
    parent = span.parent
    return parent is None or parent.is_remote


def _duration_ns(span: ReadableSpan) -> int:
    return (span.end_time or 0) - (span.start_time or 0)


class _HeldTrace:
    __slots__ = ("kept_by", "open_roots", "spans")

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []
        self.open_roots = 0
        self.kept_by: str | None = None


class TailDecisionProcessor(SpanProcessor):
    """Holds unsampled spans per trace until the local root ends, then keeps or drops them.

    ``next_processor`` is the export chain (redaction → batch → exporter); it receives
    sampled spans as they end and kept traces as sampled copies. Put this processor before
    the span-metrics processor so that a root's own measurements are queued after the
    decision (their exemplars then resolve). Never raises into the app.
    """

    def __init__(
        self,
        next_processor: SpanProcessor,
        *,
        keep_errors: bool = True,
        keep_slower_than: float | None = None,
        keep_rule: KeepRule | None = None,
        max_held_spans: int = 10_000,
        max_spans_per_trace: int = 1_000,
        kept: KeptTraces | None = None,
        meter: Meter | None = None,
    ) -> None:
        self._next = next_processor
        self._keep_errors = keep_errors
        self._slow_ns = None if keep_slower_than is None else int(keep_slower_than * 1e9)
        self._rule = keep_rule
        self._max_held = max_held_spans
        self._max_per_trace = min(max_spans_per_trace, max_held_spans)
        self.kept = kept if kept is not None else KeptTraces()
        self._evicted = KeptTraces()  # dropped undecided: their later spans count as overflow
        self._traces: dict[int, _HeldTrace] = {}
        self._lock = threading.Lock()
        self._shutdown = False
        self._rule_failed = False
        self.held = 0
        self.decided = {"kept": 0, "dropped": 0}
        self.overflow = {"total": 0, "trace": 0}
        if meter is not None:
            self._register(meter)

    def _register(self, meter: Meter) -> None:
        """Self-observability, read at collection time (nothing on the request path)."""
        spec(sc.AMAS_TELEMETRY_TAIL_TRACES).observe(
            meter, [lambda _: [Observation(n, {sc.AMAS_TAIL_DECISION: d}) for d, n in self.decided.items()]]
        )
        spec(sc.AMAS_TELEMETRY_TAIL_OVERFLOW).observe(
            meter,
            [lambda _: [Observation(n, {sc.AMAS_TAIL_OVERFLOW_BOUND: b}) for b, n in self.overflow.items()]],
        )
        spec(sc.AMAS_TELEMETRY_TAIL_HELD).observe(meter, [self._observe_held])

    def will_keep(self, trace_id: int) -> bool:
        """Whether this unsampled trace is kept already, or will be when its root ends.

        The sampler asks it for every new span of an unsampled trace (lock-free reads) to put
        the :data:`KEEP_HINT_KEY` hint on what this service sends downstream.
        """
        if trace_id in self.kept._ids:
            return True
        held = self._traces.get(trace_id)
        return held is not None and held.kept_by is not None

    def _observe_held(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(self.held)]

    # --- the SpanProcessor contract -------------------------------------------------------
    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        parent = span.parent
        if parent is not None and not parent.is_remote:  # most spans: not a local root
            return
        context = span.context
        if self._shutdown or context.trace_flags.sampled:
            return
        with self._lock:
            held = self._traces.get(context.trace_id)
            if held is None:
                held = self._traces[context.trace_id] = _HeldTrace()
            held.open_roots += 1
            evicted = self._evict_while_over() if len(self._traces) > self._max_held else ()
        if evicted:
            self._export_evicted(evicted)

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if context.trace_flags.sampled:
            if not self._shutdown:
                self._forward(span)
            return
        if self._shutdown:
            return
        try:
            self._hold_or_decide(span, context.trace_id)
        except Exception:  # never raise into the app
            _log.exception("amas_telemetry: the tail decision failed for span %r", span.name)

    def shutdown(self) -> None:
        """Exports the held traces that already erred (their roots never ended), drops the rest."""
        with self._lock:
            self._shutdown = True
            traces, self._traces = list(self._traces.values()), {}
            self.held = 0
            kept = [held for held in traces if held.kept_by is not None]
            self.decided["kept"] += len(kept)
            self.decided["dropped"] += len(traces) - len(kept)
        self._export_evicted(kept)
        self._next.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flushes the export chain; undecided traces stay held until their root ends."""
        return self._next.force_flush(timeout_millis)

    # --- the decision ---------------------------------------------------------------------
    def _reason(self, span: ReadableSpan) -> str | None:
        if self._keep_errors and (
            span.status.status_code is StatusCode.ERROR or sc.ERROR_TYPE in plain_attributes(span)
        ):
            return "error"
        if self._rule is not None:
            try:
                if self._rule(span):
                    return "rule"
            except Exception:
                if not self._rule_failed:
                    self._rule_failed = True
                    _log.exception("amas_telemetry: tail_keep_rule raised; its answer counts as 'no'")
        return None

    def _hold_or_decide(self, span: ReadableSpan, trace_id: int) -> None:
        if trace_id in self.kept._ids:  # a late span of a trace already kept
            self._forward(as_sampled(span))
            return
        reason = self._reason(span)
        is_root = _is_local_root(span)
        slow_ns = self._slow_ns
        if is_root and reason is None and slow_ns is not None and _duration_ns(span) > slow_ns:
            reason = "slow"
        decided: list[ReadableSpan] | None = None
        with self._lock:
            held = self._traces.get(trace_id)
            if held is None:
                # Its local root ended already (the trace was dropped) or was never seen:
                # a lone span, kept only on its own merit.
                if reason is None:
                    if trace_id in self._evicted:
                        self.overflow["total"] += 1
                    return
                held, decided = _HeldTrace(), [span]
            elif len(held.spans) < self._max_per_trace:
                held.spans.append(span)
                self.held += 1
            else:
                self.overflow["trace"] += 1
            if reason is not None and held.kept_by is None:
                held.kept_by = reason
            if is_root:
                held.open_roots -= 1
            if decided is None and (held.open_roots <= 0 or (is_root and held.kept_by is not None)):
                del self._traces[trace_id]
                self.held -= len(held.spans)
                decided = held.spans
            if decided is not None:
                if held.kept_by is not None:
                    self.kept.add(trace_id)  # before exporting: a concurrent late span sees it
                self.decided["kept" if held.kept_by is not None else "dropped"] += 1
            over = self.held > self._max_held or len(self._traces) > self._max_held
            evicted = self._evict_while_over() if over else ()
        if decided is not None and held.kept_by is not None:
            root = span if is_root else None
            for each in decided:
                self._forward(as_sampled(each, held.kept_by if each is root else None))
        if evicted:
            self._export_evicted(evicted)

    def _evict_while_over(self) -> list[_HeldTrace]:
        """Under the lock: take the oldest traces out until the bounds hold again.

        An evicted trace that already erred is kept (what is there of it); the others'
        spans are dropped and counted as overflow.
        """
        evicted = []
        traces = self._traces
        while traces and (self.held > self._max_held or len(traces) > self._max_held):
            trace_id = next(iter(traces))
            held = traces.pop(trace_id)
            self.held -= len(held.spans)
            if held.kept_by is not None:
                self.kept.add(trace_id)
                self.decided["kept"] += 1
                evicted.append(held)
            else:
                self.overflow["total"] += len(held.spans)
                self._evicted.add(trace_id)
        return evicted

    def _export_evicted(self, evicted: Iterable[_HeldTrace]) -> None:
        for held in evicted:
            for span in held.spans:
                self._forward(as_sampled(span))

    def _forward(self, span: ReadableSpan) -> None:
        try:
            self._next.on_end(span)
        except Exception:  # never raise into the app
            _log.exception("amas_telemetry: exporting span %r failed", span.name)


class MarkKeptLogs(LogRecordExporter):
    """Sets the sampled flag on log records of kept traces, at export time.

    A record is emitted while its trace is undecided; the batch processor exports it up to
    its schedule delay later, by when the trace's root has usually ended. Records exported
    before that (or by a synchronous processor) keep the head decision's flag.
    """

    def __init__(self, exporter: LogRecordExporter, kept: KeptTraces) -> None:
        self._exporter = exporter
        self._kept = kept

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        kept = self._kept
        for item in batch:
            record = item.log_record
            flags = record.trace_flags
            if record.trace_id and flags is not None and not flags.sampled and record.trace_id in kept:
                record.trace_flags = TraceFlags(flags | TraceFlags.SAMPLED)
        return self._exporter.export(batch)

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)
