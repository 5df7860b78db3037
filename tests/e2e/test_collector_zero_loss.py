"""Zero loss of acknowledged telemetry through the Collector, with real binaries.

Items are sent as raw OTLP/HTTP protobuf requests, so the test knows exactly which items the
Collector acknowledged (HTTP 200 and no partial rejection). Every acknowledged item must
then be found in the stores: spans in Jaeger (by trace id, over its HTTP API) and log
records in VictoriaLogs (LogsQL). Items whose request failed were not acknowledged and are
only counted: the client would retry them.

1. ``kill -9`` of the Collector mid-stream. Shortly before the kill both stores are taken
   down, so the requests acknowledged from then on are certainly still in the Collector's
   persistent queue when it dies; the stores come back after the Collector's restart.
2. Trace store outage: Jaeger (badger storage, so it keeps what it had) is stopped for 30 s
   under load and started again.
3. Agent and gateways (collector/agent-loadbalancing.yaml -> 2 x collector/gateway.yaml):
   ``kill -9`` of a gateway holding acknowledged data, as in 1; the agent keeps nothing.

Each test is bounded in time; the stack is always stopped by the fixture.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from secure_otlp import agent_tls_env, gateway_tls_env, make_pki, new_token

from amas_devstack import REPO_ROOT
from amas_devstack.native_stack import NativeStack

pytestmark = pytest.mark.e2e

SPANS_PER_REQUEST = 10  # one trace of 10 spans per request
LOGS_PER_REQUEST = 10
VERIFY_TIMEOUT_S = 90.0  # after the load: time for queues to drain (gRPC reconnect backoff)


# ---------------------------------------------------------------------------------------
# OTLP requests


def _kv(key: str, value: str | int) -> common_pb2.KeyValue:
    if isinstance(value, int):
        return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(int_value=value))
    return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(string_value=value))


def _resource(run_id: str) -> resource_pb2.Resource:
    return resource_pb2.Resource(
        attributes=[_kv("service.name", f"zero-loss-{run_id}"), _kv("amas.test.run", run_id)]
    )


@dataclass
class TraceBatch:
    trace_id: str  # hex
    span_ids: frozenset[str]  # hex
    body: bytes


def make_trace(run_id: str, seq: int) -> TraceBatch:
    trace_id = os.urandom(16)
    now = time.time_ns()
    spans = []
    root_id = b""
    for i in range(SPANS_PER_REQUEST):
        span_id = os.urandom(8)
        spans.append(
            trace_pb2.Span(
                trace_id=trace_id,
                span_id=span_id,
                parent_span_id=root_id,
                name="zero-loss" if i == 0 else f"zero-loss.child{i}",
                kind=trace_pb2.Span.SPAN_KIND_INTERNAL,
                start_time_unix_nano=now - 1_000_000,
                end_time_unix_nano=now,
                attributes=[_kv("amas.test.seq", seq * SPANS_PER_REQUEST + i)],
            )
        )
        root_id = root_id or span_id
    req = trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[
            trace_pb2.ResourceSpans(
                resource=_resource(run_id), scope_spans=[trace_pb2.ScopeSpans(spans=spans)]
            )
        ]
    )
    return TraceBatch(trace_id.hex(), frozenset(s.span_id.hex() for s in spans), req.SerializeToString())


@dataclass
class LogBatch:
    ids: frozenset[str]
    body: bytes


def make_logs(run_id: str, seq: int) -> LogBatch:
    ids = [f"{run_id}-{seq * LOGS_PER_REQUEST + i}" for i in range(LOGS_PER_REQUEST)]
    now = time.time_ns()
    records = [
        logs_pb2.LogRecord(
            time_unix_nano=now,
            observed_time_unix_nano=now,
            severity_number=logs_pb2.SEVERITY_NUMBER_INFO,
            severity_text="INFO",
            body=common_pb2.AnyValue(string_value=f"zero-loss log {log_id}"),
            attributes=[_kv("amas.test.id", log_id)],
        )
        for log_id in ids
    ]
    req = logs_service_pb2.ExportLogsServiceRequest(
        resource_logs=[
            logs_pb2.ResourceLogs(
                resource=_resource(run_id), scope_logs=[logs_pb2.ScopeLogs(log_records=records)]
            )
        ]
    )
    return LogBatch(frozenset(ids), req.SerializeToString())


class OtlpHttpClient:
    """One keep-alive connection to the Collector's OTLP/HTTP receiver."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.port, self.timeout = port, timeout
        self.conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def export(self, path: str, body: bytes) -> bool:
        """True only when the Collector acknowledged every item of the request."""
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            self.conn.request("POST", path, body=body, headers={"Content-Type": "application/x-protobuf"})
            resp = self.conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException):
            self.close()
            return False
        if resp.status != 200:
            return False
        if path == "/v1/traces":
            partial = trace_service_pb2.ExportTraceServiceResponse.FromString(data).partial_success
            assert partial.rejected_spans == 0, f"partial rejection: {partial}"
        else:
            partial = logs_service_pb2.ExportLogsServiceResponse.FromString(data).partial_success
            assert partial.rejected_log_records == 0, f"partial rejection: {partial}"
        return True


