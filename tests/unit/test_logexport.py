"""DeferredLogExport: tuples in, SDK records out in batches; bounded, counted, flushed on shutdown."""

from __future__ import annotations

import logging

from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import INVALID_SPAN_CONTEXT, SpanContext, TraceFlags

from amas_telemetry._internal.logs.export import DeferredLogExport

RESOURCE = Resource.create({"service.name": "svc"})
SPAN = SpanContext(0xABC, 0xDEF, False, TraceFlags(1))
INFO = (SeverityNumber.INFO, "INFO")


def test_queued_lines_are_exported_as_sdk_records_on_flush_only():
    exporter = InMemoryLogRecordExporter()
    export = DeferredLogExport(exporter, RESOURCE, schedule_delay_seconds=3600)
    try:
        export.add(5, INFO, "hello", {"n": 1, "obj": object(), "nested": {"k": [1, "x"]}}, SPAN)
        assert exporter.get_finished_logs() == ()  # nothing per line: the batch converts
        assert export.force_flush()
        (record,) = exporter.get_finished_logs()
        log = record.log_record
        assert (log.body, log.severity_number, log.severity_text, log.timestamp) == (
            "hello",
            SeverityNumber.INFO,
            "INFO",
            5,
        )
        assert (log.trace_id, log.span_id, int(log.trace_flags)) == (0xABC, 0xDEF, 1)
        assert log.attributes["n"] == 1
        assert log.attributes["obj"].startswith("<object object")  # what OTLP cannot carry becomes text
        assert log.attributes["nested"] == {"k": [1, "x"]}
        assert record.resource is RESOURCE
    finally:
        export.shutdown()


def test_a_full_queue_drops_and_counts():
    reader = InMemoryMetricReader()
    exporter = InMemoryLogRecordExporter()
    export = DeferredLogExport(
        exporter,
        RESOURCE,
        meter_provider=MeterProvider(metric_readers=[reader]),
        max_queue_size=3,
        max_export_batch_size=100,
        schedule_delay_seconds=3600,
    )
    try:
        for i in range(5):
            export.add(i, INFO, f"line {i}", {}, INVALID_SPAN_CONTEXT)
        export.force_flush()
        assert [r.log_record.body for r in exporter.get_finished_logs()] == ["line 0", "line 1", "line 2"]
        points = {
            point.attributes.get("error.type"): point.value
            for metric in reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics
            if metric.name == "otel.sdk.processor.log.processed"
            for point in metric.data.data_points
        }
        assert points == {"queue_full": 2, None: 3}
    finally:
        export.shutdown()


def test_records_emitted_through_the_sdk_logger_join_the_queue():
    exporter = InMemoryLogRecordExporter()
    export = DeferredLogExport(exporter, RESOURCE, schedule_delay_seconds=3600)
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(export)
    provider.get_logger("other").emit(body="from the SDK logger", severity_number=SeverityNumber.WARN)
    provider.force_flush()
    assert [r.log_record.body for r in exporter.get_finished_logs()] == ["from the SDK logger"]
    provider.shutdown()


def test_shutdown_exports_what_is_queued_and_refuses_more():
    exporter = InMemoryLogRecordExporter()
    export = DeferredLogExport(exporter, RESOURCE, schedule_delay_seconds=3600)
    export.add(1, INFO, "before", {}, INVALID_SPAN_CONTEXT)
    export.shutdown()
    export.add(2, INFO, "after", {}, INVALID_SPAN_CONTEXT)
    assert [r.log_record.body for r in exporter.get_finished_logs()] == ["before"]


def test_a_failing_exporter_never_raises_into_the_caller(caplog):
    class Broken(InMemoryLogRecordExporter):
        def export(self, batch):
            raise ConnectionError("down")

    export = DeferredLogExport(Broken(), RESOURCE, synchronous=True)
    with caplog.at_level(logging.ERROR):
        export.add(1, INFO, "x", {}, INVALID_SPAN_CONTEXT)
    assert "exporting 1 log records failed" in caplog.text
    export.shutdown()
