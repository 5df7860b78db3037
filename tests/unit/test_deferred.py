"""Deferred recording: nothing queued is missed by a collection, lost, or counted twice."""

from __future__ import annotations

import threading

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.trace import SpanContext, TraceFlags

from amas_telemetry import semconv as sc
from amas_telemetry._internal.metrics.deferred import DeferredMeasurements
from amas_telemetry._internal.metrics.derivation.aggregate import DerivedMetrics
from amas_telemetry.catalog import InstrumentKind, MetricSpec
from amas_telemetry.testing import capture

SAMPLED = SpanContext(trace_id=7, span_id=9, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))


COUNTER = MetricSpec("c", InstrumentKind.COUNTER, "1", "c")


def _counter(**kwargs):
    """A reader, a derived counter and the queue in front of it, as the span metrics wire them."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    derived = DerivedMetrics("t")
    pending = DeferredMeasurements(lock=derived.lock, **kwargs)
    derived.attach(provider, pending.drain)
    return reader, derived.instrument(COUNTER), pending


def _total(reader):
    data = reader.get_metrics_data()
    return sum(p.value for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
               for p in m.data.data_points)  # fmt: skip


def test_backlog_is_bounded_by_draining_inline():
    reader, sink, pending = _counter(max_backlog=10)
    for _ in range(25):
        pending.add(sink, 1.0, 1, SAMPLED, {})
    assert len(pending) <= 10
    pending.drain()
    assert _total(reader) == 25


def test_refused_values_are_dropped_like_the_sdk_would():
    reader, sink, pending = _counter()
    for value in (-1.0, float("nan"), float("inf"), 2.0):
        pending.add(sink, value, 1, SAMPLED, {})
    pending.drain()
    assert _total(reader) == 2.0


def test_concurrent_drains_lose_and_duplicate_nothing():
    reader, sink, pending = _counter(max_backlog=10**9)

    def produce():
        for _ in range(5000):
            pending.add(sink, 1.0, 1, SAMPLED, {})

    threads = [threading.Thread(target=produce) for _ in range(3)] + [
        threading.Thread(target=lambda: [pending.drain() for _ in range(200)]) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pending.drain()
    assert _total(reader) == 15000
    assert pending.recorded == 15000


def test_exemplar_keeps_the_span_end_time():
    cap = capture(sampling_ratio=1.0)
    try:
        with cap.telemetry.tracer("t").start_as_current_span("task", attributes={sc.AMAS_OPERATION: "task"}):
            pass
        (span,) = cap.spans()
        (exemplar,) = cap.point(sc.AMAS_TASK_DURATION).exemplars
        assert exemplar.time_unix_nano == span.end_time
        assert exemplar.span_id == span.context.span_id
    finally:
        cap.shutdown()


def test_self_metric_counts_recorded_measurements():
    cap = capture()
    try:
        with cap.telemetry.tracer("t").start_as_current_span("task", attributes={sc.AMAS_OPERATION: "task"}):
            pass
        cap.points(sc.AMAS_TASK_DURATION)  # a collection drains
        assert cap.point(sc.AMAS_TELEMETRY_SPAN_METRICS_RECORDED).value >= 1
    finally:
        cap.shutdown()


def test_counter_points_of_one_drain_are_summed_with_a_sampled_exemplar():
    reader, sink, pending = _counter()
    unsampled = SpanContext(trace_id=7, span_id=1, is_remote=False, trace_flags=TraceFlags(0))
    labels = {"k": "v"}
    for span in (unsampled, SAMPLED, unsampled):
        pending.add(sink, 2.0, 1, span, labels)
    assert pending.drain() == 3
    data = reader.get_metrics_data()
    (point,) = [p for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
                for p in m.data.data_points]  # fmt: skip
    assert point.value == 6.0
    assert [e.span_id for e in point.exemplars] == [SAMPLED.span_id]


def test_force_flush_leaves_one_copy_of_each_family_for_the_next_scrape():
    telemetry_module = __import__("amas_telemetry")
    telemetry = telemetry_module.configure(
        otlp_endpoint="http://127.0.0.1:9", system_metrics=False, json_logs=False, metric_export_interval=3600
    )
    try:
        with telemetry.tracer("t").start_as_current_span("task", attributes={sc.AMAS_OPERATION: "task"}):
            pass
        telemetry.force_flush(2000)
        text = telemetry.render_metrics().decode()
        assert text.count("# TYPE amas_task_duration_seconds histogram") == 1
        assert "otel_scope_name" not in text
    finally:
        telemetry.shutdown()
