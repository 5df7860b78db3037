"""The cardinality limiter: the attribute sets one instrument has seen, each built once.

Attribute sets are looked up by the tuple of attribute values, so the dict handed to the
SDK is built (and scrubbed) once per distinct set. Past ``limit`` distinct sets, points
fold into one series labelled ``otel.metric.overflow="true"``.
"""

from __future__ import annotations

from typing import Any

from amas_telemetry import semconv as sc
from amas_telemetry._internal.metrics.derivation.rules import Attributes
from amas_telemetry._internal.redact.scrubber import Scrubber

__all__ = ["OVERFLOW", "Series"]

OVERFLOW: Attributes = {sc.OTEL_METRIC_OVERFLOW: "true"}


class Series:
    """Instrument sink + the cache of attribute sets it has seen."""

    __slots__ = ("cache", "limit", "scrubber", "sink")

    def __init__(self, sink: Any, limit: int, scrubber: Scrubber) -> None:
        self.sink = sink
        self.cache: dict[tuple[Any, ...], Attributes] = {}
        self.limit = limit
        self.scrubber = scrubber

    def attributes(self, names: tuple[str, ...], values: tuple[Any, ...]) -> Attributes:
        cached = self.cache.get(values)
        if cached is not None:
            return cached
        if len(self.cache) >= self.limit:
            return OVERFLOW
        built = {n: self.scrubber.value(n, v) for n, v in zip(names, values, strict=True) if v is not None}
        self.cache[values] = built
        return built
