"""``configure()``: resolve settings, build the three providers, wire the app, return a handle."""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from opentelemetry.metrics import Meter
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Tracer

from amas_telemetry._internal.compat.sdk import export_lock, sdk_self_metrics
from amas_telemetry._internal.compat.verify import verify_all
from amas_telemetry._internal.config.resolve import resolve_settings, takes_settings
from amas_telemetry._internal.config.settings import Settings
from amas_telemetry._internal.errors import ConfigError
from amas_telemetry._internal.forking import hold_across_fork
from amas_telemetry._internal.integrations.instrument import (
    acquire_libraries,
    instrument_fastapi,
    is_fastapi_app,
    release_libraries,
    uninstrument_fastapi,
)
from amas_telemetry._internal.logs.export import DeferredLogExport
from amas_telemetry._internal.logs.root import attach_root_logging
from amas_telemetry._internal.metrics.derivation.active import ActiveRequestsProcessor
from amas_telemetry._internal.metrics.derivation.processor import SpanMetricsProcessor
from amas_telemetry._internal.metrics.derivation.table import DEFAULT_RULES
from amas_telemetry._internal.metrics.global_provider import drop_duplicate_metrics, global_meter_provider
from amas_telemetry._internal.metrics.state_gauges import STATE_GAUGES, GaugeReading, observe_state_gauge
from amas_telemetry._internal.metrics.system import register_system_metrics
from amas_telemetry._internal.otlp.sdk_exporters import otlp_exporter
from amas_telemetry._internal.otlp.spool import default_directory
from amas_telemetry._internal.otlp.spooled_export import ExportSpools
from amas_telemetry._internal.otlp.targets import otlp_targets
from amas_telemetry._internal.prometheus.endpoint import PrometheusEndpoint, otlp_reader
from amas_telemetry._internal.prometheus.route import (
    add_metrics_route,
    check_metrics_path,
    check_metrics_serving,
)
from amas_telemetry._internal.prometheus.server import MetricsServer
from amas_telemetry._internal.prometheus.snapshots import merge_workers_as
from amas_telemetry._internal.prometheus.worker_group import Membership
from amas_telemetry._internal.redact.otel import RedactingLogRecordProcessor, scrub_resource
from amas_telemetry._internal.redact.scrubber import prompt_scrubber
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
from amas_telemetry.catalog import MetricSpec

__all__ = ["STATE_GAUGES", "Extras", "Telemetry", "configure", "configure_with"]

_log = logging.getLogger(__name__)

