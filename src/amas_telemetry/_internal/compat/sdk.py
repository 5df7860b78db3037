"""The one place amas_telemetry reaches into OpenTelemetry SDK and API internals.

Each use below has no public equivalent (read against SDK 1.45; the floor the library
declares is where they first all hold: docs/versions.md):

- :func:`run_around_collection` runs a hook at the start of every collection of every reader
  of a ``MeterProvider`` (the deferred span measurements are drained there) and lets a second
  one add points to what the reader collected (the span-derived metrics, aggregated by
  :mod:`amas_telemetry._internal.metrics.derivation.aggregate`). ``MetricReader.collect`` is
  final and the SDK offers no collection hook and no metric producer. :func:`metric_readers`,
  :func:`provider_resource` and :func:`reader_temporality` read what that needs: the
  provider's readers and resource, and the temporality a reader asked for.
- :func:`sdk_self_metrics` switches on the SDK's self-metrics (items the processors and
  exporters could not export) for the processors and exporters built inside it: they read
  ``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED`` when built and take no argument for it, so the
  variable is set for that moment only (and left alone if the user set it).
- :func:`plain_attributes` reads a span's attribute dict directly (the read-only proxy adds a
  call to every lookup, and a rule table looks up a dozen keys per span).
- :func:`renew_resource` merges a new resource into live providers (a forked worker gets its
  own ``service.instance.id``): the providers' ``_update_resource``, which the SDK itself
  uses; a resource is otherwise fixed at construction.
- The Prometheus exporter's name mapping (``map_unit``, ``sanitize_attribute``,
  ``sanitize_full_name``, private in ``opentelemetry.exporter.prometheus._mapping``) is
  re-exported here, so that ``/metrics`` keeps the names the OTel Prometheus reader gives.
- :func:`export_lock`: the lock a periodic metric reader exports under, held across a fork
  (a child that inherited it held would never export metrics again).
- :func:`is_api_default_meter_provider`: the API's placeholder MeterProvider (a private class),
  which tells whether anyone installed a global MeterProvider before us.
- :data:`SDK_LOGGERS`: the loggers through which the exporters report failures naming their
  endpoint (module names, private to the SDK); the scrubber filters them by name.

:data:`REACHES` checks each of them once, before ``configure()`` builds anything
(:mod:`.verify`): a version without one of them stops ``configure()`` with the package and the
version named, instead of failing later on every span or letting an endpoint's credentials out.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader, MetricsData
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.sdk.version import __version__ as sdk_version

from amas_telemetry._internal.compat.verify import Reach, require


def _missing(error: ImportError) -> Any:
    """A stand-in for a private name a version lacks: the REACHES check reports it first."""

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise error

    return fail


# Private names, imported so that a version without them fails in configure()'s check
# (REACHES), with the package and version named, not at `import amas_telemetry`.
try:
    from opentelemetry.exporter.prometheus._mapping import map_unit, sanitize_attribute, sanitize_full_name
except ImportError as error:
    map_unit = sanitize_attribute = sanitize_full_name = _missing(error)
try:
    from opentelemetry.sdk.metrics._internal.instrument import _Counter as Counter
    from opentelemetry.sdk.metrics._internal.instrument import _Histogram as Histogram
except ImportError as error:
    Counter = Histogram = _missing(error)
try:
    from opentelemetry.metrics._internal import _ProxyMeterProvider
except ImportError as error:
    _ProxyMeterProvider = _missing(error)

__all__ = [
    "REACHES",
    "SDK_LOGGERS",
    "export_lock",
    "is_api_default_meter_provider",
    "map_unit",
    "metric_readers",
    "plain_attributes",
    "provider_resource",
    "reader_temporality",
    "renew_resource",
    "run_around_collection",
    "sanitize_attribute",
    "sanitize_full_name",
    "sdk_self_metrics",
    "sdk_version",
]

SDK_LOGGERS: Final = (
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
    "opentelemetry.exporter.otlp.proto.grpc.metric_exporter",
    "opentelemetry.exporter.otlp.proto.grpc._log_exporter",
    "opentelemetry.exporter.otlp.proto.http._common",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.proto.http._log_exporter",
    "opentelemetry.sdk._shared_internal",
    "opentelemetry.sdk.metrics._internal.export",
    "opentelemetry.sdk.trace.export",
    "opentelemetry.sdk._logs._internal.export",
)
"""Loggers of the exporters and processors, whose failures name the endpoint."""


def run_around_collection(
    provider: MeterProvider,
    before: Callable[[], None],
    add: Callable[[Any, MetricsData | None], MetricsData | None],
) -> None:
    """Every collection by a reader of ``provider``: ``before()``, the SDK's collection, then
    ``add(reader, collected)``, whose result the reader receives."""
    collect = provider._measurement_consumer.collect

    def collect_around(metric_reader: Any, timeout_millis: float = 10_000) -> Any:
        before()
        return add(metric_reader, collect(metric_reader, timeout_millis))

    for reader in metric_readers(provider):
        reader._set_collect_callback(collect_around)


def metric_readers(provider: MeterProvider) -> list[Any]:
    """The readers registered on ``provider``."""
    return list(provider._measurement_consumer._reader_storages)


def provider_resource(provider: MeterProvider) -> Any:
    """The resource of ``provider``'s points."""
    return provider._sdk_config.resource


