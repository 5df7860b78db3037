"""The span-derived metrics, aggregated here and added to every reader's collection.

Why not the SDK's instruments: SDK 1.45 records each measurement into every reader's storage,
and each time it rebuilds a hashable key from the attribute dict (a recursive, type-tagged
walk) before it finds the series: a cost paid per measurement and per reader, two readers in
a default ``configure()`` (``/metrics`` and OTLP; benchmarks/RESULTS.md, section 2). The
span-metrics limiter already hands out one attribute dict per series (:mod:`.limiter`), so
here a series is found by that dict's identity, and a point costs a bucket search and three
additions, once, whatever the number of readers.

What readers see is what the SDK's instruments gave: the catalog's name, unit, description
and buckets; cumulative points (start = when the series was first seen), or delta points for
a reader that prefers delta; trace-based exemplars (only spans that are exported), the newest
per histogram bucket and per counter series, each handed to a reader once. The points join
the reader's collection under the meter's scope (:func:`.sdk_internals.run_around_collection`).
"""

from __future__ import annotations

import itertools
import threading
from bisect import bisect_left
from collections.abc import Sequence
from math import inf
from time import time_ns
from typing import Any

from opentelemetry.sdk.metrics import Exemplar
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext

from amas_telemetry._internal.compat.sdk import (
    metric_readers,
    provider_resource,
    reader_temporality,
    run_around_collection,
)
from amas_telemetry._internal.forking import renew_after_fork
from amas_telemetry.catalog import InstrumentKind, MetricSpec

__all__ = ["DerivedInstrument", "DerivedMetrics"]

DEFAULT_BOUNDS: tuple[float, ...] = (0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000)
"""The metrics SDK specification's default explicit buckets, for a histogram given none."""

_ExemplarSlot = tuple[int, float, int, SpanContext]
"""(sequence number, value, time, span) of the newest exported measurement in a slot."""


class _HistogramSeries:
    __slots__ = ("counts", "exemplars", "max", "min", "start", "sum")

    def __init__(self, buckets: int, start: int) -> None:
        self.counts = [0] * buckets
        self.sum: float = 0
        self.min = inf
        self.max = -inf
        self.start = start
        self.exemplars: dict[int, _ExemplarSlot] = {}


class _SumSeries:
    __slots__ = ("exemplar", "start", "value")

    def __init__(self, start: int) -> None:
        self.value: float = 0
        self.start = start
        self.exemplar: _ExemplarSlot | None = None


class DerivedInstrument:
    """One catalog metric: its series in one store per temporality (cumulative + each delta reader)."""

    def __init__(self, spec: MetricSpec, stores: int, sequence: Any) -> None:
        if spec.kind not in (InstrumentKind.HISTOGRAM, InstrumentKind.COUNTER):
            raise TypeError(f"{spec.name} is a {spec.kind.value}: only histograms and counters are derived")
        self.spec = spec
        self.histogram = spec.kind is InstrumentKind.HISTOGRAM
        self.bounds = tuple(spec.buckets) if spec.buckets else DEFAULT_BOUNDS
        self.stores: list[dict[int, tuple[Any, Any]]] = [{} for _ in range(stores)]
        self.store_starts = [time_ns()] * stores
        self._sequence = sequence

    def add_stores(self, count: int) -> None:
        now = time_ns()
        self.stores.extend({} for _ in range(count))
        self.store_starts.extend([now] * count)

    def _new_series(self) -> Any:
        if self.histogram:
            return _HistogramSeries(len(self.bounds) + 1, time_ns())
        return _SumSeries(time_ns())

    def record(
        self, value: float, time_unix_nano: int, exemplar: SpanContext | None, attributes: Any
    ) -> None:
        """One point (the caller holds the :class:`DerivedMetrics` lock).

        ``attributes`` is the limiter's dict of the series, the same object for every point
        of it; ``exemplar`` the span to link when it is exported, else None.
        """
        key = id(attributes)
        slot = None if exemplar is None else (next(self._sequence), value, time_unix_nano, exemplar)
        for store in self.stores:
            entry = store.get(key)
            if entry is None:
                series: Any = self._new_series()
                entry = store[key] = (attributes, series)
            series = entry[1]
            if self.histogram:
                bucket = bisect_left(self.bounds, value)
                series.counts[bucket] += 1
                series.sum += value
                if value < series.min:
                    series.min = value
                if value > series.max:
                    series.max = value
                if slot is not None:
                    series.exemplars[bucket] = slot
            else:
                series.value += value
                if slot is not None:
                    series.exemplar = slot

    def metric(self, store: int, delta: bool, now: int, seen: int) -> Metric | None:
        """This instrument's points from ``store``; exemplars numbered above ``seen`` only."""
        series = self.stores[store]
        if not series:
            return None
        start = self.store_starts[store]
        points: list[Any] = []
        for attributes, state in series.values():
            begin = start if delta else state.start
            if self.histogram:
                exemplars = [
                    _exemplar(state.exemplars[b], attributes)
                    for b in sorted(state.exemplars)
                    if state.exemplars[b][0] > seen
                ]
                points.append(
                    HistogramDataPoint(
                        attributes=attributes,
                        start_time_unix_nano=begin,
                        time_unix_nano=now,
                        count=sum(state.counts),
                        sum=state.sum,
                        bucket_counts=tuple(state.counts),
                        explicit_bounds=self.bounds,
                        min=state.min,
                        max=state.max,
                        exemplars=exemplars,
                    )
                )
            else:
                slot = state.exemplar
                exemplars = [_exemplar(slot, attributes)] if slot is not None and slot[0] > seen else []
                points.append(NumberDataPoint(attributes, begin, now, state.value, exemplars))
        if delta:
            series.clear()
            self.store_starts[store] = now
        temporality = AggregationTemporality.DELTA if delta else AggregationTemporality.CUMULATIVE
        data: Any = (
            Histogram(points, temporality) if self.histogram else Sum(points, temporality, is_monotonic=True)
        )
        return Metric(self.spec.name, self.spec.description, self.spec.unit, data)


