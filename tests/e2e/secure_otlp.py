"""Helpers of the secured-OTLP tests: a private PKI made at test time by collector/certgen (the
program compose's one-shot `certs` service runs; amas_devstack.certgen builds it), an OTLP sink
standing in for the stores,
OTLP requests, and clients that speak TLS, mutual TLS and bearer tokens.

The sink receives what a Collector exports (traces over gRPC, metrics and logs over HTTP, as
collector/config.yaml's exporters send them) and counts the items per ``service.name``, so a
test knows exactly what one client got through a Collector while others were refused or
flooding it. Every server binds to 127.0.0.1 and is stopped by the test that started it.
"""

from __future__ import annotations

import gzip
import http.client
import os
import secrets
import ssl
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from amas_devstack.certgen import certgen_binary

REPO_ROOT = Path(__file__).resolve().parents[2]
CERTGEN_SRC = REPO_ROOT / "collector" / "certgen"

SIGNALS = ("traces", "metrics", "logs")
GRPC_METHODS = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}
_REQUEST_TYPES = {
    "traces": trace_service_pb2.ExportTraceServiceRequest,
    "metrics": metrics_service_pb2.ExportMetricsServiceRequest,
    "logs": logs_service_pb2.ExportLogsServiceRequest,
}
_RESPONSE_TYPES = {
    "traces": trace_service_pb2.ExportTraceServiceResponse,
    "metrics": metrics_service_pb2.ExportMetricsServiceResponse,
    "logs": logs_service_pb2.ExportLogsServiceResponse,
}


# ---------------------------------------------------------------------------------------
# PKI


@dataclass(frozen=True)
class Pki:
    """A CA, a server certificate for 127.0.0.1/localhost and client certificates, in ``dir``."""

    dir: Path

    @property
    def ca(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def server_cert(self) -> Path:
        return self.dir / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.dir / "server.key"

    def client_cert(self, name: str) -> Path:
        return self.dir / f"client-{name}.crt"

    def client_key(self, name: str) -> Path:
        return self.dir / f"client-{name}.key"


def make_pki(directory: Path, clients: tuple[str, ...] = ("app",)) -> Pki:
    proc = subprocess.run(
        [
            str(certgen_binary()),
            "-dir",
            str(directory),
            "-hosts",
            "localhost,127.0.0.1",
            "-clients",
            ",".join(clients),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return Pki(directory)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def gateway_tls_env(pki: Pki, token_file: Path, *, mtls: bool = False) -> dict[str, str]:
    """What collector/gateway.yaml (and overlays/secure-receivers.yaml) read: the server
    certificate, the accepted tokens and, for mutual TLS, the client CA."""
    env = {
        "AMAS_COLLECTOR_TLS_CERT_FILE": str(pki.server_cert),
        "AMAS_COLLECTOR_TLS_KEY_FILE": str(pki.server_key),
        "AMAS_COLLECTOR_TOKEN_FILE": str(token_file),
    }
    if mtls:
        env["AMAS_COLLECTOR_CLIENT_CA_FILE"] = str(pki.ca)
    return env


def agent_tls_env(pki: Pki, token_file: Path) -> dict[str, str]:
    """What collector/agent-loadbalancing.yaml reads to reach the gateways."""
    return {"AMAS_GATEWAYS_CA_FILE": str(pki.ca), "AMAS_GATEWAYS_TOKEN_FILE": str(token_file)}


# ---------------------------------------------------------------------------------------
# OTLP requests (one resource per request, its service.name tells the clients apart)


def _kv(key: str, value: str | int) -> common_pb2.KeyValue:
    if isinstance(value, int):
        return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(int_value=value))
    return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(string_value=value))


def _resource(service: str) -> resource_pb2.Resource:
    return resource_pb2.Resource(attributes=[_kv("service.name", service)])


def spans_request(service: str, n: int, *, attribute_bytes: int = 0) -> bytes:
    """One trace of ``n`` spans; ``attribute_bytes`` pads each span (for size limits)."""
    trace_id, now = os.urandom(16), time.time_ns()
    pad = [_kv("pad", "x" * attribute_bytes)] if attribute_bytes else []
    spans = [
        trace_pb2.Span(
            trace_id=trace_id,
            span_id=os.urandom(8),
            name=f"{service}.span",
            kind=trace_pb2.Span.SPAN_KIND_INTERNAL,
            start_time_unix_nano=now - 1_000_000,
            end_time_unix_nano=now,
            attributes=[_kv("seq", i), *pad],
        )
        for i in range(n)
    ]
    return trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[
            trace_pb2.ResourceSpans(
                resource=_resource(service), scope_spans=[trace_pb2.ScopeSpans(spans=spans)]
            )
        ]
    ).SerializeToString()


