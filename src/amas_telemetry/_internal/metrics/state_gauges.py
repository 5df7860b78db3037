"""State gauges: values only the app knows (queue depth, pool size), read at collection time."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from amas_telemetry.catalog import CATALOG, STATE_GAUGE_NAMES, InstrumentKind, MetricSpec

__all__ = ["STATE_GAUGES", "GaugeReading", "observe_state_gauge"]

STATE_GAUGES: Mapping[str, tuple[str, str]] = {
    name: (CATALOG[name].unit, CATALOG[name].description) for name in STATE_GAUGE_NAMES
}
"""The state gauges an app may register with :meth:`Telemetry.observe`: name → (unit, description)
(from :mod:`.catalog`)."""

GaugeReading = float | Iterable[tuple[float, Mapping[str, Any]]]


def _spec_of(gauge: str | MetricSpec) -> MetricSpec:
    if isinstance(gauge, str):
        if gauge not in STATE_GAUGES:
            raise ValueError(
                f"unknown state gauge {gauge!r}: expected one of {', '.join(sorted(STATE_GAUGES))}, "
                "or a MetricSpec of your own"
            )
        return CATALOG[gauge]
    if not isinstance(gauge, MetricSpec):
        raise TypeError(f"expected a state gauge's name or a MetricSpec, got {type(gauge).__name__}")
    if gauge.name in CATALOG and CATALOG[gauge.name] != gauge:
        raise ValueError(f"{gauge.name!r} is a metric of amas_telemetry's catalog: declare another name")
    if gauge.kind is InstrumentKind.HISTOGRAM:
        raise ValueError(f"{gauge.name!r} is a histogram: a callback can only report a gauge or a counter")
    return gauge


def observe_state_gauge(
    meter: Meter, gauge: str | MetricSpec, callback: Callable[[], GaugeReading], registered: set[str]
) -> MetricSpec:
    """Register the callback of ``gauge`` (a catalog state gauge's name, or the app's own
    :class:`MetricSpec`) on ``meter``; ``registered``: the names this handle has a callback for
    already (the gauge's is added). Returns the gauge's spec."""
    spec = _spec_of(gauge)
    name = spec.name
    if name in registered:
        raise ValueError(f"state gauge {name!r} already has a callback")

    def read(options: CallbackOptions) -> Iterable[Observation]:
        reading = callback()
        if isinstance(reading, int | float):
            return [Observation(reading)]
        return [Observation(value, dict(attributes)) for value, attributes in reading]

    spec.observe(meter, [read])
    registered.add(name)
    return spec
