"""Trace-correlated logs: JSON lines on stdout and OTLP log records, from plain ``logging``.

One handler, :class:`TelemetryLogHandler`, serves both outputs from one conversion of each
record: its :class:`RedactingFilter` scrubs the message and the extra fields once, the
current span is looked up once, and the same message, extras and ids become the JSON line
and the queued OTLP record (:mod:`amas_telemetry._internal.logs.export` builds the SDK records in the
batch, in its own thread).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import IO, Any, Protocol

from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.trace import SpanContext

from amas_telemetry._internal.redact.scrubber import Scrubber

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
_NOT_EXTRA = _STANDARD | _OURS


class RedactingFilter(logging.Filter):
    """Renders the message once, scrubbed, and scrubs extras (nested too); idempotent per record."""

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
        fields = vars(record)
        structure = self._scrubber.structure
        for key in [k for k in fields if k not in _NOT_EXTRA]:
            fields[key] = structure(key, fields[key])

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

    _PREFIXES = ("opentelemetry.", "grpc.", "amas_telemetry._internal.logs.export")

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name
        return not (name.startswith(self._PREFIXES) or name in ("opentelemetry", "grpc"))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, message, trace ids, service, extras."""

    def __init__(self, service_name: str) -> None:
        super().__init__()
        self._service_name = service_name
        self._service = _string(service_name)

    def format(self, record: logging.LogRecord) -> str:
        context = trace.get_current_span().get_span_context()
        return self.render(record, record.getMessage(), context, extras(record))

    def render(
        self, record: logging.LogRecord, message: str, context: SpanContext, fields: dict[str, Any]
    ) -> str:
        """The JSON line of ``record`` whose message, span and extra fields are already known.

        The fixed fields are laid out by hand and only the strings go through the JSON
        string encoder (building a JSON encoder per line costs more than the line).
        """
        if record.exc_info or record.exc_text:
            fields = {**fields, "exception": record.exc_text or self.formatException(record.exc_info)}
        if not _FIXED.isdisjoint(fields):  # an extra field shadows a fixed one: the slow, exact way
            return self._render_dict(record, message, context, fields)
        if context.is_valid:
            ids = (
                f'"trace_id":"{context.trace_id:032x}","span_id":"{context.span_id:016x}",'
                f'"trace_sampled":{"true" if context.trace_flags.sampled else "false"}'
            )
        else:
            ids = '"trace_id":null,"span_id":null,"trace_sampled":false'
        line = (
            f'{{"timestamp":"{_timestamp(record.created)}","level":{_string(record.levelname)},'
            f'"logger":{_string(record.name)},"message":{_string(message)},{ids},'
            f'"service.name":{self._service}'
        )
        for key, value in fields.items():
            line += f",{_string(key)}:{_string(value) if type(value) is str else _DUMPS(value)}"
        return line + "}"

    def _render_dict(
        self, record: logging.LogRecord, message: str, context: SpanContext, fields: dict[str, Any]
    ) -> str:
        valid = context.is_valid
        payload: dict[str, Any] = {
            "timestamp": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
            "trace_id": format(context.trace_id, "032x") if valid else None,
            "span_id": format(context.span_id, "016x") if valid else None,
            "trace_sampled": valid and context.trace_flags.sampled,
            "service.name": self._service_name,
        }
        payload.update(fields)
        return _DUMPS(payload)


_FIXED = frozenset(
    {"timestamp", "level", "logger", "message", "trace_id", "span_id", "trace_sampled", "service.name"}
)
_string = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]  # the C string encoder
_DUMPS = json.JSONEncoder(default=str).encode


def _timestamp(created: float, _cache: dict[int, str] = {}) -> str:  # noqa: B006 (a cache)
    """ISO 8601 in UTC with microseconds; the seconds part is formatted once per second."""
    seconds = int(created)
    prefix = _cache.get(seconds)
    if prefix is None:
        _cache.clear()
        prefix = _cache[seconds] = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{prefix}.{int((created - seconds) * 1e6):06d}+00:00"


def extras(record: logging.LogRecord) -> dict[str, Any]:
    """The record's extra fields (``extra={...}`` and what the redacting filter added)."""
    return {k: v for k, v in vars(record).items() if k not in _NOT_EXTRA}


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


class LogSink(Protocol):
    """Where a converted record goes (:class:`~amas_telemetry._internal.logs.export.DeferredLogExport`)."""

    def add(
        self,
        time_unix_nano: int,
        severity: tuple[SeverityNumber, str],
        message: str,
        fields: dict[str, Any],
        span: SpanContext,
    ) -> None: ...


class TelemetryLogHandler(logging.Handler):
    """Writes each record as a JSON line to ``stream`` and hands it to each export ``sink``.

    Either output may be absent. Records of the SDK's own loggers reach the JSON line only
    (see :class:`NotFromTheExportPath`). Add a :class:`RedactingFilter`: it runs once here,
    for both outputs.

    Lines of WARNING and above are flushed at once; lower ones ride the stream's buffer and
    are flushed within ``flush_interval`` seconds (and on close): one write per buffer
    instead of one system call per line.
    """

    def __init__(
        self,
        service_name: str,
        stream: IO[str] | None,
        sinks: Sequence[LogSink] = (),
        flush_interval: float = 0.5,
    ) -> None:
        super().__init__()
        self._stream = stream
        self._json = JsonFormatter(service_name)
        self._sinks = tuple(sinks)
        self._exportable = NotFromTheExportPath().filter
        self._severities = {level: severity(level) for level in range(logging.CRITICAL + 1)}
        self._unflushed = False
        self._stop_flushing = threading.Event()
        self._flusher: threading.Thread | None = None
        if stream is not None:
            self._flusher = threading.Thread(
                target=self._flush_periodically, args=(flush_interval,), name="amas-log-flush", daemon=True
            )
            self._flusher.start()

    def _flush_periodically(self, interval: float) -> None:
        while not self._stop_flushing.wait(interval):
            if self._unflushed:
                self.flush()

    def flush(self) -> None:
        if self._stream is None:
            return
        with self.lock:  # type: ignore[union-attr]  # the lock emit() runs under
            self._unflushed = False
            # a closed or broken stream must not kill the flushing thread
            with contextlib.suppress(OSError, ValueError):
                self._stream.flush()

    def close(self) -> None:
        self._stop_flushing.set()
        if self._flusher is not None and self._flusher is not threading.current_thread():
            self._flusher.join(timeout=5)  # shutdown() leaves no thread behind
        self.flush()
        super().close()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            span = trace.get_current_span().get_span_context()
            message = record.getMessage()
            fields = extras(record)
            if self._stream is not None:
                self._stream.write(self._json.render(record, message, span, fields) + "\n")
                if record.levelno >= logging.WARNING:
                    self._stream.flush()
                else:
                    self._unflushed = True
            if self._sinks and self._exportable(record):
                stacktrace = getattr(record, _STACKTRACE, None)
                if stacktrace is not None:
                    fields[_STACKTRACE] = stacktrace
                level = self._severities.get(record.levelno) or severity(record.levelno)
                timestamp = int(record.created * 1e9)
                for sink in self._sinks:
                    sink.add(timestamp, level, message, fields, span)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)
