"""Where a secret can travel (places) and where it could come out (sinks), for the redaction tests.

A place puts a text into telemetry the way an app or an instrumentation would; ``exported``
reads back everything ``CapturedTelemetry`` captures: exported spans (names, attributes,
events, links, status, resource), OTLP log records (body, attributes, event name), the JSON
lines on stdout, and metric points with their exemplars.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from urllib.parse import quote

from opentelemetry import trace
from opentelemetry._logs import LogRecord
from opentelemetry.trace import Link, SpanContext, TraceFlags

import amas_telemetry
from amas_telemetry.testing import CapturedTelemetry

Place = Callable[[CapturedTelemetry, str], None]

_log = logging.getLogger("amas.redaction.test")
_OTHER = SpanContext(0x1234, 0x5678, is_remote=True, trace_flags=TraceFlags(1))


class Opaque:
    """An object logged as an extra: it goes out as its text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return f"Opaque({self.text})"


def _span(cap: CapturedTelemetry) -> trace.Tracer:
    return cap.telemetry.tracer("amas.redaction.test")


def span_attribute(cap: CapturedTelemetry, text: str) -> None:
    with _span(cap).start_as_current_span("call") as span:
        span.set_attribute("app.note", text)
        span.set_attribute("app.notes", [text, "plain"])


def span_attribute_key(cap: CapturedTelemetry, text: str) -> None:
    with _span(cap).start_as_current_span("call") as span:
        span.set_attribute(f"app.{text}", 1)


def span_name(cap: CapturedTelemetry, text: str) -> None:
    with _span(cap).start_as_current_span(f"GET {text}"):
        pass


def event(cap: CapturedTelemetry, text: str) -> None:
    with _span(cap).start_as_current_span("call") as span:
        span.add_event(f"retry {text}", {"why": text})


def link(cap: CapturedTelemetry, text: str) -> None:
    with _span(cap).start_as_current_span("call", links=[Link(_OTHER, {"from": text})]):
        pass


def exception(cap: CapturedTelemetry, text: str) -> None:
    try:
        with _span(cap).start_as_current_span("call"):
            raise ValueError(f"rejected: {text}")
    except ValueError:
        pass


def exception_repr(cap: CapturedTelemetry, text: str) -> None:
    """repr() escapes newlines and quotes: the shape follows a backslash escape."""
    try:
        with _span(cap).start_as_current_span("call"):
            raise RuntimeError(repr({"config": f"line\n{text}"}))
    except RuntimeError:
        pass


def percent_encoded_url(cap: CapturedTelemetry, text: str) -> None:
    url = f"https://api.example.com/cb?next={quote(text, safe='')}"
    with _span(cap).start_as_current_span("GET", kind=trace.SpanKind.CLIENT) as span:
        span.set_attribute("url.full", url)
    _log.info('HTTP Request: %s %s "%s"', "GET", url, "HTTP/1.1 200 OK")  # what httpx logs


def db_statement(cap: CapturedTelemetry, text: str) -> None:
    with _span(cap).start_as_current_span("ALTER", kind=trace.SpanKind.CLIENT) as span:
        span.set_attribute("db.statement", f"SELECT 1 /* {text} */")


def task_label(cap: CapturedTelemetry, text: str) -> None:
    with amas_telemetry.task_span(text):
        pass


def agent_and_model_labels(cap: CapturedTelemetry, text: str) -> None:
    with amas_telemetry.agent_span(text), amas_telemetry.genai_span("openai", text) as call:
        amas_telemetry.record_genai_usage(call, input_tokens=1, output_tokens=1, cost_usd=0.0)


def log_message(cap: CapturedTelemetry, text: str) -> None:
    _log.warning("connecting with %s", text)


def log_extras(cap: CapturedTelemetry, text: str) -> None:
    _log.info(
        "request",
        extra={"ctx": {"nested": [text, text.encode()], text: 1}, "obj": Opaque(text), "raw": text.encode()},
    )


def log_exception(cap: CapturedTelemetry, text: str) -> None:
    try:
        raise RuntimeError(text)
    except RuntimeError:
        _log.exception("failed")


def otlp_log_event(cap: CapturedTelemetry, text: str) -> None:
    """A record on the OTel Logs API (not through ``logging``), as instrumentations emit."""
    provider = cap.telemetry.logger_provider
    assert provider is not None
    provider.get_logger("amas.redaction.test").emit(
        LogRecord(
            event_name="app.event",
            body={"message": text, "list": [text]},
            attributes={"note": text, "ctx": {"nested": [text]}},
        )
    )


_attempts = itertools.count()


def sdk_warning(cap: CapturedTelemetry, text: str) -> None:
    """The SDK's own export warnings name the endpoint.

    The exporter's logger drops a message equal to the one before (the SDK's DuplicateFilter,
    by format string): each call here has a format string of its own.
    """
    template = "Failed to export traces to %s, error code: %s, attempt " + str(next(_attempts))
    sdk_logger = logging.getLogger("opentelemetry.exporter.otlp.proto.grpc.exporter")
    sdk_logger.warning(template, text, "UNAVAILABLE")


PLACES: dict[str, Place] = {
    f.__name__: f
    for f in (
        span_attribute,
        span_attribute_key,
        span_name,
        event,
        link,
        exception,
        exception_repr,
        percent_encoded_url,
        db_statement,
        task_label,
        agent_and_model_labels,
        log_message,
        log_extras,
        log_exception,
        otlp_log_event,
        sdk_warning,
    )
}


def exported(cap: CapturedTelemetry) -> str:
    """Everything the captured telemetry would send, as one text."""
    cap.telemetry.force_flush()
    parts: list[str] = []
    for span in cap.spans():
        parts.append(repr((span.name, dict(span.attributes or {}), span.status.description)))
        parts.append(repr([(e.name, dict(e.attributes or {})) for e in span.events]))
        parts.append(repr([dict(link.attributes or {}) for link in span.links]))
        parts.append(repr(dict(span.resource.attributes)))
    for record in cap.logs():
        log = record.log_record
        parts.append(repr((log.body, dict(log.attributes or {}), getattr(log, "event_name", None))))
        parts.append(repr(dict(record.resource.attributes)))
    parts.append(cap.json_stream.getvalue())
    data = cap.metric_reader.get_metrics_data()
    for resource_metrics in data.resource_metrics if data else ():
        parts.append(repr(dict(resource_metrics.resource.attributes)))
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for point in metric.data.data_points:
                    parts.append(repr(dict(point.attributes or {})))
                    for exemplar in getattr(point, "exemplars", None) or ():
                        parts.append(repr(dict(exemplar.filtered_attributes or {})))
    return "\n".join(parts)


def clear(cap: CapturedTelemetry) -> None:
    """Forget spans, logs and JSON lines (metric points are cumulative and stay)."""
    cap.span_exporter.clear()
    cap.log_exporter.clear()
    cap.json_stream.seek(0)
    cap.json_stream.truncate()
