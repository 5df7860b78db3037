"""Measurements taken on the request path, handed to the SDK at collection time.

Recording into an SDK instrument costs ~7-14 µs (attribute hashing, exemplar filter, one
aggregation per reader); appending a tuple to a deque costs well under 1 µs. So the span
processor only queues ``(instrument, value, time, span context, attributes)`` and the queue is
drained when a reader collects (a scrape of /metrics, a periodic OTLP export), before the
SDK reads its aggregations, so no collection ever misses a queued point. The backlog is
bounded: past ``max_backlog`` items the caller drains inline.

The drain builds the SDK's ``Measurement`` itself so that the measurement (and so the
exemplar) keeps the span's end time rather than the drain time. That uses two SDK
internals (``Measurement`` and an instrument's ``_measurement_consumer``); when either is
missing (another SDK version) it falls back to the public ``record``/``add``.

``Measurement.__post_init__`` cleans the attributes again on every measurement (~a quarter
of the SDK's cost per measurement); the attribute sets queued here come from the span
metrics' own cache, built once per series from attributes the span already cleaned, so
the drain fills the frozen dataclass without it, when the SDK's ``Measurement`` has
exactly the expected fields (else it calls the constructor). ``tests/unit/test_deferred.py``
checks that both ways build equal measurements.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Container
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext

from amas_telemetry.tail import sampled_context

try:  # SDK internals, see the module docstring
    from opentelemetry.sdk.metrics._internal.measurement import Measurement
except ImportError:  # pragma: no cover - depends on the SDK version
    Measurement = None  # type: ignore[assignment,misc]

_FIELDS = ("value", "time_unix_nano", "instrument", "context", "attributes")


def _measurement_factory() -> Any:
    """``(value, time, instrument, context, attributes) -> Measurement``, without re-cleaning."""
    fields = getattr(Measurement, "__dataclass_fields__", None)
    if fields is None or tuple(fields) != _FIELDS or hasattr(Measurement, "__slots__"):
        return Measurement  # pragma: no cover - another SDK version: the constructor
    new = object.__new__

    def build(value: float, time_unix_nano: int, instrument: Any, context: Context, attributes: Any) -> Any:
        measurement = new(Measurement)
        vars(measurement).update(
            value=value,
            time_unix_nano=time_unix_nano,
            instrument=instrument,
            context=context,
            attributes=attributes,
        )
        return measurement

    return build


_build_measurement = _measurement_factory() if Measurement is not None else None

__all__ = ["DeferredMeasurements"]


class _Sink:
    """Records into one instrument: ``record(value, time, context, attributes)``.

    ``additive`` (counters): measurements of one drain that share an attribute set may be
    summed into one, which the SDK then handles once instead of once per span.
    """

    __slots__ = ("additive", "record")

    def __init__(self, instrument: Any) -> None:
        self.additive = not hasattr(instrument, "record")
        consumer = getattr(instrument, "_measurement_consumer", None)
        if _build_measurement is not None and consumer is not None:
            consume = consumer.consume_measurement
            build = _build_measurement

            def direct(value: float, time_unix_nano: int, context: Context, attributes: Any) -> None:
                consume(build(value, time_unix_nano, instrument, context, attributes))

            self.record = direct
        else:
            public = instrument.add if self.additive else instrument.record
            self.record = lambda value, time_unix_nano, context, attributes: public(
                value, attributes, context
            )


_UNSAMPLED: Context = trace.set_span_in_context(trace.INVALID_SPAN)


def _context_of(span: SpanContext, kept: Container[int]) -> Context:
    """The context the exemplar filter reads: the span itself if exported, else nothing.

    A span is exported if it was sampled, or if the tail decision kept its trace: ``kept``
    is read now, at drain time, when the decision is usually known (see
    :class:`amas_telemetry.tail.KeptTraces`).
    """
    if span.trace_flags.sampled:
        return trace.set_span_in_context(NonRecordingSpan(span))
    if span.trace_id in kept:
        return trace.set_span_in_context(NonRecordingSpan(sampled_context(span)))
    return _UNSAMPLED


class DeferredMeasurements:
    """A thread-safe queue of measurements, drained by whoever collects."""

    def __init__(self, max_backlog: int = 20_000, kept_traces: Container[int] = frozenset()) -> None:
        self.kept_traces = kept_traces
        """Trace ids the tail decision kept: their spans count as exported for exemplars."""
        self._queue: deque[tuple[_Sink, float, int, SpanContext, Any]] = deque()
        self._max_backlog = max_backlog
        self._sinks: dict[int, _Sink] = {}
        self.recorded = 0

    def sink_for(self, instrument: Any) -> _Sink:
        """The handle ``add`` takes for ``instrument`` (built once per instrument)."""
        sink = self._sinks.get(id(instrument))
        if sink is None:
            sink = self._sinks[id(instrument)] = _Sink(instrument)
        return sink

    def add(self, sink: _Sink, value: float, time_unix_nano: int, span: SpanContext, attributes: Any) -> None:
        if not 0.0 <= value < math.inf:  # negative, NaN or infinite: the SDK would refuse it too
            return
        self._queue.append((sink, value, time_unix_nano, span, attributes))
        if len(self._queue) > self._max_backlog:
            self.drain()

    def drain(self) -> int:
        """Record everything queued so far; safe to call from several threads at once.

        Histogram points are recorded one by one (each is a bucket observation); counter
        points with the same attribute set are summed first, keeping a sampled span for
        the exemplar. The exemplar context is built once per span, not per measurement.
        """
        popleft = self._queue.popleft
        sums: dict[tuple[int, int], list[Any]] = {}
        drained = 0
        last_span: SpanContext | None = None
        context = _UNSAMPLED
        kept = self.kept_traces
        while True:
            try:
                sink, value, time_unix_nano, span, attributes = popleft()
            except IndexError:
                break
            drained += 1
            if sink.additive:
                key = (id(sink), id(attributes))
                total = sums.get(key)
                if total is None:
                    sums[key] = [sink, value, time_unix_nano, span, attributes]
                else:
                    total[1] += value
                    total[2] = max(total[2], time_unix_nano)
                    if span.trace_flags.sampled or span.trace_id in kept:
                        total[3] = span
                continue
            if span is not last_span:
                last_span, context = span, _context_of(span, kept)
            sink.record(value, time_unix_nano, context, attributes)
        for sink, value, time_unix_nano, span, attributes in sums.values():
            sink.record(value, time_unix_nano, _context_of(span, kept), attributes)
        self.recorded += drained
        return drained

    def __len__(self) -> int:
        return len(self._queue)
