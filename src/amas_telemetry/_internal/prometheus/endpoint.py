"""MeterProvider readers: a pull reader for ``/metrics`` and, optionally, a push reader to OTLP.

``/metrics`` is per app, not per process: under several workers (see :mod:`.workers`) the
worker that answers merges its live state with the other workers' files. OpenMetrics answers
carry exemplars (see :mod:`.exposition`). Each handle has its own reader, so independent
``configure()`` instances never share series.
"""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader

from amas_telemetry import semconv as sc
from amas_telemetry._internal.prometheus.exposition import render, wants_openmetrics
from amas_telemetry._internal.prometheus.snapshots import (
    Memory,
    PullReader,
    Snapshot,
    info_family,
    merge,
    snapshot,
    subtract,
)
from amas_telemetry._internal.prometheus.workers import Flusher, SnapshotStore

__all__ = ["PrometheusEndpoint", "otlp_reader"]


class PrometheusEndpoint:
    """The pull reader, this process's snapshot of it, and (under several workers) the merge."""

    content_type = "text/plain; version=0.0.4; charset=utf-8"

    def __init__(self) -> None:
        self.reader = PullReader()
        self._memory = Memory()
        self._lock = threading.Lock()
        self._baseline: Snapshot | None = None
        self.store: SnapshotStore | None = None
        self._flusher: Flusher | None = None

    # --- this process -------------------------------------------------------------------------
    def local(self, write: bool = False) -> Snapshot:
        """This process's metrics now (a collection: drains the deferred measurements).

        ``write``: also replace this worker's file, under the same lock, so that an older
        snapshot never overwrites a newer one.
        """
        with self._lock:
            data = self.reader.read()
            snap = snapshot(data, self._memory)
            if data is not None and data.resource_metrics:
                attributes = dict(data.resource_metrics[0].resource.attributes)
                if self.store is not None:  # /metrics speaks for the app, not for one process
                    attributes.pop(sc.SERVICE_INSTANCE_ID, None)
                snap = {"target_info": info_family("Target metadata", attributes), **snap}
            if self._baseline:
                snap = subtract(snap, self._baseline)
            if write and self.store is not None:
                self.store.write(snap)
            return snap

    def flush(self) -> None:
        """Write this worker's snapshot for the others to read."""
        if self.store is not None:
            self.local(write=True)

    # --- several workers ---------------------------------------------------------------------
    def join_workers(self, store: SnapshotStore, changed: Any, inherited: Snapshot | None = None) -> None:
        """From now on, scrapes merge with ``store``; ``inherited`` (a forked child's copy of its
        parent's state) is subtracted, so nothing the parent measured is counted once per child."""
        self.store = store
        self._baseline = inherited
        self._flusher = Flusher(self.flush, changed)
        self._flusher.start()

    def leave_workers(self) -> None:
        """Stop the flush thread after a last write (shutdown, exit)."""
        flusher, self._flusher = self._flusher, None
        if flusher is not None:
            flusher.stop()
            self.flush()

    def forget_after_fork(self) -> None:
        """In a forked child: no store and no flusher of the parent's (its thread is gone)."""
        self.store = None
        self._flusher = None
        self._lock = threading.Lock()

    # --- rendering ------------------------------------------------------------------------------
    def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """(body, content type) of ``/metrics``: OpenMetrics if ``accept`` asks for it, else text."""
        store = self.store
        local = self.local(write=True)  # a scrape collects anyway: keep this worker's file current
        merged = local if store is None else merge([(store.pid, True, local), *store.others()])
        return render(merged, wants_openmetrics(accept))


def otlp_reader(exporter: MetricExporter, interval_seconds: float) -> PeriodicExportingMetricReader:
    """Bounded export: the timeout is below the interval so a dead Collector never piles up."""
    interval_ms = interval_seconds * 1000
    return PeriodicExportingMetricReader(
        exporter, export_interval_millis=interval_ms, export_timeout_millis=min(interval_ms, 10_000)
    )