def logs_request(service: str, n: int) -> bytes:
    now = time.time_ns()
    records = [
        logs_pb2.LogRecord(
            time_unix_nano=now,
            observed_time_unix_nano=now,
            severity_number=logs_pb2.SEVERITY_NUMBER_INFO,
            body=common_pb2.AnyValue(string_value=f"{service} log {i}"),
        )
        for i in range(n)
    ]
    return logs_service_pb2.ExportLogsServiceRequest(
        resource_logs=[
            logs_pb2.ResourceLogs(
                resource=_resource(service), scope_logs=[logs_pb2.ScopeLogs(log_records=records)]
            )
        ]
    ).SerializeToString()


def metrics_request(service: str, n: int) -> bytes:
    """``n`` cumulative sum points (one stream each), monotonic, so Prometheus-bound
    pipelines take them as they are."""
    now = time.time_ns()
    points = [
        metrics_pb2.NumberDataPoint(
            start_time_unix_nano=now - 60_000_000_000,
            time_unix_nano=now,
            as_int=i + 1,
            attributes=[_kv("stream", i)],
        )
        for i in range(n)
    ]
    metric = metrics_pb2.Metric(
        name="secure_otlp_test_total",
        sum=metrics_pb2.Sum(
            data_points=points,
            aggregation_temporality=metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE,
            is_monotonic=True,
        ),
    )
    return metrics_service_pb2.ExportMetricsServiceRequest(
        resource_metrics=[
            metrics_pb2.ResourceMetrics(
                resource=_resource(service), scope_metrics=[metrics_pb2.ScopeMetrics(metrics=[metric])]
            )
        ]
    ).SerializeToString()


REQUEST_BUILDERS: dict[str, Callable[[str, int], bytes]] = {
    "traces": spans_request,
    "metrics": metrics_request,
    "logs": logs_request,
}


def count_items(signal: str, body: bytes) -> Counter[str]:
    """Items of one export request per service.name."""
    request = _REQUEST_TYPES[signal].FromString(body)
    counts: Counter[str] = Counter()
    if signal == "traces":
        groups = [(r.resource, sum(len(s.spans) for s in r.scope_spans)) for r in request.resource_spans]
    elif signal == "logs":
        groups = [(r.resource, sum(len(s.log_records) for s in r.scope_logs)) for r in request.resource_logs]
    else:
        groups = [
            (r.resource, sum(_points(m) for s in r.scope_metrics for m in s.metrics))
            for r in request.resource_metrics
        ]
    for resource, n in groups:
        name = next((a.value.string_value for a in resource.attributes if a.key == "service.name"), "")
        counts[name] += n
    return counts


def _points(metric: metrics_pb2.Metric) -> int:
    kind = metric.WhichOneof("data")
    return len(getattr(metric, kind).data_points) if kind else 0


# ---------------------------------------------------------------------------------------
# the sink