_apps: weakref.WeakKeyDictionary[Any, Telemetry] = weakref.WeakKeyDictionary()
_apps_lock = threading.Lock()


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
    """The handle ``configure()`` returns: providers, app wiring, and their shutdown.

    Built in one pass (:meth:`_build`): each step that needs undoing registers its undo on an
    :class:`~contextlib.ExitStack` as soon as it is done, so :meth:`shutdown` (and a build
    that fails half-way) undoes exactly what was done, in reverse order.
    """

    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    logger_provider: LoggerProvider | None
    spools: ExportSpools | None

    def __init__(self, settings: Settings, app: Any = None, extras: Extras | None = None) -> None:
        self.settings = settings
        self.app = app
        self._closed = False
        self._gauges: set[str] = set()
        self._undo = ExitStack()
        try:
            self._build(extras or Extras())
        except BaseException:
            self._closed = True
            self._undo.close()
            raise

    def _build(self, extras: Extras) -> None:
        settings, undo = self.settings, self._undo
        self._log_handlers: list[logging.Handler] = []
        undo.callback(self._close_log_handlers)  # last of all: shutdown may still log

        self.scrubber = prompt_scrubber(settings.record_prompts)
        resource = scrub_resource(service_resource(settings), self.scrubber)
        self.prometheus = PrometheusEndpoint()
        # where each signal goes (a signal without an endpoint is not exported)
        self.otlp_targets = otlp_targets(settings)
        self.spools = None
        if self.otlp_targets and settings.export_spool_max_mb:
            directory = settings.export_spool_dir or default_directory(settings.service_name)
            max_bytes = int(settings.export_spool_max_mb * 1024 * 1024)
            self.spools = ExportSpools(self.otlp_targets, Path(directory), max_bytes)

        # Metrics. A push reader's thread runs from its construction: until the provider owns
        # it (and shuts it down), the reader is undone on its own.
        with ExitStack() as readers:
            self._push_readers: list[MetricReader] = []
            if "metrics" in self.otlp_targets:
                reader = otlp_reader(self._exporter("metrics"), settings.metric_export_interval)
                readers.callback(reader.shutdown)
                self._push_readers.append(reader)
            self.meter_provider = MeterProvider(
                resource=resource,
                metric_readers=[self.prometheus.reader, *extras.metric_readers, *self._push_readers],
                views=drop_duplicate_metrics(),
            )
            readers.pop_all()
        undo.callback(self.meter_provider.shutdown)
        hold_across_fork(self, lambda telemetry: [export_lock(r) for r in telemetry._push_readers])
        self._meter = self.meter_provider.get_meter("amas_telemetry")
        if settings.system_metrics:
            register_system_metrics(self._meter)
        if self.spools is not None:
            self.spools.observe(self._meter)

        # Export chains: OTLP (spooled unless the spool is off) and the extras, behind redaction.
        self.kept_traces = KeptTraces()
        tail = tail_decision_wanted(settings)
        exports: list[SpanProcessor] = [
            RedactingProcessor(SimpleSpanProcessor(e), self.scrubber) for e in extras.span_exporters
        ]
        # SDK-logger records (other libraries' events) are redacted first; the handler's own
        # records are scrubbed by RedactingFilter and fed to the DeferredLogExport processors
        log_processors: list[LogRecordProcessor] = [RedactingLogRecordProcessor(self.scrubber)]
        log_processors.extend(
            DeferredLogExport(MarkKeptLogs(e, self.kept_traces) if tail else e, resource, synchronous=True)
            for e in extras.log_exporters
        )
        with sdk_self_metrics():
            if "traces" in self.otlp_targets:
                span_exporter = self._exporter("traces", self.meter_provider)
                exports.append(export_processor(span_exporter, self.scrubber, self.meter_provider))
            if "logs" in self.otlp_targets:
                log_exporter = self._exporter("logs", self.meter_provider)
                if tail:
                    log_exporter = MarkKeptLogs(log_exporter, self.kept_traces)
                log_processors.append(
                    DeferredLogExport(log_exporter, resource, meter_provider=self.meter_provider)
                )
        # the handler feeds these directly; any other log processor sees SDK-logger records only
        self._log_exports = tuple(p for p in log_processors if isinstance(p, DeferredLogExport))
        self.logger_provider = None
        if len(log_processors) > 1:
            self.logger_provider = LoggerProvider(resource=resource)
            undo.callback(self.logger_provider.shutdown)
            for log_processor in log_processors:
                self.logger_provider.add_log_record_processor(log_processor)

        # Traces: the tail decision first (a root's own measurements are queued after it
        # decided), then the derived metrics (queued on the request path, aggregated when a
        # reader collects), then the exports.
        span_metrics = SpanMetricsProcessor(
            self._meter,
            (*DEFAULT_RULES, *settings.span_metric_rules),
            cardinality_limit=settings.cardinality_limit,
            scrubber=self.scrubber,
            kept_traces=self.kept_traces,
        )
        tail_processor = None
        if tail and exports:
            tail_processor = tail_decision_processor(settings, exports, self.kept_traces, self._meter)
        span_metrics.attach(self.meter_provider)
        active_requests = ActiveRequestsProcessor(self._meter)
        processors: list[SpanProcessor] = (
            [tail_processor, span_metrics, active_requests]
            if tail_processor
            else [span_metrics, active_requests, *exports]
        )
        self.tracer_provider = build_tracer_provider(
            resource,
            settings.sampling_ratio,
            processors,
            tail_processor.will_keep if tail_processor else None,
        )
        undo.callback(self.tracer_provider.shutdown)

        # Wiring into the process: globals, workers, logging, libraries, the app.
        if self.spools is not None:
            self.spools.start()
        global_tracer_provider().push(self.tracer_provider)
        undo.callback(global_tracer_provider().remove, self.tracer_provider)
        global_meter_provider().push(self.meter_provider)
        undo.callback(global_meter_provider().remove, self.meter_provider)
        self._metrics_server = None
        if settings.metrics_port is not None and settings.metrics_path is not None:
            self._metrics_server = MetricsServer(
                self.prometheus, settings.metrics_host, settings.metrics_port, settings.metrics_path
            )
        workers = Membership(
            self.prometheus,
            settings.metrics_dir,
            settings.service_name,
            lambda: [self.tracer_provider, self.meter_provider, self.logger_provider],
            span_metrics.pending,
            lambda: global_meter_provider().touched,
            self._metrics_server,
        )
        workers.start()
        undo.callback(workers.leave)
        self._log_handlers.extend(
            attach_root_logging(
                undo,
                service_name=settings.service_name,
                log_level=settings.log_level,
                json_logs=settings.json_logs,
                json_log_stream=extras.json_log_stream,
                scrubber=self.scrubber,
                log_exports=self._log_exports,
            )
        )
        held = acquire_libraries(tuple(settings.instrumentations), global_tracer_provider())
        undo.callback(release_libraries, held)
        if self.app is not None:
            self._wire_app()

    def _exporter(self, signal: str, meter_provider: MeterProvider | None = None) -> Any:
        """OTLP export of one signal: spooled to disk on failure, unless the spool is off."""
        if self.spools is None:
            return otlp_exporter(self.otlp_targets[signal], meter_provider)
        return self.spools.exporter(signal)

    def _close_log_handlers(self) -> None:
        for handler in self._log_handlers:
            handler.close()

    def _wire_app(self) -> None:
        settings, app = self.settings, self.app
        instrument_fastapi(
            app,
            self.tracer_provider,
            tuple(settings.excluded_urls),
            settings.http_send_receive_spans,
            tuple(settings.http_captured_headers),
        )
        self._undo.callback(uninstrument_fastapi, app)
        if settings.metrics_port is not None:
            return  # served on a port of its own: the app's port has no metrics route
        route = add_metrics_route(app, settings.metrics_path, self.prometheus)
        if route is not None:
            self._undo.callback(_remove_route, app, route)

    # --- public API -------------------------------------------------------------------------
    def tracer(self, name: str) -> Tracer:
        """A tracer of this handle's provider (spans made with it feed the derived metrics)."""
        return self.tracer_provider.get_tracer(name)

    def meter(self, name: str) -> Meter:
        """A meter of this handle's provider (its instruments reach ``/metrics`` and OTLP)."""
        return self.meter_provider.get_meter(name)

    def observe(self, gauge: str | MetricSpec, callback: Callable[[], GaugeReading]) -> None:
        """Register the callback of a state gauge, read at collection time (each scrape or
        export), never on the request path.

        ``gauge`` is the name of one of :data:`STATE_GAUGES` (the catalog's: queue depth,
        pool size, breaker state...), or a :class:`~amas_telemetry.MetricSpec` the app declares
        (name, unit, description, attributes; kind ``GAUGE``, ``UP_DOWN_COUNTER`` or ``COUNTER``;
        ``worker_merge`` says how several workers' readings become one value on ``/metrics``).
        ``callback()`` returns a number, or ``(value, attributes)`` pairs.
        """
        merge_workers_as(observe_state_gauge(self._meter, gauge, callback, self._gauges))

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        """Where this process serves the metrics port (``metrics_port``); None: it does not."""
        return None if self._metrics_server is None else self._metrics_server.address

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
        self._undo.close()

    def __enter__(self) -> Telemetry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def _remove_route(app: Any, route: Any) -> None:
    if route in app.router.routes:
        app.router.routes.remove(route)


