"""Deferred recording: nothing queued is missed by a collection, lost, or counted twice."""

from __future__ import annotations

import threading

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.trace import SpanContext, TraceFlags

from amas_telemetry import semconv as sc
from amas_telemetry.deferred import DeferredMeasurements
from amas_telemetry.testing import capture

SAMPLED = SpanContext(trace_id=7, span_id=9, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))


def _counter():
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("t")
    return reader, meter.create_counter("c")


def _total(reader):
    data = reader.get_metrics_data()
    return sum(p.value for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
               for p in m.data.data_points)  # fmt: skip


def test_backlog_is_bounded_by_draining_inline():
    reader, counter = _counter()
    pending = DeferredMeasurements(max_backlog=10)
    sink = pending.sink_for(counter)
    for _ in range(25):
        pending.add(sink, 1.0, 1, SAMPLED, {})
    assert len(pending) <= 10
    pending.drain()
    assert _total(reader) == 25


def test_refused_values_are_dropped_like_the_sdk_would():
    reader, counter = _counter()
    pending = DeferredMeasurements()
    sink = pending.sink_for(counter)
    for value in (-1.0, float("nan"), float("inf"), 2.0):
        pending.add(sink, value, 1, SAMPLED, {})
    pending.drain()
    assert _total(reader) == 2.0


def test_concurrent_drains_lose_and_duplicate_nothing():
    reader, counter = _counter()
    pending = DeferredMeasurements(max_backlog=10**9)
    sink = pending.sink_for(counter)

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
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("t")
    counter = meter.create_counter("c")
    pending = DeferredMeasurements()
    sink = pending.sink_for(counter)
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


def test_the_drain_builds_the_measurement_the_sdk_constructor_would():
    """Loud on an SDK upgrade: the fast path must fill exactly the SDK's Measurement fields."""
    from opentelemetry.context import Context
    from opentelemetry.sdk.metrics._internal.measurement import Measurement

    from amas_telemetry.deferred import _build_measurement

    assert _build_measurement is not Measurement, "the SDK's Measurement changed shape: fast path off"
    instrument = MeterProvider().get_meter("m").create_histogram("h")
    args = (0.25, 123, instrument, Context(), {"http.route": "/a", "http.response.status_code": 200})
    fast, sdk = _build_measurement(*args), Measurement(*args)
    assert type(fast) is Measurement
    assert fast == sdk
