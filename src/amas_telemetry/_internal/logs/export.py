"""Log records queued as plain tuples on the logging path, turned into SDK records in batches.

Through the SDK logger, each log line builds an API ``LogRecord``, a ``ReadWriteLogRecord``
(whose ``BoundedAttributes`` cleans every value), then the batch processor's copy and
``ReadableLogRecord``: several objects built in the thread that logs, for a record that is only
read again when the batch is exported. Here :class:`.handler.TelemetryLogHandler`
queues one tuple per line (message and fields already scrubbed, the span already read), and
the batch builds the ``ReadableLogRecord`` objects the exporter takes: the exporter chain
(OTLP, and whatever wraps it) is unchanged. An exporter that takes request bytes
(``export_encoded``, the spooled OTLP exporter) gets the queued lines encoded straight to
OTLP protobuf (:mod:`amas_telemetry._internal.otlp.log_encoding`), with no SDK record built at all.

:class:`DeferredLogExport` is also an SDK ``LogRecordProcessor``: records other code emits
through the SDK logger join the same queue. The queue is bounded; past ``max_queue_size``
records are dropped and counted (``otel.sdk.processor.log.processed``, ``error.type``
``queue_full``). ``synchronous=True`` exports each record at once (tests, debugging).
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor, ReadableLogRecord, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.semconv._incubating.metrics.otel_metrics import create_otel_sdk_processor_log_processed
from opentelemetry.trace import SpanContext

from amas_telemetry import semconv as sc
from amas_telemetry._internal.otlp.log_encoding import queued_record, readable_record
from amas_telemetry._internal.otlp.wire import export_request

__all__ = ["DeferredLogExport"]

_log = logging.getLogger(__name__)

_SCOPE = InstrumentationScope("amas_telemetry._internal.logs.handler")
_PLAIN = (str, int, float, bool, bytes)
_EXACT_PLAIN = frozenset(_PLAIN)

Queued = tuple[int, SeverityNumber, str, str, dict[str, Any], SpanContext]
"""(time ns, severity number, severity text, message, fields, span context)"""


def _attribute(value: Any) -> Any:
    """A value the OTLP encoder takes (what the SDK's attribute cleaning would keep), else its str."""
    if value is None or isinstance(value, _PLAIN):
        return value
    if isinstance(value, list | tuple):
        return [_attribute(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _attribute(v) for k, v in value.items()}
    return str(value)


class DeferredLogExport(LogRecordProcessor):
    """Queue → batch of ``ReadableLogRecord`` → ``exporter``, on a background thread."""

    def __init__(
        self,
        exporter: LogRecordExporter,
        resource: Resource,
        *,
        meter_provider: Any = None,
        max_queue_size: int = 4096,
        max_export_batch_size: int = 512,
        schedule_delay_seconds: float = 1.0,
        synchronous: bool = False,
    ) -> None:
        self._exporter = exporter
        self._resource = resource
        self._queue: deque[Queued | ReadableLogRecord] = deque()
        self._max_queue_size = max_queue_size
        self._batch_size = max_export_batch_size
        self._delay = schedule_delay_seconds
        self._synchronous = synchronous
        self._export_lock = threading.Lock()
        self._wake = threading.Event()
        self._shutdown = False
        self._processed = None
        if meter_provider is not None:
            self._processed = create_otel_sdk_processor_log_processed(
                meter_provider.get_meter("amas_telemetry")
            )
        self._component = {sc.OTEL_COMPONENT_TYPE: "amas_deferred_log_export"}
        self._worker: threading.Thread | None = None
        if not synchronous:
            self._worker = threading.Thread(target=self._run, name="amas-log-export", daemon=True)
            self._worker.start()

    # --- in the thread that logs -------------------------------------------------------------
    def add(
        self,
        time_unix_nano: int,
        severity: tuple[SeverityNumber, str],
        message: str,
        fields: dict[str, Any],
        span: SpanContext,
    ) -> None:
        self._put((time_unix_nano, severity[0], severity[1], message, fields, span))

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        """A record emitted through the SDK logger by other code: queued as the SDK would."""
        record = copy.copy(log_record.log_record)
        record.context = Context()  # drop the reference to a possibly large context
        self._put(
            ReadableLogRecord(record, log_record.resource or self._resource, log_record.instrumentation_scope)
        )

    def _put(self, item: Queued | ReadableLogRecord) -> None:
        if self._shutdown:
            return
        if len(self._queue) >= self._max_queue_size:
            self._count(1, "queue_full")
            return
        self._queue.append(item)
        if self._synchronous:
            self._export_all()
        elif len(self._queue) >= self._batch_size and not self._wake.is_set():
            self._wake.set()

    # --- in the batch ----------------------------------------------------------------------------
    def _readable(self, item: Queued | ReadableLogRecord) -> ReadableLogRecord:
        if isinstance(item, ReadableLogRecord):
            return item
        time_unix_nano, number, text, message, fields, span = item
        record = LogRecord(
            timestamp=time_unix_nano,
            observed_timestamp=time_unix_nano,
            context=Context(),
            severity_text=text,
            severity_number=number,
            body=message,
            attributes={k: _attribute(v) for k, v in fields.items()},
        )
        record.trace_id, record.span_id, record.trace_flags = span.trace_id, span.span_id, span.trace_flags
        return ReadableLogRecord(record, self._resource, _SCOPE)

    def _encoded(self, item: Queued | ReadableLogRecord) -> tuple[Any, Any, bytes]:
        """(resource, scope, OTLP ``LogRecord`` bytes) of a queued item."""
        if isinstance(item, ReadableLogRecord):
            return item.resource, item.instrumentation_scope or None, readable_record(item)
        time_unix_nano, number, text, message, fields, span = item
        attributes = {k: v if v.__class__ in _EXACT_PLAIN else _attribute(v) for k, v in fields.items()}
        return (
            self._resource,
            _SCOPE,
            queued_record(time_unix_nano, number.value, text, message, attributes, span),
        )

    def _export_all(self) -> None:
        encoded = getattr(self._exporter, "export_encoded", None)
        convert = self._readable if encoded is None else self._encoded
        with self._export_lock:
            popleft = self._queue.popleft
            while self._queue:
                batch = []
                try:
                    while len(batch) < self._batch_size:
                        batch.append(convert(popleft()))
                except IndexError:
                    pass
                if batch:
                    self._export(batch, encoded)

    def _export(self, batch: list[Any], encoded: Any = None) -> None:
        try:
            if encoded is None:
                result = self._exporter.export(batch)
            else:
                result = encoded(export_request(batch), len(batch))
            failed = getattr(result, "name", "SUCCESS") != "SUCCESS"
            self._count(len(batch), "export_failed" if failed else None)
        except Exception:  # never raise into the app or kill the worker
            _log.exception("amas_telemetry: exporting %d log records failed", len(batch))
            self._count(len(batch), "export_failed")

    def _count(self, count: int, error: str | None) -> None:
        if self._processed is not None:
            attributes = self._component if error is None else {**self._component, sc.ERROR_TYPE: error}
            self._processed.add(count, attributes)

    def _run(self) -> None:
        while not self._shutdown:
            self._wake.wait(self._delay)
            self._wake.clear()
            self._export_all()

    # --- LogRecordProcessor ------------------------------------------------------------------------
    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Exports everything queued now, in the calling thread."""
        deadline = time.monotonic() + timeout_millis / 1000
        self._export_all()
        flush = getattr(self._exporter, "force_flush", None)
        return time.monotonic() <= deadline and (flush is None or flush(timeout_millis) is not False)

    def shutdown(self) -> None:
        if self._shutdown:
            return
        self._shutdown = True
        self._wake.set()
        if self._worker is not None:
            self._worker.join(timeout=5)
        self._export_all()
        self._exporter.shutdown()
