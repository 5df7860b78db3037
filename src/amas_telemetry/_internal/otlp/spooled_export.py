"""OTLP exporters that spool what the endpoint cannot take now and replay it, in order, later.

Export chain (DESIGN.md): tail decision → redaction → batch → **spool on failure** → OTLP.
The batch processors (and the periodic metric reader) call ``export`` from their own worker
threads; a request never waits on anything here.

Per signal, :class:`SpooledExport` serializes each batch to its OTLP request bytes (our direct
encoders for spans and logs, :mod:`.wire`; the SDK's for metrics) and sends it once.
A retryable failure (the Collector is down, restarting, busy) puts the bytes into a bounded
on-disk :class:`~amas_telemetry._internal.otlp.spool.Spool`; from then on newer batches queue
behind it on disk, so the endpoint receives everything in the order it was produced. A
background thread replays the spool, oldest first, as soon as the endpoint answers again,
waiting between attempts as the OTLP specification asks: what the server said (``Retry-After``,
gRPC ``RetryInfo``), else an exponential backoff with jitter from ``retry_interval`` up to
``max_retry_interval``; it also adopts what dead sibling processes left in the same
directory. A permanent refusal is dropped, as the SDK does. Past the spool's bound the oldest
data is dropped and reported through ``on_drop``. Every attempt is timed for the SDK's
``otel.sdk.exporter.operation.duration``, with the failure's ``error.type``.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.semconv._incubating.attributes.otel_attributes import (
    OTEL_COMPONENT_NAME,
    OTEL_COMPONENT_TYPE,
)
from opentelemetry.semconv._incubating.metrics.otel_metrics import (
    create_otel_sdk_exporter_log_exported,
    create_otel_sdk_exporter_metric_data_point_exported,
    create_otel_sdk_exporter_operation_duration,
    create_otel_sdk_exporter_span_exported,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS, SERVER_PORT

from amas_telemetry import semconv as sc
from amas_telemetry._internal.forking import renew_after_fork
from amas_telemetry._internal.otlp.spool import Spool
from amas_telemetry._internal.otlp.spooled_exporters import EXPORTER_CLASSES
from amas_telemetry._internal.otlp.targets import OtlpTarget
from amas_telemetry._internal.otlp.transport import Outcome, SendResult, Transport, transport_for
from amas_telemetry.catalog import spec

__all__ = ["ExportSpools", "SpooledExport"]

_log = logging.getLogger(__name__)

ORPHAN_SCAN_SECONDS = 30.0
"""How often an idle replay thread looks for entries that dead sibling processes left."""


MAX_SERVER_DELAY = 300.0
"""Seconds: the longest ``Retry-After`` / ``RetryInfo`` delay obeyed (a longer one is cut)."""


class SpooledExport:
    """Send-or-spool of one signal, plus the thread that replays the spool.

    ``transport_factory`` is called again in a forked child (a gRPC channel does not survive
    ``fork``). ``report(items, error_type)`` is told what became of every item: delivered
    (``error_type`` None), refused for good (the refusal's error type) or dropped by the
    spool (``"spool_full"``: its bound, or a disk that refuses the write). ``on_attempt(result,
    seconds)`` is told of every send attempt.
    """

    def __init__(
        self,
        transport_factory: Callable[[], Transport],
        spool: Spool,
        report: Callable[[int, str | None], None],
        retry_interval: float = 1.0,
        max_retry_interval: float = 5.0,
        on_attempt: Callable[[SendResult, float], None] | None = None,
    ) -> None:
        self._transport_factory = transport_factory
        self._transport = transport_factory()
        self.spool = spool
        self._report = report
        self._on_attempt = on_attempt
        self._retry_interval = retry_interval
        self._max_retry_interval = max(retry_interval, max_retry_interval)
        self._failures = 0
        self._not_before = 0.0  # monotonic: no replay before this (backoff, or the server's delay)
        self._server_not_before = 0.0  # no attempt at all before this: the server asked to wait
        self._closed = False
        self._reset_threading()
        renew_after_fork(self, SpooledExport._after_fork)

    def _reset_threading(self) -> None:
        self._send_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def _after_fork(self) -> None:
        self._reset_threading()
        self._transport = self._transport_factory()

    # --- the export path (batch worker threads) --------------------------------------------
    def submit(self, body: bytes, items: int) -> bool:
        """Send now, or spool for later; False only when the data is gone for good."""
        if self._closed:
            return False
        self._ensure_thread()
        with self._send_lock:
            waiting = len(self.spool) > 0 or time.monotonic() < self._server_not_before
            result = self._send(body) if not waiting else None
            if result is not None and result.outcome is not Outcome.RETRY:
                self._report(items, _lost_as(result))
                return result.outcome is Outcome.SENT
            # the endpoint is away, or older data is still waiting: queue behind it, on disk
            dropped = self.spool.append(body, items)
        if dropped:
            self._report(dropped, "spool_full")
        self._wake.set()
        return True

    # --- replay (background thread) ---------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(
            target=self._replay_loop, name=f"amas-spool-{self.spool.signal}", daemon=True
        )
        self._thread.start()

    def start(self) -> None:
        """Start the replay thread now (it also takes over what dead siblings left)."""
        self._ensure_thread()

    def _replay_loop(self) -> None:
        next_scan = 0.0
        while not self._closed:
            self._wake.clear()  # a submit() from now on wakes the wait below
            now = time.monotonic()
            if now >= next_scan:
                next_scan = now + ORPHAN_SCAN_SECONDS
                if self.spool.adopt_orphans():
                    _log.info("amas_telemetry: replaying %s left by a stopped process", self.spool.signal)
            if self._replay_some():
                continue  # the spool drained or the endpoint answered: go on at once
            if len(self.spool):
                self._wake.wait(max(0.0, self._not_before - time.monotonic()) or self._retry_interval)
            else:
                self._wake.wait(ORPHAN_SCAN_SECONDS)

    def _send(self, body: bytes) -> SendResult:
        started = time.perf_counter()
        try:
            result = self._transport.send(body)
        except Exception:  # a bug, not the endpoint: keep the data, never raise into the app
            _log.exception("amas_telemetry: sending an OTLP export failed unexpectedly; it stays spooled")
            result = SendResult(Outcome.RETRY, error_type="internal")
        self._schedule(result)
        if self._on_attempt is not None:
            try:
                self._on_attempt(result, time.perf_counter() - started)
            except Exception:
                _log.exception("amas_telemetry: recording an OTLP export attempt failed")
        return result

    def _schedule(self, result: SendResult) -> None:
        """When the next attempt may start: at once after an answer, else after the server's
        delay or an exponential backoff with jitter (0.5 to 1.5 times the step)."""
        if result.outcome is not Outcome.RETRY:
            self._failures, self._not_before, self._server_not_before = 0, 0.0, 0.0
            return
        self._failures += 1
        step = min(self._max_retry_interval, self._retry_interval * 2 ** (self._failures - 1))
        delay = step * random.uniform(0.5, 1.5)
        now = time.monotonic()
        if result.retry_after is not None:
            delay = min(MAX_SERVER_DELAY, max(result.retry_after, 0.0))
            self._server_not_before = now + delay
        self._not_before = now + delay

    def _send_oldest(self) -> Outcome | None:
        """Send the oldest spooled request; None when the spool is empty."""
        with self._send_lock:
            oldest = self.spool.oldest()
            if oldest is None:
                return None
            entry, body = oldest
            result = self._send(body)
            self.spool.release(entry, delivered=result.outcome is not Outcome.RETRY)
        if result.outcome is not Outcome.RETRY:
            self._report(entry.items, _lost_as(result))
        return result.outcome

    def _replay_some(self) -> bool:
        """Send the oldest entry, unless it is too early; True when there is more to send
        right away."""
        if time.monotonic() < self._not_before:
            return False
        outcome = self._send_oldest()
        return outcome not in (None, Outcome.RETRY) and len(self.spool) > 0

    def drain(self, timeout: float) -> bool:
        """Replay now, in the caller's thread (whatever our own backoff says): True once the
        spool is empty, False as soon as the endpoint is still away or asked to wait (a flush
        never waits it out)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.spool) and time.monotonic() < self._server_not_before:
                return False
            outcome = self._send_oldest()
            if outcome is None:
                return True
            if outcome is Outcome.RETRY:
                return False
        return len(self.spool) == 0

    def shutdown(self) -> None:
        """Stop replaying; what is still spooled stays on disk for the next start."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self._max_retry_interval + 6)
        with self._send_lock:
            self._transport.close()
            self.spool.close()


def _lost_as(result: SendResult) -> str | None:
    """The ``error.type`` of items a result settled: None when they were delivered."""
    if result.outcome is Outcome.SENT:
        return None
    return result.error_type or "rejected"


# the SDK exporters' own self-metrics, kept: dashboards and the TelemetryDataDropped alert read them
_SDK_EXPORTED = {
    "traces": (create_otel_sdk_exporter_span_exported, "span"),
    "logs": (create_otel_sdk_exporter_log_exported, "log"),
    "metrics": (create_otel_sdk_exporter_metric_data_point_exported, "metric"),
}


class ExportSpools:
    """The spooled OTLP exporters of one ``configure()``: one spool per signal in one directory.

    Counts what the SDK's OTLP exporters count (``otel.sdk.exporter.*.exported``, with
    ``error.type`` on items lost for good, a spooled item is not lost and is counted when it
    is delivered; ``otel.sdk.exporter.operation.duration`` of every attempt, with the failure's
    ``error.type`` and gRPC or HTTP status), plus ``semconv.AMAS_TELEMETRY_EXPORT_SPOOL_DROPPED``
    and the spool size.
    """

    def __init__(self, targets: Mapping[str, OtlpTarget], directory: Path, max_bytes: int) -> None:
        self.targets = dict(targets)
        self.directory = directory
        self._max_bytes = max_bytes
        self.exports: dict[str, SpooledExport] = {}
        self._counters: dict[str, Any] = {}
        self._duration: Any = None
        self._dropped: Any = None
        self._next_warning: dict[str, float] = {}

    def exporter(self, signal: str) -> Any:
        """The SDK exporter (span, log record or metric) of ``signal``."""
        target = self.targets[signal]
        export = SpooledExport(
            lambda: transport_for(target),
            Spool(self.directory, signal, self._max_bytes),
            report=lambda items, error_type: self._report(signal, items, error_type),
            on_attempt=lambda result, seconds: self._attempt(signal, result, seconds),
        )
        self.exports[signal] = export
        return EXPORTER_CLASSES[signal](export)

    def _report(self, signal: str, items: int, error_type: str | None) -> None:
        counter, attributes = self._counters.get(signal, (None, {}))
        if error_type is not None:
            attributes = {**attributes, ERROR_TYPE: error_type}
        if error_type == "spool_full":
            now = time.monotonic()
            if now >= self._next_warning.get(signal, 0.0):  # once a minute: a long outage drops often
                self._next_warning[signal] = now + 60
                _log.warning("amas_telemetry: export spool full; dropping the oldest %s (counted)", signal)
            if self._dropped is not None:
                self._dropped.add(items, {sc.AMAS_TELEMETRY_SIGNAL: signal})
        if counter is not None:
            counter.add(items, attributes)

    def _attempt(self, signal: str, result: SendResult, seconds: float) -> None:
        if self._duration is None:
            return
        _, attributes = self._counters[signal]
        if result.outcome is not Outcome.SENT:
            attributes = {**attributes, ERROR_TYPE: result.error_type or "rejected", **result.attributes}
        self._duration.record(seconds, attributes)

    def observe(self, meter: Meter) -> None:
        """Register the counters and the size gauge on ``meter`` (before the first export;
        exporters built later are covered too)."""
        for signal, (create, item) in _SDK_EXPORTED.items():
            target = self.targets.get(signal)
            kind = "grpc" if target is None or target.protocol == "grpc" else "http"
            component = f"otlp_{kind}_{item}_exporter"
            attributes: dict[str, Any] = {
                OTEL_COMPONENT_TYPE: component,
                OTEL_COMPONENT_NAME: f"{component}/spooled",
            }
            if target is not None:
                attributes |= {SERVER_ADDRESS: target.host, SERVER_PORT: target.port}
            self._counters[signal] = (create(meter), attributes)
        self._duration = create_otel_sdk_exporter_operation_duration(meter)
        self._dropped = spec(sc.AMAS_TELEMETRY_EXPORT_SPOOL_DROPPED).create(meter)
        exports = self.exports

        def sizes(options: CallbackOptions) -> Iterable[Observation]:
            spools = [export.spool for export in exports.values()]
            return [Observation(s.pending_bytes, {sc.AMAS_TELEMETRY_SIGNAL: s.signal}) for s in spools]

        spec(sc.AMAS_TELEMETRY_EXPORT_SPOOL_SIZE).observe(meter, [sizes])

    def start(self) -> None:
        """Start the replay threads (they also replay what a previous run left)."""
        for export in self.exports.values():
            export.start()
