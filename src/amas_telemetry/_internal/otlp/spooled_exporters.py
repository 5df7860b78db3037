"""The SDK's exporter interfaces over one :class:`~.spooled_export.SpooledExport` per signal.

Each encodes a batch to its OTLP request bytes (spans and logs with our direct encoders, metrics
with the SDK's) and hands them to the spooled export, which sends, spools and replays them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from amas_telemetry._internal.otlp.log_encoding import encode_logs
from amas_telemetry._internal.otlp.span_encoding import encode_spans

if TYPE_CHECKING:
    from amas_telemetry._internal.otlp.spooled_export import SpooledExport

__all__ = ["EXPORTER_CLASSES", "SpooledLogExporter", "SpooledMetricExporter", "SpooledSpanExporter"]


class SpooledSpanExporter(SpanExporter):
    def __init__(self, export: SpooledExport) -> None:
        self.core = export

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        body = encode_spans(spans)
        ok = self.core.submit(body, len(spans))
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.core.drain(timeout_millis / 1000)

    def shutdown(self) -> None:
        self.core.shutdown()


class SpooledLogExporter(LogRecordExporter):
    def __init__(self, export: SpooledExport) -> None:
        self.core = export

    def export(self, batch: Sequence) -> LogRecordExportResult:  # type: ignore[override]
        return self.export_encoded(encode_logs(batch), len(batch))

    def export_encoded(self, body: bytes, items: int) -> LogRecordExportResult:
        """An ``ExportLogsServiceRequest`` already serialized (see :mod:`.logexport`)."""
        ok = self.core.submit(body, items)
        return LogRecordExportResult.SUCCESS if ok else LogRecordExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.core.drain(timeout_millis / 1000)

    def shutdown(self) -> None:
        self.core.shutdown()


class SpooledMetricExporter(MetricExporter):
    """Cumulative temporality for every instrument (what Prometheus stores)."""

    def __init__(self, export: SpooledExport) -> None:
        super().__init__()
        self.core = export

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: object
    ) -> MetricExportResult:
        points = sum(
            len(metric.data.data_points)
            for resource in metrics_data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
        )
        body = encode_metrics(metrics_data).SerializeToString()
        ok = self.core.submit(body, points)
        return MetricExportResult.SUCCESS if ok else MetricExportResult.FAILURE

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self.core.drain(timeout_millis / 1000)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: object) -> None:
        self.core.shutdown()


EXPORTER_CLASSES: dict[str, Any] = {
    "traces": SpooledSpanExporter,
    "metrics": SpooledMetricExporter,
    "logs": SpooledLogExporter,
}
