"""/metrics: a :mod:`.snapshots` snapshot rendered by prometheus_client.

:func:`render` builds ``prometheus_client`` metric families (with exemplars, each the newest
sampled span of its bucket) and hands them to prometheus_client's own exposition: OpenMetrics
when the scraper asks for it (exemplars shown), else the text format. The snapshot steps are
re-exported here for the callers that know this module as the whole of ``/metrics``.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import accumulate
from typing import Any

from prometheus_client.exposition import generate_latest as text_exposition
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS_CONTENT_TYPE
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_exposition
from prometheus_client.samples import Exemplar, Sample

from amas_telemetry._internal.compat.sdk import map_unit, sanitize_full_name
from amas_telemetry._internal.prometheus.snapshots import (
    COUNTER,
    GAUGE,
    HISTOGRAM,
    INFO,
    UPDOWN,
    ExemplarData,
    Key,
    Snapshot,
)
from amas_telemetry.catalog import InstrumentKind, MetricSpec

__all__ = ["exposed_name", "families", "render", "wants_openmetrics"]

# target_info is a gauge in both formats: what the text format and Prometheus' own OTLP
# translation make of it, and a type every parser (promtool's included) reads
_PROMETHEUS_TYPE = {
    COUNTER: "counter",
    HISTOGRAM: "histogram",
    UPDOWN: "gauge",
    GAUGE: "gauge",
    INFO: "gauge",
}


def wants_openmetrics(accept: str | None) -> bool:
    return bool(accept) and "application/openmetrics-text" in accept


class _Families:
    """What prometheus_client's expositions iterate over (the ``collect()`` of a registry)."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


_LE: dict[tuple[float, ...], tuple[str, ...]] = {}


def _le_labels(bounds: tuple[float, ...]) -> tuple[str, ...]:
    les = _LE.get(bounds)
    if les is None:
        les = _LE[bounds] = (*(f"{b}" for b in bounds), "+Inf")  # as the OTel Prometheus reader writes them
    return les


def _exemplar_of(slots: dict[int, ExemplarData] | None, index: int) -> Exemplar | None:
    if not slots:
        return None
    found = slots.get(index)
    if found is None:
        return None
    return Exemplar({"trace_id": found[0], "span_id": found[1]}, found[2], found[3])


def _labeller(series: dict[Key, Any]) -> Any:
    """Key → label dict; every series of a family gets the same label names, a missing one as ""
    (as the OTel Prometheus reader writes it)."""
    names = {label for key in series for label, _ in key}
    if all(len(key) == len(names) for key in series):
        return dict
    blank = dict.fromkeys(names, "")
    return lambda key: {**blank, **dict(key)}


TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _family(name: str, kind: str, documentation: str, unit: str) -> Metric:
    """An empty prometheus_client family; its ``name`` has the unit suffix prometheus_client adds."""
    family_name = name[:-6] if kind == COUNTER and name.endswith("_total") else name
    return Metric(family_name, documentation, _PROMETHEUS_TYPE[kind], unit)


_KINDS = {
    InstrumentKind.HISTOGRAM: HISTOGRAM,
    InstrumentKind.COUNTER: COUNTER,
    InstrumentKind.UP_DOWN_COUNTER: UPDOWN,
    InstrumentKind.GAUGE: GAUGE,
}


def exposed_name(spec: MetricSpec) -> str:
    """The name ``/metrics`` gives a catalog metric, as :func:`families` builds it.

    Counters end in ``_total``; a histogram is given by its base name (its samples append
    ``_bucket``, ``_sum``, ``_count``). It differs from the OTLP translation
    (:func:`.catalog.prometheus_name`) where the OTel Prometheus reader's naming does:
    a ratio gauge (unit ``1``) gets no ``_ratio`` suffix here.
    """
    kind = _KINDS[spec.kind]
    name = _family(sanitize_full_name(spec.name), kind, "", map_unit(spec.unit)).name
    return f"{name}_total" if kind == COUNTER else name


def families(merged: Snapshot, with_exemplars: bool) -> list[Metric]:
    """prometheus_client metric families of a snapshot (exemplars only if asked: OpenMetrics)."""
    out = []
    for name, (kind, documentation, unit, series, exemplars) in merged.items():
        labelled = _labeller(series)
        metric = _family(name, kind, documentation, unit)
        samples = metric.samples
        full = metric.name
        use_exemplars = with_exemplars and bool(exemplars)
        if kind == HISTOGRAM:
            bucket, count_name, sum_name = f"{full}_bucket", f"{full}_count", f"{full}_sum"
            extend, append = samples.extend, samples.append
            for key, (bounds, counts, total, count) in series.items():
                labels = labelled(key)
                les = _le_labels(bounds)
                slots = exemplars.get(key) if use_exemplars else None
                cumulative = zip(les, accumulate(counts), strict=True)
                if slots:
                    extend(
                        Sample(bucket, {**labels, "le": le}, float(n), None, _exemplar_of(slots, i))
                        for i, (le, n) in enumerate(cumulative)
                    )
                else:
                    extend([Sample(bucket, {**labels, "le": le}, float(n)) for le, n in cumulative])
                append(Sample(count_name, labels, float(count)))
                append(Sample(sum_name, labels, float(total)))
        elif kind == COUNTER:
            total_name = f"{full}_total"
            for key, value in series.items():
                slots = exemplars.get(key) if use_exemplars else None
                samples.append(Sample(total_name, labelled(key), float(value), None, _exemplar_of(slots, 0)))
        else:
            for key, value in series.items():
                samples.append(Sample(full, labelled(key), float(value)))
        out.append(metric)
    return out


def render(merged: Snapshot, openmetrics: bool) -> tuple[bytes, str]:
    """(body, content type): OpenMetrics with exemplars, or the text format without."""
    if openmetrics:
        return openmetrics_exposition(_Families(families(merged, True))), OPENMETRICS_CONTENT_TYPE
    return text_exposition(_Families(families(merged, False))), TEXT_CONTENT_TYPE
