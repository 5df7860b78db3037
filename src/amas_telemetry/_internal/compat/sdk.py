"""The one place amas_telemetry reaches into OpenTelemetry SDK internals.

Each use below has no public equivalent in SDK 1.45.1 (:data:`CHECKED_SDK_VERSION`):

- :func:`run_around_collection` runs a hook at the start of every collection of every reader
  of a ``MeterProvider`` (the deferred span measurements are drained there) and lets a second
  one add points to what the reader collected (the span-derived metrics, aggregated by
  :mod:`amas_telemetry._internal.metrics.derivation.aggregate`). ``MetricReader.collect`` is final and the SDK
  offers no collection hook and no metric producer. :func:`metric_readers`,
  :func:`provider_resource` and :func:`reader_temporality` read what that needs: the
  provider's readers and resource, and the temporality a reader asked for.
- :func:`sdk_self_metrics` switches on the SDK's self-metrics (items the processors and
  exporters could not export) for the processors and exporters built inside it: they read
  ``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED`` when built and take no argument for it, so the
  variable is set for that moment only (and left alone if the user set it).
- :func:`plain_attributes` reads a span's attribute dict directly (the read-only proxy costs
  ~0.5 µs per lookup, and a rule table looks up a dozen keys per span).
- :func:`renew_resource` merges a new resource into live providers (a forked worker gets its
  own ``service.instance.id``): the providers' ``_update_resource``, which the SDK itself
  uses; a resource is otherwise fixed at construction.
- The Prometheus exporter's name mapping (``map_unit``, ``sanitize_attribute``,
  ``sanitize_full_name``, private in ``opentelemetry.exporter.prometheus._mapping``) is
  re-exported here, so that ``/metrics`` keeps the names the OTel Prometheus reader gives.

Nothing here falls back silently: a missing internal raises at import or at first use, and
tests/unit/test_sdk_internals.py fails when the installed SDK is not the checked version, so
an upgrade is a conscious step (re-read these internals, then bump the version).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.exporter.prometheus._mapping import map_unit, sanitize_attribute, sanitize_full_name
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics._internal.instrument import _Counter as Counter
from opentelemetry.sdk.metrics._internal.instrument import _Histogram as Histogram
from opentelemetry.sdk.metrics.export import AggregationTemporality, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.version import __version__ as sdk_version

__all__ = [
    "CHECKED_SDK_VERSION",
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

CHECKED_SDK_VERSION = "1.45.1"
"""The SDK version whose internals this module was written against."""


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

    Read-only by contract: callers never mutate it.
    """
    raw = span._attributes
    if isinstance(raw, BoundedAttributes):
        return raw._dict
    return raw if isinstance(raw, dict) else dict(span.attributes or {})


@contextmanager
def sdk_self_metrics() -> Iterator[None]:
    """Processors and exporters built inside count the items they could not export."""
    var = "OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED"
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