@takes_settings
def configure(app: Any = None, **settings: Any) -> Telemetry:
    """Wire traces, span-derived metrics and trace-correlated logs; return the handle.

    Every keyword is a field of :class:`~amas_telemetry.Settings` (the settings reference in
    the docs lists them); one left ``None`` is read from the environment (``AMAS_*``, then
    ``OTEL_*``) or takes its default. ``otlp_endpoint=False`` turns OTLP off whatever the
    environment says. A bad value, or an installed dependency whose internals we rely on in a
    version we do not support, raises :class:`ConfigError` before anything is touched. Called
    again for an app that a live handle already wires, it returns that handle instead of
    instrumenting twice.
    """
    return configure_with(app, None, **settings)


def configure_with(app: Any, extras: Extras | None, **kwargs: Any) -> Telemetry:
    """``configure()`` with extra exporters/readers attached (see :class:`Extras`)."""
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    try:
        settings = resolve_settings(kwargs)
        otlp_targets(settings)  # the per-signal OTLP settings are checked together, before anything is built
        if app is not None and not is_fastapi_app(app):
            raise ConfigError(
                f"Invalid app: expected a fastapi.FastAPI instance or None, got {type(app).__name__}"
            )
        check_metrics_serving(settings.metrics_path, settings.metrics_port)
        if app is not None and _apps.get(app) is None and settings.metrics_port is None:
            check_metrics_path(app, settings.metrics_path)
        verify_all()
    except ConfigError as error:
        raise error.with_traceback(None) from None

    if app is not None:
        with _apps_lock:
            existing = _apps.get(app)
        if existing is not None:
            _log.warning("amas_telemetry: this app is already configured; returning its telemetry handle")
            return existing

    telemetry = Telemetry(settings, app, extras)
    if app is not None:
        with _apps_lock:
            _apps[app] = telemetry
    return telemetry
