"""Measurements taken on the request path, aggregated at collection time.

The span processor only queues ``(instrument, value, time, span context, attributes)`` on the
request path (one tuple appended), and the queue is drained when a reader collects (a scrape of
/metrics, a periodic OTLP export), before the reader gets its points, so no collection ever
misses a queued point. The backlog is bounded: past ``max_backlog`` items the caller drains
inline. Draining at collection time also lets an exemplar resolve to a trace the tail
decision kept after the span ended.

The instruments are :class:`~amas_telemetry._internal.metrics.derivation.aggregate.DerivedInstrument`: each
point keeps the span's end time, which the exemplar carries.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Container
from typing import Any

from opentelemetry.trace import SpanContext

from amas_telemetry._internal.tracing.tail import sampled_context

__all__ = ["DeferredMeasurements"]


def _exemplar_of(span: SpanContext, kept: Container[int]) -> SpanContext | None:
    """The span an exemplar links: the span itself if exported, else none.

    A span is exported if it was sampled, or if the tail decision kept its trace: ``kept``
    is read now, at drain time, when the decision is usually known (see
    :class:`amas_telemetry._internal.tracing.tail.KeptTraces`).
    """
    if span.trace_flags.sampled:
        return span
    if span.trace_id in kept:
        return sampled_context(span)
    return None


class DeferredMeasurements:
    """A thread-safe queue of measurements, drained by whoever collects.

    ``lock`` is the one the instruments' readers take (:class:`.DerivedMetrics`): a drain
    records under it, so a collection never sees half of one.
    """

    def __init__(
        self,
        max_backlog: int = 20_000,
        kept_traces: Container[int] = frozenset(),
        lock: Any = None,
    ) -> None:
        self.kept_traces = kept_traces
        """Trace ids the tail decision kept: their spans count as exported for exemplars."""
        self._queue: deque[tuple[Any, float, int, SpanContext, Any]] = deque()
        self._max_backlog = max_backlog
        self._lock = lock if lock is not None else threading.Lock()
        self.recorded = 0

    def add(
        self, instrument: Any, value: float, time_unix_nano: int, span: SpanContext, attributes: Any
    ) -> None:
        """Queue a point of ``instrument`` (``record(value, time, exemplar span, attributes)``)."""
        if not 0.0 <= value < math.inf:  # negative, NaN or infinite: the SDK would refuse it too
            return
        self._queue.append((instrument, value, time_unix_nano, span, attributes))
        if len(self._queue) > self._max_backlog:
            self.drain()

    def drain(self) -> int:
        """Record everything queued so far; safe to call from several threads at once.

        The exemplar span is resolved once per span, not per measurement.
        """
        popleft = self._queue.popleft
        taken = []
        while True:
            try:
                taken.append(popleft())
            except IndexError:
                break
        last_span: SpanContext | None = None
        exemplar: SpanContext | None = None
        kept = self.kept_traces
        with self._lock:
            for instrument, value, time_unix_nano, span, attributes in taken:
                if span is not last_span:
                    last_span, exemplar = span, _exemplar_of(span, kept)
                instrument.record(value, time_unix_nano, exemplar, attributes)
            self.recorded += len(taken)
        return len(taken)

    def __len__(self) -> int:
        return len(self._queue)
