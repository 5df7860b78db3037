"""Trace-correlated logs: JSON lines on stdout and OTLP log records, from plain ``logging``.

One handler, :class:`TelemetryLogHandler`, serves both outputs from one conversion of each
record: its :class:`RedactingFilter` scrubs the message and the extra fields once, the
current span is looked up once, and the same message, extras and ids become the JSON line
and the OTLP record. The OTLP record goes straight to the SDK logger (no second handler
re-reading the record); encoding and sending happen in the batch processor's thread.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import IO, Any

from opentelemetry import trace
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.context import get_current
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.trace import SpanContext

from amas_telemetry.redact import Scrubber

__all__ = [
    "JsonFormatter",
    "NotFromTheExportPath",
    "RedactingFilter",
    "TelemetryLogHandler",
]

# Attributes every LogRecord has; everything else on a record is an "extra" field.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
_STACKTRACE = "exception.stacktrace"
_OURS = frozenset({"trace_id", "span_id", "trace_sampled", _STACKTRACE})


class RedactingFilter(logging.Filter):
    """Renders the message once, scrubbed, and scrubs string extras; idempotent per record."""

    def __init__(self, scrubber: Scrubber) -> None:
        super().__init__()
        self._scrubber = scrubber

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg = self._scrubber.text(message)
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and key not in _OURS:
                setattr(record, key, self._scrubber.value(key, value))

        if record.exc_info:
            # The OTLP handler would read the raw exception; hand it scrubbed attributes instead.
            exc_type, exc, _ = record.exc_info
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text = self._scrubber.text(text)
            if exc_type is not None:
                setattr(record, "exception.type", exc_type.__name__)
                setattr(record, "exception.message", self._scrubber.text(str(exc)))
            setattr(record, _STACKTRACE, record.exc_text)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self._scrubber.text(record.exc_text)
        return True


class NotFromTheExportPath(logging.Filter):
    """Keeps the SDK's own records (export failures, retries) off the OTLP log pipeline.

    Exported, each failed export would log a warning that is queued for export in turn:
    with the Collector down, a flush would never end.
    """

    _PREFIXES = ("opentelemetry.", "grpc.")

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name
        return not (name.startswith(self._PREFIXES) or name in ("opentelemetry", "grpc"))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, message, trace ids, service, extras."""

    def __init__(self, service_name: str) -> None:
        super().__init__()
        self._service_name = service_name

    def format(self, record: logging.LogRecord) -> str:
        context = trace.get_current_span().get_span_context()
        return self.render(record, record.getMessage(), context, extras(record))

    def render(
        self, record: logging.LogRecord, message: str, context: SpanContext, fields: dict[str, Any]
    ) -> str:
        """The JSON line of ``record`` whose message, span and extra fields are already known."""
        valid = context.is_valid
        payload: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="microseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
            "trace_id": format(context.trace_id, "032x") if valid else None,
            "span_id": format(context.span_id, "016x") if valid else None,
            "trace_sampled": valid and context.trace_flags.sampled,
            "service.name": self._service_name,
        }
        payload.update(fields)
        if record.exc_info or record.exc_text:
            payload["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def extras(record: logging.LogRecord) -> dict[str, Any]:
    """The record's extra fields (``extra={...}`` and what the redacting filter added)."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and k not in _OURS}


_SEVERITIES = (
    (logging.CRITICAL, SeverityNumber.FATAL, "FATAL"),
    (logging.ERROR, SeverityNumber.ERROR, "ERROR"),
    (logging.WARNING, SeverityNumber.WARN, "WARN"),
    (logging.INFO, SeverityNumber.INFO, "INFO"),
    (logging.DEBUG, SeverityNumber.DEBUG, "DEBUG"),
)


def severity(levelno: int) -> tuple[SeverityNumber, str]:
    """The OTel severity of a ``logging`` level (a custom level takes the one at or below it)."""
    for level, number, text in _SEVERITIES:
        if levelno >= level:
            return number, text
    return SeverityNumber.TRACE, "TRACE"


class TelemetryLogHandler(logging.Handler):
    """Writes each record as a JSON line to ``stream`` and emits it to ``logger_provider``.

    Either output may be absent. Records of the SDK's own loggers reach the JSON line only
    (see :class:`NotFromTheExportPath`). Add a :class:`RedactingFilter`: it runs once here,
    for both outputs.
    """

    def __init__(
        self, service_name: str, stream: IO[str] | None, logger_provider: LoggerProvider | None
    ) -> None:
        super().__init__()
        self._stream = stream
        self._json = JsonFormatter(service_name)
        self._otlp = logger_provider.get_logger("amas_telemetry.logs") if logger_provider else None
        self._exportable = NotFromTheExportPath().filter
        self._severities = {level: severity(level) for level in range(logging.CRITICAL + 1)}

    def emit(self, record: logging.LogRecord) -> None:
        try:
            context = get_current()
            span_context = trace.get_current_span(context).get_span_context()
            message = record.getMessage()
            fields = extras(record)
            if self._stream is not None:
                self._stream.write(self._json.render(record, message, span_context, fields) + "\n")
                self._stream.flush()
            if self._otlp is not None and self._exportable(record):
                stacktrace = getattr(record, _STACKTRACE, None)
                if stacktrace is not None:
                    fields[_STACKTRACE] = stacktrace
                number, text = self._severities.get(record.levelno) or severity(record.levelno)
                self._otlp.emit(
                    LogRecord(
                        timestamp=int(record.created * 1e9),
                        context=context,
                        severity_text=text,
                        severity_number=number,
                        body=message,
                        attributes=fields,
                    )
                )
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)