@dataclass
class Tally:
    """What was sent and acknowledged, per signal."""

    spans_sent: int = 0
    logs_sent: int = 0
    acked_traces: dict[str, frozenset[str]] = field(default_factory=dict)  # trace id -> span ids
    acked_logs: set[str] = field(default_factory=set)
    acked_in_window: dict[str, int] = field(default_factory=lambda: {"spans": 0, "logs": 0})

    @property
    def spans_acked(self) -> int:
        return sum(len(s) for s in self.acked_traces.values())


class Sender(threading.Thread):
    """Sends `requests` trace requests (and as many log requests if `logs`), paced."""

    def __init__(self, port: int, run_id: str, requests: int, *, logs: bool, pause_s: float) -> None:
        super().__init__(daemon=True)
        self.client = OtlpHttpClient(port)
        self.run_id, self.total, self.logs, self.pause_s = run_id, requests, logs, pause_s
        self.tally = Tally()
        self.done_requests = 0
        self.window = False  # set by the test: count acks during an event
        self.stop_flag = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for seq in range(self.total):
                if self.stop_flag.is_set():
                    break
                tb = make_trace(self.run_id, seq)
                self.tally.spans_sent += len(tb.span_ids)
                if self.client.export("/v1/traces", tb.body):
                    self.tally.acked_traces[tb.trace_id] = tb.span_ids
                    if self.window:
                        self.tally.acked_in_window["spans"] += len(tb.span_ids)
                if self.logs:
                    lb = make_logs(self.run_id, seq)
                    self.tally.logs_sent += len(lb.ids)
                    if self.client.export("/v1/logs", lb.body):
                        self.tally.acked_logs |= lb.ids
                        if self.window:
                            self.tally.acked_in_window["logs"] += len(lb.ids)
                self.done_requests = seq + 1
                time.sleep(self.pause_s)
        except BaseException as e:  # surfaced by the test
            self.error = e
        finally:
            self.client.close()

    def wait_progress(self, fraction: float, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.done_requests < fraction * self.total:
            assert self.is_alive() or self.done_requests >= fraction * self.total, (
                f"sender stopped: {self.error}"
            )
            assert time.monotonic() < deadline, f"sender too slow: {self.done_requests}/{self.total}"
            time.sleep(0.02)


# ---------------------------------------------------------------------------------------
# store queries


def _get_json(url: str, timeout: float = 10.0) -> object | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise


def jaeger_span_rows(stack: NativeStack, trace_id: str) -> Counter[str]:
    """Span id -> how many times Jaeger holds it (more than 1: a duplicate)."""
    data = _get_json(f"{stack.jaeger_url}/api/traces/{trace_id}")
    if not data or not data.get("data"):  # type: ignore[union-attr]
        return Counter()
    return Counter(s["spanID"] for t in data["data"] for s in t["spans"])  # type: ignore[index]


def jaeger_spans_of(stack: NativeStack, trace_id: str) -> set[str]:
    return set(jaeger_span_rows(stack, trace_id))


def victorialogs_id_rows(stack: NativeStack, run_id: str) -> Counter[str]:
    """Log record id -> how many rows VictoriaLogs holds for it."""
    query = f'amas.test.run:="{run_id}" | fields amas.test.id'
    url = f"{stack.victorialogs_url}/select/logsql/query?" + urllib.parse.urlencode(
        {"query": query, "limit": "10000000"}
    )
    with urllib.request.urlopen(url, timeout=30) as resp:
        lines = resp.read().decode().splitlines()
    return Counter(json.loads(ln)["amas.test.id"] for ln in lines if ln.strip())


def victorialogs_ids(stack: NativeStack, run_id: str) -> set[str]:
    return set(victorialogs_id_rows(stack, run_id))


def duplicates(stack: NativeStack, run_id: str, tally: Tally, *, logs: bool) -> tuple[int, int]:
    """Rows beyond the first of each acknowledged span and log record (at-least-once replay)."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        rows = pool.map(lambda t: jaeger_span_rows(stack, t), list(tally.acked_traces))
        spans = sum(n - 1 for counter in rows for n in counter.values() if n > 1)
    log_rows = victorialogs_id_rows(stack, run_id) if logs else Counter()
    return spans, sum(n - 1 for log_id, n in log_rows.items() if n > 1 and log_id in tally.acked_logs)


def wait_until_found(
    stack: NativeStack, run_id: str, tally: Tally, *, logs: bool, timeout: float = VERIFY_TIMEOUT_S
) -> tuple[int, int, dict[str, frozenset[str]], set[str]]:
    """Poll the stores until every acknowledged item is there or the timeout passes.

    Returns (spans found, logs found, traces still missing spans, log ids still missing).
    """
    missing_traces = dict(tally.acked_traces)
    missing_logs = set(tally.acked_logs) if logs else set()
    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(max_workers=8) as pool:
        while True:
            ids = list(missing_traces)
            for trace_id, found in zip(ids, pool.map(lambda t: jaeger_spans_of(stack, t), ids), strict=True):
                if missing_traces[trace_id] <= found:
                    del missing_traces[trace_id]
            if missing_logs:
                missing_logs -= victorialogs_ids(stack, run_id)
            if (not missing_traces and not missing_logs) or time.monotonic() > deadline:
                break
            time.sleep(1.0)
    spans_found = tally.spans_acked - sum(len(s) for s in missing_traces.values())
    logs_found = len(tally.acked_logs) - len(missing_logs) if logs else 0
    return spans_found, logs_found, missing_traces, missing_logs


def collector_queue_sizes(stack: NativeStack, metrics_port: int | None = None) -> dict[str, float]:
    """otelcol_exporter_queue_size per exporter, from a Collector's own metrics."""
    port = metrics_port or stack.ports.collector_metrics
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return {}
    sizes = {}
    for m in re.finditer(r'^otelcol_exporter_queue_size\{[^}]*exporter="([^"]+)"[^}]*\} (\S+)$', text, re.M):
        sizes[m.group(1)] = float(m.group(2))
    return sizes


def _report(
    summary: list[str], title: str, rows: Iterable[tuple[str, int, int, int]], extra: str = ""
) -> None:
    """Print the numbers, and keep them for the end-of-run summary (fixture e2e_summary)."""
    lines = [f"[{title}]"]
    for signal_name, sent, acked, found in rows:
        lines.append(
            f"  {signal_name:<5} sent {sent:6d}   acked {acked:6d}   found {found:6d}"
            f"   not acked {sent - acked:5d}"
        )
    if extra:
        lines.append(f"  {extra}")
    print("\n" + "\n".join(lines))
    summary.extend(lines)


# ---------------------------------------------------------------------------------------
# tests


def test_kill_9_of_the_collector_loses_no_acknowledged_item(
    stack_factory: Callable[..., NativeStack], e2e_summary: list[str]
) -> None:
    t0 = time.monotonic()
    stack = stack_factory()
    run_id = uuid.uuid4().hex[:12]
    requests = 2000 // SPANS_PER_REQUEST  # 2000 spans and 2000 log records
    sender = Sender(stack.ports.collector_http, run_id, requests, logs=True, pause_s=0.01)
    sender.start()
    try:
        sender.wait_progress(0.3, timeout=60)
        # take both stores down: what is acknowledged from now on cannot be exported, it
        # can only be in the Collector's persistent queue when the Collector dies
        stack.stop("jaeger")
        stack.stop("victorialogs")
        sender.window = True
        sender.wait_progress(0.55, timeout=60)
        sender.window = False
        queued = collector_queue_sizes(stack)
        stack.kill("collector")  # kill -9 mid-stream: requests now fail (not acknowledged)
        killed_at = sender.done_requests
        sender.wait_progress(0.65, timeout=60)  # a few requests hit the dead Collector
        stack.start("collector", timeout=30)
        restarted_at = sender.done_requests
        spans_acked_before_restart = sender.tally.spans_acked
        stack.start("jaeger", timeout=30)
        stack.start("victorialogs", timeout=30)
        sender.join(timeout=90)
        assert not sender.is_alive(), "sender did not finish"
        assert sender.error is None, sender.error
    finally:
        sender.stop_flag.set()
        sender.join(timeout=15)

    tally = sender.tally
    spans_found, logs_found, missing_traces, missing_logs = wait_until_found(stack, run_id, tally, logs=True)
    dup_spans, dup_logs = duplicates(stack, run_id, tally, logs=True)
    _report(
        e2e_summary,
        "collector kill -9",
        [
            ("spans", tally.spans_sent, tally.spans_acked, spans_found),
            ("logs", tally.logs_sent, len(tally.acked_logs), logs_found),
        ],
        f"killed after request {killed_at}/{requests}, restarted at {restarted_at}; "
        f"acked while the stores were down (still queued at the kill): "
        f"{tally.acked_in_window['spans']} spans, {tally.acked_in_window['logs']} logs; "
        f"queue sizes at the kill: {queued}; duplicates in the stores: {dup_spans} spans, "
        f"{dup_logs} logs; total {time.monotonic() - t0:.1f} s",
    )
    # the crash really hit acknowledged, not yet exported data, and traffic went on afterwards
    assert tally.acked_in_window["spans"] > 0 and tally.acked_in_window["logs"] > 0
    assert tally.spans_acked > spans_acked_before_restart, "nothing was acknowledged after the restart"
    assert not missing_traces, (
        f"{len(missing_traces)} acknowledged traces missing in Jaeger, e.g. {next(iter(missing_traces))}"
    )
    assert not missing_logs, (
        f"{len(missing_logs)} acknowledged log records missing in VictoriaLogs, "
        f"e.g. {sorted(missing_logs)[:5]}"
    )
    assert spans_found == tally.spans_acked and logs_found == len(tally.acked_logs)


def test_trace_store_outage_of_30s_loses_no_acknowledged_span(
    stack_factory: Callable[..., NativeStack], e2e_summary: list[str]
) -> None:
    t0 = time.monotonic()
    stack = stack_factory()
    run_id = uuid.uuid4().hex[:12]
    pause = 0.05  # ~20 requests/s = ~200 spans/s
    sender = Sender(stack.ports.collector_http, run_id, requests=100_000, logs=False, pause_s=pause)
    sender.start()
    try:
        time.sleep(3.0)
        stack.stop("jaeger")  # SIGTERM; badger keeps what Jaeger stored
        sender.window = True
        outage_start = time.monotonic()
        time.sleep(30.0)
        queued = collector_queue_sizes(stack)
        sender.window = False
        stack.start("jaeger", timeout=30)
        outage = time.monotonic() - outage_start
        time.sleep(5.0)
    finally:
        sender.stop_flag.set()
        sender.join(timeout=30)
    assert not sender.is_alive() and sender.error is None, sender.error

    tally = sender.tally
    spans_found, _, missing_traces, _ = wait_until_found(stack, run_id, tally, logs=False)
    dup_spans, _ = duplicates(stack, run_id, tally, logs=False)
    _report(
        e2e_summary,
        "trace store outage",
        [("spans", tally.spans_sent, tally.spans_acked, spans_found)],
        f"Jaeger down {outage:.1f} s; acked during the outage: {tally.acked_in_window['spans']} spans; "
        f"queue sizes at the end of the outage: {queued}; duplicates in Jaeger: {dup_spans} spans; "
        f"total {time.monotonic() - t0:.1f} s",
    )
    assert tally.acked_in_window["spans"] > 0, "the Collector did not keep accepting during the outage"
    assert not missing_traces, (
        f"{len(missing_traces)} acknowledged traces missing in Jaeger, e.g. {next(iter(missing_traces))}"
    )
    assert spans_found == tally.spans_acked


def test_kill_9_of_a_gateway_behind_the_agent_loses_no_acknowledged_item(
    stack_factory: Callable[..., NativeStack], e2e_summary: list[str], tmp_path: Path
) -> None:
    t0 = time.monotonic()
    stack = stack_factory(components=("victorialogs", "jaeger", "prometheus"))
    # the agent -> gateway hop as shipped: TLS with a private CA and a token (made here)
    pki = make_pki(tmp_path / "pki")
    token = tmp_path / "token"
    token.write_text(new_token() + "\n")
    gateway_config = REPO_ROOT / "collector" / "gateway.yaml"
    gw1 = stack.add_collector("gateway1", gateway_config, gateway_tls_env(pki, token))
    gw2 = stack.add_collector("gateway2", gateway_config, gateway_tls_env(pki, token))
    agent = stack.add_collector(
        "agent",
        REPO_ROOT / "collector" / "agent-loadbalancing.yaml",
        {"AMAS_GATEWAYS": f"[{gw1.grpc_endpoint}, {gw2.grpc_endpoint}]", **agent_tls_env(pki, token)},
    )
    run_id = uuid.uuid4().hex[:12]
    requests = 2000 // SPANS_PER_REQUEST
    sender = Sender(agent.http, run_id, requests, logs=True, pause_s=0.01)
    sender.start()
    try:
        sender.wait_progress(0.3, timeout=60)
        stack.stop("jaeger")
        stack.stop("victorialogs")
        sender.window = True
        sender.wait_progress(0.55, timeout=60)
        sender.window = False
        queued = {n: collector_queue_sizes(stack, g.metrics) for n, g in (("gw1", gw1), ("gw2", gw2))}
        stack.kill("gateway1")
        killed_at = sender.done_requests
        # requests routed to gateway1 now wait in the agent's bounded retry, then fail
        time.sleep(2.0)
        stack.start("gateway1", timeout=30)
        stack.start("jaeger", timeout=30)
        stack.start("victorialogs", timeout=30)
        sender.join(timeout=120)
        assert not sender.is_alive(), "sender did not finish"
        assert sender.error is None, sender.error
    finally:
        sender.stop_flag.set()
        sender.join(timeout=30)

    tally = sender.tally
    spans_found, logs_found, missing_traces, missing_logs = wait_until_found(stack, run_id, tally, logs=True)
    dup_spans, dup_logs = duplicates(stack, run_id, tally, logs=True)
    _report(
        e2e_summary,
        "gateway kill -9 behind the agent",
        [
            ("spans", tally.spans_sent, tally.spans_acked, spans_found),
            ("logs", tally.logs_sent, len(tally.acked_logs), logs_found),
        ],
        f"gateway1 killed after request {killed_at}/{requests}; acked while the stores were down: "
        f"{tally.acked_in_window['spans']} spans, {tally.acked_in_window['logs']} logs; "
        f"gateway queue sizes at the kill: {queued}; duplicates in the stores: {dup_spans} spans, "
        f"{dup_logs} logs; total {time.monotonic() - t0:.1f} s",
    )
    # gateway1 really held acknowledged, not yet exported data when it died
    assert queued["gw1"].get("otlp_grpc/traces", 0) > 0 and queued["gw1"].get("otlp_http/logs", 0) > 0
    assert not missing_traces, (
        f"{len(missing_traces)} acknowledged traces missing in Jaeger, e.g. {next(iter(missing_traces))}"
    )
    assert not missing_logs, (
        f"{len(missing_logs)} acknowledged log records missing in VictoriaLogs, "
        f"e.g. {sorted(missing_logs)[:5]}"
    )
    assert spans_found == tally.spans_acked and logs_found == len(tally.acked_logs)


def test_the_duplicate_count_sees_a_resent_request(stack_factory: Callable[..., NativeStack]) -> None:
    """The duplicates the tests above report are not blind: a request sent twice (as a client
    does when the acknowledgement was lost) shows as 10 duplicate log records. Jaeger's query
    API, though, returns a span sent twice once (it deduplicates), so span duplicates can only
    be counted in stores that keep them."""
    stack = stack_factory(components=("victorialogs", "jaeger", "collector"))
    run_id = uuid.uuid4().hex[:12]
    client = OtlpHttpClient(stack.ports.collector_http)
    tb, lb = make_trace(run_id, 1), make_logs(run_id, 1)
    try:
        for _ in range(2):
            assert client.export("/v1/traces", tb.body) and client.export("/v1/logs", lb.body)
    finally:
        client.close()
    tally = Tally(acked_traces={tb.trace_id: tb.span_ids}, acked_logs=set(lb.ids))
    wait_until_found(stack, run_id, tally, logs=True)
    deadline = time.monotonic() + 30
    while duplicates(stack, run_id, tally, logs=True)[1] < len(lb.ids) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert duplicates(stack, run_id, tally, logs=True) == (0, len(lb.ids))