def reader_temporality(reader: Any, kind: Any) -> AggregationTemporality:
    """The temporality ``reader`` asked for the instrument kind ``kind`` (histogram, counter)."""
    instrument_class = {"histogram": Histogram, "counter": Counter}[kind.value]
    return reader._instrument_class_temporality[instrument_class]


def plain_attributes(span: ReadableSpan) -> Any:
    """The span's attributes as a plain dict (``BoundedAttributes._dict``), for cheap lookups.

    Read-only by contract: callers never mutate it. A span made without attributes holds a
    plain dict (or None) there.
    """
    raw = span._attributes
    if isinstance(raw, BoundedAttributes):
        return raw._dict
    return raw if raw is not None else {}


_SELF_METRICS_VAR = "OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED"


@contextmanager
def sdk_self_metrics() -> Iterator[None]:
    """Processors and exporters built inside count the items they could not export."""
    var = _SELF_METRICS_VAR
    previous = os.environ.get(var)
    if previous is None:
        os.environ[var] = "true"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(var, None)


def renew_resource(provider: Any, resource: Any) -> None:
    """Merge ``resource`` into a live Tracer-, Meter- or LoggerProvider's resource."""
    provider._update_resource(resource)  # AttributeError on an SDK without it: loud, not silent


def export_lock(reader: Any) -> Any:
    """The lock a ``PeriodicExportingMetricReader`` holds while it collects and exports.

    The SDK restarts the reader's thread in a forked child but not this lock: a child forked
    while the parent's thread exported inherits it held and never exports again.
    :func:`~amas_telemetry._internal.forking.hold_across_fork` holds it across each fork.
    """
    return reader._export_lock


def is_api_default_meter_provider(provider: Any) -> bool:
    """Whether ``provider`` is the API's placeholder: no global MeterProvider was set yet."""
    return isinstance(provider, _ProxyMeterProvider)


# --- the checks -----------------------------------------------------------------------------


