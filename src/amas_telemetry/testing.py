"""Test helpers: ``captelemetry``, a pytest fixture that captures every signal in memory.

    def test_checkout(captelemetry):
        with amas_telemetry.task_span("summarize"):
            ...
        assert captelemetry.histogram_count("amas.task.duration") == 1

The plugin is opt-in, so that installing the library changes no other test run: enable it in
your ``conftest.py`` with ``pytest_plugins = ["amas_telemetry.testing"]`` (or run
``pytest -p amas_telemetry.testing``). Spans and logs pass the same redaction as the OTLP
path; metrics come from an ``InMemoryMetricReader`` next to the Prometheus one.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from amas_telemetry._internal.telemetry import Extras, Telemetry, configure_with

__all__ = ["CapturedTelemetry", "captelemetry", "capture"]


class CapturedTelemetry:
    """A live ``Telemetry`` whose exported spans, metric points and log records can be read."""

    def __init__(self, app: Any = None, **settings: Any) -> None:
        self.span_exporter = InMemorySpanExporter()
        self.metric_reader = InMemoryMetricReader()
        self.log_exporter = InMemoryLogRecordExporter()
        settings.setdefault("system_metrics", False)
        settings.setdefault("otlp_endpoint", False)  # off, even when OTEL_EXPORTER_OTLP_ENDPOINT is set
        settings.setdefault("json_logs", False)
        self.json_stream = io.StringIO()
        self.telemetry: Telemetry = configure_with(
            app,
            Extras((self.span_exporter,), (self.metric_reader,), (self.log_exporter,), self.json_stream),
            **settings,
        )

    def json_lines(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far (with ``json_logs=True``)."""
        return [json.loads(line) for line in self.json_stream.getvalue().splitlines() if line.strip()]

    def spans(self) -> tuple[ReadableSpan, ...]:
        """Exported spans: sampled, or kept by the tail decision; redacted."""
        return self.span_exporter.get_finished_spans()

    def logs(self) -> tuple[ReadableLogRecord, ...]:
        return tuple(self.log_exporter.get_finished_logs())

    def points(self, metric: str) -> list[Any]:
        """Data points of one metric at this moment (cumulative)."""
        data = self.metric_reader.get_metrics_data()
        found: list[Any] = []
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for m in scope_metrics.metrics:
                    if m.name == metric:
                        found.extend(m.data.data_points)
        return found

    def point(self, metric: str, **attributes: Any) -> Any:
        """The one point whose attributes include ``attributes`` (dots spelled ``__``)."""
        wanted = {k.replace("__", "."): v for k, v in attributes.items()}
        matches = [p for p in self.points(metric) if _includes(p.attributes, wanted)]
        if len(matches) != 1:
            raise AssertionError(f"{len(matches)} points of {metric} match {wanted}: {self.points(metric)}")
        return matches[0]

    def histogram_count(self, metric: str, **attributes: Any) -> int:
        wanted = {k.replace("__", "."): v for k, v in attributes.items()}
        return sum(p.count for p in self.points(metric) if _includes(p.attributes, wanted))

    def counter_total(self, metric: str, **attributes: Any) -> float:
        wanted = {k.replace("__", "."): v for k, v in attributes.items()}
        return sum(p.value for p in self.points(metric) if _includes(p.attributes, wanted))

    def shutdown(self) -> None:
        self.telemetry.shutdown()

    def __enter__(self) -> CapturedTelemetry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def _includes(attributes: Mapping[str, Any] | None, wanted: Mapping[str, Any]) -> bool:
    attributes = attributes or {}
    return all(attributes.get(k) == v for k, v in wanted.items())


def capture(app: Any = None, **settings: Any) -> CapturedTelemetry:
    return CapturedTelemetry(app, **settings)


@pytest.fixture
def captelemetry() -> Iterator[CapturedTelemetry]:
    """amas_telemetry configured with in-memory exporters; shut down after the test."""
    captured = CapturedTelemetry()
    try:
        yield captured
    finally:
        captured.shutdown()
