"""Send-or-spool: a scripted transport for the logic, a real OTLP receiver for the whole path.

The receiver is benchmarks/_sink.py's OTLP sink (gRPC and HTTP on 127.0.0.1), started late
on the port the app was configured with, as a Collector that comes back after a restart.
"""

from __future__ import annotations

import logging
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from benchmarks._sink import Sink
from opentelemetry import trace
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

import amas_telemetry
from amas_telemetry._internal.otlp.spool import Spool
from amas_telemetry._internal.otlp.spooled_export import SpooledExport
from amas_telemetry._internal.otlp.transport import Outcome, SendResult

COLLECTOR_AWAY_S = 8.0  # the case: the endpoint comes up 8 s after the data was made
ARRIVAL_TIMEOUT_S = 60.0


class ScriptedTransport:
    """Answers RETRY while ``away`` (asking to wait ``retry_after`` when set); records every
    body it was given, in order, and when."""

    def __init__(self) -> None:
        self.away = True
        self.retry_after: float | None = None
        self.refuse: set[bytes] = set()
        self.received: list[bytes] = []
        self.attempts = 0
        self.attempt_times: list[float] = []

    def send(self, body: bytes) -> SendResult:
        self.attempts += 1
        self.attempt_times.append(time.monotonic())
        if body in self.refuse:
            return SendResult(Outcome.REJECTED, error_type="INVALID_ARGUMENT")
        if self.away:
            return SendResult(Outcome.RETRY, retry_after=self.retry_after, error_type="UNAVAILABLE")
        self.received.append(body)
        return SendResult(Outcome.SENT)

    def close(self) -> None:
        return None


@pytest.fixture
def scripted(
    tmp_path: Path,
) -> Iterator[tuple[SpooledExport, ScriptedTransport, list[tuple[int, str | None]]]]:
    transport = ScriptedTransport()
    reports: list[tuple[int, str | None]] = []
    export = SpooledExport(
        lambda: transport,
        Spool(tmp_path, "traces", max_bytes=1000),
        report=lambda items, error: reports.append((items, error)),
        retry_interval=0.05,
    )
    yield export, transport, reports
    export.shutdown()