class OtlpSink:
    """Counts what a Collector exports: OTLP/gRPC (any signal) and OTLP/HTTP (any path ending
    in /v1/<signal>), gzip or not, per signal and service.name."""

    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = {s: Counter() for s in SIGNALS}
        self._lock = threading.Lock()
        # larger than any bound under test: the Collector's exporter may batch requests
        self._grpc = grpc.server(
            futures.ThreadPoolExecutor(max_workers=8),
            options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)],
        )
        for signal, method in GRPC_METHODS.items():
            service, name = method.strip("/").rsplit("/", 1)
            self._grpc.add_generic_rpc_handlers(
                (grpc.method_handlers_generic_handler(service, {name: self._grpc_handler(signal)}),)
            )
        self.grpc_port = self._grpc.add_insecure_port("127.0.0.1:0")
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                signal = self.path.rstrip("/").rsplit("/", 1)[-1]
                if signal not in SIGNALS:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                sink._add(signal, body)
                reply = _RESPONSE_TYPES[signal]().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                return None

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.http_port = self._http.server_address[1]
        self._http_thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def _grpc_handler(self, signal: str) -> grpc.RpcMethodHandler:
        def export(body: bytes, context: grpc.ServicerContext) -> bytes:
            self._add(signal, body)
            return _RESPONSE_TYPES[signal]().SerializeToString()

        return grpc.unary_unary_rpc_method_handler(export)

    def _add(self, signal: str, body: bytes) -> None:
        counts = count_items(signal, body)
        with self._lock:
            self.counts[signal].update(counts)

    # the Collector env that points its exporters here (collector/config.yaml's placeholders)
    @property
    def collector_env(self) -> dict[str, str]:
        return {
            "AMAS_TRACES_ENDPOINT": f"127.0.0.1:{self.grpc_port}",
            "AMAS_TRACES_INSECURE": "true",
            "AMAS_METRICS_ENDPOINT": f"http://127.0.0.1:{self.http_port}/sink",
            "AMAS_LOGS_ENDPOINT": f"http://127.0.0.1:{self.http_port}/sink/v1/logs",
        }

    def count(self, signal: str, service: str) -> int:
        with self._lock:
            return self.counts[signal][service]

    def wait_for(self, signal: str, service: str, expected: int, timeout: float = 60.0) -> int:
        """Wait until ``expected`` items of ``service`` arrived (or the timeout); the count."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count(signal, service) >= expected:
                break
            time.sleep(0.1)
        return self.count(signal, service)

    def start(self) -> OtlpSink:
        self._grpc.start()
        self._http_thread.start()
        return self

    def stop(self) -> None:
        self._grpc.stop(grace=None)
        self._http.shutdown()
        self._http.server_close()


@contextmanager
def running_sink() -> Iterator[OtlpSink]:
    sink = OtlpSink().start()
    try:
        yield sink
    finally:
        sink.stop()


# ---------------------------------------------------------------------------------------
# clients


@dataclass
class Credentials:
    """What a client presents: the CA it trusts, its token, its certificate (mTLS)."""

    ca: Path | None = None
    token: str | None = None
    cert: Path | None = None
    key: Path | None = None


class GrpcClient:
    """OTLP/gRPC: one channel; ``plaintext`` talks without TLS (to see it refused)."""

    def __init__(self, target: str, creds: Credentials, *, plaintext: bool = False) -> None:
        if plaintext:
            self._channel = grpc.insecure_channel(target)
        else:
            root = creds.ca.read_bytes() if creds.ca else None
            key = creds.key.read_bytes() if creds.key else None
            chain = creds.cert.read_bytes() if creds.cert else None
            self._channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(root, key, chain))
        self._calls = {s: self._channel.unary_unary(m) for s, m in GRPC_METHODS.items()}
        self._metadata = (("authorization", f"Bearer {creds.token}"),) if creds.token else None

    def export(
        self, signal: str, body: bytes, timeout: float = 10.0, *, compress: bool = False
    ) -> grpc.StatusCode:
        compression = grpc.Compression.Gzip if compress else None
        try:
            self._calls[signal](body, timeout=timeout, metadata=self._metadata, compression=compression)
        except grpc.RpcError as error:
            return error.code()  # type: ignore[no-any-return, attr-defined]
        return grpc.StatusCode.OK

    def close(self) -> None:
        self._channel.close()


class HttpsClient:
    """OTLP/HTTP over TLS: one kept-alive connection, reopened after an error."""

    def __init__(self, port: int, creds: Credentials) -> None:
        self._port, self._creds = port, creds
        context = ssl.create_default_context(cafile=str(creds.ca) if creds.ca else None)
        if creds.cert and creds.key:
            context.load_cert_chain(str(creds.cert), str(creds.key))
        self._context = context
        self._conn: http.client.HTTPSConnection | None = None

    def export(self, signal: str, body: bytes, *, compress: bool = False, timeout: float = 10.0) -> int:
        """The HTTP status, or 0 when the connection failed (TLS refused, reset)."""
        headers = {"Content-Type": "application/x-protobuf"}
        if self._creds.token:
            headers["Authorization"] = f"Bearer {self._creds.token}"
        if compress:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        try:
            if self._conn is None:
                self._conn = http.client.HTTPSConnection(
                    "127.0.0.1", self._port, timeout=timeout, context=self._context
                )
            self._conn.request("POST", f"/v1/{signal}", body=body, headers=headers)
            response = self._conn.getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException):
            self.close()
            return 0

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


# ---------------------------------------------------------------------------------------
# a flooding client, in its own process (so that it does not share the GIL with the clients
# it is compared with): python secure_otlp.py TARGET CA TOKEN CONNECTIONS STREAMS SPANS SECONDS [PAD]
# (STREAMS requests in flight on each of CONNECTIONS connections)


def _flood(
    target: str, ca: str, token: str, connections: int, streams: int, spans: int, seconds: float, pad: int
) -> dict[str, int]:
    body = spans_request("flooder", spans, attribute_bytes=pad)
    codes: Counter[str] = Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    clients = [GrpcClient(target, Credentials(ca=Path(ca), token=token)) for _ in range(connections)]

    def run(client: GrpcClient) -> None:
        while time.monotonic() < deadline:
            code = client.export("traces", body, timeout=10)
            with lock:
                codes[code.name] += 1

    workers = [threading.Thread(target=run, args=(c,)) for c in clients for _ in range(streams)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for client in clients:
        client.close()
    return dict(codes)


if __name__ == "__main__":
    import json
    import sys

    target, ca, token, connections, streams, spans, seconds = sys.argv[1:8]
    pad = int(sys.argv[8]) if len(sys.argv) > 8 else 0
    print(
        json.dumps(_flood(target, ca, token, int(connections), int(streams), int(spans), float(seconds), pad))
    )
