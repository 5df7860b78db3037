"""State gauges: values only the app knows (queue depth, pool size), read at collection time."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from amas_telemetry.catalog import CATALOG, STATE_GAUGE_NAMES

__all__ = ["STATE_GAUGES", "GaugeReading", "observe_state_gauge"]

STATE_GAUGES: Mapping[str, tuple[str, str]] = {
    name: (CATALOG[name].unit, CATALOG[name].description) for name in STATE_GAUGE_NAMES
}
"""The state gauges an app may register with :meth:`Telemetry.observe`: name → (unit, description)
(from :mod:`.catalog`)."""

GaugeReading = float | Iterable[tuple[float, Mapping[str, Any]]]


def observe_state_gauge(
    meter: Meter, name: str, callback: Callable[[], GaugeReading], registered: set[str]
) -> None:
    """Register the callback of state gauge ``name`` on ``meter``; ``registered``: the names
    this handle has a callback for already (``name`` is added)."""
    if name not in STATE_GAUGES:
        raise ValueError(f"unknown state gauge {name!r}: expected one of {', '.join(sorted(STATE_GAUGES))}")
    if name in registered:
        raise ValueError(f"state gauge {name!r} already has a callback")

    def read(options: CallbackOptions) -> Iterable[Observation]:
        reading = callback()
        if isinstance(reading, int | float):
            return [Observation(reading)]
        return [Observation(value, dict(attributes)) for value, attributes in reading]

    CATALOG[name].observe(meter, [read])
    registered.add(name)