def _exemplar(slot: _ExemplarSlot, attributes: Any) -> Exemplar:
    _, value, time_unix_nano, span = slot
    # the SDK's reservoirs keep the measurement's attributes minus the point's: none here
    return Exemplar({} if attributes else None, value, time_unix_nano, span.span_id, span.trace_id)


class ForkSafeLock:
    """A lock that a forked child gets anew: a fork while a drain held it (a collection thread
    of a ``--preload`` master) must not leave the child's collections waiting forever."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        renew_after_fork(self, ForkSafeLock._renew)

    def _renew(self) -> None:
        self._lock = threading.Lock()

    def __enter__(self) -> bool:
        return self._lock.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._lock.__exit__(*exc)


class DerivedMetrics:
    """The derived instruments of one ``MeterProvider`` and their place in its collections."""

    def __init__(self, scope_name: str) -> None:
        self.scope = InstrumentationScope(scope_name)
        self.lock = ForkSafeLock()
        self._sequence = itertools.count(1)
        self._instruments: dict[str, DerivedInstrument] = {}
        self._delta_store: dict[Any, int] = {}
        """Per reader that prefers delta for a kind: (reader, kind) → its store number."""
        self._seen: dict[Any, int] = {}
        """Per reader: the highest exemplar number it was handed."""
        self._stores = 1
        self._resource: Any = None

    def instrument(self, spec: MetricSpec) -> DerivedInstrument:
        """The instrument of ``spec`` (one per metric name)."""
        found = self._instruments.get(spec.name)
        if found is None:
            found = self._instruments[spec.name] = DerivedInstrument(spec, self._stores, self._sequence)
        return found

    def attach(self, provider: Any, before: Any) -> None:
        """From now on, every collection by a reader of ``provider`` calls ``before()`` (the drain)
        and then gets these instruments' points. Once, before anything is recorded."""
        if self._resource is not None:
            raise RuntimeError("these derived metrics are attached to a MeterProvider already")
        self._resource = provider_resource(provider)
        for reader in metric_readers(provider):
            for kind in (InstrumentKind.HISTOGRAM, InstrumentKind.COUNTER):
                if reader_temporality(reader, kind) is AggregationTemporality.DELTA:
                    self._delta_store[(reader, kind)] = self._stores
                    self._stores += 1
        for instrument in self._instruments.values():
            instrument.add_stores(self._stores - len(instrument.stores))
        run_around_collection(provider, before, self.add_to)

    def add_to(self, reader: Any, data: MetricsData | None) -> MetricsData | None:
        """``data`` (one reader's collection) with the derived points added."""
        now = time_ns()
        with self.lock:
            seen = self._seen.get(reader, 0)
            metrics = []
            for instrument in self._instruments.values():
                store = self._delta_store.get((reader, instrument.spec.kind), 0)
                metric = instrument.metric(store, store != 0, now, seen)
                if metric is not None:
                    metrics.append(metric)
            self._seen[reader] = next(self._sequence)
        if not metrics:
            return data
        return _merged(data, metrics, self.scope, self._resource)


def _merged(data: MetricsData | None, metrics: Sequence[Metric], scope: Any, resource: Any) -> MetricsData:
    if data is None or not data.resource_metrics:
        scoped = ScopeMetrics(scope, list(metrics), scope.schema_url or "")
        return MetricsData([ResourceMetrics(resource, [scoped], resource.schema_url)])
    first = data.resource_metrics[0]
    for scoped in first.scope_metrics:
        if scoped.scope == scope:
            scoped.metrics.extend(metrics)  # the SDK builds this list per collection
            return data
    first.scope_metrics.append(ScopeMetrics(scope, list(metrics), scope.schema_url or ""))
    return data
