"""Trace-correlated logs: JSON lines on stdout and OTLP log records, from plain ``logging``.

A filter on each handler scrubs secrets from the message and extra fields (idempotent, so
two handlers may both run it). The JSON formatter reads trace_id/span_id from the current
span at format time, in the thread that logs; the OTLP handler does the same in the SDK.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any

from opentelemetry import trace

from amas_telemetry.redact import Scrubber

__all__ = ["JsonFormatter", "NotFromTheExportPath", "RedactingFilter", "json_stdout_handler"]

# Attributes every LogRecord has; everything else on a record is an "extra" field.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
_STACKTRACE = "exception.stacktrace"
_OURS = frozenset({"trace_id", "span_id", "trace_sampled", _STACKTRACE})


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
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and key not in _OURS:
                setattr(record, key, self._scrubber.structure(key, value))

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
        valid = context.is_valid
        payload: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="microseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "trace_id": format(context.trace_id, "032x") if valid else None,
            "span_id": format(context.span_id, "016x") if valid else None,
            "trace_sampled": valid and context.trace_flags.sampled,
            "service.name": self._service_name,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in _OURS:
                payload[key] = value
        if record.exc_info or record.exc_text:
            payload["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def json_stdout_handler(service_name: str, stream: IO[str] | None = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter(service_name))
    return handler
