"""The one place amas_telemetry reaches into OpenTelemetry SDK internals.

Each use below has no public equivalent in SDK 1.45.1 (:data:`CHECKED_SDK_VERSION`):

- :func:`recorder` records a measurement with its own time (the end of the span it was
  derived from), so the exemplar points at the span's time, not the drain's. The public
  ``Histogram.record`` / ``Counter.add`` always stamp ``time_ns()``. It fills the SDK's
  ``Measurement`` dataclass directly (:func:`build_measurement`), skipping a second cleaning
  of attributes that are clean already; a change of its fields fails this module's import.
- :func:`run_before_collection` runs a hook at the start of every collection of every reader
  of a ``MeterProvider`` (the deferred span measurements are drained there). ``MetricReader.collect``
  is final and the SDK offers no collection hook.
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
from opentelemetry.context import Context
from opentelemetry.exporter.prometheus._mapping import map_unit, sanitize_attribute, sanitize_full_name
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics._internal.measurement import Measurement
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.version import __version__ as sdk_version

__all__ = [
    "CHECKED_SDK_VERSION",
    "build_measurement",
    "map_unit",
    "plain_attributes",
    "recorder",
    "renew_resource",
    "run_before_collection",
    "sanitize_attribute",
    "sanitize_full_name",
    "sdk_self_metrics",
    "sdk_version",
]

CHECKED_SDK_VERSION = "1.45.1"
"""The SDK version whose internals this module was written against."""

Record = Callable[[float, int, Context, Any], None]

_MEASUREMENT_FIELDS = ("value", "time_unix_nano", "instrument", "context", "attributes")
if tuple(getattr(Measurement, "__dataclass_fields__", ())) != _MEASUREMENT_FIELDS or hasattr(
    Measurement, "__slots__"
):
    raise ImportError(
        f"amas_telemetry: the SDK's Measurement changed shape (SDK {sdk_version}); see sdk_internals"
    )


def build_measurement(
    value: float, time_unix_nano: int, instrument: Any, context: Context, attributes: Any
) -> Any:
    """A ``Measurement`` without ``__post_init__``'s second cleaning of the attributes (~a quarter
    of the SDK's cost per measurement): the attribute sets come from the span metrics' own
    cache, built once per series from attributes the span already cleaned."""
    measurement = object.__new__(Measurement)
    vars(measurement).update(
        value=value,
        time_unix_nano=time_unix_nano,
        instrument=instrument,
        context=context,
        attributes=attributes,
    )
    return measurement


def recorder(instrument: Any) -> Record:
    """``record(value, time_unix_nano, context, attributes)`` into an SDK sync instrument."""
    consume = instrument._measurement_consumer.consume_measurement

    def record(value: float, time_unix_nano: int, context: Context, attributes: Any) -> None:
        consume(build_measurement(value, time_unix_nano, instrument, context, attributes))

    return record


def run_before_collection(provider: MeterProvider, hook: Callable[[], None]) -> None:
    """Call ``hook()`` first in every collection by any reader registered on ``provider``."""
    collect = provider._measurement_consumer.collect

    def collect_after_hook(metric_reader: Any, timeout_millis: float = 10_000) -> Any:
        hook()
        return collect(metric_reader, timeout_millis)

    for reader in provider._measurement_consumer._reader_storages:
        reader._set_collect_callback(collect_after_hook)


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
