"""``configure()``: resolve settings, build the three providers, wire the app, return a handle."""

from __future__ import annotations

import logging
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from opentelemetry.metrics import Meter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Tracer

from amas_telemetry import semconv as sc
from amas_telemetry._internal.compat.sdk import sdk_self_metrics
from amas_telemetry._internal.config.settings import ConfigError, Settings, resolve_settings
from amas_telemetry._internal.integrations.instrument import (
    acquire_libraries,
    instrument_fastapi,
    is_fastapi_app,
    release_libraries,
    uninstrument_fastapi,
)
from amas_telemetry._internal.logs.export import DeferredLogExport
from amas_telemetry._internal.logs.handler import RedactingFilter, TelemetryLogHandler
from amas_telemetry._internal.metrics.derivation.active import ActiveRequestsProcessor
from amas_telemetry._internal.metrics.derivation.processor import SpanMetricsProcessor
from amas_telemetry._internal.metrics.global_provider import drop_duplicate_metrics, global_meter_provider
from amas_telemetry._internal.metrics.state_gauges import STATE_GAUGES, GaugeReading, observe_state_gauge
from amas_telemetry._internal.metrics.system import register_system_metrics
from amas_telemetry._internal.otlp.sdk_exporters import otlp_exporter
from amas_telemetry._internal.otlp.spool import default_directory
from amas_telemetry._internal.otlp.spooled_export import ExportSpools
from amas_telemetry._internal.prometheus.endpoint import PrometheusEndpoint, otlp_reader
from amas_telemetry._internal.prometheus.route import add_metrics_route, check_metrics_path
from amas_telemetry._internal.prometheus.worker_group import Membership
from amas_telemetry._internal.redact.otel import (
    RedactingLogRecordProcessor,
    SdkLogFilter,
    install_sdk_log_filter,
    remove_sdk_log_filter,
    scrub_resource,
)
from amas_telemetry._internal.redact.scrubber import Scrubber
from amas_telemetry._internal.resource import service_resource
from amas_telemetry._internal.tracing.provider import (
    RedactingProcessor,
    build_tracer_provider,
    export_processor,
    global_tracer_provider,
    tail_decision_processor,
    tail_decision_wanted,
)
from amas_telemetry._internal.tracing.tail import KeptTraces, MarkKeptLogs

__all__ = ["STATE_GAUGES", "Extras", "Telemetry", "configure", "configure_with"]

_log = logging.getLogger(__name__)

_apps: weakref.WeakKeyDictionary[Any, Telemetry] = weakref.WeakKeyDictionary()
_apps_lock = threading.Lock()


def _scrubber(settings: Settings) -> Scrubber:
    if settings.record_prompts:
        return Scrubber()
    return Scrubber(
        drop_keys=sc.PROMPT_ATTRIBUTES,
        drop_prefixes=sc.PROMPT_ATTRIBUTE_PREFIXES,
        drop_events=sc.PROMPT_EVENTS,
    )


@dataclass(frozen=True)
class Extras:
    """Extra exporters and readers, wired like the OTLP ones (tests, local debugging).

    Span and log exporters get synchronous processors behind the same redaction as OTLP.
    """

    span_exporters: tuple[SpanExporter, ...] = ()
    metric_readers: tuple[MetricReader, ...] = ()
    log_exporters: tuple[LogRecordExporter, ...] = ()
    json_log_stream: IO[str] | None = None
    """Where the JSON log lines go instead of stdout."""