def wait_until(what: str, check: Callable[[], bool], timeout: float = ARRIVAL_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class TestSendOrSpool:
    def test_a_reachable_endpoint_gets_the_request_directly(self, scripted) -> None:
        export, transport, reports = scripted
        transport.away = False
        assert export.submit(b"r1", 5)
        assert transport.received == [b"r1"]
        assert len(export.spool) == 0
        assert reports == [(5, None)]

    def test_an_absent_endpoint_gets_everything_later_in_order(self, scripted) -> None:
        export, transport, reports = scripted
        for i in range(10):
            assert export.submit(f"r{i}".encode(), 1), "spooled data is not lost data"
        assert len(export.spool) == 10
        assert reports == []
        transport.away = False  # the Collector is back
        wait_until("the replay", lambda: len(export.spool) == 0)
        assert transport.received == [f"r{i}".encode() for i in range(10)]
        assert reports == [(1, None)] * 10

    def test_new_data_queues_behind_spooled_data(self, tmp_path: Path) -> None:
        """Nothing overtakes: while the spool holds data, a new batch goes to its end, even
        when the endpoint is back before the replay thread has noticed."""
        transport = ScriptedTransport()
        export = SpooledExport(lambda: transport, Spool(tmp_path, "traces", 1000), lambda *_: None, 3600)
        try:
            export.submit(b"old", 1)  # fails; the replay thread now backs off for about an hour
            time.sleep(0.2)
            assert transport.attempts == 1
            transport.away = False
            export.submit(b"new", 1)
            assert export.drain(timeout=30)
            assert transport.received == [b"old", b"new"]
        finally:
            export.shutdown()

    def test_a_permanent_refusal_is_dropped_and_reported(self, scripted) -> None:
        export, transport, reports = scripted
        transport.away = False
        transport.refuse.add(b"malformed")
        assert not export.submit(b"malformed", 3)
        assert len(export.spool) == 0
        assert reports == [(3, "INVALID_ARGUMENT")]

    def test_past_the_bound_the_oldest_items_are_reported_dropped(self, scripted) -> None:
        export, _, reports = scripted
        for i in range(4):
            export.submit(bytes([i]) * 400, 10 + i)  # 1000-byte spool: two fit
        assert reports == [(10, "spool_full"), (11, "spool_full")]

    def test_a_transport_that_raises_keeps_the_data_and_raises_nothing(self, scripted) -> None:
        export, transport, reports = scripted

        def broken(body: bytes) -> SendResult:
            raise RuntimeError("a bug in the transport")

        transport.send = broken  # type: ignore[method-assign]
        assert export.submit(b"kept", 2)
        assert len(export.spool) == 1
        assert reports == []

    def test_the_server_s_delay_is_obeyed(self, tmp_path: Path) -> None:
        """Retry-After / RetryInfo: no attempt (replay, flush or new data) before it ends."""
        transport = ScriptedTransport()
        transport.retry_after = 1.5
        export = SpooledExport(lambda: transport, Spool(tmp_path, "traces", 1000), lambda *_: None, 0.05)
        try:
            export.submit(b"r1", 1)  # refused with "come back in 1.5 s"
            export.submit(b"r2", 1)  # queued behind it without an attempt
            assert export.drain(timeout=5) is False  # a flush does not send early either
            assert transport.attempts == 1
            transport.away = False
            wait_until("the replay", lambda: len(export.spool) == 0, timeout=10)
            assert transport.received == [b"r1", b"r2"]
            assert transport.attempt_times[1] - transport.attempt_times[0] >= 1.5
        finally:
            export.shutdown()

    def test_the_replay_backs_off_exponentially(self, tmp_path: Path) -> None:
        transport = ScriptedTransport()
        export = SpooledExport(
            lambda: transport, Spool(tmp_path, "traces", 1000), lambda *_: None, 0.05, max_retry_interval=0.4
        )
        try:
            export.submit(b"r", 1)
            wait_until("six attempts", lambda: transport.attempts >= 6, timeout=20)
            gaps = [
                b - a for a, b in zip(transport.attempt_times, transport.attempt_times[1:], strict=False)
            ][:5]
            # steps 0.05, 0.1, 0.2, 0.4, 0.4 s, each with a jitter of 0.5 to 1.5
            for gap, step in zip(gaps, (0.05, 0.1, 0.2, 0.4, 0.4), strict=True):
                assert 0.5 * step - 0.01 <= gap <= 1.5 * step + 0.25, gaps
        finally:
            export.shutdown()

    def test_a_flush_does_not_wait_for_an_absent_endpoint(self, tmp_path: Path) -> None:
        """One try per flush while the endpoint is away; the spool is sent once it is back."""
        transport = ScriptedTransport()
        export = SpooledExport(lambda: transport, Spool(tmp_path, "traces", 1000), lambda *_: None, 3600)
        try:
            export.submit(b"r", 1)  # fails; the replay thread backs off for about an hour
            before = transport.attempts
            assert export.drain(timeout=30) is False
            assert transport.attempts - before == 1, "one try from the flush"
            transport.away = False
            assert export.drain(timeout=30) is True
            assert transport.received == [b"r"]
        finally:
            export.shutdown()


# --- the whole path: configure() → batch processors → spool → a real OTLP receiver ----------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _span_ids(sink: Sink) -> Counter[str]:
    ids: Counter[str] = Counter()
    with sink.lock:
        bodies = list(sink.bodies["traces"])
    for body in bodies:
        request = ExportTraceServiceRequest.FromString(body)
        ids.update(s.name for r in request.resource_spans for ss in r.scope_spans for s in ss.spans)
    return ids


def _log_bodies(sink: Sink) -> Counter[str]:
    lines: Counter[str] = Counter()
    with sink.lock:
        bodies = list(sink.bodies["logs"])
    for body in bodies:
        request = ExportLogsServiceRequest.FromString(body)
        lines.update(
            lr.body.string_value
            for r in request.resource_logs
            for sl in r.scope_logs
            for lr in sl.log_records
        )
    return lines


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_a_collector_that_comes_up_8s_late_gets_every_span_and_log(protocol: str, tmp_path: Path) -> None:
    """The issue's case: 300 spans and 300 log lines made while the endpoint is down; it
    comes up 8 s later; every one arrives, each exactly once."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    telemetry = amas_telemetry.configure(
        otlp_endpoint=endpoint,
        otlp_protocol=protocol,
        json_logs=False,
        system_metrics=False,
        export_spool_dir=str(tmp_path / "spool"),
    )
    sink = Sink(keep=True, **({"grpc_port": port} if protocol == "grpc" else {"http_port": port}))
    try:
        tracer = trace.get_tracer("late-collector")
        log = logging.getLogger("late-collector")
        for i in range(300):
            with tracer.start_as_current_span(f"span-{i}"):
                log.warning("line-%d", i)
        telemetry.force_flush(1000)  # the batches go out now (and fail: nobody listens)
        time.sleep(COLLECTOR_AWAY_S)
        assert sum(export.spool.pending_bytes for export in telemetry.spools.exports.values()) > 0
        sink.start()
        wait_until(
            "300 spans and 300 logs", lambda: len(_span_ids(sink)) >= 300 and len(_log_bodies(sink)) >= 300
        )
        spans, lines = _span_ids(sink), _log_bodies(sink)
        assert set(spans) == {f"span-{i}" for i in range(300)}
        assert set(lines) == {f"line-{i}" for i in range(300)}
        assert max(spans.values()) == 1 and max(lines.values()) == 1, "duplicates"
        # the exporter counts a request when its answer is back, a moment after the sink has it
        exported = 'otel_sdk_exporter_span_exported_total{otel_component_name="otlp_'
        wait_until("the exported spans counted", lambda: exported in telemetry.render_metrics().decode())
        metrics = telemetry.render_metrics().decode()
        exported_lines = [line for line in metrics.splitlines() if line.startswith("otel_sdk_exporter_")]
        lost = [line for line in exported_lines if "_exported_total{" in line and "error_type" in line]
        assert not lost, "nothing was lost, so nothing is counted as lost"
        assert exported in metrics
        # the attempts while the sink was away are counted as failed operations
        assert (
            any(
                line.startswith("otel_sdk_exporter_operation_duration_seconds_count{")
                and 'error_type="UNAVAILABLE"' in line
                for line in exported_lines
            )
            or protocol != "grpc"
        )
    finally:
        telemetry.shutdown()
        sink.stop()


def test_what_a_stopped_process_left_is_sent_by_the_next_one(tmp_path: Path) -> None:
    """A worker stops (or dies) while the Collector is away; the next start sends its spool."""
    port = _free_port()
    settings = dict(
        otlp_endpoint=f"http://127.0.0.1:{port}",
        json_logs=False,
        system_metrics=False,
        export_spool_dir=str(tmp_path / "spool"),
    )
    first = amas_telemetry.configure(**settings)
    for i in range(50):
        with trace.get_tracer("first").start_as_current_span(f"left-{i}"):
            pass
    first.shutdown()  # the batch goes to the spool; the spool stays on disk
    assert list((tmp_path / "spool").glob("traces-*.otlp"))
    sink = Sink(keep=True, grpc_port=port).start()
    second = amas_telemetry.configure(**settings)
    try:
        wait_until("the first run's spans", lambda: len(_span_ids(sink)) >= 50)
        assert set(_span_ids(sink)) == {f"left-{i}" for i in range(50)}
    finally:
        second.shutdown()
        sink.stop()


def test_spool_drops_are_counted_for_the_alert(tmp_path: Path) -> None:
    telemetry = amas_telemetry.configure(
        otlp_endpoint=f"http://127.0.0.1:{_free_port()}",
        json_logs=False,
        system_metrics=False,
        export_spool_dir=str(tmp_path / "spool"),
        export_spool_max_mb=0.002,  # ~2 KB: a few spans
    )
    try:
        for batch in range(3):
            for i in range(40):
                with trace.get_tracer("drops").start_as_current_span(f"s-{batch}-{i}"):
                    pass
            telemetry.force_flush(1000)
        metrics = telemetry.render_metrics().decode()
        dropped = [
            line
            for line in metrics.splitlines()
            if line.startswith('amas_telemetry_export_spool_dropped_total{amas_telemetry_signal="traces"}')
        ]
        assert dropped and float(dropped[0].rsplit(" ", 1)[1]) >= 40
        assert 'error_type="spool_full"' in metrics
    finally:
        telemetry.shutdown()