def _check_collection_hook() -> None:
    """A throwaway provider: the hook runs before each collection and its result is returned."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    try:
        ran: list[str] = []
        provider.get_meter("amas_telemetry.compat").create_counter("amas.compat.check").add(1)
        add = lambda _, data: ran.append("add") or data  # noqa: E731
        run_around_collection(provider, lambda: ran.append("before"), add)
        reader.get_metrics_data()
        require(ran == ["before", "add"], f"the collection hook ran {ran}, not ['before', 'add']")
        require(metric_readers(provider) == [reader], "the provider's readers are not where expected")
        require(provider_resource(provider) is not None, "the provider's resource")
        kind = type("Kind", (), {"value": "histogram"})()
        require(reader_temporality(reader, kind) is AggregationTemporality.CUMULATIVE, "temporality")
    finally:
        provider.shutdown()


def _check_export_lock() -> None:
    import math

    from opentelemetry.sdk.metrics.export import (
        MetricExporter,
        MetricExportResult,
        PeriodicExportingMetricReader,
    )

    class Discard(MetricExporter):
        def export(self, metrics_data: Any, timeout_millis: float = 0, **kwargs: Any) -> MetricExportResult:
            return MetricExportResult.SUCCESS

        def force_flush(self, timeout_millis: float = 0) -> bool:
            return True

        def shutdown(self, timeout_millis: float = 0, **kwargs: Any) -> None:
            return None

    reader = PeriodicExportingMetricReader(Discard(), export_interval_millis=math.inf)  # no thread
    try:
        lock = export_lock(reader)
        require(lock.acquire(blocking=False), "PeriodicExportingMetricReader._export_lock is not a free lock")
        lock.release()
    finally:
        reader.shutdown()


def _check_plain_attributes() -> None:
    # sampled whatever OTEL_TRACES_SAMPLER says: a span not recorded has no attributes to check
    provider = TracerProvider(sampler=ALWAYS_ON)
    span = provider.get_tracer("amas_telemetry.compat").start_span("check", attributes={"k": "v"})
    span.end()
    require(isinstance(span._attributes, BoundedAttributes), "span._attributes is not BoundedAttributes")
    require(plain_attributes(span) == {"k": "v"}, "BoundedAttributes._dict does not hold the attributes")


def _check_update_resource() -> None:
    for provider_class in (TracerProvider, MeterProvider, LoggerProvider):
        require(callable(provider_class._update_resource), f"{provider_class.__name__}._update_resource")


def _check_self_metrics_variable() -> None:
    from opentelemetry.sdk import environment_variables

    named = environment_variables.OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED
    require(named == _SELF_METRICS_VAR, f"the SDK reads {named}")


def _check_sdk_loggers() -> None:
    """Every module the scrubber filters by logger name exists, and every logger of the OTLP
    exporter packages (whose errors name the endpoint) is among them."""
    import importlib
    import logging
    import pkgutil

    for name in SDK_LOGGERS:
        importlib.import_module(name)
    for package_name in ("opentelemetry.exporter.otlp.proto.grpc", "opentelemetry.exporter.otlp.proto.http"):
        package = importlib.import_module(package_name)
        for module_info in pkgutil.walk_packages(package.__path__, package_name + "."):
            module = importlib.import_module(module_info.name)
            for value in vars(module).values():
                if isinstance(value, logging.Logger):
                    require(value.name in SDK_LOGGERS, f"logger {value.name} among the filtered SDK loggers")


def _check_prometheus_mapping() -> None:
    require(sanitize_full_name("a.b") == "a_b", "sanitize_full_name maps 'a.b' to 'a_b'")
    require(map_unit("s") == "seconds", "map_unit maps 's' to 'seconds'")
    require(sanitize_attribute("a.b") == "a_b", "sanitize_attribute maps 'a.b' to 'a_b'")


REACHES: tuple[Reach, ...] = (
    Reach(
        "opentelemetry-sdk",
        "MeterProvider._measurement_consumer, MetricReader._set_collect_callback and "
        "_instrument_class_temporality (span-derived metrics join every collection)",
        _check_collection_hook,
    ),
    Reach(
        "opentelemetry-sdk",
        "PeriodicExportingMetricReader._export_lock (held across a fork: workers keep exporting)",
        _check_export_lock,
    ),
    Reach(
        "opentelemetry-sdk",
        "BoundedAttributes._dict on span._attributes (rule matching)",
        _check_plain_attributes,
    ),
    Reach(
        "opentelemetry-sdk",
        "the providers' _update_resource (a forked worker's own service.instance.id)",
        _check_update_resource,
    ),
    Reach(
        "opentelemetry-sdk",
        f"the {_SELF_METRICS_VAR} variable (the SDK's counts of what it could not export)",
        _check_self_metrics_variable,
    ),
    Reach(
        "opentelemetry-exporter-otlp-proto-grpc",
        "the exporters' and processors' logger names (endpoint credentials scrubbed from their errors)",
        _check_sdk_loggers,
    ),
    Reach(
        "opentelemetry-exporter-prometheus",
        "_mapping.sanitize_full_name, sanitize_attribute and map_unit (the names /metrics gives)",
        _check_prometheus_mapping,
    ),
    Reach(
        "opentelemetry-api",
        "metrics._internal._ProxyMeterProvider (is a global MeterProvider set already?)",
        lambda: isinstance(None, _ProxyMeterProvider),
    ),
)
