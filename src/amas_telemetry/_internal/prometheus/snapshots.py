"""Metric snapshots: the SDK's cumulative state as plain data, merged over workers.

Two steps, each a plain function over plain data, so that a worker can hand its state to
another one through a file (:mod:`.workers`); :mod:`.exposition` renders the result:

1. :func:`snapshot` turns what a :class:`PullReader` collected into a :data:`Snapshot`:
   Prometheus family name → (kind, help, unit, series, exemplars), with the names the OTel
   Prometheus exporter gives (its ``_mapping`` helpers, so dashboards and rules keep working).
2. :func:`merge` adds the snapshots of several workers: counters and histograms summed over
   every worker that ever ran, up-down counters summed over live workers, gauges as
   :data:`GAUGE_MERGE` says (else one series per live worker, labelled ``worker``).
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import AggregationTemporality, MetricReader, MetricsData
from opentelemetry.sdk.metrics.export import Gauge as GaugeData
from opentelemetry.sdk.metrics.export import Histogram as HistogramData
from opentelemetry.sdk.metrics.export import Sum as SumData

from amas_telemetry._internal.compat.sdk import map_unit, sanitize_attribute, sanitize_full_name
from amas_telemetry.catalog import CATALOG, MetricSpec

__all__ = [
    "GAUGE_MERGE",
    "Memory",
    "PullReader",
    "Snapshot",
    "info_family",
    "merge",
    "snapshot",
    "subtract",
]

COUNTER, HISTOGRAM, UPDOWN, GAUGE, INFO = "counter", "histogram", "updown", "gauge", "info"

Key = tuple[tuple[str, str], ...]
"""A series: its (label, value) pairs, sorted."""
ExemplarData = tuple[str, str, float, float]
"""(trace id hex, span id hex, value, unix seconds)."""
Family = list[Any]
"""[kind, help, unit, {key: value}, {key: {bucket index: ExemplarData}}]; a histogram value is
[bounds, bucket counts (not cumulative), sum, count]."""
Snapshot = dict[str, Family]

GAUGE_MERGE: dict[str, str] = {
    sanitize_full_name(spec.name): spec.worker_merge for spec in CATALOG.values() if spec.worker_merge
}
"""Family name → how the readings of several live workers become one value (``"max"``,
``"sum"``): :attr:`.catalog.MetricSpec.worker_merge`, by the name ``/metrics`` gives. Gauges not
listed keep one series per live worker (label ``worker``: the pid), e.g. process CPU and
memory; counters not listed are summed over every worker that ever ran."""


def merge_workers_as(spec: MetricSpec) -> None:
    """Add a gauge the app declared to :data:`GAUGE_MERGE` (every worker runs the same app, so
    every worker that answers a scrape knows it)."""
    if spec.worker_merge:
        GAUGE_MERGE[sanitize_full_name(spec.name)] = spec.worker_merge


class PullReader(MetricReader):
    """A cumulative reader collected on demand (a scrape, a worker's flush)."""

    def __init__(self) -> None:
        cumulative = AggregationTemporality.CUMULATIVE
        super().__init__(
            preferred_temporality={
                kind: cumulative
                for kind in (
                    Counter,
                    UpDownCounter,
                    Histogram,
                    ObservableCounter,
                    ObservableUpDownCounter,
                    ObservableGauge,
                )
            }
        )
        self._data: MetricsData | None = None

    def _receive_metrics(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> None:
        self._data = metrics_data

    def read(self) -> MetricsData | None:
        self.collect()
        data, self._data = self._data, None
        return data

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        return None


# --- 1. collected data → snapshot ------------------------------------------------------------

_LABELS: dict[str, str] = {}


def _label(key: str) -> str:
    label = _LABELS.get(key)
    if label is None:
        label = _LABELS[key] = sanitize_attribute(key)
    return label


def _key(attributes: Mapping[str, Any] | None) -> Key:
    if not attributes:
        return ()
    return tuple(
        sorted(
            (_label(k), v if isinstance(v, str) else json.dumps(v, default=str))
            for k, v in attributes.items()
        )
    )


def _exemplar(exemplar: Any) -> ExemplarData | None:
    if not exemplar.trace_id or not exemplar.span_id:
        return None
    return (
        format(exemplar.trace_id, "032x"),
        format(exemplar.span_id, "016x"),
        float(exemplar.value),
        exemplar.time_unix_nano / 1e9,
    )


_MAX_REMEMBERED_KEYS = 200_000


class Memory:
    """What one process's snapshots keep between collections.

    ``exemplars``: per family, series and bucket, the newest exemplar seen in any collection
    so far (the SDK forgets them after each one). ``keys``: the series key of each attribute
    set the SDK hands out (the same object every collection), so it is built once.
    """

    def __init__(self) -> None:
        self.exemplars: dict[str, dict[Key, dict[int, ExemplarData]]] = {}
        self.keys: dict[int, tuple[Any, Key]] = {}

    def key(self, attributes: Any) -> Key:
        found = self.keys.get(id(attributes))
        if found is not None and found[0] is attributes:
            return found[1]
        key = _key(attributes)
        if len(self.keys) > _MAX_REMEMBERED_KEYS:  # the SDK hands out the same objects: never in practice
            self.keys.clear()
        self.keys[id(attributes)] = (attributes, key)
        return key


def snapshot(data: MetricsData | None, memory: Memory | None = None) -> Snapshot:
    """The collected data as a :data:`Snapshot` (``memory``: see :class:`Memory`)."""
    out: Snapshot = {}
    if data is None:
        return out
    memory = memory or Memory()
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                _add_metric(out, metric, memory)
    return out


def _add_metric(out: Snapshot, metric: Any, memory: Memory) -> None:
    data = metric.data
    if isinstance(data, HistogramData):
        kind = HISTOGRAM
    elif isinstance(data, SumData):
        kind = COUNTER if data.is_monotonic else UPDOWN
    elif isinstance(data, GaugeData):
        kind = GAUGE
    else:  # exponential histograms: not rendered, as the OTel Prometheus reader does not either
        return
    name = sanitize_full_name(metric.name)
    family = out.get(name)
    if family is None:
        remembered = memory.exemplars.setdefault(name, {})
        family = out[name] = [kind, metric.description or "", map_unit(metric.unit or ""), {}, remembered]
    elif family[0] != kind:
        return  # one name, two kinds (two scopes disagreeing): the first one wins, as Prometheus needs
    series, remembered, key_of = family[3], family[4], memory.key
    raw_bounds: Any = None
    bounds: tuple[float, ...] = ()
    for point in data.data_points:
        key = key_of(point.attributes)
        if kind == HISTOGRAM:
            if point.explicit_bounds is not raw_bounds:  # one object for all points of an instrument
                raw_bounds = point.explicit_bounds
                bounds = tuple(raw_bounds)
            series[key] = [bounds, point.bucket_counts, point.sum, point.count]
        else:
            series[key] = point.value
        if point.exemplars:
            slots = remembered.setdefault(key, {})
            for exemplar in point.exemplars:
                found = _exemplar(exemplar)
                if found is not None:
                    index = bisect_left(point.explicit_bounds, found[2]) if kind == HISTOGRAM else 0
                    slots[index] = found


def info_family(description: str, attributes: Mapping[str, Any]) -> Family:
    """``target_info`` (resource attributes), as the OTel Prometheus reader renders it."""
    return [INFO, description, "", {_key(attributes): 1.0}, {}]


def subtract(current: Snapshot, baseline: Snapshot) -> Snapshot:
    """Counters and histograms of ``current`` minus ``baseline`` (what a forked child inherited)."""
    out: Snapshot = {}
    for name, family in current.items():
        before = baseline.get(name)
        kind = family[0]
        if before is None or kind not in (COUNTER, HISTOGRAM):
            out[name] = family
            continue
        series: dict[Key, Any] = {}
        for key, value in family[3].items():
            old = before[3].get(key)
            if old is None:
                series[key] = value
            elif kind == COUNTER:
                series[key] = value - old
            else:
                series[key] = [
                    value[0],
                    [a - b for a, b in zip(value[1], old[1], strict=True)],
                    value[2] - old[2],
                    value[3] - old[3],
                ]
        out[name] = [kind, family[1], family[2], series, family[4]]
    return out


# --- 2. merge ----------------------------------------------------------------------------------


def merge(parts: Sequence[tuple[int, bool, Snapshot]]) -> Snapshot:
    """One snapshot from several workers' ``(pid, alive, snapshot)``, the answering worker first."""
    if len(parts) == 1 and parts[0][1]:
        return parts[0][2]
    out: Snapshot = {}
    gauges: dict[str, dict[Key, list[tuple[int, float]]]] = {}
    for pid, alive, part in parts:
        for name, family in part.items():
            kind = family[0]
            by_reading = kind == GAUGE or GAUGE_MERGE.get(name) == "max"
            if (by_reading or kind in (UPDOWN, INFO)) and not alive:
                continue
            merged = out.get(name)
            if merged is None:
                merged = out[name] = [kind, family[1], family[2], {}, {}]
            elif merged[0] != kind:
                continue
            target = merged[3]
            if kind == INFO:
                if not target:
                    target.update(family[3])
            elif by_reading:
                per_key = gauges.setdefault(name, {})
                for key, value in family[3].items():
                    per_key.setdefault(key, []).append((pid, value))
            elif kind == HISTOGRAM:
                for key, value in family[3].items():
                    have = target.get(key)
                    if have is None:
                        target[key] = [value[0], list(value[1]), value[2], value[3]]
                    elif have[0] == value[0]:
                        counts = have[1]
                        for i, count in enumerate(value[1]):
                            counts[i] += count
                        have[2] += value[2]
                        have[3] += value[3]
            else:
                for key, value in family[3].items():
                    target[key] = target.get(key, 0) + value
            if family[4]:
                _merge_exemplars(merged[4], family[4])
    for name, per_key in gauges.items():
        how = GAUGE_MERGE.get(name)
        series = out[name][3]
        for key, readings in per_key.items():
            if how == "max":
                series[key] = max(v for _, v in readings)
            elif how == "sum":
                series[key] = sum(v for _, v in readings)
            else:
                for pid, value in readings:
                    series[tuple(sorted((*key, ("worker", str(pid)))))] = value
    return out


def _merge_exemplars(
    into: dict[Key, dict[int, ExemplarData]], more: dict[Key, dict[int, ExemplarData]]
) -> None:
    for key, slots in more.items():
        have = into.setdefault(key, {})
        for index, exemplar in slots.items():
            old = have.get(index)
            if old is None or exemplar[3] > old[3]:
                have[index] = exemplar
