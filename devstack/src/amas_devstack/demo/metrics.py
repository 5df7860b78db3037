"""One scrape of the service's /metrics, parsed, with sums, groupings and quantiles by label."""

from __future__ import annotations

from collections import defaultdict

import httpx
from prometheus_client.parser import text_string_to_metric_families


class Metrics:
    """One scrape of /metrics, parsed; the helpers sum and filter samples by label."""

    def __init__(self, text: str) -> None:
        self.samples: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = {k: v for k, v in sample.labels.items() if not k.startswith("otel_scope")}
                self.samples[sample.name].append((labels, sample.value))

    @classmethod
    async def scrape(cls, client: httpx.AsyncClient) -> Metrics:
        response = await client.get("/metrics")
        response.raise_for_status()
        return cls(response.text)

    def select(self, name: str, **where: str | None) -> list[tuple[dict[str, str], float]]:
        """Samples whose labels match; ``label=None`` means absent (the exporter renders that as "")."""
        return [
            (labels, value)
            for labels, value in self.samples.get(name, [])
            if all((labels.get(k) or None) == (v or None) for k, v in where.items())
        ]

    def total(self, name: str, **where: str | None) -> float:
        return sum(value for _, value in self.select(name, **where))

    def by(self, name: str, *keys: str, **where: str | None) -> dict[tuple[str, ...], float]:
        grouped: dict[tuple[str, ...], float] = defaultdict(float)
        for labels, value in self.select(name, **where):
            grouped[tuple(labels.get(k, "") for k in keys)] += value
        return dict(grouped)

    def quantile(self, histogram: str, q: float, **where: str | None) -> float | None:
        """Prometheus' histogram_quantile over the matching series' buckets (linear within a bucket)."""
        buckets: dict[float, float] = defaultdict(float)
        for labels, value in self.select(histogram + "_bucket", **where):
            buckets[float(labels["le"])] += value
        if not buckets:
            return None
        bounds = sorted(buckets)
        total = buckets[bounds[-1]]
        if total == 0:
            return None
        rank, lower, below = q * total, 0.0, 0.0
        for bound in bounds:
            count = buckets[bound]
            if count >= rank:
                if bound == float("inf"):
                    return lower  # above the last finite bound: Prometheus returns that bound
                return lower + (bound - lower) * ((rank - below) / (count - below) if count > below else 1.0)
            lower, below = bound, count
        return lower
