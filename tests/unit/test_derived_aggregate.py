"""Derived instruments (spanmetrics.aggregate) give readers what the SDK's instruments give."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from amas_telemetry._internal.metrics.deferred import DeferredMeasurements
from amas_telemetry._internal.metrics.derivation.aggregate import DerivedMetrics
from amas_telemetry.catalog import InstrumentKind, MetricSpec

BOUNDED = settings(max_examples=150, derandomize=True, deadline=None, database=None)
HISTOGRAM = MetricSpec("h", InstrumentKind.HISTOGRAM, "s", "a histogram", (), (0.005, 0.01, 0.1, 1.0, 10.0))
COUNTER = MetricSpec("c", InstrumentKind.COUNTER, "{call}", "a counter")
SERIES = ({"route": "/a", "code": 200}, {"route": "/b", "code": 500}, {})
DELTA = {Histogram: AggregationTemporality.DELTA, Counter: AggregationTemporality.DELTA}


def _span(n: int, sampled: bool) -> SpanContext:
    return SpanContext(1000 + n, n + 1, is_remote=False, trace_flags=TraceFlags(int(sampled)))


def _points(reader: InMemoryMetricReader) -> dict[str, list]:
    data = reader.get_metrics_data()
    if data is None:
        return {}
    return {m.name: list(m.data.data_points) for rm in data.resource_metrics for sm in rm.scope_metrics
            for m in sm.metrics if m.name in ("h", "c")}  # fmt: skip


class _Both:
    """The same points into SDK instruments and into derived ones, each with its own readers."""

    def __init__(self, delta: bool = False) -> None:
        temporality = DELTA if delta else None
        self.sdk_reader = InMemoryMetricReader(preferred_temporality=temporality)
        meter = MeterProvider(metric_readers=[self.sdk_reader]).get_meter("t")
        buckets = list(HISTOGRAM.buckets or ())
        self.sdk = {
            "h": meter.create_histogram("h", "s", "a histogram", explicit_bucket_boundaries_advisory=buckets),
            "c": meter.create_counter("c", "{call}", "a counter"),
        }
        self.ours_reader = InMemoryMetricReader(preferred_temporality=temporality)
        self.other_reader = InMemoryMetricReader()
        derived = DerivedMetrics("t")
        self.pending = DeferredMeasurements(lock=derived.lock)
        self.ours = {"h": derived.instrument(HISTOGRAM), "c": derived.instrument(COUNTER)}
        provider = MeterProvider(metric_readers=[self.ours_reader, self.other_reader])
        derived.attach(provider, self.pending.drain)

    def record(self, name: str, value: float, series: int, span: SpanContext) -> None:
        attributes = SERIES[series]
        context = trace.set_span_in_context(NonRecordingSpan(span))
        if name == "h":
            self.sdk[name].record(value, attributes, context)
        else:
            self.sdk[name].add(value, attributes, context)
        self.pending.add(self.ours[name], value, 123, span, attributes)


_points_strategy = st.lists(
    st.tuples(
        st.sampled_from(["h", "c"]),
        st.floats(min_value=0, max_value=50) | st.sampled_from([0.0, 0.005, 0.01, 1.0, 10.0]),
        st.integers(0, len(SERIES) - 1),
        st.booleans(),
    ),
    max_size=60,
)


def _summary(point) -> tuple:
    if hasattr(point, "bucket_counts"):
        return (tuple(sorted(point.attributes.items())), point.count, round(point.sum, 9),
                tuple(point.bucket_counts), tuple(point.explicit_bounds), point.min, point.max)  # fmt: skip
    return (tuple(sorted(point.attributes.items())), round(point.value, 9))


def _compare(sdk: dict[str, list], ours: dict[str, list]) -> None:
    assert sorted(sdk) == sorted(ours)
    for name in sdk:
        assert sorted(map(_summary, sdk[name])) == sorted(map(_summary, ours[name]))


@BOUNDED
@given(_points_strategy, _points_strategy)
def test_points_equal_the_sdk_instruments_cumulative_and_delta(first, second) -> None:
    for delta in (False, True):
        both = _Both(delta)
        for batch in (first, second):  # two collections: cumulative keeps adding, delta restarts
            for n, (name, value, series, sampled) in enumerate(batch):
                both.record(name, value, series, _span(n, sampled))
            _compare(_points(both.sdk_reader), _points(both.ours_reader))


@BOUNDED
@given(_points_strategy)
def test_histogram_exemplars_are_the_sdk_ones_and_each_reader_gets_each_once(batch) -> None:
    both = _Both()
    for n, (name, value, series, sampled) in enumerate(batch):
        both.record(name, value, series, _span(n, sampled))
    sdk, ours = _points(both.sdk_reader).get("h", []), _points(both.ours_reader).get("h", [])

    def exemplars(points):
        return sorted(
            (tuple(sorted(p.attributes.items())), e.span_id, e.trace_id, e.value)
            for p in points
            for e in p.exemplars
        )

    assert exemplars(sdk) == exemplars(ours)
    sampled_ids = {n + 1 for n, (name, _, _, sampled) in enumerate(batch) if sampled and name == "c"}
    for point in _points(both.ours_reader).get("c", []):
        assert {e.span_id for e in point.exemplars} <= sampled_ids
    # the other reader gets them too, once; a second collection by either gets none anew
    assert exemplars(_points(both.other_reader).get("h", [])) == exemplars(ours)
    assert exemplars(_points(both.ours_reader).get("h", [])) == []


def test_an_exemplar_of_a_kept_trace_links_the_span_as_sampled():
    kept = {1000}
    reader = InMemoryMetricReader()
    derived = DerivedMetrics("t")
    pending = DeferredMeasurements(lock=derived.lock, kept_traces=kept)
    derived.attach(MeterProvider(metric_readers=[reader]), pending.drain)
    pending.add(derived.instrument(HISTOGRAM), 0.2, 77, _span(0, False), SERIES[0])
    pending.add(derived.instrument(HISTOGRAM), 0.3, 78, _span(1, False), SERIES[0])
    (point,) = _points(reader)["h"]
    assert [(e.trace_id, e.span_id, e.time_unix_nano) for e in point.exemplars] == [(1000, 1, 77)]


def test_metric_identity_and_scope_match_the_catalog():
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    provider.get_meter("amas_telemetry").create_counter("other").add(1)
    derived = DerivedMetrics("amas_telemetry")
    pending = DeferredMeasurements(lock=derived.lock)
    derived.attach(provider, pending.drain)
    pending.add(derived.instrument(HISTOGRAM), 0.2, 77, _span(0, True), SERIES[0])
    (scoped,) = reader.get_metrics_data().resource_metrics[0].scope_metrics  # one scope, shared
    by_name = {m.name: m for m in scoped.metrics}
    assert sorted(by_name) == ["h", "other"]
    assert (by_name["h"].unit, by_name["h"].description) == ("s", "a histogram")
    assert by_name["h"].data.aggregation_temporality is AggregationTemporality.CUMULATIVE


def test_a_forked_child_gets_the_lock_free_even_if_the_parent_held_it():
    import os

    derived = DerivedMetrics("t")
    with derived.lock:  # the parent forks while a drain holds the lock
        pid = os.fork()
        if pid == 0:  # the child: a collection must get the lock (bounded wait, no hang)
            os._exit(0 if derived.lock._lock.acquire(timeout=5) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
