"""An OTLP ``ExportLogsServiceRequest`` as bytes, without the SDK's message objects.

:func:`encode_logs` takes the SDK's ``ReadableLogRecord`` objects and returns what
``opentelemetry.exporter.otlp.proto.common._log_encoder.encode_logs(batch).SerializeToString()``
returns, byte for byte, in about a fifth of the time. :func:`queued_record` encodes the
tuple :mod:`amas_telemetry.logexport` queues on the logging path straight into a
``LogRecord``, without building the SDK records at all.

Field numbers: ``opentelemetry/proto/logs/v1/logs.proto`` and
``opentelemetry/proto/collector/logs/v1/logs_service.proto``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.trace import SpanContext

from amas_telemetry.otlp_wire import (
    any_value,
    export_request,
    fixed32,
    fixed64,
    key_values,
    length_delimited,
    varint,
)

__all__ = ["encode_logs", "logs_request", "queued_record", "readable_record"]


def _record(
    time_unix_nano: int | None,
    severity_number: int | None,
    severity_text: str | None,
    body: Any,
    attributes: Mapping[str, Any] | None,
    dropped_attributes: int,
    flags: int,
    trace_id: int,
    span_id: int,
    observed_time_unix_nano: int | None,
    event_name: str | None,
) -> bytes:
    """The payload of a ``LogRecord`` message, fields in number order (as upb writes them)."""
    out = fixed64(b"\x09", time_unix_nano) if time_unix_nano else b""  # time_unix_nano = 1
    if severity_number:
        out += b"\x10" + varint(severity_number)  # severity_number = 2
    if severity_text:
        out += length_delimited(b"\x1a", severity_text.encode())  # severity_text = 3
    out += length_delimited(b"\x2a", any_value(body))  # body = 5, always set
    out += key_values(b"\x32", attributes)  # attributes = 6
    if dropped_attributes:
        out += b"\x38" + varint(dropped_attributes)  # dropped_attributes_count = 7
    if flags:
        out += fixed32(b"\x45", flags)  # flags = 8
    if trace_id:
        out += length_delimited(b"\x4a", trace_id.to_bytes(16, "big"))  # trace_id = 9
    if span_id:
        out += length_delimited(b"\x52", span_id.to_bytes(8, "big"))  # span_id = 10
    if observed_time_unix_nano:
        out += fixed64(b"\x59", observed_time_unix_nano)  # observed_time_unix_nano = 11
    if event_name:
        out += length_delimited(b"\x62", event_name.encode())  # event_name = 12
    return out


def readable_record(readable: ReadableLogRecord) -> bytes:
    """One SDK log record as a ``LogRecord`` payload (what the SDK's ``_encode_log`` builds)."""
    record = readable.log_record
    return _record(
        record.timestamp,
        getattr(record.severity_number, "value", None),
        record.severity_text,
        record.body,
        record.attributes,
        readable.dropped_attributes,
        int(record.trace_flags),
        record.trace_id or 0,
        record.span_id or 0,
        record.observed_timestamp,
        record.event_name,
    )


def queued_record(
    time_unix_nano: int,
    severity_number: int,
    severity_text: str,
    message: str,
    attributes: Mapping[str, Any],
    span: SpanContext,
) -> bytes:
    """A queued log line as a ``LogRecord`` payload (``attributes`` already export-ready)."""
    return _record(
        time_unix_nano,
        severity_number,
        severity_text,
        message,
        attributes,
        0,
        int(span.trace_flags),
        span.trace_id,
        span.span_id,
        time_unix_nano,
        None,
    )


def logs_request(entries: Iterable[tuple[Any, Any, bytes]]) -> bytes:
    """``ExportLogsServiceRequest`` bytes from ``(resource, scope, LogRecord payload)`` entries."""
    return export_request(entries)


def encode_logs(batch: Sequence[ReadableLogRecord]) -> bytes:
    """What the SDK's ``encode_logs(batch).SerializeToString()`` returns."""
    return logs_request((r.resource, r.instrumentation_scope or None, readable_record(r)) for r in batch)