class Telemetry:
    """The handle ``configure()`` returns: providers, app wiring, and their shutdown."""

    # set before anything is built, so that shutdown() can undo a half-built handle
    _closed = False
    _log_handlers: list[logging.Handler] | tuple[()] = ()
    _held_libraries: tuple[str, ...] = ()
    _metrics_route: Any = None
    _previous_level: int | None = None
    _sdk_log_filter: SdkLogFilter | None = None
    _instrumented = False
    _push_readers: tuple[Any, ...] | list[Any] = ()
    app: Any = None
    tracer_provider: TracerProvider | None = None
    logger_provider: LoggerProvider | None = None
    meter_provider: MeterProvider | None = None
    _workers: Membership | None = None

    def __init__(self, settings: Settings, app: Any = None, extras: Extras | None = None) -> None:
        extras = extras or Extras()
        self._extras = extras
        self.settings = settings
        self.app = app
        self._closed = False
        self._gauges: set[str] = set()
        self._log_handlers: list[logging.Handler] = []
        self._held_libraries: tuple[str, ...] = ()
        self._metrics_route: Any = None
        self._previous_level: int | None = None

        self.scrubber = _scrubber(settings)
        resource = scrub_resource(service_resource(settings), self.scrubber)
        self.prometheus = PrometheusEndpoint()
        self._push_readers: list[Any] = []
        self.spools: ExportSpools | None = None
        if settings.otlp_endpoint and settings.export_spool_max_mb:
            directory = settings.export_spool_dir or default_directory(settings.service_name)
            max_bytes = int(settings.export_spool_max_mb * 1024 * 1024)
            self.spools = ExportSpools(
                settings.otlp_protocol, settings.otlp_endpoint, Path(directory), max_bytes
            )
        if settings.otlp_endpoint:
            self._push_readers.append(otlp_reader(self._exporter("metrics"), settings.metric_export_interval))
        readers: list[Any] = [self.prometheus.reader, *extras.metric_readers, *self._push_readers]
        self.meter_provider: MeterProvider = MeterProvider(
            resource=resource, metric_readers=readers, views=drop_duplicate_metrics()
        )
        meter = self.meter_provider.get_meter("amas_telemetry")
        self._meter = meter
        if settings.system_metrics:
            register_system_metrics(meter)
        if self.spools is not None:
            self.spools.observe(meter)

        self.kept_traces = KeptTraces()
        tail = tail_decision_wanted(settings)
        exports: list[Any] = [
            RedactingProcessor(SimpleSpanProcessor(e), self.scrubber) for e in extras.span_exporters
        ]
        # SDK-logger records (other libraries' events) are redacted first; the handler's own
        # records are scrubbed by RedactingFilter and fed to the DeferredLogExport processors
        log_processors: list[Any] = [RedactingLogRecordProcessor(self.scrubber)]
        log_processors.extend(
            DeferredLogExport(MarkKeptLogs(e, self.kept_traces) if tail else e, resource, synchronous=True)
            for e in extras.log_exporters
        )
        with sdk_self_metrics():
            if settings.otlp_endpoint:
                span_exporter = self._exporter("traces", self.meter_provider)
                log_exporter = self._exporter("logs", self.meter_provider)
                if tail:
                    log_exporter = MarkKeptLogs(log_exporter, self.kept_traces)
                exports.append(export_processor(span_exporter, self.scrubber, self.meter_provider))
                log_processors.append(
                    DeferredLogExport(log_exporter, resource, meter_provider=self.meter_provider)
                )
        # the handler feeds these directly; any other log processor sees SDK-logger records only
        self._log_exports = tuple(p for p in log_processors if isinstance(p, DeferredLogExport))
        span_metrics = SpanMetricsProcessor(
            meter,
            cardinality_limit=settings.cardinality_limit,
            scrubber=self.scrubber,
            kept_traces=self.kept_traces,
        )
        # The tail decision goes first: a root's own measurements are queued after it decided.
        tail_processor = (
            tail_decision_processor(settings, exports, self.kept_traces, meter) if tail and exports else None
        )
        # Derived measurements are queued on the request path, aggregated when a reader collects.
        span_metrics.attach(self.meter_provider)
        active_requests = ActiveRequestsProcessor(meter)
        processors: list[Any] = (
            [tail_processor, span_metrics, active_requests]
            if tail_processor
            else [span_metrics, active_requests, *exports]
        )
        self.logger_provider: LoggerProvider | None = None
        if len(log_processors) > 1:
            self.logger_provider = LoggerProvider(resource=resource)
            for log_processor in log_processors:
                self.logger_provider.add_log_record_processor(log_processor)
        self.tracer_provider: TracerProvider = build_tracer_provider(
            resource,
            settings.sampling_ratio,
            processors,
            tail_processor.will_keep if tail_processor else None,
        )
        self._workers = Membership(
            self.prometheus,
            settings.metrics_dir,
            settings.service_name,
            lambda: [self.tracer_provider, self.meter_provider, self.logger_provider],
            span_metrics.pending,
            lambda: global_meter_provider().touched,
        )

    def _exporter(self, signal: str, meter_provider: MeterProvider | None = None) -> Any:
        """OTLP export of one signal: spooled to disk on failure, unless the spool is off."""
        if self.spools is None:
            return otlp_exporter(self.settings, signal, meter_provider)
        return self.spools.exporter(signal)

    # --- wiring, undone by shutdown() ------------------------------------------------------
    def _start(self) -> None:
        if self.spools is not None:
            self.spools.start()
        global_tracer_provider().push(self.tracer_provider)
        global_meter_provider().push(self.meter_provider)
        self._workers.start()
        self._setup_logging()
        self._held_libraries = acquire_libraries(self.settings.instrumentations, global_tracer_provider())
        if self.app is not None:
            self._instrumented = True
            instrument_fastapi(
                self.app,
                self.tracer_provider,
                self.settings.excluded_urls,
                self.settings.http_send_receive_spans,
                self.settings.http_captured_headers,
            )
            self._add_metrics_route()

    def _setup_logging(self) -> None:
        self._sdk_log_filter = install_sdk_log_filter(self.scrubber)
        stream = (self._extras.json_log_stream or sys.stdout) if self.settings.json_logs else None
        if stream is not None or self.logger_provider is not None:
            handler = TelemetryLogHandler(self.settings.service_name, stream, self._log_exports)
            handler.addFilter(RedactingFilter(self.scrubber))
            self._log_handlers.append(handler)
        root = logging.getLogger()
        self._previous_level = root.level
        root.setLevel(self.settings.log_level)
        for handler in self._log_handlers:
            root.addHandler(handler)

    def _add_metrics_route(self) -> None:
        self._metrics_route = add_metrics_route(self.app, self.settings.metrics_path, self.prometheus)

    # --- public API -------------------------------------------------------------------------
    def tracer(self, name: str) -> Tracer:
        return self.tracer_provider.get_tracer(name)

    def meter(self, name: str) -> Meter:
        return self.meter_provider.get_meter(name)

    def observe(self, name: str, callback: Callable[[], GaugeReading]) -> None:
        """Register the callback of one state gauge from :data:`STATE_GAUGES`.

        ``callback()`` returns a number, or ``(value, attributes)`` pairs; it runs at
        collection time (each scrape or export), never on the request path.
        """
        observe_state_gauge(self._meter, name, callback, self._gauges)

    def render_metrics(self, openmetrics: bool = False) -> bytes:
        """What ``/metrics`` serves: the text format, or OpenMetrics (with exemplars)."""
        return self.prometheus.render("application/openmetrics-text" if openmetrics else None)[0]

    def force_flush(self, timeout_millis: int = 10_000) -> bool:
        """Export what is pending over OTLP now (spans, logs, metrics).

        Only the push readers are flushed: collecting the pull reader here would leave a
        second copy of every metric family for the next ``/metrics`` scrape.
        """
        ok = self.tracer_provider.force_flush(timeout_millis)
        if self.logger_provider is not None:
            ok = self.logger_provider.force_flush(timeout_millis) and ok
        for reader in self._push_readers:
            ok = reader.force_flush(timeout_millis) and ok
        return ok

    def shutdown(self) -> None:
        """Undo everything ``configure()`` did, in reverse order. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self.app is not None:
            with _apps_lock:
                if _apps.get(self.app) is self:
                    del _apps[self.app]
            if self._metrics_route is not None and self._metrics_route in self.app.router.routes:
                self.app.router.routes.remove(self._metrics_route)
            if self._instrumented:
                uninstrument_fastapi(self.app)
        release_libraries(self._held_libraries)
        if self._workers is not None:
            self._workers.leave()
        if self.meter_provider is not None:
            global_meter_provider().remove(self.meter_provider)
        root = logging.getLogger()
        for handler in self._log_handlers:
            root.removeHandler(handler)
        if self._previous_level is not None:
            root.setLevel(self._previous_level)
        if self._sdk_log_filter is not None:
            remove_sdk_log_filter(self._sdk_log_filter)
        if self.tracer_provider is not None:
            global_tracer_provider().remove(self.tracer_provider)
            self.tracer_provider.shutdown()
        if self.logger_provider is not None:
            self.logger_provider.shutdown()
        if self.meter_provider is not None:
            self.meter_provider.shutdown()
        else:  # built before the MeterProvider that would own them: their threads run already
            for reader in self._push_readers:
                reader.shutdown()
        for handler in self._log_handlers:
            handler.close()

    def __enter__(self) -> Telemetry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def configure(
    app: Any = None,
    *,
    service_name: str | None = None,
    service_version: str | None = None,
    environment: str | None = None,
    sampling_ratio: float | None = None,
    otlp_endpoint: str | Literal[False] | None = None,
    otlp_protocol: str | None = None,
    export_spool_dir: str | None = None,
    export_spool_max_mb: float | None = None,
    resource_attributes: Mapping[str, str] | None = None,
    log_level: str | None = None,
    json_logs: bool | None = None,
    record_prompts: bool | None = None,
    cardinality_limit: int | None = None,
    system_metrics: bool | None = None,
    metrics_path: str | None = None,
    metric_export_interval: float | None = None,
    excluded_urls: Iterable[str] | None = None,
    http_send_receive_spans: bool | None = None,
    http_captured_headers: Iterable[str] | None = None,
    instrumentations: Iterable[str] | None = None,
    metrics_dir: str | None = None,
    tail_keep_errors: bool | None = None,
    tail_keep_slower_than: float | Literal[False] | None = None,
    tail_keep_rule: Callable[[ReadableSpan], bool] | str | None = None,
    tail_max_held_spans: int | None = None,
    tail_max_spans_per_trace: int | None = None,
) -> Telemetry:
    """Wire traces, span-derived metrics and trace-correlated logs; return the handle.

    Every keyword left ``None`` is read from the environment (``AMAS_*``, then ``OTEL_*``)
    or takes its default; see ``amas_telemetry._internal.config.settings.SETTINGS``. ``otlp_endpoint=False``
    turns OTLP off whatever the environment says. A bad value raises
    :class:`ConfigError` before anything is touched. Called again for an app that a live
    handle already wires, it returns that handle instead of instrumenting twice.
    """
    kwargs = {k: v for k, v in locals().items() if k != "app" and v is not None}
    return configure_with(app, None, **kwargs)


def configure_with(app: Any, extras: Extras | None, **kwargs: Any) -> Telemetry:
    """``configure()`` with extra exporters/readers attached (see :class:`Extras`)."""
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    try:
        settings = resolve_settings(kwargs)
        if app is not None and not is_fastapi_app(app):
            raise ConfigError(
                f"Invalid app: expected a fastapi.FastAPI instance or None, got {type(app).__name__}"
            )
        if app is not None and _apps.get(app) is None:
            check_metrics_path(app, settings.metrics_path)
    except ConfigError as error:
        raise error.with_traceback(None) from None

    if app is not None:
        with _apps_lock:
            existing = _apps.get(app)
        if existing is not None:
            _log.warning("amas_telemetry: this app is already configured; returning its telemetry handle")
            return existing

    telemetry = Telemetry.__new__(Telemetry)
    try:
        telemetry.__init__(settings, app, extras)  # its threads (periodic reader) are undone too
        telemetry._start()
    except BaseException:
        telemetry.shutdown()
        raise
    if app is not None:
        with _apps_lock:
            _apps[app] = telemetry
    return telemetry
